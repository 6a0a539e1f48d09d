//! The one evaluator: where a set of answers leads.

use std::collections::BTreeMap;
use std::fmt;

use super::{Answer, Answers, Cmp, Condition, Definition, End, Input, Node, Question, Slug, Test};
use crate::text::{Shape, check};

/// Where a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop<'d> {
    /// At a question that still needs an answer: a required one left
    /// unanswered, or one whose answer is wrong.
    Ask(&'d Question),
    /// At an end: the form may be submitted (if there are no errors).
    End(&'d End),
    /// Nowhere: a jump to a missing node, or off the end of the list. A
    /// validated definition never stops here.
    DeadEnd,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Walk<'d> {
    /// The questions on the path, in the order the customer sees them,
    /// the stopping question included.
    pub path: Vec<&'d Question>,
    /// Where the walk stopped.
    pub stop: Stop<'d>,
    /// What is wrong with the answers, question by question.
    pub errors: Vec<AnswerError>,
}

impl<'d> Walk<'d> {
    /// The end reached, if the answers are complete and correct.
    pub fn finished(&self) -> Option<&'d End> {
        match self.stop {
            Stop::End(end) if self.errors.is_empty() => Some(end),
            _ => None,
        }
    }

    /// Whether a question is on the path.
    pub fn shows(&self, question: &Slug) -> bool {
        self.path.iter().any(|q| &q.id == question)
    }
}

/// What is wrong with one answer (or its absence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerError {
    /// The question, as named in the answers or the definition.
    pub question: String,
    /// What.
    pub problem: AnswerProblem,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.question, self.problem)
    }
}

/// Why an answer is refused. [`code`](AnswerProblem::code) is stable, for
/// translations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerProblem {
    /// A required question on the path has no answer.
    Required,
    /// An answer to a question the path does not show.
    NotOnPath,
    /// An answer to an id that is no question of this journey.
    UnknownQuestion,
    /// An answer of another kind than the question takes.
    WrongKind {
        /// The question's kind.
        expected: &'static str,
    },
    /// A choice the question does not offer.
    UnknownChoice(String),
    /// The same choice twice.
    DuplicateChoice,
    /// Fewer items than the question asks for.
    TooFew {
        /// The least.
        min: usize,
    },
    /// More items than the question allows.
    TooMany {
        /// The most.
        max: usize,
    },
    /// Text that is blank, too long, or holds control characters.
    BadText,
    /// A number outside the question's range, or not a whole number where
    /// one is asked, or not finite.
    OutOfRange,
    /// A date outside the question's range.
    DateOutOfRange,
}

impl AnswerProblem {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AnswerProblem::Required => "required",
            AnswerProblem::NotOnPath => "not_on_path",
            AnswerProblem::UnknownQuestion => "unknown_question",
            AnswerProblem::WrongKind { .. } => "wrong_kind",
            AnswerProblem::UnknownChoice(_) => "unknown_choice",
            AnswerProblem::DuplicateChoice => "duplicate_choice",
            AnswerProblem::TooFew { .. } => "too_few",
            AnswerProblem::TooMany { .. } => "too_many",
            AnswerProblem::BadText => "bad_text",
            AnswerProblem::OutOfRange => "out_of_range",
            AnswerProblem::DateOutOfRange => "date_out_of_range",
        }
    }
}

impl fmt::Display for AnswerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerProblem::Required => f.write_str("is required"),
            AnswerProblem::NotOnPath => f.write_str("is not asked on this path"),
            AnswerProblem::UnknownQuestion => f.write_str("is no question of this journey"),
            AnswerProblem::WrongKind { expected } => write!(f, "takes a {expected} answer"),
            AnswerProblem::UnknownChoice(choice) => write!(f, "has no choice {choice:?}"),
            AnswerProblem::DuplicateChoice => f.write_str("names a choice twice"),
            AnswerProblem::TooFew { min } => write!(f, "needs at least {min}"),
            AnswerProblem::TooMany { max } => write!(f, "takes at most {max}"),
            AnswerProblem::BadText => {
                f.write_str("must be non-blank text within the length, without control characters")
            }
            AnswerProblem::OutOfRange => f.write_str("is outside the accepted range"),
            AnswerProblem::DateOutOfRange => f.write_str("is outside the accepted dates"),
        }
    }
}

/// Walks `definition` with `answers`: the path shown, where it stops, and
/// every problem with the answers. Pure and total: it terminates on any
/// definition (each step moves forward, or stops), validated or not.
pub fn evaluate<'d>(definition: &'d Definition, answers: &Answers) -> Walk<'d> {
    let mut path = Vec::new();
    let mut errors = Vec::new();
    // Answers of the questions walked so far: conditions see only these.
    let mut seen: BTreeMap<&Slug, &Answer> = BTreeMap::new();
    let mut at = position(definition, &definition.start);
    let stop = loop {
        let Some(index) = at else {
            break Stop::DeadEnd;
        };
        let question = match &definition.nodes[index] {
            Node::End(end) => break Stop::End(end),
            Node::Question(q) => q,
        };
        path.push(question);
        match answers.get(&question.id) {
            None if question.required => {
                errors.push(AnswerError {
                    question: question.id.to_string(),
                    problem: AnswerProblem::Required,
                });
                break Stop::Ask(question);
            }
            None => {}
            Some(answer) => {
                if let Err(problem) = check_answer(&question.input, question.required, answer) {
                    errors.push(AnswerError {
                        question: question.id.to_string(),
                        problem,
                    });
                    break Stop::Ask(question);
                }
                seen.insert(&question.id, answer);
            }
        }
        let jump = question
            .rules
            .iter()
            .find(|rule| holds(&rule.when, &seen))
            .map(|rule| &rule.goto)
            .or(question.next.as_ref());
        at = match jump {
            // Only forward: a backward jump in an unvalidated definition
            // stops the walk instead of looping.
            Some(target) => position(definition, target).filter(|&to| to > index),
            None => Some(index + 1).filter(|&to| to < definition.nodes.len()),
        };
    };
    for id in answers.keys() {
        if path.iter().any(|q| &q.id == id) {
            continue;
        }
        let problem = if definition.question(id).is_some() {
            AnswerProblem::NotOnPath
        } else {
            AnswerProblem::UnknownQuestion
        };
        errors.push(AnswerError {
            question: id.to_string(),
            problem,
        });
    }
    Walk { path, stop, errors }
}

fn position(definition: &Definition, id: &Slug) -> Option<usize> {
    definition.node(id).map(|(index, _)| index)
}

/// Whether `answer` is a valid answer to a question taking `input`.
pub(crate) fn check_answer(
    input: &Input,
    required: bool,
    answer: &Answer,
) -> Result<(), AnswerProblem> {
    let wrong = || AnswerProblem::WrongKind {
        expected: input.kind(),
    };
    let known = |choices: &[super::Choice], id: &Slug| {
        if choices.iter().any(|c| &c.id == id) {
            Ok(())
        } else {
            Err(AnswerProblem::UnknownChoice(id.to_string()))
        }
    };
    match (input, answer) {
        (Input::Single { choices }, Answer::Choice(id)) => known(choices, id),
        (Input::Multi { choices, min, max }, Answer::Choices(ids)) => {
            for (i, id) in ids.iter().enumerate() {
                known(choices, id)?;
                if ids[..i].contains(id) {
                    return Err(AnswerProblem::DuplicateChoice);
                }
            }
            let min = usize::from(min.unwrap_or(0)).max(usize::from(required));
            let max = max.map_or(choices.len(), usize::from);
            if ids.len() < min {
                return Err(AnswerProblem::TooFew { min });
            }
            if ids.len() > max {
                return Err(AnswerProblem::TooMany { max });
            }
            Ok(())
        }
        (
            Input::Text {
                max_chars,
                multiline,
            },
            Answer::Text(text),
        ) => {
            let shape = if *multiline {
                Shape::Paragraph
            } else {
                Shape::Line
            };
            let max = usize::try_from(*max_chars).unwrap_or(usize::MAX);
            check(text, shape, max, true).map_err(|_| AnswerProblem::BadText)
        }
        (Input::Number { min, max, integer }, Answer::Number(n)) => {
            let ok = n.is_finite()
                && min.is_none_or(|min| *n >= min)
                && max.is_none_or(|max| *n <= max)
                && (!integer || n.fract() == 0.0);
            ok.then_some(()).ok_or(AnswerProblem::OutOfRange)
        }
        (Input::Date { earliest, latest }, Answer::Date(date)) => {
            let ok = earliest.is_none_or(|e| *date >= e) && latest.is_none_or(|l| *date <= l);
            ok.then_some(()).ok_or(AnswerProblem::DateOutOfRange)
        }
        (Input::Image { max_count, .. }, Answer::Images(images)) => {
            if images.len() < usize::from(required) {
                return Err(AnswerProblem::TooFew { min: 1 });
            }
            if images.len() > usize::from(*max_count) {
                return Err(AnswerProblem::TooMany {
                    max: usize::from(*max_count),
                });
            }
            for (i, image) in images.iter().enumerate() {
                if images[..i].contains(image) {
                    return Err(AnswerProblem::DuplicateChoice);
                }
            }
            Ok(())
        }
        _ => Err(wrong()),
    }
}

/// Whether a condition holds on the answers seen.
pub(crate) fn holds(condition: &Condition, seen: &BTreeMap<&Slug, &Answer>) -> bool {
    match condition {
        Condition::All(members) => members.iter().all(|c| holds(c, seen)),
        Condition::Any(members) => members.iter().any(|c| holds(c, seen)),
        Condition::Not(member) => !holds(member, seen),
        Condition::Answer { question, test } => passes(test, seen.get(question).copied()),
    }
}

fn passes(test: &Test, answer: Option<&Answer>) -> bool {
    let Some(answer) = answer else {
        return matches!(test, Test::Unanswered);
    };
    match (test, answer) {
        (Test::Answered, _) => true,
        (Test::Unanswered, _) => false,
        (Test::Is { choice }, Answer::Choice(chosen)) => choice == chosen,
        (Test::IsOneOf { choices }, Answer::Choice(chosen)) => choices.contains(chosen),
        (Test::Includes { choice }, Answer::Choices(chosen)) => chosen.contains(choice),
        (Test::Compare { cmp, value }, Answer::Number(n)) => match cmp {
            Cmp::Lt => n < value,
            Cmp::Le => n <= value,
            Cmp::Eq => n == value,
            Cmp::Ge => n >= value,
            Cmp::Gt => n > value,
        },
        (Test::Before { date }, Answer::Date(d)) => d < date,
        (Test::After { date }, Answer::Date(d)) => d > date,
        (Test::Contains { text }, Answer::Text(t)) => {
            t.to_lowercase().contains(&text.to_lowercase())
        }
        (Test::AtLeast { count }, Answer::Choices(chosen)) => chosen.len() >= usize::from(*count),
        (Test::AtLeast { count }, Answer::Images(images)) => images.len() >= usize::from(*count),
        _ => false,
    }
}
