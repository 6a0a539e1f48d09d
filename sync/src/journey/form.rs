//! A form being filled in: the evaluator plus a cursor, as the phone
//! drives it offline.

use std::collections::BTreeSet;

use thiserror::Error;

use super::evaluate::check_answer;
use super::{
    Answer, AnswerProblem, Answers, Definition, End, Question, Slug, Stop, Walk, evaluate,
};

/// The state of one journey being filled in: the answers so far, the
/// questions skipped on purpose and the question on screen. Every move
/// re-runs [`evaluate`], so what the form shows is always what the server
/// will accept.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Form {
    /// The answers given, including to questions a changed answer has since
    /// taken off the path (kept so going back restores them; never
    /// submitted).
    pub answers: Answers,
    /// Optional questions the customer chose to skip.
    pub skipped: BTreeSet<Slug>,
    /// The question on screen; `None`: the first one still to answer.
    pub cursor: Option<Slug>,
}

/// A move the form refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormError {
    /// The question is not the one on screen.
    #[error("`{0}` is not the question on screen")]
    NotCurrent(String),
    /// The answer does not fit the question.
    #[error("{question}: {problem}")]
    Invalid {
        /// The question.
        question: String,
        /// Why.
        problem: AnswerProblem,
    },
    /// A required question cannot be skipped.
    #[error("`{0}` is required")]
    Required(String),
    /// Back from the first question.
    #[error("this is the first question")]
    AtStart,
    /// The form is not finished.
    #[error("the form is not finished")]
    Unfinished,
}

/// What the form shows now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Screen<'d> {
    /// A question to answer (or change).
    Question(&'d Question),
    /// The end: ready to submit.
    End(&'d End),
    /// The definition leads nowhere (never for a validated one).
    DeadEnd,
}

impl Form {
    /// The walk of the answers given.
    pub fn walk<'d>(&self, definition: &'d Definition) -> Walk<'d> {
        evaluate(definition, &self.on_path(definition))
    }

    /// The answers to the questions on the path: what a submission holds.
    pub fn on_path(&self, definition: &Definition) -> Answers {
        // Walk with every answer, then keep those the walk showed; answers
        // off the path cannot change routing (conditions only see answers
        // on the path), so one pass is exact.
        let walk = evaluate(definition, &self.answers);
        self.answers
            .iter()
            .filter(|(id, _)| walk.shows(id))
            .map(|(id, a)| (id.clone(), a.clone()))
            .collect()
    }

    /// The screen to show.
    pub fn screen<'d>(&self, definition: &'d Definition) -> Screen<'d> {
        let walk = self.walk(definition);
        if let Some(cursor) = &self.cursor
            && let Some(q) = walk.path.iter().find(|q| &q.id == cursor)
        {
            return Screen::Question(q);
        }
        let pending = walk
            .path
            .iter()
            .find(|q| !self.answers.contains_key(&q.id) && !self.skipped.contains(&q.id))
            .copied();
        match (pending, walk.stop) {
            (Some(q), _) | (None, Stop::Ask(q)) => Screen::Question(q),
            (None, Stop::End(end)) => Screen::End(end),
            (None, Stop::DeadEnd) => Screen::DeadEnd,
        }
    }

    fn current<'d>(
        &self,
        definition: &'d Definition,
        question: &Slug,
    ) -> Result<&'d Question, FormError> {
        match self.screen(definition) {
            Screen::Question(q) if &q.id == question => Ok(q),
            _ => Err(FormError::NotCurrent(question.to_string())),
        }
    }

    /// Answers the question on screen and moves to the next one on the
    /// (possibly new) path.
    pub fn answer(
        &mut self,
        definition: &Definition,
        question: &Slug,
        answer: Answer,
    ) -> Result<(), FormError> {
        let q = self.current(definition, question)?;
        check_answer(&q.input, q.required, &answer).map_err(|problem| FormError::Invalid {
            question: question.to_string(),
            problem,
        })?;
        self.answers.insert(question.clone(), answer);
        self.skipped.remove(question);
        self.advance(definition, question);
        Ok(())
    }

    /// Skips the optional question on screen.
    pub fn skip(&mut self, definition: &Definition, question: &Slug) -> Result<(), FormError> {
        let q = self.current(definition, question)?;
        if q.required {
            return Err(FormError::Required(question.to_string()));
        }
        self.answers.remove(question);
        self.skipped.insert(question.clone());
        self.advance(definition, question);
        Ok(())
    }

    /// Back to the question before the one on screen (its answer kept).
    pub fn back(&mut self, definition: &Definition) -> Result<(), FormError> {
        let walk = self.walk(definition);
        let at = match self.screen(definition) {
            Screen::Question(q) => walk.path.iter().position(|p| p.id == q.id),
            Screen::End(_) | Screen::DeadEnd => Some(walk.path.len()),
        };
        match at {
            Some(at) if at > 0 => {
                self.cursor = Some(walk.path[at - 1].id.clone());
                Ok(())
            }
            _ => Err(FormError::AtStart),
        }
    }

    /// The answers to submit and the end they reach, if the form is done.
    pub fn submission<'d>(
        &self,
        definition: &'d Definition,
    ) -> Result<(Answers, &'d End), FormError> {
        let answers = self.on_path(definition);
        let walk = evaluate(definition, &answers);
        walk.finished()
            .map(|end| (answers.clone(), end))
            .ok_or(FormError::Unfinished)
    }

    fn advance(&mut self, definition: &Definition, from: &Slug) {
        // The question after `from` on the (possibly new) path; past the
        // last one, the first still to answer, or the end.
        let walk = self.walk(definition);
        let at = walk.path.iter().position(|q| &q.id == from);
        self.cursor = at
            .and_then(|at| walk.path.get(at + 1))
            .map(|q| q.id.clone());
    }
}
