//! Ratings (seed 003's FDB module: *Pelanggan mengisi form rating (skala
//! 1-5) melalui link WA yang dikirim otomatis*).
//!
//! When a visit is done, [`request_for_visit`] makes one rating request in
//! the same transaction: a 256-bit random token (only its SHA-256 is kept),
//! the visit, an expiry, and the attribution fixed now — the technicians
//! who checked in on the visit and the CS agent of its ticket. The token
//! goes to the customer in an approved WhatsApp template with a URL button
//! (a rating request is always outside the 24-hour service window), through
//! the outbound queue, and the message is blanked once sent.
//!
//! [`submit`] spends the token and records the rating atomically: the one
//! `UPDATE … WHERE used_at IS NULL AND expires_at > now` decides, so two
//! submits race to one rating. A token that is unknown, or for another
//! visit, is refused with one answer ([`RejectReason::TokenInvalid`]); a
//! holder of a real token is told when it was already used (and with what
//! score) or has expired. Opening the link never spends it ([`Link::open`]),
//! so WhatsApp's link preview is harmless.

use fieldops_sync::commands::{MAX_COMMENT_CHARS, RejectReason, SCORES};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::auth::Actor;
use crate::db::ratings::{self as db, RatingRow, RequestRow};
use crate::db::visits::VisitRow;
use crate::db::{Tx, attendance, audit, customers, now_ms, tickets, whatsapp};
use crate::domain::{self, Role, Validator};
use crate::events::{Happened, RatingSubmitted};
use crate::i18n::{Arg, Lang};
use crate::service::{Applied, Notice, ServiceError, ServiceResult, reject, reject_as};

/// Where a rating came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The public page of the WhatsApp link.
    Link,
    /// The customer's app (a `SubmitRating` command).
    App,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Link => "link",
            Via::App => "app",
        }
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The path of a rating link (the public page).
pub fn link_path(token: &str) -> String {
    format!("/rate/{token}")
}

/// Makes the rating request of a visit that just became done, and queues
/// its WhatsApp message; nothing when the visit already had one, or the
/// settings do not ask after visits.
pub async fn request_for_visit(
    tx: &mut Tx,
    state: &AppState,
    visit: &VisitRow,
) -> Result<Option<RequestRow>, ServiceError> {
    if !state.settings.get().settings.ratings.after_visit {
        return Ok(None);
    }
    let Some(customer) = reachable(tx, &visit.customer_id).await? else {
        return Ok(None);
    };
    let mut technicians: Vec<String> = attendance::for_visit(&mut **tx, &visit.id)
        .await?
        .into_iter()
        .filter(|a| a.direction == "in")
        .map(|a| a.technician_id)
        .collect();
    technicians.sort();
    technicians.dedup();
    let cs_agent = match &visit.ticket_id {
        Some(ticket) => tickets::get(&mut **tx, ticket)
            .await?
            .and_then(|t| t.assignee_id),
        None => None,
    };
    let token = crate::auth::tokens::random_secret();
    let Some(request) = db::insert_request(
        tx,
        &visit.id,
        &visit.customer_id,
        &token_hash(&token),
        cs_agent.as_deref(),
        &technicians,
        expiry(state),
    )
    .await?
    else {
        return Ok(None);
    };
    send(tx, state, &request, &customer, &visit.title, &token).await?;
    audit::record(
        tx,
        None,
        "rating.requested",
        "visit",
        &visit.id,
        json!({ "request_id": request.id, "technicians": technicians, "cs_agent_id": cs_agent }),
    )
    .await?;
    Ok(Some(request))
}

/// Makes the rating request of a ticket just resolved, when the settings
/// ask after tickets: attributed to the ticket's agent and department; once
/// per ticket, however often it is reopened and resolved again.
pub async fn request_for_ticket(
    tx: &mut Tx,
    state: &AppState,
    ticket: &tickets::TicketRow,
) -> Result<Option<RequestRow>, ServiceError> {
    if !state.settings.get().settings.ratings.after_ticket {
        return Ok(None);
    }
    let Some(customer) = reachable(tx, &ticket.customer_id).await? else {
        return Ok(None);
    };
    let token = crate::auth::tokens::random_secret();
    let Some(request) = db::insert_ticket_request(
        tx,
        &ticket.id,
        &ticket.customer_id,
        &token_hash(&token),
        ticket.assignee_id.as_deref(),
        expiry(state),
    )
    .await?
    else {
        return Ok(None);
    };
    let title = format!("{} {}", ticket.number, ticket.subject);
    send(tx, state, &request, &customer, &title, &token).await?;
    audit::record(
        tx,
        None,
        "rating.requested",
        "ticket",
        &ticket.id,
        json!({ "request_id": request.id, "cs_agent_id": ticket.assignee_id }),
    )
    .await?;
    Ok(Some(request))
}

/// The customer, unless CS removed (or merged away) their record: nobody
/// writes to them then.
async fn reachable(tx: &mut Tx, customer_id: &str) -> sqlx::Result<Option<customers::CustomerRow>> {
    Ok(customers::get(&mut **tx, customer_id)
        .await?
        .filter(|c| c.status != crate::domain::Status::Inactive))
}

/// When a link made now stops working: its lifetime counts from when the
/// message goes, after the settings' delay.
fn expiry(state: &AppState) -> i64 {
    let ttl = i64::try_from(state.config.rating_link_ttl.as_millis()).unwrap_or(i64::MAX);
    let delay = i64::from(state.settings.get().settings.ratings.delay_minutes) * 60_000;
    now_ms().saturating_add(delay).saturating_add(ttl)
}

/// Queues the WhatsApp template carrying `token` to the customer, after
/// the settings' delay, and records it on the request.
async fn send(
    tx: &mut Tx,
    state: &AppState,
    request: &RequestRow,
    customer: &customers::CustomerRow,
    title: &str,
    token: &str,
) -> sqlx::Result<()> {
    let asking = state.settings.get().settings.ratings.clone();
    let link = match &state.config.public_url {
        Some(base) => format!("{base}{}", link_path(token)),
        None => link_path(token),
    };
    let message = if request.ticket_id.is_some() {
        "wa-rating-request-ticket"
    } else {
        "wa-rating-request"
    };
    let readable = Lang::Id.text_with(
        message,
        &[
            ("name", Arg::Text(&customer.name)),
            ("title", Arg::Text(title)),
            ("link", Arg::Text(&link)),
        ],
    );
    // The template's body takes the customer's name and what was done (the
    // visit's title, or the ticket's number and subject); its URL button
    // ends in the token (the base URL is the template's).
    let template = json!({
        "name": asking.template,
        "language": { "code": asking.template_language },
        "components": [
            { "type": "body", "parameters": [
                { "type": "text", "text": customer.name },
                { "type": "text", "text": title },
            ] },
            { "type": "button", "sub_type": "url", "index": "0",
              "parameters": [{ "type": "text", "text": token }] },
        ],
    });
    let not_before = now_ms().saturating_add(i64::from(asking.delay_minutes) * 60_000);
    let sent =
        whatsapp::enqueue_template(tx, &customer.phone, &readable, &template, true, not_before)
            .await?;
    db::set_message(tx, &request.id, &sent).await
}

/// What a rating link shows when opened.
#[derive(Debug, Clone)]
pub enum Link {
    /// Open: the form, with what is rated (a visit's title, a ticket's
    /// number and subject), its day (`YYYY-MM-DD`) and the technicians'
    /// first names (none for a ticket).
    Open {
        title: String,
        day: String,
        technicians: Vec<String>,
    },
    /// Already rated, with the score.
    Rated { score: i64 },
    /// Expired, never used.
    Expired,
    /// Unknown: one answer for every token that names nothing.
    Invalid,
}

impl Link {
    /// Reads what `token` leads to; never spends it.
    pub async fn open(state: &AppState, token: &str) -> Result<Self, ServiceError> {
        let pool = state.db.pool();
        let Some(request) = db::by_token(pool, &token_hash(token)).await? else {
            return Ok(Link::Invalid);
        };
        if request.used_at.is_some() {
            let score = db::rating_of_request(pool, &request.id)
                .await?
                .map_or(0, |r| r.score);
            return Ok(Link::Rated { score });
        }
        if request.expires_at <= now_ms() {
            return Ok(Link::Expired);
        }
        // A ticket's: its number and subject, and the day it was opened.
        if let Some(ticket_id) = &request.ticket_id {
            let Some(ticket) = tickets::get(pool, ticket_id).await? else {
                return Ok(Link::Invalid);
            };
            let offset = state.config.attendance.utc_offset_minutes;
            let day = crate::kpi::formulas::day_of(ticket.created_at, offset);
            return Ok(Link::Open {
                title: format!("{} {}", ticket.number, ticket.subject),
                day: crate::kpi::formulas::date_of(day).to_string(),
                technicians: Vec::new(),
            });
        }
        let visit_id = request.visit_id.as_deref().unwrap_or_default();
        let Some(visit) = crate::db::visits::get(pool, visit_id).await? else {
            return Ok(Link::Invalid);
        };
        // First names only: the page is open to whoever holds the link.
        let technicians = db::technician_names(pool, &request.id)
            .await?
            .into_iter()
            .filter_map(|name| name.split_whitespace().next().map(str::to_owned))
            .collect();
        Ok(Link::Open {
            title: visit.title,
            day: visit.scheduled_start,
            technicians,
        })
    }
}

/// Records a rating with the token of its link: from the public page
/// (`actor` is `None`) or from the customer's app (`visit_id` must be the
/// token's visit, and `actor` its customer).
pub async fn submit(
    tx: &mut Tx,
    actor: Option<&Actor>,
    visit_id: Option<&str>,
    token: &str,
    score: i64,
    comment: &str,
    via: Via,
) -> ServiceResult<RatingRow> {
    let mut v = Validator::new();
    if !SCORES.contains(&u8::try_from(score).unwrap_or(0)) {
        v.add("score", crate::t!("problem-rating-score-range"));
    }
    // The comment is optional.
    let comment = if comment.trim().is_empty() {
        String::new()
    } else {
        v.check("comment", domain::bounded_text(comment, MAX_COMMENT_CHARS))
    };
    v.finish()?;
    let hash = token_hash(token);
    let invalid = || {
        reject(
            RejectReason::TokenInvalid,
            crate::t!("problem-rating-link-invalid"),
        )
    };
    let Some(request) = db::consume(tx, &hash, now_ms()).await? else {
        // Why not, told only to whoever holds a real token of this visit.
        let known = db::by_token(&mut **tx, &hash)
            .await?
            .filter(|r| visit_id.is_none_or(|v| Some(v) == r.visit_id.as_deref()));
        return Err(match known {
            None => invalid(),
            Some(r) if r.used_at.is_some() => reject_as(
                RejectReason::TokenInvalid,
                "already_rated",
                crate::t!("problem-rating-already-rated"),
            ),
            Some(_) => reject_as(
                RejectReason::TokenInvalid,
                "link_expired",
                crate::t!("problem-rating-link-expired"),
            ),
        });
    };
    if visit_id.is_some_and(|v| Some(v) != request.visit_id.as_deref()) {
        return Err(invalid());
    }
    if let Some(actor) = actor {
        let own = actor.role == Role::Customer
            && actor.customer_id.as_deref() == Some(request.customer_id.as_str());
        if !own {
            return Err(invalid());
        }
    }
    let rating = db::insert_rating(tx, &request, score, &comment, via.as_str()).await?;
    let (kind, about) = match (&request.visit_id, &request.ticket_id) {
        (Some(visit), _) => ("visit", visit.as_str()),
        (None, Some(ticket)) => ("ticket", ticket.as_str()),
        (None, None) => ("visit", ""),
    };
    audit::record(
        tx,
        actor.map(|a| a.user_id.as_str()),
        "rating.submitted",
        kind,
        about,
        json!({ "score": score, "via": via.as_str() }),
    )
    .await?;
    let submitted = Happened::RatingSubmitted(RatingSubmitted {
        visit_id: request.visit_id.clone(),
        ticket_id: request.ticket_id.clone(),
        score,
        via: via.as_str(),
    });
    Ok(Applied {
        value: rating,
        notices: vec![Notice::staff(submitted)],
    })
}

/// Where the rating request of visit `visit_id` stands, for staff who may
/// see how customers judged (those who may list customers).
pub async fn state_of_visit(
    state: &AppState,
    actor: &Actor,
    visit_id: &str,
) -> Result<Option<db::RequestState>, ServiceError> {
    crate::service::allow(actor, crate::auth::Action::ListCustomers)?;
    Ok(db::state_of(state.db.pool(), db::Rated::Visit, visit_id).await?)
}

/// Where the rating request of ticket `ticket_id` stands (asked when it
/// was resolved, with the `after_ticket` setting), for staff who may see
/// how customers judged and may see the ticket.
pub async fn state_of_ticket(
    state: &AppState,
    actor: &Actor,
    ticket_id: &str,
) -> Result<Option<db::RequestState>, ServiceError> {
    crate::service::allow(actor, crate::auth::Action::ListCustomers)?;
    let ticket = crate::db::tickets::get(state.db.pool(), ticket_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("ticket"))?;
    crate::service::allow(
        actor,
        crate::auth::Action::ViewTicket {
            department_id: &ticket.department_id,
            customer_id: &ticket.customer_id,
        },
    )?;
    Ok(db::state_of(state.db.pool(), db::Rated::Ticket, ticket_id).await?)
}
