//! Journeys: the intake forms a customer fills in before a ticket opens,
//! with questions that depend on earlier answers.
//!
//! A journey is data, not code. Its [`Definition`] is a list of nodes:
//! [`Question`]s and [`End`]s. Walking it starts at [`Definition::start`];
//! after a question, its [`Rule`]s are tried in order and the first whose
//! [`Condition`] holds names the next node, else [`Question::next`], else
//! the node after it in the list. A condition is a typed tree (`all`,
//! `any`, `not`, and [`Test`]s on earlier answers), never an expression
//! string, so a definition can be checked before anyone sees it:
//!
//! * [`validate`] runs at publish. Jumps only go forward in the list, so a
//!   walk can never loop; with the last node an end, every path reaches
//!   one. Unknown and duplicate ids, unreachable nodes, tests that do not
//!   fit the question's kind and missing translations are refused, each
//!   error naming its node.
//! * [`evaluate`] is the one evaluator: given the answers, the path the
//!   customer sees, where the walk stops (a question still to answer, or
//!   an end) and what is wrong with the answers. The phone drives the form
//!   offline with it (through [`Form`]); the server runs it again on the
//!   submitted answers and accepts the ticket only if it reaches an end
//!   with no error, so a tampered submission (an answer to a question the
//!   path hides, an unknown choice) is refused with the question named.
//!
//! Definitions travel as JSON (the admin API, the journey document) and
//! answers inside the [`SubmitJourney`](crate::commands::CommandBody::SubmitJourney)
//! command; both decoders are bounded (lengths here, nesting by
//! [`MAX_CONDITION_DEPTH`]) and fuzzed.

mod evaluate;
pub mod form;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::docs::photo::Sha256Hex;
pub use crate::docs::ticket::Priority;
pub use evaluate::{AnswerError, AnswerProblem, Stop, Walk, evaluate};
pub use form::{Form, FormError};
pub use validate::{DefinitionError, DefinitionProblem, validate};

/// Most nodes in one definition.
pub const MAX_NODES: usize = 200;
/// Most choices of one question.
pub const MAX_CHOICES: usize = 50;
/// Most rules of one question.
pub const MAX_RULES: usize = 20;
/// Deepest nesting of condition groups.
pub const MAX_CONDITION_DEPTH: usize = 6;
/// Most tests and groups in one condition.
pub const MAX_CONDITION_SIZE: usize = 50;
/// Longest label, prompt or title, in characters.
pub const MAX_LABEL_CHARS: usize = 500;
/// Longest text answer a question may allow.
pub const MAX_TEXT_ANSWER_CHARS: u32 = 5_000;
/// Most images one question may ask for.
pub const MAX_IMAGES: u8 = 10;
/// Largest image a question may accept, in bytes.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// A stable identifier inside a definition: a node's or a choice's id.
/// 1 to 40 characters of `a-z`, `0-9`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    /// The longest slug.
    pub const MAX_CHARS: usize = 40;

    /// The slug's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text that is not a [`Slug`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 40 characters of a-z, 0-9, _ and -")]
pub struct InvalidSlug;

impl FromStr for Slug {
    type Err = InvalidSlug;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=Self::MAX_CHARS).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Slug(s.to_owned()))
        } else {
            Err(InvalidSlug)
        }
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidSlug;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> String {
        slug.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text a person reads, in Bahasa Indonesia and English. Both are required
/// at publish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    /// Bahasa Indonesia.
    pub id: String,
    /// English.
    pub en: String,
}

impl Localized {
    /// Both languages.
    pub fn new(id: impl Into<String>, en: impl Into<String>) -> Self {
        Localized {
            id: id.into(),
            en: en.into(),
        }
    }

    /// The text for a language tag (`en`, `en-GB`: English; anything else:
    /// Bahasa Indonesia, the users' language).
    pub fn get(&self, language: &str) -> &str {
        if language
            .get(..2)
            .is_some_and(|l| l.eq_ignore_ascii_case("en"))
        {
            &self.en
        } else {
            &self.id
        }
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Text that is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a date, YYYY-MM-DD")]
pub struct InvalidDate;

impl Date {
    /// A date, if it exists in the Gregorian calendar (years 1900–2999).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1900..=2999).contains(&year) && (1..=days).contains(&day)).then_some(Date {
            year,
            month,
            day,
        })
    }
}

impl FromStr for Date {
    type Err = InvalidDate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(InvalidDate);
        }
        let number = |range: std::ops::Range<usize>| -> Result<u16, InvalidDate> {
            let part = &s[range];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| InvalidDate)
            } else {
                Err(InvalidDate)
            }
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        Date::new(
            year,
            u8::try_from(month).map_err(|_| InvalidDate)?,
            u8::try_from(day).map_err(|_| InvalidDate)?,
        )
        .ok_or(InvalidDate)
    }
}

impl TryFrom<String> for Date {
    type Error = InvalidDate;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.to_string()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

string_enum! {
    /// Where a journey version is in its life. A published version never
    /// changes; editing makes the next version, publishing it retires the
    /// one before.
    pub enum JourneyStatus {
        /// Being edited; not shown to customers.
        Draft = "draft",
        /// Shown to customers.
        Published = "published",
        /// No longer offered; answers started while it was published are
        /// still accepted.
        Retired = "retired",
    }
}

/// A journey's content: what the customer sees and where the answers lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// The journey's name, as offered to the customer.
    pub title: Localized,
    /// The node the walk starts at.
    pub start: Slug,
    /// Questions and ends, in order: jumps only go forward in this list.
    pub nodes: Vec<Node>,
}

/// One step of a journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    /// Something to ask.
    Question(Question),
    /// Where a walk finishes.
    End(End),
}

impl Node {
    /// The node's id.
    pub fn id(&self) -> &Slug {
        match self {
            Node::Question(q) => &q.id,
            Node::End(e) => &e.id,
        }
    }
}

/// A question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable id; answers are keyed by it.
    pub id: Slug,
    /// What is asked.
    pub prompt: Localized,
    /// A hint under the question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Localized>,
    /// Whether the walk stops here until it is answered.
    #[serde(default)]
    pub required: bool,
    /// What kind of answer, and its limits.
    pub input: Input,
    /// Tried in order after the answer; the first that holds decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Where to go when no rule holds; else the next node in the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Slug>,
}

/// The kind of answer a question takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// Exactly one of the choices.
    Single {
        /// The choices, in the order shown.
        choices: Vec<Choice>,
    },
    /// Any number of the choices, within limits.
    Multi {
        /// The choices, in the order shown.
        choices: Vec<Choice>,
        /// At least this many (when answered).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u16>,
        /// At most this many.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u16>,
    },
    /// Free text.
    Text {
        /// The longest answer, in characters.
        max_chars: u32,
        /// Several lines (else one).
        #[serde(default)]
        multiline: bool,
    },
    /// A number.
    Number {
        /// Smallest accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// Whole numbers only.
        #[serde(default)]
        integer: bool,
    },
    /// A calendar date.
    Date {
        /// Earliest accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        earliest: Option<Date>,
        /// Latest accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest: Option<Date>,
    },
    /// Photos, uploaded through the photo pipeline.
    Image {
        /// Most photos.
        max_count: u8,
        /// Largest photo, in bytes.
        max_bytes: u64,
    },
}

impl Input {
    /// The kind's code, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Single { .. } => "single",
            Input::Multi { .. } => "multi",
            Input::Text { .. } => "text",
            Input::Number { .. } => "number",
            Input::Date { .. } => "date",
            Input::Image { .. } => "image",
        }
    }

    /// The choices of a single or multiple choice question.
    pub fn choices(&self) -> &[Choice] {
        match self {
            Input::Single { choices } | Input::Multi { choices, .. } => choices,
            _ => &[],
        }
    }
}

/// One choice of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Stable id; answers and conditions name it.
    pub id: Slug,
    /// What the customer reads.
    pub label: Localized,
}

/// A jump taken when its condition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// When the jump is taken.
    pub when: Condition,
    /// Where to: a later node.
    pub goto: Slug,
}

/// A typed condition on the answers given so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Every member holds.
    All(Vec<Condition>),
    /// At least one member holds.
    Any(Vec<Condition>),
    /// The member does not hold.
    Not(Box<Condition>),
    /// A test on one question's answer.
    Answer {
        /// The question: this one or an earlier one.
        question: Slug,
        /// What is tested.
        test: Test,
    },
}

/// A comparison on one answer. A test on a question left unanswered (or
/// off the path) is false, except [`Test::Unanswered`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Test {
    /// Any answer was given.
    Answered,
    /// No answer was given.
    Unanswered,
    /// Single choice: this one was chosen.
    Is {
        /// The choice.
        choice: Slug,
    },
    /// Single choice: one of these was chosen.
    IsOneOf {
        /// The choices.
        choices: Vec<Slug>,
    },
    /// Multiple choice: this one is among those chosen.
    Includes {
        /// The choice.
        choice: Slug,
    },
    /// Number: compared with a value.
    Compare {
        /// How.
        cmp: Cmp,
        /// With what.
        value: f64,
    },
    /// Date: strictly before.
    Before {
        /// The date.
        date: Date,
    },
    /// Date: strictly after.
    After {
        /// The date.
        date: Date,
    },
    /// Text: contains this, ignoring case.
    Contains {
        /// The text looked for.
        text: String,
    },
    /// Multiple choice or images: at least this many.
    AtLeast {
        /// How many.
        count: u16,
    },
}

string_enum! {
    /// A numeric comparison.
    pub enum Cmp {
        /// Less than.
        Lt = "lt",
        /// Less than or equal.
        Le = "le",
        /// Equal.
        Eq = "eq",
        /// Greater than or equal.
        Ge = "ge",
        /// Greater than.
        Gt = "gt",
    }
}

/// Where a walk ends, and what the ticket it opens looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    /// Stable id.
    pub id: Slug,
    /// Shown to the customer before they submit.
    pub message: Localized,
    /// The ticket's routing.
    pub outcome: Outcome,
}

/// How a finished journey's ticket is routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The ticket category code (the server's list).
    pub category: String,
    /// The ticket's priority.
    pub priority: Priority,
    /// The department the ticket goes to (its id); else the help desk's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    /// Whether CS should plan a visit.
    #[serde(default)]
    pub propose_visit: bool,
}

/// One answer. Its variants are part of the wire format (the
/// `SubmitJourney` command): new ones go at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A single choice.
    Choice(Slug),
    /// Multiple choices.
    Choices(Vec<Slug>),
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// A date.
    Date(Date),
    /// Photos, by the SHA-256 of their bytes.
    Images(Vec<Sha256Hex>),
}

impl Answer {
    /// The question kind this answer fits.
    pub fn kind(&self) -> &'static str {
        match self {
            Answer::Choice(_) => "single",
            Answer::Choices(_) => "multi",
            Answer::Text(_) => "text",
            Answer::Number(_) => "number",
            Answer::Date(_) => "date",
            Answer::Images(_) => "image",
        }
    }
}

/// Answers by question id.
pub type Answers = BTreeMap<Slug, Answer>;

impl Definition {
    /// The node with this id, and its position.
    pub fn node(&self, id: &Slug) -> Option<(usize, &Node)> {
        self.nodes.iter().enumerate().find(|(_, n)| n.id() == id)
    }

    /// The question with this id.
    pub fn question(&self, id: &Slug) -> Option<&Question> {
        self.nodes.iter().find_map(|n| match n {
            Node::Question(q) if &q.id == id => Some(q),
            _ => None,
        })
    }

    /// Decodes a definition from JSON (bounded: serde_json stops at 128
    /// levels of nesting; [`validate`] checks the rest).
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The definition as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn slugs_and_dates_parse_strictly() {
        assert!("perangkat_rusak".parse::<Slug>().is_ok());
        for bad in ["", "Rusak", "a b", &"x".repeat(41), "é"] {
            assert!(bad.parse::<Slug>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "2028-02-29".parse::<Date>().unwrap().to_string(),
            "2028-02-29"
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "+026-01-01",
            "2026-01-0a",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad:?}");
        }
        assert!("2026-01-31".parse::<Date>().unwrap() < "2026-02-01".parse().unwrap());
    }

    #[test]
    fn localized_text_falls_back_to_bahasa() {
        let t = Localized::new("Keluhan", "Complaint");
        assert_eq!(t.get("en-GB"), "Complaint");
        assert_eq!(t.get("id"), "Keluhan");
        assert_eq!(t.get(""), "Keluhan");
    }

    #[test]
    fn a_definition_reads_as_json() {
        let json = r#"{
          "title": {"id": "Keluhan", "en": "Complaint"},
          "start": "jenis",
          "nodes": [
            {"type": "question", "id": "jenis", "required": true,
             "prompt": {"id": "Apa masalahnya?", "en": "What is wrong?"},
             "input": {"kind": "single", "choices": [
               {"id": "rusak", "label": {"id": "Perangkat rusak", "en": "Broken device"}},
               {"id": "lain", "label": {"id": "Lainnya", "en": "Other"}}]},
             "rules": [{"when": {"answer": {"question": "jenis", "test": {"op": "is", "choice": "rusak"}}},
                        "goto": "selesai"}]},
            {"type": "end", "id": "selesai", "message": {"id": "Terima kasih", "en": "Thank you"},
             "outcome": {"category": "technical", "priority": "high"}}
          ]}"#;
        let def = Definition::from_json(json).unwrap();
        assert_eq!(def.nodes.len(), 2);
        assert_eq!(Definition::from_json(&def.to_json()).unwrap(), def);
        assert!(Definition::from_json(&json.replace("\"is\"", "\"equals\"")).is_err());
    }
}
