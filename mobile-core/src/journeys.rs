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
use fieldops_sync::ids::{DepartmentId, DocId, DocKind};
use fieldops_sync::journey::{
    Answer, Definition, End, Form, Question, Sha256Hex, Slug, form::Screen,
};
use fieldops_sync::rules;
use rusqlite::{Connection, OptionalExtension, params};

use crate::documents::{self, Me};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::model::OutboxEntry;
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

fn load(conn: &Connection, form_id: DocId) -> Result<StoredForm> {
    let row: Option<(String, i64, String, String, String, i64)> = conn
        .query_row(
            "SELECT journey_id, version, definition, form, photos, started_at_ms
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
                ))
            },
        )
        .optional()?;
    let Some((journey_id, version, definition, form, photos, started_at_ms)) = row else {
        return Err(CoreError::invalid("form_id", "no such form on this device"));
    };
    Ok(StoredForm {
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
        "UPDATE journey_forms SET form = ?2, photos = ?3, updated_at_ms = ?4 WHERE form_id = ?1",
        params![
            form_id.to_string(),
            encode(&stored.form),
            encode(&stored.photos),
            now_ms()
        ],
    )?;
    Ok(())
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
        let journeys = self.shared.store.read(|conn| {
            let mut stmt = conn.prepare("SELECT doc_id FROM documents WHERE kind = 'journey'")?;
            let ids: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for id in ids {
                let Ok(id) = id.parse::<DocId>() else {
                    continue;
                };
                if let Ok(journey) = documents::get_typed::<Journey>(conn, id) {
                    out.push(journey);
                }
            }
            Ok(out)
        })?;
        let mut infos: Vec<JourneyInfo> = journeys
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

    /// Starts filling in a journey: a form with its own copy of the
    /// published version. Customers only.
    pub fn start(&self, journey_id: DocId) -> Result<FormView> {
        let account = self.shared.require_account()?;
        if account.role != rules::Role::Customer {
            return Err(CoreError::invalid(
                "account",
                "only customers fill in journeys",
            ));
        }
        let journey = self.shared.store.read(|conn| {
            let mut stmt = conn.prepare("SELECT doc_id FROM documents WHERE kind = 'journey'")?;
            let ids: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(ids
                .iter()
                .filter_map(|id| id.parse::<DocId>().ok())
                .filter_map(|id| documents::get_typed::<Journey>(conn, id).ok())
                .find(|j| j.journey_id == journey_id))
        })?;
        let journey = journey.ok_or_else(|| CoreError::not_found(DocKind::Journey))?;
        let form_id = DocId::new();
        let stored = StoredForm {
            journey_id,
            version: journey.version,
            definition: journey.definition,
            form: Form::default(),
            photos: BTreeMap::new(),
            started_at_ms: now_ms(),
        };
        self.shared.store.write(|tx| {
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
            Ok(())
        })?;
        Ok(view(form_id, &stored))
    }

    /// The forms started on this device and not submitted, oldest first.
    pub fn forms(&self) -> Result<Vec<FormView>> {
        self.shared.store.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT form_id FROM journey_forms ORDER BY started_at_ms, form_id")?;
            let ids: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter()
                .filter_map(|id| id.parse::<DocId>().ok())
                .map(|id| load(conn, id).map(|stored| view(id, &stored)))
                .collect()
        })
    }

    /// A form as it stands.
    pub fn get(&self, form_id: DocId) -> Result<FormView> {
        self.shared
            .store
            .read(|conn| load(conn, form_id).map(|stored| view(form_id, &stored)))
    }

    fn change(
        &self,
        form_id: DocId,
        edit: impl FnOnce(&mut StoredForm) -> Result<()>,
    ) -> Result<FormView> {
        self.shared.store.write(|tx| {
            let mut stored = load(tx, form_id)?;
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
        let owner = Owner {
            kind: OwnerKind::Ticket,
            id: form_id,
        };
        let mut saved = Vec::new();
        for image in images {
            let mut prepared = photos::prepare(self.shared, owner, image, "", taken_at_ms)?;
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
    /// uploads queued; the form is gone. If the server refuses, the ticket
    /// goes and the command says why.
    pub fn submit(&self, form_id: DocId) -> Result<OutboxEntry> {
        let account = self.shared.require_account()?;
        let stored = self.shared.store.read(|conn| load(conn, form_id))?;
        let (answers, end) = stored
            .form
            .submission(&stored.definition)
            .map_err(form_error)?;
        let prepared: Vec<Prepared> = stored
            .photos
            .iter()
            .filter(|(question, _)| answers.keys().any(|a| a.as_str() == question.as_str()))
            .flat_map(|(_, photos)| photos.iter())
            .map(|saved| Prepared::restore(self.shared, saved))
            .collect::<Result<_>>()?;
        let body = CommandBody::SubmitJourney {
            ticket_id: form_id,
            journey_id: stored.journey_id,
            version: stored.version,
            started_at_ms: stored.started_at_ms,
            answers,
        };
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
        let me = Me(Some(account.user_id));
        let entry = self.shared.store.write(|tx| {
            // The command first: it validates the fields.
            let entry = outbox::enqueue(tx, body)?;
            let mut doc = ticket.to_document()?;
            documents::insert_provisional(tx, form_id, DocKind::Ticket, &mut doc, me)?;
            for photo in &prepared {
                photos::record(tx, photo)?;
            }
            tx.execute(
                "DELETE FROM journey_forms WHERE form_id = ?1",
                [form_id.to_string()],
            )?;
            Ok(entry)
        })?;
        self.shared.events.emit(CoreEvent::DocumentChanged {
            doc_id: form_id,
            kind: DocKind::Ticket,
        });
        for photo in prepared {
            photos::announce(self.shared, photo);
        }
        self.shared.after_write();
        Ok(entry)
    }
}
