//! Publish-time checks of a definition.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use super::{
    Condition, Definition, Input, Localized, MAX_CHOICES, MAX_CONDITION_DEPTH, MAX_CONDITION_SIZE,
    MAX_IMAGE_BYTES, MAX_IMAGES, MAX_LABEL_CHARS, MAX_NODES, MAX_RULES, MAX_TEXT_ANSWER_CHARS,
    Node, Question, Slug, Test,
};
use crate::text::{Shape, check};

/// One thing wrong with a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// The node it is in (`None`: the definition as a whole).
    pub node: Option<String>,
    /// Where in the node, e.g. `rules[1].goto`, `input.choices[2].label.en`.
    pub field: String,
    /// What.
    pub problem: DefinitionProblem,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "{node}: {}: {}", self.field, self.problem),
            None => write!(f, "{}: {}", self.field, self.problem),
        }
    }
}

/// Why a definition cannot be published. [`code`](Self::code) is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefinitionProblem {
    /// A required text is blank, too long, or has control characters.
    BadText,
    /// No nodes, or more than [`MAX_NODES`].
    NodeCount,
    /// Two nodes, or two choices of a question, share an id.
    DuplicateId(String),
    /// A jump or condition names a node that does not exist.
    UnknownNode(String),
    /// A jump that goes back (or to itself): journeys only go forward.
    BackwardJump(String),
    /// A jump to a question where a walk must finish, or a condition on an
    /// end.
    NotAQuestion(String),
    /// The last question has nowhere to go: it must be followed by a node.
    FallsOffTheEnd,
    /// No walk from the start reaches this node.
    Unreachable,
    /// A condition on a later question (its answer is not known yet).
    LaterQuestion(String),
    /// A test that does not fit the question's kind.
    TestDoesNotFit {
        /// The test.
        test: &'static str,
        /// The question's kind.
        kind: &'static str,
    },
    /// A condition names a choice the question does not offer.
    UnknownChoice(String),
    /// An empty `all`/`any` group, a condition nested deeper than
    /// [`MAX_CONDITION_DEPTH`] or larger than [`MAX_CONDITION_SIZE`].
    ConditionShape,
    /// Too many rules, choices, or a limit outside what is allowed.
    Limit(&'static str),
    /// An outcome's category is not a category code.
    BadCategory,
}

impl DefinitionProblem {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            DefinitionProblem::BadText => "bad_text",
            DefinitionProblem::NodeCount => "node_count",
            DefinitionProblem::DuplicateId(_) => "duplicate_id",
            DefinitionProblem::UnknownNode(_) => "unknown_node",
            DefinitionProblem::BackwardJump(_) => "backward_jump",
            DefinitionProblem::NotAQuestion(_) => "not_a_question",
            DefinitionProblem::FallsOffTheEnd => "falls_off_the_end",
            DefinitionProblem::Unreachable => "unreachable",
            DefinitionProblem::LaterQuestion(_) => "later_question",
            DefinitionProblem::TestDoesNotFit { .. } => "test_does_not_fit",
            DefinitionProblem::UnknownChoice(_) => "unknown_choice",
            DefinitionProblem::ConditionShape => "condition_shape",
            DefinitionProblem::Limit(_) => "limit",
            DefinitionProblem::BadCategory => "bad_category",
        }
    }
}

impl fmt::Display for DefinitionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefinitionProblem::BadText => {
                f.write_str("must be non-blank, one line, within 500 characters, in both languages")
            }
            DefinitionProblem::NodeCount => write!(f, "must hold 1 to {MAX_NODES} nodes"),
            DefinitionProblem::DuplicateId(id) => write!(f, "the id {id:?} is used twice"),
            DefinitionProblem::UnknownNode(id) => write!(f, "names no node {id:?}"),
            DefinitionProblem::BackwardJump(id) => {
                write!(f, "jumps back to {id:?}; jumps only go to later nodes")
            }
            DefinitionProblem::NotAQuestion(id) => write!(f, "{id:?} is not a question"),
            DefinitionProblem::FallsOffTheEnd => {
                f.write_str("is the last node: a question must lead to an end")
            }
            DefinitionProblem::Unreachable => f.write_str("no path from the start reaches it"),
            DefinitionProblem::LaterQuestion(id) => write!(
                f,
                "tests {id:?}, which comes later: conditions test this question or earlier ones"
            ),
            DefinitionProblem::TestDoesNotFit { test, kind } => {
                write!(f, "the test `{test}` does not fit a {kind} question")
            }
            DefinitionProblem::UnknownChoice(id) => write!(f, "names no choice {id:?}"),
            DefinitionProblem::ConditionShape => write!(
                f,
                "groups must not be empty, nest at most {MAX_CONDITION_DEPTH} deep and hold at most {MAX_CONDITION_SIZE} parts"
            ),
            DefinitionProblem::Limit(what) => write!(f, "{what}"),
            DefinitionProblem::BadCategory => f.write_str("must be a category code (a-z, 0-9, _)"),
        }
    }
}

/// Checks `definition` for publishing: every error, each naming its node
/// and field. A definition that passes has no cycle, no dead end and no
/// unreachable node (see the module documentation).
pub fn validate(definition: &Definition) -> Result<(), Vec<DefinitionError>> {
    let mut v = Checker {
        definition,
        errors: Vec::new(),
    };
    v.localized(None, "title", &definition.title);
    if definition.nodes.is_empty() || definition.nodes.len() > MAX_NODES {
        v.error(None, "nodes", DefinitionProblem::NodeCount);
        return Err(v.errors);
    }
    let mut ids = BTreeSet::new();
    for node in &definition.nodes {
        if !ids.insert(node.id()) {
            v.error(
                Some(node.id()),
                "id",
                DefinitionProblem::DuplicateId(node.id().to_string()),
            );
        }
    }
    match definition.node(&definition.start) {
        None => v.error(
            None,
            "start",
            DefinitionProblem::UnknownNode(definition.start.to_string()),
        ),
        Some((_, Node::End(_))) => v.error(
            None,
            "start",
            DefinitionProblem::NotAQuestion(definition.start.to_string()),
        ),
        Some(_) => {}
    }
    for (index, node) in definition.nodes.iter().enumerate() {
        match node {
            Node::Question(q) => v.question(index, q),
            Node::End(end) => {
                v.localized(Some(&end.id), "message", &end.message);
                let category = &end.outcome.category;
                let ok = (1..=40).contains(&category.len())
                    && category
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !ok {
                    v.error(
                        Some(&end.id),
                        "outcome.category",
                        DefinitionProblem::BadCategory,
                    );
                }
            }
        }
    }
    if v.errors.is_empty() {
        v.reachability();
    }
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(v.errors)
    }
}

struct Checker<'d> {
    definition: &'d Definition,
    errors: Vec<DefinitionError>,
}

impl<'d> Checker<'d> {
    fn error(&mut self, node: Option<&Slug>, field: impl Into<String>, problem: DefinitionProblem) {
        self.errors.push(DefinitionError {
            node: node.map(ToString::to_string),
            field: field.into(),
            problem,
        });
    }

    fn localized(&mut self, node: Option<&Slug>, field: &str, text: &Localized) {
        for (language, value) in [("id", &text.id), ("en", &text.en)] {
            if check(value, Shape::Line, MAX_LABEL_CHARS, true).is_err() {
                self.error(
                    node,
                    format!("{field}.{language}"),
                    DefinitionProblem::BadText,
                );
            }
        }
    }

    /// Where `target` is, if a jump from `index` may go there.
    fn jump(&mut self, node: &Slug, field: &str, index: usize, target: &Slug) {
        match self.definition.node(target) {
            None => self.error(
                Some(node),
                field,
                DefinitionProblem::UnknownNode(target.to_string()),
            ),
            Some((to, _)) if to <= index => self.error(
                Some(node),
                field,
                DefinitionProblem::BackwardJump(target.to_string()),
            ),
            Some(_) => {}
        }
    }

    fn question(&mut self, index: usize, q: &'d Question) {
        let id = &q.id;
        self.localized(Some(id), "prompt", &q.prompt);
        if let Some(help) = &q.help {
            self.localized(Some(id), "help", help);
        }
        self.input(q);
        if q.rules.len() > MAX_RULES {
            self.error(
                Some(id),
                "rules",
                DefinitionProblem::Limit("a question holds at most 20 rules"),
            );
        }
        for (r, rule) in q.rules.iter().enumerate() {
            self.jump(id, &format!("rules[{r}].goto"), index, &rule.goto);
            let mut size = 0;
            self.condition(
                id,
                index,
                &format!("rules[{r}].when"),
                &rule.when,
                1,
                &mut size,
            );
        }
        match &q.next {
            Some(next) => self.jump(id, "next", index, next),
            None if index + 1 == self.definition.nodes.len() => {
                self.error(Some(id), "next", DefinitionProblem::FallsOffTheEnd);
            }
            None => {}
        }
    }

    fn input(&mut self, q: &Question) {
        let id = &q.id;
        let choices = q.input.choices();
        if matches!(q.input, Input::Single { .. } | Input::Multi { .. }) {
            if choices.is_empty() || choices.len() > MAX_CHOICES {
                self.error(
                    Some(id),
                    "input.choices",
                    DefinitionProblem::Limit("a choice question offers 1 to 50 choices"),
                );
            }
            let mut seen = BTreeSet::new();
            for (c, choice) in choices.iter().enumerate() {
                if !seen.insert(&choice.id) {
                    self.error(
                        Some(id),
                        format!("input.choices[{c}].id"),
                        DefinitionProblem::DuplicateId(choice.id.to_string()),
                    );
                }
                self.localized(
                    Some(id),
                    &format!("input.choices[{c}].label"),
                    &choice.label,
                );
            }
        }
        let limit = match &q.input {
            Input::Multi { choices, min, max } => {
                let min = min.map_or(0, usize::from);
                let max = max.map_or(choices.len(), usize::from);
                (min > max || max > choices.len() || max == 0)
                    .then_some("min ≤ max ≤ the number of choices, and max ≥ 1")
            }
            Input::Text { max_chars, .. } => (!(1..=MAX_TEXT_ANSWER_CHARS).contains(max_chars))
                .then_some("max_chars must be within 1..=5000"),
            Input::Number { min, max, integer } => {
                let finite = min.is_none_or(f64::is_finite) && max.is_none_or(f64::is_finite);
                // Some answer must fit: a whole number between them, if
                // only whole numbers are taken.
                let ordered = match (min, max) {
                    (Some(min), Some(max)) if *integer => min.ceil() <= max.floor(),
                    (Some(min), Some(max)) => min <= max,
                    _ => true,
                };
                (!(finite && ordered)).then_some(
                    "min and max must be finite, min ≤ max, with a whole number between them when only whole numbers are taken",
                )
            }
            Input::Date { earliest, latest } => match (earliest, latest) {
                (Some(e), Some(l)) if e > l => Some("earliest must not be after latest"),
                _ => None,
            },
            Input::Image {
                max_count,
                max_bytes,
            } => (!(1..=MAX_IMAGES).contains(max_count)
                || !(1..=MAX_IMAGE_BYTES).contains(max_bytes))
            .then_some("max_count within 1..=10, max_bytes within 1 byte..=10 MiB"),
            Input::Single { .. } => None,
        };
        if let Some(limit) = limit {
            self.error(Some(id), "input", DefinitionProblem::Limit(limit));
        }
    }

    fn condition(
        &mut self,
        node: &Slug,
        index: usize,
        field: &str,
        condition: &Condition,
        depth: usize,
        size: &mut usize,
    ) {
        *size += 1;
        if depth > MAX_CONDITION_DEPTH || *size > MAX_CONDITION_SIZE {
            self.error(Some(node), field, DefinitionProblem::ConditionShape);
            return;
        }
        match condition {
            Condition::All(members) | Condition::Any(members) => {
                if members.is_empty() {
                    self.error(Some(node), field, DefinitionProblem::ConditionShape);
                }
                for (m, member) in members.iter().enumerate() {
                    let field = format!("{field}[{m}]");
                    self.condition(node, index, &field, member, depth + 1, size);
                }
            }
            Condition::Not(member) => {
                self.condition(
                    node,
                    index,
                    &format!("{field}.not"),
                    member,
                    depth + 1,
                    size,
                );
            }
            Condition::Answer { question, test } => {
                let target = match self.definition.node(question) {
                    None => {
                        self.error(
                            Some(node),
                            field,
                            DefinitionProblem::UnknownNode(question.to_string()),
                        );
                        return;
                    }
                    Some((_, Node::End(_))) => {
                        self.error(
                            Some(node),
                            field,
                            DefinitionProblem::NotAQuestion(question.to_string()),
                        );
                        return;
                    }
                    Some((at, _)) if at > index => {
                        self.error(
                            Some(node),
                            field,
                            DefinitionProblem::LaterQuestion(question.to_string()),
                        );
                        return;
                    }
                    Some((_, Node::Question(target))) => target,
                };
                self.test(node, field, &target.input, test);
            }
        }
    }

    fn test(&mut self, node: &Slug, field: &str, input: &Input, test: &Test) {
        let fits = match test {
            Test::Answered | Test::Unanswered => true,
            Test::Is { .. } | Test::IsOneOf { .. } => matches!(input, Input::Single { .. }),
            Test::Includes { .. } => matches!(input, Input::Multi { .. }),
            Test::Compare { value, .. } => {
                if !value.is_finite() {
                    self.error(
                        Some(node),
                        format!("{field}.value"),
                        DefinitionProblem::Limit("the value must be a finite number"),
                    );
                }
                matches!(input, Input::Number { .. })
            }
            Test::Before { .. } | Test::After { .. } => matches!(input, Input::Date { .. }),
            Test::Contains { text } => {
                if check(text, Shape::Line, MAX_LABEL_CHARS, true).is_err() {
                    self.error(
                        Some(node),
                        format!("{field}.text"),
                        DefinitionProblem::BadText,
                    );
                }
                matches!(input, Input::Text { .. })
            }
            Test::AtLeast { .. } => matches!(input, Input::Multi { .. } | Input::Image { .. }),
        };
        if !fits {
            self.error(
                Some(node),
                field,
                DefinitionProblem::TestDoesNotFit {
                    test: test_name(test),
                    kind: input.kind(),
                },
            );
            return;
        }
        let named: Vec<&Slug> = match test {
            Test::Is { choice } | Test::Includes { choice } => vec![choice],
            Test::IsOneOf { choices } if choices.len() > super::MAX_CHOICES => {
                self.error(
                    Some(node),
                    field,
                    DefinitionProblem::Limit("a test names at most 50 choices"),
                );
                vec![]
            }
            Test::IsOneOf { choices } => choices.iter().collect(),
            _ => vec![],
        };
        if matches!(test, Test::IsOneOf { choices } if choices.is_empty()) {
            self.error(Some(node), field, DefinitionProblem::ConditionShape);
        }
        for choice in named {
            if !input.choices().iter().any(|c| &c.id == choice) {
                self.error(
                    Some(node),
                    field,
                    DefinitionProblem::UnknownChoice(choice.to_string()),
                );
            }
        }
    }

    /// Every node must be reachable from the start. (Jumps are forward and
    /// the last node is an end, so every path reaches an end.)
    fn reachability(&mut self) {
        let nodes = &self.definition.nodes;
        let mut reached = vec![false; nodes.len()];
        let mut queue = VecDeque::new();
        if let Some((start, _)) = self.definition.node(&self.definition.start) {
            reached[start] = true;
            queue.push_back(start);
        }
        while let Some(index) = queue.pop_front() {
            let Node::Question(q) = &nodes[index] else {
                continue;
            };
            let targets = q
                .rules
                .iter()
                .map(|r| self.definition.node(&r.goto).map(|(i, _)| i))
                .chain(std::iter::once(match &q.next {
                    Some(next) => self.definition.node(next).map(|(i, _)| i),
                    None => Some(index + 1),
                }));
            for to in targets.flatten() {
                if !reached[to] {
                    reached[to] = true;
                    queue.push_back(to);
                }
            }
        }
        for (node, reached) in nodes.iter().zip(reached) {
            if !reached {
                self.error(Some(node.id()), "id", DefinitionProblem::Unreachable);
            }
        }
    }
}

fn test_name(test: &Test) -> &'static str {
    match test {
        Test::Answered => "answered",
        Test::Unanswered => "unanswered",
        Test::Is { .. } => "is",
        Test::IsOneOf { .. } => "is_one_of",
        Test::Includes { .. } => "includes",
        Test::Compare { .. } => "compare",
        Test::Before { .. } => "before",
        Test::After { .. } => "after",
        Test::Contains { .. } => "contains",
        Test::AtLeast { .. } => "at_least",
    }
}
