//! Journeys: the intake forms customers fill in before a ticket opens
//! (seed 004: *dynamic journey-based ticket creation … version control
//! (draft, active, archived); journey builder*).
//!
//! The definition, its validation and the one evaluator are
//! [`fieldops_sync::journey`]'s; this module keeps the versions and decides:
//!
//! * **Drafts.** Admins create a journey (version 1, a draft) and save its
//!   draft as often as they like; a draft need not be valid yet. Editing a
//!   published journey saves the *next* version as its draft: a published
//!   version never changes.
//! * **Publishing** validates the draft (the pure checks, then the server's:
//!   categories it knows, departments that exist), retires the version
//!   before it and writes the new version into its own sync document, which
//!   every customer's phone replicates (read-only). **Retiring** drops the
//!   document from the phones.
//! * **Submitting** re-runs the evaluator on the answers against the
//!   version the form was started on, and opens the ticket through the same
//!   service as any other ([`crate::helpdesk::tickets`]), with the category,
//!   priority and department of the end reached, so round-robin assigns it
//!   within that department. A retired version is accepted only if it was
//!   published when the customer started the form.

pub mod builder;
pub mod render;

use fieldops_sync::commands::RejectReason;
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::journey::Journey;
use fieldops_sync::ids::DocKind;
use fieldops_sync::journey::{
    Answer, Answers, Definition, DefinitionError, JourneyStatus, MAX_NODES, evaluate, validate,
};
use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::journeys::{self as db, JourneyRow, ListRow, TicketJourneyRow, VersionRow};
use crate::db::{Tx, audit, blobs, departments, new_id, now_ms};
use crate::events::Notice;
use crate::helpdesk::tickets::{self as tickets, Draft, TicketChange};
use crate::service::{
    Applied, FieldError, ServiceError, ServiceResult, allow, forbidden, reject_as,
};
use crate::sync::{self, Changed, DocScope};

/// How far ahead of the server's clock a form's start may be (device
/// clocks drift).
const CLOCK_SLACK_MS: i64 = 5 * 60 * 1000;

/// A journey and its versions, newest first.
#[derive(Debug, Clone)]
pub struct JourneyDetail {
    pub journey: JourneyRow,
    pub versions: Vec<VersionRow>,
}

impl JourneyDetail {
    /// The draft being edited, if any.
    pub fn draft(&self) -> Option<&VersionRow> {
        self.versions.iter().find(|v| v.status == "draft")
    }

    /// The published version, if any.
    pub fn published(&self) -> Option<&VersionRow> {
        self.versions.iter().find(|v| v.status == "published")
    }
}

/// A version's definition, as stored.
pub fn definition_of(version: &VersionRow) -> Result<Definition, ServiceError> {
    Definition::from_json(&version.definition).map_err(|e| {
        ServiceError::Internal(anyhow::anyhow!(
            "journey {} v{}: stored definition unreadable: {e}",
            version.journey_id,
            version.version
        ))
    })
}

/// The checks a draft must pass to be saved: its shape (serde did that),
/// a title, and a bound on its size.
fn check_draft(definition: &Definition) -> Result<(), ServiceError> {
    let mut errors = Vec::new();
    if definition.title.id.trim().is_empty() && definition.title.en.trim().is_empty() {
        errors.push(FieldError::new("definition.title", "needs a title"));
    }
    if definition.nodes.len() > MAX_NODES {
        errors.push(FieldError::new(
            "definition.nodes",
            format!("holds at most {MAX_NODES} nodes"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

fn title(definition: &Definition) -> (&str, &str) {
    let t = &definition.title;
    let id = if t.id.trim().is_empty() { &t.en } else { &t.id };
    let en = if t.en.trim().is_empty() { &t.id } else { &t.en };
    (id, en)
}

fn notice(kind: &'static str, journey_id: &str, version: i64) -> Notice {
    Notice::staff(kind, json!({ "id": journey_id, "version": version }))
}

fn to_json(definition: &Definition) -> String {
    definition.to_json()
}

/// Every journey (admins).
pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<ListRow>, ServiceError> {
    allow(actor, Action::ManageJourneys)?;
    Ok(db::list(state.db.pool()).await?)
}

/// One journey with its versions (admins).
pub async fn detail(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<JourneyDetail, ServiceError> {
    allow(actor, Action::ManageJourneys)?;
    let journey = db::get(state.db.pool(), id)
        .await?
        .ok_or_else(|| ServiceError::not_found("journey"))?;
    let versions = db::versions(state.db.pool(), id).await?;
    Ok(JourneyDetail { journey, versions })
}

/// The published versions customers may start, with their definitions.
pub async fn published(
    state: &AppState,
    actor: &Actor,
) -> Result<Vec<(VersionRow, Definition)>, ServiceError> {
    allow(actor, Action::StartJourney)?;
    let mut out = Vec::new();
    for row in db::list(state.db.pool()).await? {
        if let Some(version) = row.published
            && let Some(v) = db::version(state.db.pool(), &row.id, version).await?
        {
            let definition = definition_of(&v)?;
            out.push((v, definition));
        }
    }
    Ok(out)
}

/// A new journey, its version 1 a draft.
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    definition: &Definition,
) -> ServiceResult<VersionRow> {
    allow(actor, Action::ManageJourneys)?;
    check_draft(definition)?;
    let id = new_id();
    db::insert(tx, &id, title(definition), &actor.user_id).await?;
    let draft = db::insert_draft(tx, &id, 1, &to_json(definition), &actor.user_id).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "journey.created",
        "journey",
        &id,
        json!({ "version": 1 }),
    )
    .await?;
    Ok(Applied {
        notices: vec![notice("journey.saved", &id, 1)],
        value: draft,
    })
}

/// Saves the draft of journey `id`: the current draft is rewritten, or, if
/// there is none, the next version is started from `definition`.
pub async fn save_draft(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    definition: &Definition,
) -> ServiceResult<VersionRow> {
    allow(actor, Action::ManageJourneys)?;
    check_draft(definition)?;
    db::lock(tx, state.db.backend(), id)
        .await?
        .ok_or_else(|| ServiceError::not_found("journey"))?;
    let versions = db::versions(&mut **tx, id).await?;
    let json = to_json(definition);
    let saved = match versions.iter().find(|v| v.status == "draft") {
        Some(draft) => {
            db::update_draft(tx, id, draft.version, &json).await?;
            db::version(&mut **tx, id, draft.version).await?
        }
        None => {
            let next = versions.first().map_or(1, |v| v.version + 1);
            Some(db::insert_draft(tx, id, next, &json, &actor.user_id).await?)
        }
    }
    .ok_or_else(|| ServiceError::not_found("journey"))?;
    db::set_title(tx, id, title(definition)).await?;
    Ok(Applied {
        notices: vec![notice("journey.saved", id, saved.version)],
        value: saved,
    })
}

/// Why a definition cannot be published, as field errors: the field names
/// the node (`nodes.<node>.<field>`), so the builder marks it.
pub fn publish_errors(errors: &[DefinitionError]) -> Vec<FieldError> {
    errors
        .iter()
        .map(|e| {
            let field = match &e.node {
                Some(node) => format!("nodes.{node}.{}", e.field),
                None => e.field.clone(),
            };
            FieldError::new(&field, e.problem.to_string())
        })
        .collect()
}

/// The server's own checks of a valid definition: categories it knows and
/// departments that exist.
async fn check_outcomes(
    tx: &mut Tx,
    state: &AppState,
    definition: &Definition,
) -> Result<Vec<FieldError>, ServiceError> {
    let mut errors = Vec::new();
    for node in &definition.nodes {
        let fieldops_sync::journey::Node::End(end) = node else {
            continue;
        };
        if let Err(message) = tickets::check_category(state, &end.outcome.category) {
            errors.push(FieldError::new(
                &format!("nodes.{}.outcome.category", end.id),
                message,
            ));
        }
        if let Some(department) = &end.outcome.department_id
            && departments::get(&mut **tx, department).await?.is_none()
        {
            errors.push(FieldError::new(
                &format!("nodes.{}.outcome.department_id", end.id),
                "names no department",
            ));
        }
    }
    Ok(errors)
}

/// Checks a draft for publishing without publishing it: every error, each
/// naming its node.
pub async fn check(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    definition: &Definition,
) -> Result<(), ServiceError> {
    allow(actor, Action::ManageJourneys)?;
    let mut errors = validate(definition)
        .err()
        .map(|e| publish_errors(&e))
        .unwrap_or_default();
    errors.extend(check_outcomes(tx, state, definition).await?);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

/// What publishing changed.
#[derive(Debug, Clone)]
pub struct Published {
    pub version: VersionRow,
    /// The new version's document, and the retired one's drop.
    pub synced: Vec<Changed>,
}

/// Publishes the draft of journey `id`.
pub async fn publish(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> ServiceResult<Published> {
    allow(actor, Action::ManageJourneys)?;
    db::lock(tx, state.db.backend(), id)
        .await?
        .ok_or_else(|| ServiceError::not_found("journey"))?;
    let versions = db::versions(&mut **tx, id).await?;
    let Some(draft) = versions.iter().find(|v| v.status == "draft") else {
        return Err(reject_as(
            RejectReason::Conflict,
            "no-draft",
            "this journey has no draft to publish; save one first",
        ));
    };
    let definition = definition_of(draft)?;
    check(tx, state, actor, &definition).await?;
    let now = now_ms();
    let mut synced = Vec::new();
    if let Some(old) = db::retire_published(tx, id, now).await? {
        synced.extend(drop_document(tx, &old).await?);
    }
    let doc_id = new_id();
    db::publish(tx, id, draft.version, &doc_id, &actor.user_id, now).await?;
    let journey = Journey {
        version: u32::try_from(draft.version).unwrap_or(u32::MAX),
        status: JourneyStatus::Published,
        published_at_ms: now,
        journey_id: sync::stored_uuid(id)
            .map(fieldops_sync::ids::DocId::from_uuid)
            .map_err(ServiceError::Internal)?,
        definition,
    };
    let mut doc = journey.to_document().map_err(anyhow::Error::from)?;
    // Every customer reads it (the scope predicate's `journey` branch);
    // staff read it as a document of no department.
    synced.push(
        sync::create(
            tx,
            &doc_id,
            DocKind::Journey,
            DocScope::default(),
            &mut doc,
            &[],
        )
        .await?,
    );
    audit::record(
        tx,
        Some(&actor.user_id),
        "journey.published",
        "journey",
        id,
        json!({ "version": draft.version }),
    )
    .await?;
    let version = db::version(&mut **tx, id, draft.version)
        .await?
        .ok_or_else(|| ServiceError::not_found("journey"))?;
    Ok(Applied {
        notices: vec![notice("journey.published", id, version.version)],
        value: Published { version, synced },
    })
}

async fn drop_document(tx: &mut Tx, version: &VersionRow) -> Result<Vec<Changed>, ServiceError> {
    let Some(doc_id) = &version.doc_id else {
        return Ok(vec![]);
    };
    Ok(vec![sync::tombstone(tx, doc_id).await?])
}

/// Retires the published version of journey `id`: customers no longer get
/// it; forms already started on it may still be submitted.
pub async fn retire(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> ServiceResult<Published> {
    allow(actor, Action::ManageJourneys)?;
    db::lock(tx, state.db.backend(), id)
        .await?
        .ok_or_else(|| ServiceError::not_found("journey"))?;
    let Some(old) = db::retire_published(tx, id, now_ms()).await? else {
        return Err(reject_as(
            RejectReason::Conflict,
            "not-published",
            "this journey has no published version",
        ));
    };
    let synced = drop_document(tx, &old).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "journey.retired",
        "journey",
        id,
        json!({ "version": old.version }),
    )
    .await?;
    Ok(Applied {
        notices: vec![notice("journey.retired", id, old.version)],
        value: Published {
            version: old,
            synced,
        },
    })
}

/// Whether the bytes of a submission's photos must already be on the
/// server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageBytes {
    /// Over HTTP: each photo must have been uploaded by the customer first.
    Uploaded,
    /// Over sync: the phone uploads them after the command (its photo
    /// documents, owned by the new ticket, follow in the same session).
    MayFollow,
}

/// A filled-in journey, as submitted.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The ticket's id, chosen by the device; `None`: a fresh one.
    pub ticket_id: Option<String>,
    pub journey_id: String,
    pub version: i64,
    pub started_at_ms: i64,
    pub answers: Answers,
}

/// Opens the ticket of a filled-in journey (its customer).
pub async fn submit(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    submission: &Submission,
    images: ImageBytes,
) -> ServiceResult<TicketChange> {
    allow(actor, Action::StartJourney)?;
    let now = now_ms();
    let Some(version) = db::version(&mut **tx, &submission.journey_id, submission.version).await?
    else {
        return Err(ServiceError::not_found("journey"));
    };
    if submission.started_at_ms > now + CLOCK_SLACK_MS || submission.started_at_ms <= 0 {
        return Err(ServiceError::field(
            "started_at_ms",
            "must be when the form was started, not in the future",
        ));
    }
    match version.status.as_str() {
        "published" => {}
        "retired"
            if version
                .published_at
                .is_some_and(|p| p <= submission.started_at_ms)
                && version
                    .retired_at
                    .is_some_and(|r| submission.started_at_ms < r) => {}
        "retired" => {
            return Err(reject_as(
                RejectReason::Conflict,
                "journey-retired",
                "this version of the form was retired before the form was started; start it again",
            ));
        }
        _ => return Err(ServiceError::not_found("journey")),
    }
    let definition = definition_of(&version)?;
    let walk = evaluate(&definition, &submission.answers);
    let mut errors: Vec<FieldError> = walk
        .errors
        .iter()
        .map(|e| FieldError::new(&format!("answers.{}", e.question), e.problem.to_string()))
        .collect();
    if images == ImageBytes::Uploaded {
        for (question, answer) in &submission.answers {
            // Photos of hidden questions are refused as such already.
            if !walk.shows(question) {
                continue;
            }
            if let Answer::Images(hashes) = answer {
                for hash in hashes {
                    if !blobs::uploaded_by(&mut **tx, hash.as_str(), &actor.user_id).await? {
                        errors.push(FieldError::new(
                            &format!("answers.{question}"),
                            format!("photo {hash} was not uploaded"),
                        ));
                    }
                }
            }
        }
    }
    let end = match walk.finished() {
        Some(end) if errors.is_empty() => end,
        _ => {
            if errors.is_empty() {
                errors.push(FieldError::new(
                    "answers",
                    "do not reach the end of the form",
                ));
            }
            return Err(ServiceError::Invalid(errors));
        }
    };
    let lines = render::summary(&definition, &submission.answers, crate::i18n::Lang::Id);
    let draft = Draft {
        id: submission.ticket_id.clone(),
        subject: render::subject(&definition, &submission.answers),
        description: render::description(&lines),
        category: end.outcome.category.clone(),
        priority: Some(end.outcome.priority),
        department_id: None,
        customer_id: None,
    };
    if actor.role != crate::domain::Role::Customer {
        return Err(forbidden());
    }
    let mut new = tickets::prepare(state, actor, draft).await?;
    // The end's department, checked at publish; if it has since been
    // removed, the help desk's default keeps the ticket routable.
    if let Some(department) = &end.outcome.department_id
        && let Some(d) = departments::get(&mut **tx, department).await?
    {
        new.department_id = d.id;
    }
    let created = tickets::create(tx, state, actor, &new).await?;
    db::record_answers(
        tx,
        &TicketJourneyRow {
            ticket_id: created.value.ticket.id.clone(),
            journey_id: submission.journey_id.clone(),
            version: submission.version,
            end_id: end.id.to_string(),
            answers: serde_json::to_string(&submission.answers).map_err(anyhow::Error::from)?,
            propose_visit: i64::from(end.outcome.propose_visit),
            started_at: submission.started_at_ms,
            submitted_at: now,
        },
    )
    .await?;
    Ok(created)
}

/// The answers ticket `ticket_id` was opened with, for whoever may see the
/// ticket; `None` for a ticket opened without a journey.
pub async fn answers_of_ticket(
    state: &AppState,
    actor: &Actor,
    ticket_id: &str,
) -> Result<Option<render::TicketAnswers>, ServiceError> {
    let ticket = crate::db::tickets::get(state.db.pool(), ticket_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("ticket"))?;
    allow(
        actor,
        Action::ViewTicket {
            department_id: &ticket.department_id,
            customer_id: &ticket.customer_id,
        },
    )?;
    let Some(row) = db::answers_of(state.db.pool(), ticket_id).await? else {
        return Ok(None);
    };
    let version = db::version(state.db.pool(), &row.journey_id, row.version)
        .await?
        .ok_or_else(|| ServiceError::not_found("journey"))?;
    let definition = definition_of(&version)?;
    let answers: Answers = serde_json::from_str(&row.answers).map_err(anyhow::Error::from)?;
    let uploader = crate::db::users::account_of_customer(state.db.pool(), &ticket.customer_id)
        .await?
        .unwrap_or_default();
    render::ticket_answers(state, &definition, &row, &answers, &uploader).await
}
