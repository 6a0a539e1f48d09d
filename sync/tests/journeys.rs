//! Journeys: publish-time validation, the evaluator and the phone's form
//! driver, by example (the demo journey) and by property (random
//! definitions and random customers).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use fieldops_sync::journey::form::Screen;
use fieldops_sync::journey::{
    Answer, AnswerProblem, Answers, Choice, Cmp, Condition, Date, Definition, DefinitionProblem,
    End, Form, Input, Localized, Node, Outcome, Priority, Question, Rule, Sha256Hex, Slug, Stop,
    Test, evaluate, validate,
};
use fieldops_sync::testing::sample_journey;
use proptest::prelude::*;

fn slug(s: &str) -> Slug {
    s.parse().unwrap()
}

fn answers(list: &[(&str, Answer)]) -> Answers {
    list.iter().map(|(id, a)| (slug(id), a.clone())).collect()
}

fn choice(id: &str) -> Answer {
    Answer::Choice(slug(id))
}

fn image(n: u8) -> Sha256Hex {
    format!("{n:064x}").parse().unwrap()
}

#[test]
fn the_demo_journey_is_valid_and_routes_each_branch() {
    let def = sample_journey();
    validate(&def).unwrap();

    let leak = answers(&[
        ("jenis", choice("perangkat_rusak")),
        ("perangkat", choice("ac")),
        (
            "kerusakan",
            Answer::Choices(vec![slug("bocor"), slug("berisik")]),
        ),
        ("foto", Answer::Images(vec![image(1), image(2)])),
    ]);
    let walk = evaluate(&def, &leak);
    let end = walk.finished().unwrap();
    assert_eq!(end.id.as_str(), "selesai_darurat");
    assert_eq!(end.outcome.priority, Priority::Urgent);
    assert!(end.outcome.propose_visit);
    let path: Vec<_> = walk.path.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(path, ["jenis", "perangkat", "kerusakan", "foto"]);

    // The photos are optional; without a leak the device branch ends high.
    let mut noisy = leak.clone();
    noisy.insert(slug("kerusakan"), Answer::Choices(vec![slug("berisik")]));
    noisy.remove(&slug("foto"));
    let end = evaluate(&def, &noisy).finished().unwrap();
    assert_eq!(
        (end.id.as_str(), end.outcome.priority),
        ("selesai_perangkat", Priority::High)
    );

    let billing = answers(&[
        ("jenis", choice("tagihan")),
        (
            "tagihan",
            Answer::Text("INV/2026/000123 ditagih dua kali".into()),
        ),
    ]);
    let end = evaluate(&def, &billing).finished().unwrap();
    assert_eq!(end.outcome.category, "billing");
}

#[test]
fn a_tampered_or_incomplete_submission_names_the_question() {
    let def = sample_journey();
    let problems = |a: &Answers| -> Vec<(String, &'static str)> {
        evaluate(&def, a)
            .errors
            .iter()
            .map(|e| (e.question.clone(), e.problem.code()))
            .collect()
    };
    // An answer to a question the billing path hides.
    let hidden = answers(&[
        ("jenis", choice("tagihan")),
        ("tagihan", Answer::Text("dua kali".into())),
        ("foto", Answer::Images(vec![image(1)])),
    ]);
    assert_eq!(problems(&hidden), [("foto".into(), "not_on_path")]);
    assert!(evaluate(&def, &hidden).finished().is_none());

    let unknown = answers(&[("jenis", choice("pencurian"))]);
    assert_eq!(problems(&unknown), [("jenis".into(), "unknown_choice")]);

    let missing = answers(&[
        ("jenis", choice("perangkat_rusak")),
        ("perangkat", choice("ac")),
    ]);
    let walk = evaluate(&def, &missing);
    assert!(matches!(walk.stop, Stop::Ask(q) if q.id.as_str() == "kerusakan"));
    assert_eq!(problems(&missing), [("kerusakan".into(), "required")]);

    let wrong = answers(&[("jenis", Answer::Text("rusak".into()))]);
    assert_eq!(problems(&wrong), [("jenis".into(), "wrong_kind")]);

    let too_many = answers(&[
        ("jenis", choice("perangkat_rusak")),
        ("perangkat", choice("ac")),
        ("kerusakan", Answer::Choices(vec![slug("mati")])),
        ("foto", Answer::Images((1..=6).map(image).collect())),
    ]);
    assert_eq!(
        evaluate(&def, &too_many).errors[0].problem,
        AnswerProblem::TooMany { max: 5 }
    );

    let stranger = answers(&[
        ("jenis", choice("lainnya")),
        ("nama_ibu", Answer::Text("x".into())),
    ]);
    assert!(problems(&stranger).contains(&("nama_ibu".into(), "unknown_question")));
}

fn problems_of(def: &Definition) -> Vec<(Option<String>, String, &'static str)> {
    validate(def)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.node, e.field, e.problem.code()))
        .collect()
}

fn node_mut<'a>(def: &'a mut Definition, id: &str) -> &'a mut Question {
    def.nodes
        .iter_mut()
        .find_map(|n| match n {
            Node::Question(q) if q.id.as_str() == id => Some(q),
            _ => None,
        })
        .unwrap()
}

#[test]
fn publish_refuses_cycles_dangling_jumps_and_unreachable_nodes_naming_the_node() {
    let mut cyclic = sample_journey();
    node_mut(&mut cyclic, "foto").next = Some(slug("perangkat"));
    assert_eq!(
        problems_of(&cyclic),
        [(Some("foto".into()), "next".into(), "backward_jump")]
    );

    let mut dangling = sample_journey();
    node_mut(&mut dangling, "jenis").rules[1].goto = slug("tagihan_lama");
    // The billing question is now reached by nothing.
    assert_eq!(
        problems_of(&dangling),
        [(Some("jenis".into()), "rules[1].goto".into(), "unknown_node")]
    );
    node_mut(&mut dangling, "jenis").rules.pop();
    assert_eq!(
        problems_of(&dangling),
        [
            (Some("tagihan".into()), "id".into(), "unreachable"),
            (Some("selesai_tagihan".into()), "id".into(), "unreachable")
        ]
    );

    let mut untranslated = sample_journey();
    node_mut(&mut untranslated, "perangkat").input = Input::Single {
        choices: vec![Choice {
            id: slug("ac"),
            label: Localized::new("AC", " "),
        }],
    };
    assert_eq!(
        problems_of(&untranslated),
        [(
            Some("perangkat".into()),
            "input.choices[0].label.en".into(),
            "bad_text"
        )]
    );

    let mut misfit = sample_journey();
    node_mut(&mut misfit, "foto").rules[0].when = Condition::Answer {
        question: slug("kerusakan"),
        test: Test::Is {
            choice: slug("bocor"),
        },
    };
    let errors = validate(&misfit).unwrap_err();
    assert_eq!(
        errors[0].problem,
        DefinitionProblem::TestDoesNotFit {
            test: "is",
            kind: "multi"
        }
    );
    assert_eq!(errors[0].field, "rules[0].when");

    // Only whole numbers, none between the limits: no answer could pass.
    let mut impossible = sample_journey();
    node_mut(&mut impossible, "tagihan").input = Input::Number {
        min: Some(0.2),
        max: Some(0.8),
        integer: true,
    };
    assert_eq!(
        problems_of(&impossible),
        [(Some("tagihan".into()), "input".into(), "limit")]
    );

    let mut ahead = sample_journey();
    node_mut(&mut ahead, "jenis").rules[0].when = Condition::Answer {
        question: slug("foto"),
        test: Test::Answered,
    };
    assert_eq!(problems_of(&ahead)[0].2, "later_question");

    let mut open_ended = sample_journey();
    let mut last = node_mut(&mut open_ended, "foto").clone();
    last.id = slug("catatan");
    last.rules.clear();
    last.next = None;
    node_mut(&mut open_ended, "foto").next = Some(slug("catatan"));
    open_ended.nodes.push(Node::Question(last));
    let codes: Vec<_> = problems_of(&open_ended).into_iter().map(|p| p.2).collect();
    assert!(codes.contains(&"falls_off_the_end"), "{codes:?}");
}

// ---- properties -------------------------------------------------------

/// A tiny deterministic generator, so one `u64` seed is one case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn text(s: &str) -> Localized {
    Localized::new(format!("{s} (id)"), format!("{s} (en)"))
}

fn choices(rng: &mut Rng) -> Vec<Choice> {
    (0..2 + rng.below(3))
        .map(|c| Choice {
            id: slug(&format!("c{c}")),
            label: text(&format!("choice {c}")),
        })
        .collect()
}

fn input(rng: &mut Rng) -> Input {
    match rng.below(6) {
        0 => Input::Single {
            choices: choices(rng),
        },
        1 => {
            let choices = choices(rng);
            let max = 1 + rng.below(choices.len());
            Input::Multi {
                min: Some(u16::try_from(rng.below(max + 1)).unwrap()),
                max: Some(u16::try_from(max).unwrap()),
                choices,
            }
        }
        2 => Input::Text {
            max_chars: 20,
            multiline: rng.chance(50),
        },
        3 => Input::Number {
            min: Some(0.0),
            max: Some(10.0),
            integer: rng.chance(50),
        },
        4 => Input::Date {
            earliest: Some("2026-01-01".parse().unwrap()),
            latest: Some("2026-12-31".parse().unwrap()),
        },
        _ => Input::Image {
            max_count: 1 + u8::try_from(rng.below(4)).unwrap(),
            max_bytes: 1_000_000,
        },
    }
}

/// A test that fits `input`.
fn fitting_test(rng: &mut Rng, input: &Input) -> Test {
    if rng.chance(15) {
        return if rng.chance(50) {
            Test::Answered
        } else {
            Test::Unanswered
        };
    }
    let pick = |rng: &mut Rng, choices: &[Choice]| choices[rng.below(choices.len())].id.clone();
    match input {
        Input::Single { choices } if rng.chance(50) => Test::Is {
            choice: pick(rng, choices),
        },
        Input::Single { choices } => Test::IsOneOf {
            choices: vec![pick(rng, choices), pick(rng, choices)],
        },
        Input::Multi { choices, .. } if rng.chance(70) => Test::Includes {
            choice: pick(rng, choices),
        },
        Input::Multi { .. } | Input::Image { .. } => Test::AtLeast {
            count: u16::try_from(rng.below(3)).unwrap(),
        },
        Input::Text { .. } => Test::Contains { text: "a".into() },
        Input::Number { .. } => Test::Compare {
            cmp: Cmp::ALL[rng.below(Cmp::ALL.len())],
            value: 5.0,
        },
        Input::Date { .. } if rng.chance(50) => Test::Before {
            date: "2026-06-15".parse().unwrap(),
        },
        Input::Date { .. } => Test::After {
            date: "2026-06-15".parse().unwrap(),
        },
    }
}

fn condition(rng: &mut Rng, questions: &[Question], depth: usize) -> Condition {
    if depth < 3 && rng.chance(25) {
        let members = (0..1 + rng.below(3))
            .map(|_| condition(rng, questions, depth + 1))
            .collect();
        return match rng.below(3) {
            0 => Condition::All(members),
            1 => Condition::Any(members),
            _ => Condition::Not(Box::new(condition(rng, questions, depth + 1))),
        };
    }
    let target = &questions[rng.below(questions.len())];
    Condition::Answer {
        question: target.id.clone(),
        test: fitting_test(rng, &target.input),
    }
}

/// A random definition: questions and ends mixed (the first a question,
/// the last an end), rules and `next` jumping to any later node. Unless
/// `wild`, nodes no walk reaches get a rule from an earlier reachable
/// question, so nearly every case validates; with `wild`, jumps may also go
/// backward or nowhere (an unvalidated definition).
fn random_definition(seed: u64, wild: bool) -> Definition {
    let mut rng = Rng(seed | 1);
    let total = 2 + rng.below(10);
    let is_end: Vec<bool> = (0..total)
        .map(|i| i + 1 == total || (i > 0 && rng.chance(25)))
        .collect();
    let id_of = |i: usize| {
        if is_end[i] {
            slug(&format!("e{i}"))
        } else {
            slug(&format!("q{i}"))
        }
    };
    let later = |rng: &mut Rng, i: usize| id_of(i + 1 + rng.below(total - i - 1));
    let mut nodes = Vec::new();
    let mut questions: Vec<Question> = Vec::new();
    for (i, end) in is_end.iter().enumerate() {
        if *end {
            nodes.push(Node::End(End {
                id: id_of(i),
                message: text("thanks"),
                outcome: Outcome {
                    category: "general".into(),
                    priority: Priority::ALL[i % Priority::ALL.len()],
                    department_id: None,
                    propose_visit: i % 2 == 0,
                },
            }));
            continue;
        }
        let mut q = Question {
            id: id_of(i),
            prompt: text(&format!("question {i}")),
            help: None,
            required: rng.chance(60),
            input: input(&mut rng),
            rules: vec![],
            next: None,
        };
        let mut known = questions.clone();
        known.push(q.clone());
        for _ in 0..rng.below(3) {
            let goto = if wild && rng.chance(30) {
                if rng.chance(50) {
                    id_of(rng.below(total))
                } else {
                    slug("nowhere")
                }
            } else {
                later(&mut rng, i)
            };
            q.rules.push(Rule {
                when: condition(&mut rng, &known, 0),
                goto,
            });
        }
        if rng.chance(20) {
            q.next = Some(later(&mut rng, i));
        }
        questions.push(q.clone());
        nodes.push(Node::Question(q));
    }
    let mut def = Definition {
        title: text("random"),
        start: id_of(0),
        nodes,
    };
    if !wild {
        connect(&mut def, &mut rng);
    }
    def
}

/// Which nodes a walk can reach (every jump taken, as the validator sees it).
fn reachable(def: &Definition) -> Vec<bool> {
    let mut reached = vec![false; def.nodes.len()];
    let mut queue = vec![0];
    reached[0] = true;
    while let Some(at) = queue.pop() {
        let Node::Question(q) = &def.nodes[at] else {
            continue;
        };
        let targets = q
            .rules
            .iter()
            .map(|r| def.node(&r.goto).map(|(i, _)| i))
            .chain([q
                .next
                .as_ref()
                .map_or(Some(at + 1), |n| def.node(n).map(|(i, _)| i))]);
        for to in targets.flatten() {
            if to < def.nodes.len() && !reached[to] {
                reached[to] = true;
                queue.push(to);
            }
        }
    }
    reached
}

/// Gives each node no walk reaches a rule from an earlier reachable question.
fn connect(def: &mut Definition, rng: &mut Rng) {
    for _ in 0..def.nodes.len() {
        let reached = reachable(def);
        let Some(lost) = reached.iter().position(|r| !r) else {
            return;
        };
        let from: Vec<usize> = (0..lost)
            .filter(|i| reached[*i] && matches!(def.nodes[*i], Node::Question(_)))
            .collect();
        let from = from[rng.below(from.len())];
        let known: Vec<Question> = def.nodes[..=from]
            .iter()
            .filter_map(|n| match n {
                Node::Question(q) => Some(q.clone()),
                Node::End(_) => None,
            })
            .collect();
        let when = condition(rng, &known, 0);
        let goto = def.nodes[lost].id().clone();
        if let Node::Question(q) = &mut def.nodes[from] {
            q.rules.push(Rule { when, goto });
        }
    }
}

/// A valid answer to `q` (or, with `sloppy`, sometimes an invalid one).
fn random_answer(rng: &mut Rng, q: &Question, sloppy: bool) -> Answer {
    if sloppy && rng.chance(10) {
        return Answer::Text(String::new());
    }
    match &q.input {
        Input::Single { choices } => Answer::Choice(choices[rng.below(choices.len())].id.clone()),
        Input::Multi { choices, min, max } => {
            let min = usize::from(min.unwrap_or(0)).max(usize::from(q.required));
            let max = max.map_or(choices.len(), usize::from);
            let n = min + rng.below(max - min + 1);
            Answer::Choices(choices[..n].iter().map(|c| c.id.clone()).collect())
        }
        Input::Text { .. } => Answer::Text(if rng.chance(50) { "abc" } else { "xyz" }.into()),
        Input::Number { .. } => Answer::Number(f64::from(u8::try_from(rng.below(11)).unwrap())),
        Input::Date { .. } => Answer::Date(
            Date::new(
                2026,
                1 + u8::try_from(rng.below(12)).unwrap(),
                1 + u8::try_from(rng.below(28)).unwrap(),
            )
            .unwrap(),
        ),
        Input::Image { max_count, .. } => Answer::Images(
            (0..1 + rng.below(usize::from(*max_count)))
                .map(|n| image(u8::try_from(n).unwrap()))
                .collect(),
        ),
    }
}

/// The generator makes valid definitions (so the properties below test
/// something), with ends mid-list and jumps past them.
#[test]
fn the_generator_makes_valid_and_varied_definitions() {
    let defs: Vec<Definition> = (1..=500)
        .map(|seed| random_definition(seed, false))
        .collect();
    let valid = defs.iter().filter(|d| validate(d).is_ok()).count();
    assert!(valid >= 490, "{valid} of 500 validate");
    let end_mid_list = defs.iter().any(|d| {
        d.nodes[..d.nodes.len() - 1]
            .iter()
            .any(|n| matches!(n, Node::End(_)))
    });
    assert!(end_mid_list, "some ends sit before questions");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any definition, any answers: the walk ends, never longer than the
    /// definition, and a validated definition never reaches a dead end.
    #[test]
    fn evaluation_terminates_and_validated_definitions_have_no_dead_end(
        seed in any::<u64>(), wild in any::<bool>(), answer_seed in any::<u64>(),
    ) {
        let def = random_definition(seed, wild);
        let mut rng = Rng(answer_seed | 1);
        let mut given = BTreeMap::new();
        for node in &def.nodes {
            if let Node::Question(q) = node && rng.chance(70) {
                given.insert(q.id.clone(), random_answer(&mut rng, q, true));
            }
        }
        let walk = evaluate(&def, &given);
        prop_assert!(walk.path.len() <= def.nodes.len());
        if validate(&def).is_ok() {
            prop_assert!(!matches!(walk.stop, Stop::DeadEnd), "{:?}", walk.stop);
        }
    }

    /// The phone (a random customer moving through the form, skipping and
    /// going back) and the server (one evaluation of what the phone
    /// submits) agree on every validated definition.
    #[test]
    fn the_phone_form_and_the_server_evaluation_agree(
        seed in any::<u64>(), customer in any::<u64>(),
    ) {
        let def = random_definition(seed, false);
        prop_assume!(validate(&def).is_ok());
        let mut rng = Rng(customer | 1);
        let mut form = Form::default();
        let mut finished = None;
        for _ in 0..200 {
            match form.screen(&def) {
                Screen::Question(q) => {
                    let q = q.clone();
                    if rng.chance(10) {
                        let _ = form.back(&def);
                    } else if rng.chance(10) {
                        // A wrong answer is refused and changes nothing.
                        let before = form.clone();
                        let wrong = match q.input {
                            Input::Text { .. } => Answer::Number(1.0),
                            _ => Answer::Text(String::new()),
                        };
                        prop_assert!(form.answer(&def, &q.id, wrong).is_err());
                        prop_assert_eq!(&form, &before);
                    } else if !q.required && rng.chance(30) {
                        form.skip(&def, &q.id).unwrap();
                    } else {
                        form.answer(&def, &q.id, random_answer(&mut rng, &q, false)).unwrap();
                    }
                }
                Screen::End(end) => {
                    finished = Some(end.clone());
                    break;
                }
                Screen::DeadEnd => prop_assert!(false, "a validated definition reached a dead end"),
            }
        }
        let end = finished.expect("the customer reaches an end within 200 moves");
        let (submitted, reached) = form.submission(&def).unwrap();
        prop_assert_eq!(reached, &end);
        let server = evaluate(&def, &submitted);
        prop_assert!(server.errors.is_empty(), "{:?}", server.errors);
        prop_assert_eq!(server.finished(), Some(&end));
        prop_assert!(submitted.keys().all(|id| server.shows(id)));
    }

    /// Definitions survive their JSON form unchanged.
    #[test]
    fn definitions_round_trip_through_json(seed in any::<u64>(), wild in any::<bool>()) {
        let def = random_definition(seed, wild);
        prop_assert_eq!(Definition::from_json(&def.to_json()).unwrap(), def);
    }
}
