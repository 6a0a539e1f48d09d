//! Journeys on the phone (`core.journeys()`): the intake forms a customer
//! fills in, offline, before a ticket opens.
//!
//! Published journeys arrive as read-only documents. Starting one copies
//! the version into a form of its own (table `journey_forms`), so a new
//! version published while the customer is offline never changes the
//! questions under them, and everything they answered survives a restart.
//! Each move (answer, skip, back) runs the shared evaluator
//! ([`fieldops_sync::journey`]) — the very function the server runs on the
//! submission — so the form shows exactly the path the server will accept.
//!
//! Photos answers go through the photo pipeline at once (files written,
//! kept aside in the form); submitting writes, in **one** store
//! transaction, the `SubmitJourney` command, the ticket as a provisional
//! document, and the photos (owned by the ticket, uploads queued). The
//! command goes before the photos' documents on the wire, so the ticket
//! exists on the server when they arrive.

use std::collections::BTreeMap;
use std::sync::Arc;

use fieldops_sync::commands::CommandBody;
use fieldops_sync::docs::photo::{Owner, OwnerKind};
use fieldops_sync::docs::ticket::{TicketNumber, TicketStatus};
use fieldops_sync::docs::{DocumentSchema, Journey, Ticket};
use fieldops_sync::ids::{CommandId, DepartmentId, DocId, DocKind};
use fieldops_sync::journey::{
    Answer, Definition, End, Form, Question, Sha256Hex, Slug, form::Screen,
};
use fieldops_sync::rules;
use rusqlite::{Connection, OptionalExtension, params};

use crate::documents::{self, Me};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::model::{CommandState, OutboxEntry};
use crate::outbox;
use crate::photos::{self, Prepared, SavedPhoto};
use crate::shared::Shared;
use crate::store::now_ms;

/// A journey a customer may start.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyInfo {
    pub journey_id: DocId,
    pub version: u32,
    /// The journey's name, in Bahasa Indonesia and English.
    pub title_id: String,
    pub title_en: String,
}

/// A form being filled in, as the app shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FormView {
    /// The form, and the ticket it will open (the same id).
    pub form_id: DocId,
    pub journey_id: DocId,
    pub version: u32,
    pub title_id: String,
    pub title_en: String,
    /// What to show now.
    pub screen: FormScreen,
    /// The questions on the path so far, in order, by id.
    pub path: Vec<String>,
    /// Whether there is a question before this one.
    pub can_go_back: bool,
    /// Submitted, waiting for the server's answer (the form cannot change
    /// meanwhile; once accepted it is gone, the ticket in its place).
    pub submitted: bool,
    /// Why the server refused the last submission: the answers are all
    /// here, to change and submit again.
    pub rejection: Option<String>,
}

/// What the form shows.
#[derive(Debug, Clone, PartialEq)]
pub enum FormScreen {
    /// A question, with the answer given so far (if any).
    Question {
        question: Question,
        answer: Option<Answer>,
    },
    /// The end: the message, ready to submit.
    End { end: End },
    /// The journey leads nowhere (a definition the server would not publish).
    DeadEnd,
}

/// Journeys on this device (`core.journeys()`).
#[derive(Debug, Clone, Copy)]
pub struct Journeys<'a> {
    shared: &'a Arc<Shared>,
}

struct StoredForm {
    command_id: Option<CommandId>,
    rejection: Option<String>,
    journey_id: DocId,
    version: u32,
    definition: Definition,
    form: Form,
    photos: BTreeMap<String, Vec<SavedPhoto>>,
    started_at_ms: i64,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| CoreError::StoreCorrupt(format!("{what}: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A form's row: journey, version, definition, form, photos, start,
/// command, rejection.
type FormRow = (
    String,
    i64,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
);

fn load(conn: &Connection, form_id: DocId) -> Result<StoredForm> {
    let row: Option<FormRow> = conn
        .query_row(
            "SELECT journey_id, version, definition, form, photos, started_at_ms, command_id,
                    rejection
             FROM journey_forms WHERE form_id = ?1",
            [form_id.to_string()],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )
        .optional()?;
    let Some((journey_id, version, definition, form, photos, started_at_ms, command, rejection)) =
        row
    else {
        return Err(CoreError::invalid("form_id", "no such form on this device"));
    };
    Ok(StoredForm {
        command_id: command.and_then(|c| c.parse().ok()),
        rejection,
        journey_id: journey_id
            .parse()
            .map_err(|_| CoreError::StoreCorrupt("a form's journey id".into()))?,
        version: u32::try_from(version).unwrap_or(0),
        definition: decode("a form's journey", &definition)?,
        form: decode("a form", &form)?,
        photos: decode("a form's photos", &photos)?,
        started_at_ms,
    })
}

fn save(conn: &Connection, form_id: DocId, stored: &StoredForm) -> Result<()> {
    conn.execute(
        "UPDATE journey_forms SET form = ?2, photos = ?3, command_id = ?4, rejection = ?5,
                                  updated_at_ms = ?6
         WHERE form_id = ?1",
        params![
            form_id.to_string(),
            encode(&stored.form),
            encode(&stored.photos),
            stored.command_id.map(|c| c.to_string()),
            stored.rejection,
            now_ms()
        ],
    )?;
    Ok(())
}

/// Brings a submitted form up to its command's answer, in `tx`: accepted,
/// the form is done and goes (`None`); refused, it comes back with the
/// reason; unanswered, it stays locked.
fn settle(tx: &Connection, form_id: DocId) -> Result<Option<StoredForm>> {
    let mut stored = load(tx, form_id)?;
    let Some(command) = stored.command_id else {
        return Ok(Some(stored));
    };
    match outbox::get(tx, command)?.map(|e| (e.state, e.message)) {
        Some((CommandState::Accepted, _)) => {
            tx.execute(
                "DELETE FROM journey_forms WHERE form_id = ?1",
                [form_id.to_string()],
            )?;
            Ok(None)
        }
        Some((CommandState::Rejected, message)) => {
            stored.command_id = None;
            stored.rejection = Some(message.unwrap_or_default());
            save(tx, form_id, &stored)?;
            Ok(Some(stored))
        }
        Some(_) => Ok(Some(stored)),
        // The outbox forgot it (another account signed in): editable again.
        None => {
            stored.command_id = None;
            save(tx, form_id, &stored)?;
            Ok(Some(stored))
        }
    }
}

/// The published journeys on the device, the newest version of each (two
/// may briefly coexist, before the older one's drop arrives).
fn published(conn: &Connection) -> Result<Vec<Journey>> {
    let mut stmt = conn.prepare("SELECT doc_id FROM documents WHERE kind = 'journey'")?;
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut newest: BTreeMap<DocId, Journey> = BTreeMap::new();
    for id in ids.iter().filter_map(|id| id.parse::<DocId>().ok()) {
        // A version this build cannot read is not offered (a newer app is).
        let Ok(journey) = documents::get_typed::<Journey>(conn, id) else {
            continue;
        };
        if newest
            .get(&journey.journey_id)
            .is_none_or(|kept| kept.version < journey.version)
        {
            newest.insert(journey.journey_id, journey);
        }
    }
    Ok(newest.into_values().collect())
}

fn view(form_id: DocId, stored: &StoredForm) -> FormView {
    let def = &stored.definition;
    let walk = stored.form.walk(def);
    let screen = stored.form.screen(def);
    let at = match screen {
        Screen::Question(q) => walk.path.iter().position(|p| p.id == q.id),
        Screen::End(_) | Screen::DeadEnd => Some(walk.path.len()),
    };
    FormView {
        form_id,
        journey_id: stored.journey_id,
        version: stored.version,
        title_id: def.title.id.clone(),
        title_en: def.title.en.clone(),
        screen: match screen {
            Screen::Question(q) => FormScreen::Question {
                question: q.clone(),
                answer: stored.form.answers.get(&q.id).cloned(),
            },
            Screen::End(end) => FormScreen::End { end: end.clone() },
            Screen::DeadEnd => FormScreen::DeadEnd,
        },
        path: walk.path.iter().map(|q| q.id.to_string()).collect(),
        can_go_back: at.is_some_and(|at| at > 0),
        submitted: stored.command_id.is_some(),
        rejection: stored.rejection.clone(),
    }
}

fn slug(field: &'static str, text: &str) -> Result<Slug> {
    text.parse().map_err(|e| CoreError::invalid(field, e))
}

fn form_error(e: fieldops_sync::journey::FormError) -> CoreError {
    CoreError::invalid("answer", e)
}

impl<'a> Journeys<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Journeys { shared }
    }

    /// The published journeys on the device, by title.
    pub fn list(&self) -> Result<Vec<JourneyInfo>> {
        let mut infos: Vec<JourneyInfo> = self
            .shared
            .store
            .read(published)?
            .into_iter()
            .map(|j| JourneyInfo {
                journey_id: j.journey_id,
                version: j.version,
                title_id: j.definition.title.id,
                title_en: j.definition.title.en,
            })
            .collect();
        infos.sort_by(|a, b| a.title_id.cmp(&b.title_id));
        Ok(infos)
    }

    /// Starts filling in a journey: a form with its own copy of the newest
    /// published version on the device. Customers only.
    pub fn start(&self, journey_id: DocId) -> Result<FormView> {
        let account = self.shared.require_account()?;
        if account.role != rules::Role::Customer {
            return Err(CoreError::invalid(
                "account",
                "only customers fill in journeys",
            ));
        }
        let form_id = DocId::new();
        self.shared.store.write(|tx| {
            let journey = published(tx)?
                .into_iter()
                .find(|j| j.journey_id == journey_id)
                .ok_or_else(|| CoreError::not_found(DocKind::Journey))?;
            let stored = StoredForm {
                command_id: None,
                rejection: None,
                journey_id,
                version: journey.version,
                definition: journey.definition,
                form: Form::default(),
                photos: BTreeMap::new(),
                started_at_ms: now_ms(),
            };
            tx.execute(
                "INSERT INTO journey_forms (form_id, journey_id, version, definition, form, photos,
                                            started_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![
                    form_id.to_string(),
                    journey_id.to_string(),
                    i64::from(stored.version),
                    stored.definition.to_json(),
                    encode(&stored.form),
                    encode(&stored.photos),
                    stored.started_at_ms
                ],
            )?;
            Ok(view(form_id, &stored))
        })
    }

    /// The forms on this device not yet accepted by the server, oldest
    /// first: being filled in, submitted and waiting, or refused (with the
    /// reason, to change and submit again).
    pub fn forms(&self) -> Result<Vec<FormView>> {
        self.shared.store.write(|tx| {
            let mut stmt =
                tx.prepare("SELECT form_id FROM journey_forms ORDER BY started_at_ms, form_id")?;
            let ids: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for id in ids.iter().filter_map(|id| id.parse::<DocId>().ok()) {
                if let Some(stored) = settle(tx, id)? {
                    out.push(view(id, &stored));
                }
            }
            Ok(out)
        })
    }

    /// A form as it stands (gone once the server accepted it).
    pub fn get(&self, form_id: DocId) -> Result<FormView> {
        self.shared.store.write(|tx| match settle(tx, form_id)? {
            Some(stored) => Ok(view(form_id, &stored)),
            None => Err(accepted()),
        })
    }

    fn change(
        &self,
        form_id: DocId,
        edit: impl FnOnce(&mut StoredForm) -> Result<()>,
    ) -> Result<FormView> {
        self.shared.store.write(|tx| {
            let mut stored = editable(tx, form_id)?;
            edit(&mut stored)?;
            save(tx, form_id, &stored)?;
            Ok(view(form_id, &stored))
        })
    }

    /// Answers the question on screen (not photos: see
    /// [`answer_photos`](Self::answer_photos)) and moves on.
    pub fn answer(&self, form_id: DocId, question_id: &str, answer: Answer) -> Result<FormView> {
        if matches!(answer, Answer::Images(_)) {
            return Err(CoreError::invalid(
                "answer",
                "photos are answered with answer_photos",
            ));
        }
        let question = slug("question_id", question_id)?;
        self.change(form_id, |stored| {
            stored
                .form
                .answer(&stored.definition, &question, answer)
                .map_err(form_error)?;
            stored.photos.remove(question.as_str());
            Ok(())
        })
    }

    /// Answers a photo question with these images (JPEG, PNG or WebP
    /// bytes): each goes through the photo pipeline now (CPU-heavy: call it
    /// off the UI thread) and is kept with the form until it is submitted.
    /// Replaces the photos answered before.
    pub fn answer_photos(
        &self,
        form_id: DocId,
        question_id: &str,
        images: &[Vec<u8>],
        taken_at_ms: i64,
    ) -> Result<FormView> {
        let question = slug("question_id", question_id)?;
        let current = self.get(form_id)?;
        match &current.screen {
            FormScreen::Question { question: q, .. } if q.id == question => {
                if !matches!(q.input, fieldops_sync::journey::Input::Image { .. }) {
                    return Err(CoreError::invalid("question_id", "is not a photo question"));
                }
            }
            _ => {
                return Err(CoreError::invalid(
                    "question_id",
                    "is not the question on screen",
                ));
            }
        }
        let FormScreen::Question { question: q, .. } = &current.screen else {
            unreachable!("checked above")
        };
        let fieldops_sync::journey::Input::Image {
            max_count,
            max_bytes,
        } = q.input
        else {
            unreachable!("checked above")
        };
        // The count before the (CPU-heavy) pipeline runs.
        if images.len() > usize::from(max_count) || (q.required && images.is_empty()) {
            return Err(CoreError::invalid(
                "images",
                format!("this question takes 1 to {max_count} photos"),
            ));
        }
        let owner = Owner {
            kind: OwnerKind::Ticket,
            id: form_id,
        };
        let mut saved = Vec::new();
        for image in images {
            let mut prepared = photos::prepare(self.shared, owner, image, "", taken_at_ms)?;
            if prepared.byte_size() > max_bytes {
                return Err(CoreError::invalid(
                    "images",
                    format!("a photo is larger than {max_bytes} bytes, even reduced"),
                ));
            }
            saved.push(prepared.save());
        }
        let hashes = saved
            .iter()
            .map(|p| p.sha256().parse::<Sha256Hex>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| CoreError::invalid("images", e))?;
        self.change(form_id, |stored| {
            stored
                .form
                .answer(&stored.definition, &question, Answer::Images(hashes))
                .map_err(form_error)?;
            stored.photos.insert(question.to_string(), saved);
            Ok(())
        })
    }

    /// Skips the optional question on screen.
    pub fn skip(&self, form_id: DocId, question_id: &str) -> Result<FormView> {
        let question = slug("question_id", question_id)?;
        self.change(form_id, |stored| {
            stored
                .form
                .skip(&stored.definition, &question)
                .map_err(form_error)?;
            stored.photos.remove(question.as_str());
            Ok(())
        })
    }

    /// Back to the question before the one on screen (its answer kept).
    pub fn back(&self, form_id: DocId) -> Result<FormView> {
        self.change(form_id, |stored| {
            stored.form.back(&stored.definition).map_err(form_error)
        })
    }

    /// Throws a form away (its photos' files are left to
    /// `photos().free_space`).
    pub fn discard(&self, form_id: DocId) -> Result<()> {
        self.shared.store.write(|tx| {
            tx.execute(
                "DELETE FROM journey_forms WHERE form_id = ?1",
                [form_id.to_string()],
            )?;
            Ok(())
        })
    }

    /// Submits a finished form, online or not: in one store transaction the
    /// `SubmitJourney` command is queued, the ticket stored as a
    /// provisional document (listed at once by `tickets().list`, numbered
    /// when the server's arrives) and the photos recorded with their
    /// uploads queued. The form stays, locked, until the server answers:
    /// accepted, it is gone; refused, it comes back with the reason and
    /// every answer, to change and submit again.
    pub fn submit(&self, form_id: DocId) -> Result<OutboxEntry> {
        let account = self.shared.require_account()?;
        let me = Me(Some(account.user_id));
        let (entry, recorded) = self.shared.store.write(|tx| {
            let mut stored = editable(tx, form_id)?;
            let (answers, end) = stored
                .form
                .submission(&stored.definition)
                .map_err(form_error)?;
            // Photos of the answers submitted; those recorded by an earlier,
            // refused submission are there already.
            let mut prepared = Vec::new();
            for (question, photos) in &stored.photos {
                if !answers.keys().any(|a| a.as_str() == question.as_str()) {
                    continue;
                }
                for saved in photos {
                    let photo = Prepared::restore(self.shared, saved)?;
                    if documents::kind_of(tx, photo.photo_id())?.is_none() {
                        prepared.push(photo);
                    }
                }
            }
            let now = now_ms();
            let ticket = Ticket {
                number: TicketNumber::pending(),
                subject: stored.definition.title.id.clone(),
                description: String::new(),
                category: end.outcome.category.clone(),
                priority: end.outcome.priority,
                status: TicketStatus::Open,
                customer_id: account.user_id,
                // Chosen by the server; a placeholder until its document arrives.
                department_id: DepartmentId::new(),
                assignee_id: None,
                photo_ids: vec![],
                created_at_ms: now,
                updated_at_ms: now,
                messages: vec![],
            };
            let body = CommandBody::SubmitJourney {
                ticket_id: form_id,
                journey_id: stored.journey_id,
                version: stored.version,
                started_at_ms: stored.started_at_ms,
                answers,
            };
            // The command first: it validates the fields.
            let entry = outbox::enqueue(tx, body)?;
            if documents::kind_of(tx, form_id)?.is_none() {
                let mut doc = ticket.to_document()?;
                documents::insert_provisional(tx, form_id, DocKind::Ticket, &mut doc, me)?;
            }
            for photo in &prepared {
                photos::record(tx, &self.shared.files, photo)?;
            }
            stored.command_id = Some(entry.command_id);
            stored.rejection = None;
            save(tx, form_id, &stored)?;
            Ok((entry, prepared))
        })?;
        self.shared.events.emit(CoreEvent::DocumentChanged {
            doc_id: form_id,
            kind: DocKind::Ticket,
        });
        for photo in recorded {
            photos::announce(self.shared, photo);
        }
        self.shared.after_write();
        Ok(entry)
    }
}

fn accepted() -> CoreError {
    CoreError::invalid(
        "form_id",
        "this form was submitted and accepted: see its ticket",
    )
}

/// A form that may change: not accepted, not waiting for an answer.
fn editable(tx: &Connection, form_id: DocId) -> Result<StoredForm> {
    let stored = settle(tx, form_id)?.ok_or_else(accepted)?;
    if stored.command_id.is_some() {
        return Err(CoreError::invalid(
            "form_id",
            "submitted; waiting for the server's answer",
        ));
    }
    Ok(stored)
}
