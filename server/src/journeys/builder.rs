//! The journey builder's edits, as pure functions on a draft definition:
//! a new journey's first draft, adding, moving, replacing and removing a
//! node. The console parses a form into one of these and saves the result
//! through [`super::save_draft`]; the start is always the first node.

use fieldops_sync::journey::{
    Choice, Definition, End, Input, Localized, Node, Outcome, Priority, Question, Slug,
};

/// What to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewNode {
    Question,
    End,
}

/// A first draft that already publishes: one question with two choices,
/// and an end.
pub fn skeleton(title: Localized) -> Definition {
    let slug = |s: &str| {
        s.parse::<Slug>()
            .unwrap_or_else(|_| unreachable!("{s} is a slug"))
    };
    Definition {
        title,
        start: slug("q1"),
        nodes: vec![
            Node::Question(Question {
                id: slug("q1"),
                prompt: Localized::new("Apa yang bisa kami bantu?", "How can we help?"),
                help: None,
                required: true,
                input: Input::Single {
                    choices: vec![
                        Choice {
                            id: slug("a"),
                            label: Localized::new("Pilihan A", "Choice A"),
                        },
                        Choice {
                            id: slug("b"),
                            label: Localized::new("Pilihan B", "Choice B"),
                        },
                    ],
                },
                rules: vec![],
                next: None,
            }),
            Node::End(End {
                id: slug("selesai"),
                message: Localized::new("Terima kasih", "Thank you"),
                outcome: Outcome {
                    category: "general".into(),
                    priority: Priority::Normal,
                    department_id: None,
                    propose_visit: false,
                },
            }),
        ],
    }
}

/// The first free id `q2`, `q3`, … (or `selesai2`, …).
fn fresh_id(definition: &Definition, kind: NewNode) -> Slug {
    let stem = match kind {
        NewNode::Question => "q",
        NewNode::End => "selesai",
    };
    (1..)
        .map(|n| format!("{stem}{n}"))
        .filter_map(|id| id.parse::<Slug>().ok())
        .find(|id| definition.node(id).is_none())
        .unwrap_or_else(|| unreachable!("ids never run out"))
}

/// Adds a node after `after` (at the start when `None`); returns its id.
pub fn add(definition: &mut Definition, kind: NewNode, after: Option<&Slug>) -> Slug {
    let id = fresh_id(definition, kind);
    let node = match kind {
        NewNode::Question => Node::Question(Question {
            id: id.clone(),
            prompt: Localized::new("Pertanyaan baru", "New question"),
            help: None,
            required: false,
            input: Input::Text {
                max_chars: 500,
                multiline: true,
            },
            rules: vec![],
            next: None,
        }),
        NewNode::End => Node::End(End {
            id: id.clone(),
            message: Localized::new("Terima kasih", "Thank you"),
            outcome: Outcome {
                category: "general".into(),
                priority: Priority::Normal,
                department_id: None,
                propose_visit: false,
            },
        }),
    };
    let at = after
        .and_then(|a| definition.node(a))
        .map_or(0, |(index, _)| index + 1);
    definition.nodes.insert(at, node);
    restart(definition);
    id
}

/// Moves a node one place up (`-1`) or down (`+1`).
pub fn shift(definition: &mut Definition, id: &Slug, by: isize) {
    let Some((at, _)) = definition.node(id) else {
        return;
    };
    let Some(to) = at
        .checked_add_signed(by)
        .filter(|to| *to < definition.nodes.len())
    else {
        return;
    };
    definition.nodes.swap(at, to);
    restart(definition);
}

/// Removes a node; jumps to it are removed too (their question falls
/// through to the next node).
pub fn remove(definition: &mut Definition, id: &Slug) {
    definition.nodes.retain(|n| n.id() != id);
    for node in &mut definition.nodes {
        if let Node::Question(q) = node {
            q.rules.retain(|r| &r.goto != id);
            if q.next.as_ref() == Some(id) {
                q.next = None;
            }
        }
    }
    restart(definition);
}

/// Replaces node `id` with `node` (which may carry a new id: jumps and
/// conditions naming the old one follow).
pub fn replace(definition: &mut Definition, id: &Slug, node: Node) {
    let Some((at, _)) = definition.node(id) else {
        return;
    };
    let new_id = node.id().clone();
    definition.nodes[at] = node;
    if &new_id != id {
        for node in &mut definition.nodes {
            if let Node::Question(q) = node {
                for rule in &mut q.rules {
                    if &rule.goto == id {
                        rule.goto = new_id.clone();
                    }
                }
                if q.next.as_ref() == Some(id) {
                    q.next = Some(new_id.clone());
                }
            }
        }
    }
    restart(definition);
}

/// The builder's journeys start at their first node.
fn restart(definition: &mut Definition) {
    if let Some(first) = definition.nodes.first() {
        definition.start = first.id().clone();
    }
}

#[cfg(test)]
mod tests {
    use fieldops_sync::journey::validate;

    use super::*;

    #[test]
    fn a_skeleton_publishes_and_edits_keep_the_start_and_the_jumps() {
        let mut def = skeleton(Localized::new("Keluhan", "Complaint"));
        validate(&def).unwrap_or_else(|e| panic!("{e:?}"));
        let q1: Slug = "q1".parse().unwrap_or_else(|_| unreachable!());
        let q2 = add(&mut def, NewNode::Question, Some(&q1));
        let end2 = add(&mut def, NewNode::End, None);
        assert_eq!(def.start, end2, "the first node is the start");
        shift(&mut def, &end2, 1);
        shift(&mut def, &end2, 1);
        assert_eq!(def.start, q1);
        let ids: Vec<_> = def.nodes.iter().map(|n| n.id().to_string()).collect();
        assert_eq!(ids, ["q1", "q2", "selesai1", "selesai"]);
        if let Some(Node::Question(q)) = def.nodes.first_mut() {
            q.next = Some(q2.clone());
        }
        let Some((_, Node::Question(renamed))) = def.node(&q2) else {
            unreachable!()
        };
        let mut renamed = renamed.clone();
        renamed.id = "detail".parse().unwrap_or_else(|_| unreachable!());
        replace(&mut def, &q2, Node::Question(renamed));
        let Some(Node::Question(first)) = def.nodes.first() else {
            unreachable!()
        };
        assert_eq!(first.next.as_ref().map(Slug::as_str), Some("detail"));
        remove(
            &mut def,
            &"detail".parse().unwrap_or_else(|_| unreachable!()),
        );
        let Some(Node::Question(first)) = def.nodes.first() else {
            unreachable!()
        };
        assert_eq!(first.next, None);
    }
}
