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
//!   published when the customer started the form, and for
//!   [`RETIRED_GRACE_MS`] after its retirement.

pub mod builder;
pub mod render;

use fieldops_sync::commands::RejectReason;
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::journey::Journey;
use fieldops_sync::ids::DocKind;
use fieldops_sync::journey::{
    Answer, AnswerProblem, Answers, Definition, DefinitionError, DefinitionProblem, JourneyStatus,
    MAX_CONDITION_DEPTH, MAX_CONDITION_SIZE, MAX_NODES, Sha256Hex, Slug, evaluate, validate,
};
use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::journeys::{self as db, JourneyRow, ListRow, TicketJourneyRow, VersionRow};
use crate::db::{Tx, audit, blobs, departments, new_id, now_ms};
use crate::events::{Happened, JourneyVersion, Notice};
use crate::helpdesk::tickets::{self as tickets, Draft, TicketChange};
use crate::service::{Applied, FieldError, ServiceError, ServiceResult, allow, reject_as};
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
        errors.push(FieldError::new(
            "definition.title",
            crate::t!("problem-journey-draft-title"),
        ));
    }
    if definition.nodes.len() > MAX_NODES {
        errors.push(FieldError::new(
            "definition.nodes",
            crate::t!("problem-journey-draft-nodes", max = MAX_NODES),
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

fn notice(what: fn(JourneyVersion) -> Happened, journey_id: &str, version: i64) -> Notice {
    Notice::staff(what(JourneyVersion {
        id: journey_id.to_owned(),
        version,
    }))
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
    db::published(state.db.pool())
        .await?
        .into_iter()
        .map(|v| definition_of(&v).map(|d| (v, d)))
        .collect()
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
    let draft = db::insert_draft(tx, &id, 1, &definition.to_json(), &actor.user_id).await?;
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
        notices: vec![notice(Happened::JourneySaved, &id, 1)],
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
    let json = definition.to_json();
    let saved = match versions.iter().find(|v| v.status == "draft") {
        Some(draft) => {
            if !db::update_draft(tx, id, draft.version, &json).await? {
                return Err(ServiceError::conflict(
                    "stale",
                    crate::t!("problem-journey-stale"),
                ));
            }
            db::version(&mut **tx, id, draft.version).await?
        }
        None => {
            let next = versions.first().map_or(1, |v| v.version + 1);
            Some(db::insert_draft(tx, id, next, &json, &actor.user_id).await?)
        }
    }
    .ok_or_else(|| ServiceError::not_found("journey"))?;
    db::set_title(tx, id, title(definition)).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "journey.draft_saved",
        "journey",
        id,
        json!({ "version": saved.version }),
    )
    .await?;
    Ok(Applied {
        notices: vec![notice(Happened::JourneySaved, id, saved.version)],
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
            FieldError::new(&field, definition_problem(&e.problem))
        })
        .collect()
}

/// What is wrong with a definition, for a person, in the request's
/// language (`DefinitionProblem`'s `Display` is the English).
pub fn definition_problem(problem: &DefinitionProblem) -> String {
    let quoted = |id: &String| format!("{id:?}");
    match problem {
        DefinitionProblem::BadText => crate::t!("problem-journey-definition-text"),
        DefinitionProblem::NodeCount => {
            crate::t!("problem-journey-definition-node-count", max = MAX_NODES)
        }
        DefinitionProblem::DuplicateId(id) => {
            crate::t!("problem-journey-definition-duplicate-id", id = &quoted(id))
        }
        DefinitionProblem::UnknownNode(id) => {
            crate::t!("problem-journey-definition-unknown-node", id = &quoted(id))
        }
        DefinitionProblem::BackwardJump(id) => {
            crate::t!("problem-journey-definition-backward-jump", id = &quoted(id))
        }
        DefinitionProblem::NotAQuestion(id) => {
            crate::t!(
                "problem-journey-definition-not-a-question",
                id = &quoted(id)
            )
        }
        DefinitionProblem::FallsOffTheEnd => crate::t!("problem-journey-definition-falls-off"),
        DefinitionProblem::Unreachable => crate::t!("problem-journey-definition-unreachable"),
        DefinitionProblem::LaterQuestion(id) => {
            crate::t!(
                "problem-journey-definition-later-question",
                id = &quoted(id)
            )
        }
        DefinitionProblem::TestDoesNotFit { test, kind } => crate::t!(
            "problem-journey-definition-test-does-not-fit",
            test = *test,
            kind = *kind
        ),
        DefinitionProblem::UnknownChoice(id) => {
            crate::t!(
                "problem-journey-definition-unknown-choice",
                id = &quoted(id)
            )
        }
        DefinitionProblem::ConditionShape => crate::t!(
            "problem-journey-definition-condition-shape",
            depth = MAX_CONDITION_DEPTH,
            size = MAX_CONDITION_SIZE
        ),
        DefinitionProblem::Limit(what) => limit_problem(what),
        DefinitionProblem::BadCategory => crate::t!("problem-journey-definition-category"),
    }
}

/// A [`DefinitionProblem::Limit`]: the validator names the limit in
/// English; the ones it has are in the catalogue, any other stays as is.
fn limit_problem(what: &str) -> String {
    match what {
        "a question holds at most 20 rules" => crate::t!("problem-journey-limit-rules"),
        "a choice question offers 1 to 50 choices" => crate::t!("problem-journey-limit-choices"),
        "min ≤ max ≤ the number of choices, and max ≥ 1" => {
            crate::t!("problem-journey-limit-multi")
        }
        "max_chars must be within 1..=5000" => crate::t!("problem-journey-limit-text"),
        "min and max must be finite, min ≤ max, with a whole number between them when only whole numbers are taken" =>
        {
            crate::t!("problem-journey-limit-number")
        }
        "earliest must not be after latest" => crate::t!("problem-journey-limit-date"),
        "max_count within 1..=10, max_bytes within 1 byte..=10 MiB" => {
            crate::t!("problem-journey-limit-image")
        }
        "the value must be a finite number" => crate::t!("problem-journey-limit-finite"),
        "a test names at most 50 choices" => crate::t!("problem-journey-limit-test-choices"),
        other => other.to_owned(),
    }
}

/// What is wrong with an answer, for a person, in the request's language
/// (`AnswerProblem`'s `Display` is the English).
pub fn answer_problem(problem: &AnswerProblem) -> String {
    match problem {
        AnswerProblem::Required => crate::t!("problem-journey-answer-required"),
        AnswerProblem::NotOnPath => crate::t!("problem-journey-answer-not-on-path"),
        AnswerProblem::UnknownQuestion => crate::t!("problem-journey-answer-unknown-question"),
        AnswerProblem::WrongKind { expected } => {
            crate::t!("problem-journey-answer-wrong-kind", kind = *expected)
        }
        AnswerProblem::UnknownChoice(choice) => crate::t!(
            "problem-journey-answer-unknown-choice",
            choice = &format!("{choice:?}")
        ),
        AnswerProblem::DuplicateChoice => crate::t!("problem-journey-answer-duplicate-choice"),
        AnswerProblem::TooFew { min } => crate::t!("problem-journey-answer-too-few", min = *min),
        AnswerProblem::TooMany { max } => crate::t!("problem-journey-answer-too-many", max = *max),
        AnswerProblem::BadText => crate::t!("problem-journey-answer-text"),
        AnswerProblem::OutOfRange => crate::t!("problem-journey-answer-out-of-range"),
        AnswerProblem::DateOutOfRange => crate::t!("problem-journey-answer-date-out-of-range"),
    }
}

/// The server's own checks of a valid definition: categories it knows and
/// departments that exist. Reads only (outside any write transaction).
async fn check_outcomes(
    state: &AppState,
    definition: &Definition,
) -> Result<Vec<FieldError>, ServiceError> {
    let known: Vec<String> = departments::list(&state.db)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
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
            && !known.contains(department)
        {
            errors.push(FieldError::new(
                &format!("nodes.{}.outcome.department_id", end.id),
                crate::t!("problem-journey-department-unknown"),
            ));
        }
    }
    Ok(errors)
}

/// Checks a draft for publishing without publishing it: every error, each
/// naming its node.
pub async fn check(
    state: &AppState,
    actor: &Actor,
    definition: &Definition,
) -> Result<(), ServiceError> {
    allow(actor, Action::ManageJourneys)?;
    let mut errors = validate(definition)
        .err()
        .map(|e| publish_errors(&e))
        .unwrap_or_default();
    errors.extend(check_outcomes(state, definition).await?);
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
            crate::t!("problem-journey-no-draft"),
        ));
    };
    let definition = definition_of(draft)?;
    check(state, actor, &definition).await?;
    let now = now_ms();
    let mut synced = Vec::new();
    if let Some(old) = db::retire_published(tx, id, now).await? {
        synced.extend(drop_document(tx, &old).await?);
    }
    let doc_id = new_id();
    if !db::publish(tx, id, draft.version, &doc_id, &actor.user_id, now).await? {
        return Err(ServiceError::conflict(
            "stale",
            crate::t!("problem-journey-stale"),
        ));
    }
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
        notices: vec![notice(Happened::JourneyPublished, id, version.version)],
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
            crate::t!("problem-journey-not-published"),
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
        notices: vec![notice(Happened::JourneyRetired, id, old.version)],
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
    /// When the form was started, by the submitter's clock.
    pub started_at_ms: i64,
    /// How far the submitter's clock runs behind the server's (a sync
    /// session's estimate; `None` over HTTP).
    pub clock_skew_ms: Option<i64>,
    pub answers: Answers,
}

/// How long after its retirement a version still takes forms started
/// while it was published (a phone offline for two weeks).
pub const RETIRED_GRACE_MS: i64 = 14 * 24 * 3600 * 1000;

/// The wire's bounds on answers (`fieldops_sync::protocol`), for HTTP:
/// nothing larger reaches the evaluator or the database.
fn check_bounds(answers: &Answers) -> Result<(), ServiceError> {
    use fieldops_sync::journey::{MAX_CHOICES, MAX_IMAGES};
    if answers.len() > MAX_NODES {
        return Err(ServiceError::field(
            "answers",
            crate::t!("problem-journey-answers-count", max = MAX_NODES),
        ));
    }
    for (question, answer) in answers {
        let too_big = match answer {
            Answer::Text(text) => text.len() > 48 * 1024,
            Answer::Choices(choices) => choices.len() > MAX_CHOICES,
            Answer::Images(images) => images.len() > usize::from(MAX_IMAGES),
            Answer::Choice(_) | Answer::Number(_) | Answer::Date(_) => false,
        };
        if too_big {
            return Err(ServiceError::field(
                &format!("answers.{question}"),
                crate::t!("problem-journey-answer-too-large"),
            ));
        }
    }
    Ok(())
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
    check_bounds(&submission.answers)?;
    let now = now_ms();
    let Some(version) = db::version(&mut **tx, &submission.journey_id, submission.version).await?
    else {
        return Err(ServiceError::not_found("journey"));
    };
    // The start by the server's clock: corrected by the session's skew
    // estimate, and never later than now (a phone whose clock runs fast is
    // not refused for it).
    let started = submission.started_at_ms + submission.clock_skew_ms.unwrap_or(0);
    if submission.clock_skew_ms.is_none() && started > now + CLOCK_SLACK_MS || started <= 0 {
        return Err(ServiceError::field(
            "started_at_ms",
            crate::t!("problem-journey-started-at"),
        ));
    }
    let started = started.min(now);
    match version.status.parse::<JourneyStatus>() {
        Ok(JourneyStatus::Published) => {}
        Ok(JourneyStatus::Retired)
            if version.published_at.is_some_and(|p| p <= started)
                && version
                    .retired_at
                    .is_some_and(|r| started < r && now - r <= RETIRED_GRACE_MS) => {}
        Ok(JourneyStatus::Retired) => {
            return Err(reject_as(
                RejectReason::Conflict,
                "journey-retired",
                crate::t!("problem-journey-retired"),
            ));
        }
        _ => return Err(ServiceError::not_found("journey")),
    }
    let definition = definition_of(&version)?;
    let walk = evaluate(&definition, &submission.answers);
    let mut errors: Vec<FieldError> = walk
        .errors
        .iter()
        .map(|e| {
            FieldError::new(
                &format!("answers.{}", e.question),
                answer_problem(&e.problem),
            )
        })
        .collect();
    // The photos of the answers shown (each answer already within its
    // question's count, or the walk failed above).
    let photos: Vec<(&Slug, &Sha256Hex)> = submission
        .answers
        .iter()
        .filter(|(question, _)| walk.shows(question))
        .flat_map(|(question, answer)| match answer {
            Answer::Images(hashes) => hashes.iter().map(|h| (question, h)).collect(),
            _ => vec![],
        })
        .collect();
    if images == ImageBytes::Uploaded && errors.is_empty() {
        for (question, hash) in &photos {
            if !blobs::uploaded_by(&mut **tx, hash.as_str(), &actor.user_id).await? {
                errors.push(FieldError::new(
                    &format!("answers.{question}"),
                    crate::t!("problem-journey-photo-not-uploaded", hash = hash.as_str()),
                ));
                continue;
            }
            let limit = match definition.question(question).map(|q| &q.input) {
                Some(fieldops_sync::journey::Input::Image { max_bytes, .. }) => *max_bytes,
                _ => u64::MAX,
            };
            let size = blobs::get(&mut **tx, hash.as_str())
                .await?
                .map_or(0, |b| u64::try_from(b.byte_size).unwrap_or(0));
            if size > limit {
                errors.push(FieldError::new(
                    &format!("answers.{question}"),
                    crate::t!(
                        "problem-journey-photo-too-large",
                        hash = hash.as_str(),
                        limit = limit
                    ),
                ));
            }
        }
    }
    let end = match walk.finished() {
        Some(end) if errors.is_empty() => end,
        _ => {
            if errors.is_empty() {
                errors.push(FieldError::new(
                    "answers",
                    crate::t!("problem-journey-answers-incomplete"),
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
    let mut new = tickets::prepare(state, actor, draft).await?;
    // The end's department, checked at publish; if it has since been
    // removed, the help desk's default keeps the ticket routable.
    if let Some(department) = &end.outcome.department_id
        && let Some(d) = departments::get(&mut **tx, department).await?
    {
        new.department_id = d.id;
    }
    let created = tickets::create(tx, state, actor, &new).await?;
    let ticket_id = created.value.ticket.id.clone();
    if images == ImageBytes::Uploaded {
        // Uploaded over HTTP: the ticket owns them now, so whoever may see
        // it may open them (over sync, the photos' documents do this).
        for (_, hash) in &photos {
            blobs::add_owner(
                tx,
                hash.as_str(),
                blobs::OwnerKind::Ticket,
                &ticket_id,
                &actor.user_id,
            )
            .await?;
            blobs::attach_to_ticket(tx, &ticket_id, hash.as_str(), &actor.user_id).await?;
        }
    }
    db::record_answers(
        tx,
        &TicketJourneyRow {
            ticket_id: created.value.ticket.id.clone(),
            journey_id: submission.journey_id.clone(),
            version: submission.version,
            end_id: end.id.to_string(),
            answers: serde_json::to_string(&submission.answers).map_err(anyhow::Error::from)?,
            propose_visit: i64::from(end.outcome.propose_visit),
            started_at: started,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, speaking};

    /// The limits the validator names (`DefinitionProblem::Limit`).
    const LIMITS: [&str; 9] = [
        "a question holds at most 20 rules",
        "a choice question offers 1 to 50 choices",
        "min ≤ max ≤ the number of choices, and max ≥ 1",
        "max_chars must be within 1..=5000",
        "min and max must be finite, min ≤ max, with a whole number between them when only whole numbers are taken",
        "earliest must not be after latest",
        "max_count within 1..=10, max_bytes within 1 byte..=10 MiB",
        "the value must be a finite number",
        "a test names at most 50 choices",
    ];

    fn definition_problems() -> Vec<DefinitionProblem> {
        let id = || "q1".to_owned();
        let mut all = vec![
            DefinitionProblem::BadText,
            DefinitionProblem::NodeCount,
            DefinitionProblem::DuplicateId(id()),
            DefinitionProblem::UnknownNode(id()),
            DefinitionProblem::BackwardJump(id()),
            DefinitionProblem::NotAQuestion(id()),
            DefinitionProblem::FallsOffTheEnd,
            DefinitionProblem::Unreachable,
            DefinitionProblem::LaterQuestion(id()),
            DefinitionProblem::TestDoesNotFit {
                test: "equals",
                kind: "text",
            },
            DefinitionProblem::UnknownChoice(id()),
            DefinitionProblem::ConditionShape,
            DefinitionProblem::BadCategory,
        ];
        all.extend(LIMITS.map(DefinitionProblem::Limit));
        all
    }

    fn answer_problems() -> Vec<AnswerProblem> {
        vec![
            AnswerProblem::Required,
            AnswerProblem::NotOnPath,
            AnswerProblem::UnknownQuestion,
            AnswerProblem::WrongKind { expected: "number" },
            AnswerProblem::UnknownChoice("x".into()),
            AnswerProblem::DuplicateChoice,
            AnswerProblem::TooFew { min: 2 },
            AnswerProblem::TooMany { max: 3 },
            AnswerProblem::BadText,
            AnswerProblem::OutOfRange,
            AnswerProblem::DateOutOfRange,
        ]
    }

    /// In English the catalogue says what the problems' own `Display` says.
    #[test]
    fn problems_read_as_their_english() {
        for p in definition_problems() {
            assert_eq!(definition_problem(&p), p.to_string(), "{p:?}");
        }
        for p in answer_problems() {
            assert_eq!(answer_problem(&p), p.to_string(), "{p:?}");
        }
        let new = DefinitionProblem::Limit("a limit added later");
        assert_eq!(definition_problem(&new), "a limit added later");
    }

    /// Every problem, the limits included, has its Indonesian.
    #[tokio::test]
    async fn problems_are_translated() {
        speaking(Some(Lang::Id), async {
            for p in definition_problems() {
                assert_ne!(definition_problem(&p), p.to_string(), "{p:?}");
            }
            for p in answer_problems() {
                assert_ne!(answer_problem(&p), p.to_string(), "{p:?}");
            }
        })
        .await;
    }
}
