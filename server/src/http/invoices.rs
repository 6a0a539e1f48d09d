//! Invoices and credit notes over HTTP: list, draft from done visits,
//! edit lines, the approval transitions, payments with proof, credit notes.
//! Every rule is in [`crate::invoices`]; this module parses, calls and
//! renders.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::AppendHeaders;
use fieldops_inbound::invoice::{
    CheckPaymentRequest, CommentRequest, CreditNoteRequest, DraftRequest, EditRequest, LineRequest,
    PaymentRequest,
};
use fieldops_sync::billing::{InvoiceKind, InvoiceStatus, LineKind, PaymentStatus};
use fieldops_sync::money::Quantity;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query};
use super::tickets::day_range;
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::invoices::{self as db, InvoiceFilter, InvoiceRow, LineRow, PaymentRow};
use crate::domain::{Role, Validator, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::invoices::{self as service, Detail};
use crate::service::Applied;
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListParams {
    pub status: Option<InvoiceStatus>,
    pub kind: Option<InvoiceKind>,
    pub customer_id: Option<Uuid>,
    /// A whole number (`INV/2026/000123`, or `inv/2026/123`), a sequence
    /// alone (`123`), or words of the customer's name.
    #[param(max_length = 100)]
    pub search: Option<String>,
    /// `YYYY-MM-DD`: created on or after this day (sites' calendar).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    /// `YYYY-MM-DD`: created on or before this day.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub until: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn lines_of(lines: Vec<LineRequest>) -> Vec<service::LineInput> {
    lines
        .into_iter()
        .map(|l| service::LineInput {
            kind: l.kind,
            description: l.description,
            quantity: l.quantity,
            unit_price: l.unit_price,
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    pub kind: LineKind,
    pub description: String,
    /// Decimal text, e.g. `2.5`.
    pub quantity: String,
    pub unit_price: i64,
    pub amount: i64,
}

impl From<&LineRow> for LineView {
    fn from(l: &LineRow) -> Self {
        Self {
            kind: l.kind,
            description: l.description.clone(),
            quantity: Quantity::from_milli(l.quantity_milli)
                .map(|q| q.to_string())
                .unwrap_or_default(),
            unit_price: l.unit_price,
            amount: l.amount,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: String,
    pub amount: i64,
    pub status: PaymentStatus,
    pub reference: String,
    /// The receipt (a photo or a PDF); read it through
    /// `/api/v1/blobs/{sha256}/link` once `proof_received`.
    pub proof_sha256: Option<String>,
    /// Whether the receipt's bytes are on the server, uploaded by whoever
    /// recorded the payment (a phone's upload may still be on its way).
    /// Until then, show no receipt for this payment.
    pub proof_received: bool,
    /// Who recorded it (staff only: a customer sees no staff ids).
    pub submitted_by: Option<String>,
    pub submitted_at: String,
    pub checked_at: Option<String>,
    pub reject_reason: Option<String>,
}

impl PaymentView {
    fn new(p: &PaymentRow, proof_received: bool, staff: bool) -> Self {
        Self {
            id: p.id.clone(),
            amount: p.amount,
            status: p.status,
            reference: p.reference.clone(),
            proof_sha256: p.proof_sha256.clone(),
            proof_received,
            submitted_by: Some(p.submitted_by.clone()).filter(|_| staff),
            submitted_at: rfc3339(p.submitted_at),
            checked_at: p.checked_at.map(rfc3339),
            reject_reason: p.reject_reason.clone(),
        }
    }
}

/// An invoice in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceSummary {
    pub id: String,
    pub kind: InvoiceKind,
    pub status: InvoiceStatus,
    /// `INV/2026/000123`; absent until approved.
    pub number: Option<String>,
    pub customer_id: String,
    pub customer_name: String,
    /// ISO 4217 code; amounts are in its minor unit (IDR: whole rupiah).
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// The invoice date (the approval day), `YYYY-MM-DD`.
    pub issued_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&InvoiceRow> for InvoiceSummary {
    fn from(i: &InvoiceRow) -> Self {
        Self {
            id: i.id.clone(),
            kind: i.kind,
            status: i.status,
            number: i.number.clone(),
            customer_id: i.customer_id.clone(),
            customer_name: i.customer_name.clone(),
            currency: i.currency.clone(),
            subtotal: i.subtotal,
            tax: i.tax,
            total: i.total,
            issued_on: i.issued_on.clone(),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    pub items: Vec<InvoiceSummary>,
    pub next_cursor: Option<String>,
}

/// One invoice with its lines, sums, payments and credit notes.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    #[serde(flatten)]
    pub summary: InvoiceSummary,
    pub ticket_id: Option<String>,
    /// For a credit note: the invoice it corrects.
    pub credits_id: Option<String>,
    /// `ppn_12_dpp_11_12` or `none`.
    pub tax_rule: String,
    /// The tax base (DPP).
    pub tax_base: i64,
    /// What is still due: total less sent credit notes, verified payments
    /// and write-offs.
    pub amount_due: i64,
    /// The total is above Rp5.000.000: a receipt needs stamp duty (e-meterai).
    pub needs_stamp_duty: bool,
    pub tax_invoice_number: Option<String>,
    pub notes: String,
    /// Sales' comment when they returned it (staff only).
    pub return_comment: Option<String>,
    pub written_off: i64,
    pub void_reason: Option<String>,
    pub lines: Vec<LineView>,
    pub visit_ids: Vec<String>,
    pub payments: Vec<PaymentView>,
    pub credit_notes: Vec<InvoiceSummary>,
    /// Staff only.
    pub drafted_by: Option<String>,
    pub approved_by: Option<String>,
    pub submitted_at: Option<String>,
    pub approved_at: Option<String>,
    pub sent_at: Option<String>,
    pub paid_at: Option<String>,
    pub voided_at: Option<String>,
    /// Name it in an edit (`version`) to refuse edits over someone else's.
    pub version: i64,
}

impl InvoiceView {
    pub fn new(d: &Detail, actor: &Actor) -> Self {
        let i = &d.invoice;
        let staff = actor.role.is_staff();
        Self {
            summary: InvoiceSummary::from(i),
            ticket_id: i.ticket_id.clone(),
            credits_id: i.credits_id.clone(),
            tax_rule: i.tax_rule.clone(),
            tax_base: i.tax_base,
            amount_due: d.amount_due,
            needs_stamp_duty: i.total > fieldops_sync::money::STAMP_DUTY_ABOVE,
            tax_invoice_number: i.tax_invoice_number.clone(),
            notes: i.notes.clone(),
            return_comment: i.return_comment.clone().filter(|_| staff),
            written_off: i.written_off,
            void_reason: i.void_reason.clone(),
            lines: d.lines.iter().map(LineView::from).collect(),
            visit_ids: d.visit_ids.clone(),
            payments: d
                .payments
                .iter()
                .zip(&d.proofs_received)
                .map(|(p, received)| PaymentView::new(p, *received, staff))
                .collect(),
            credit_notes: d
                .credit_notes
                .iter()
                .filter(|c| staff || c.status.is_issued())
                .map(InvoiceSummary::from)
                .collect(),
            drafted_by: Some(i.drafted_by.clone()).filter(|_| staff),
            approved_by: i.approved_by.clone().filter(|_| staff),
            submitted_at: i.submitted_at.map(rfc3339),
            approved_at: i.approved_at.map(rfc3339),
            sent_at: i.sent_at.map(rfc3339),
            paid_at: i.paid_at.map(rfc3339),
            voided_at: i.voided_at.map(rfc3339),
            version: i.version,
        }
    }
}

/// Commits a change of one invoice and answers with it as it now is.
async fn respond(
    actor: &Actor,
    work: Work,
    status: StatusCode,
    applied: Applied<InvoiceRow>,
) -> ApiResult<Json<InvoiceView>> {
    let mut work = work;
    let detail = Detail::read(work.tx(), applied.value).await?;
    let body = InvoiceView::new(&detail, actor);
    let effects = Effects::told(applied.notices);
    Ok(Json(work.respond(effects, status, body).await?))
}

/// Runs one service call on invoice `id` in a unit of work and answers
/// with the invoice.
macro_rules! transition {
    ($state:expr, $actor:expr, |$tx:ident| $call:expr) => {{
        let mut work = Work::begin(&$state).await?;
        let $tx = work.tx();
        let applied = $call.await?;
        respond(&$actor, work, StatusCode::OK, applied).await
    }};
}

/// List invoices and credit notes, newest first: staff see all, customers
/// their own sent ones.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "invoices", security(("bearer" = [])),
    params(InvoiceListParams),
    responses((status = 200, body = InvoicePage), (status = 422, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<InvoiceListParams>,
) -> ApiResult<Json<InvoicePage>> {
    actor.authorize(Action::ListInvoices)?;
    let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
    let mut v = Validator::new();
    let search = p.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 100) {
        v.add("search", t!("problem-filter-text-too-long", max = 100));
    }
    v.finish()?;
    let from_ms = match p.from.as_deref() {
        Some(d) => Some(day_range(&state, "from", d)?.0),
        None => None,
    };
    let until_ms = match p.until.as_deref() {
        Some(d) => Some(day_range(&state, "until", d)?.1),
        None => None,
    };
    let mut filter = InvoiceFilter {
        status: p.status,
        kind: p.kind,
        customer_id: p.customer_id.map(|c| c.to_string()),
        issued_only: false,
        from_ms,
        until_ms,
        before_id: page.after.clone(),
        ..InvoiceFilter::default()
    };
    if let Some(text) = search {
        service::Search::parse(text).narrow(&mut filter);
    }
    if actor.role == Role::Customer {
        // An account with no customer record sees nothing, not everyone's.
        filter.customer_id = Some(actor.customer_id.clone().unwrap_or_default());
        filter.issued_only = true;
    }
    let rows = db::list(state.db.pool(), &filter, i64::from(page.limit) + 1).await?;
    let page = Page::from_rows(rows, page.limit, |i| &i.id);
    Ok(Json(InvoicePage {
        items: page.items.iter().map(InvoiceSummary::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Draft an invoice for done visits (CS). Totals and PPN are computed here.
#[utoipa::path(post, path = "/api/v1/invoices", tag = "invoices", security(("bearer" = [])),
    request_body = DraftRequest,
    responses((status = 201, body = InvoiceView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<DraftRequest>,
) -> ApiResult<(
    StatusCode,
    AppendHeaders<[(header::HeaderName, String); 1]>,
    Json<InvoiceView>,
)> {
    let draft = service::Draft {
        visit_ids: req.visit_ids.iter().map(Uuid::to_string).collect(),
        lines: lines_of(req.lines),
        notes: req.notes,
        tax_invoice_number: req.tax_invoice_number,
    };
    let mut work = Work::begin(&state).await?;
    let applied = service::draft(work.tx(), &state, &actor, draft).await?;
    let location = format!("/api/v1/invoices/{}", applied.value.id);
    let body = respond(&actor, work, StatusCode::CREATED, applied).await?;
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::LOCATION, location)]),
        body,
    ))
}

/// One invoice with lines, sums, payments and credit notes.
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvoiceView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InvoiceView>> {
    let row = service::visible(&state.db, &actor, &id.to_string()).await?;
    let mut conn = state.db.pool().acquire().await?;
    let detail = Detail::read(&mut conn, row).await?;
    Ok(Json(InvoiceView::new(&detail, &actor)))
}

/// Edit a draft: replace its lines, notes or tax-invoice number.
#[utoipa::path(patch, path = "/api/v1/invoices/{id}", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EditRequest,
    responses((status = 200, body = InvoiceView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<EditRequest>,
) -> ApiResult<Json<InvoiceView>> {
    let edit = service::DraftEdit {
        lines: req.lines.map(lines_of),
        notes: req.notes,
        tax_invoice_number: req.tax_invoice_number,
        version: req.version,
    };
    transition!(state, actor, |tx| service::edit(
        tx,
        &state,
        &actor,
        &id.to_string(),
        edit
    ))
}

/// Submit a draft to sales for price approval (CS).
#[utoipa::path(post, path = "/api/v1/invoices/{id}/submit", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvoiceView), (status = 409, body = crate::error::Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InvoiceView>> {
    transition!(state, actor, |tx| service::submit(
        tx,
        &state,
        &actor,
        &id.to_string()
    ))
}

/// Approve the price (sales, not the drafter): the invoice is numbered
/// `INV/<year>/<sequence>` and locked.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/approve", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvoiceView), (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InvoiceView>> {
    transition!(state, actor, |tx| service::approve(
        tx,
        &state,
        &actor,
        &id.to_string()
    ))
}

/// Return a submitted invoice to CS with a comment (sales).
#[utoipa::path(post, path = "/api/v1/invoices/{id}/return", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CommentRequest,
    responses((status = 200, body = InvoiceView), (status = 409, body = crate::error::Problem)))]
pub async fn return_to_draft(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Json<InvoiceView>> {
    transition!(state, actor, |tx| service::return_to_draft(
        tx,
        &state,
        &actor,
        &id.to_string(),
        &req.reason
    ))
}

/// Send an approved invoice or credit note to the customer: in their app
/// and as a WhatsApp message (CS).
#[utoipa::path(post, path = "/api/v1/invoices/{id}/send", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvoiceView), (status = 409, body = crate::error::Problem)))]
pub async fn send(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InvoiceView>> {
    let id = id.to_string();
    let pdf = service::pdf::prepare(&state, &actor, &id).await?;
    transition!(state, actor, |tx| service::send(
        tx, &state, &actor, &id, &pdf
    ))
}

/// A signed link to the PDF made when the invoice was sent.
#[utoipa::path(get, path = "/api/v1/invoices/{id}/pdf", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = super::blobs::DownloadLink), (status = 404, body = crate::error::Problem)))]
pub async fn pdf(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<super::blobs::DownloadLink>> {
    let row = service::visible(&state.db, &actor, &id.to_string()).await?;
    let sha256 = row.pdf_sha256.ok_or(ApiError::NotFound("pdf"))?;
    let blob = crate::db::blobs::get(state.db.pool(), &sha256)
        .await?
        .ok_or(ApiError::NotFound("pdf"))?;
    let ttl = i64::try_from(state.config.download_url_ttl.as_secs()).unwrap_or(900);
    let expires = jiff::Timestamp::now().as_second() + ttl;
    Ok(Json(super::blobs::DownloadLink {
        url: state.links.sign(&blob.sha256, expires),
        expires_at: expires * 1000,
        sha256: blob.sha256,
        content_type: blob.content_type,
        byte_size: blob.byte_size,
    }))
}

/// Void an invoice the customer does not have yet (admin). A numbered one
/// keeps its number.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/void", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CommentRequest,
    responses((status = 200, body = InvoiceView), (status = 409, body = crate::error::Problem)))]
pub async fn void(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Json<InvoiceView>> {
    transition!(state, actor, |tx| service::void(
        tx,
        &state,
        &actor,
        &id.to_string(),
        &req.reason
    ))
}

/// Write off what is still due, with a reason (sales or admin): paid.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/write-off", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CommentRequest,
    responses((status = 200, body = InvoiceView), (status = 409, body = crate::error::Problem)))]
pub async fn write_off(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Json<InvoiceView>> {
    transition!(state, actor, |tx| service::write_off(
        tx,
        &state,
        &actor,
        &id.to_string(),
        &req.reason
    ))
}

/// Attach proof of payment to a sent invoice (the customer, or CS).
#[utoipa::path(post, path = "/api/v1/invoices/{id}/payments", tag = "invoices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PaymentRequest,
    responses((status = 201, body = InvoiceView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn add_payment(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<PaymentRequest>,
) -> ApiResult<(StatusCode, Json<InvoiceView>)> {
    let input = service::PaymentInput {
        amount: req.amount,
        proof_sha256: req.proof_sha256,
        reference: req.reference,
        ..service::PaymentInput::default()
    };
    let mut work = Work::begin(&state).await?;
    let applied =
        service::submit_payment(work.tx(), &state, &actor, &id.to_string(), input).await?;
    let applied = Applied {
        value: applied.value.0,
        notices: applied.notices,
    };
    let body = respond(&actor, work, StatusCode::CREATED, applied).await?;
    Ok((StatusCode::CREATED, body))
}

/// Verify a submitted payment, or reject it with a reason (CS). Once
/// verified payments cover what is due, the invoice is paid.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/payments/{payment_id}/check", tag = "invoices",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("payment_id" = Uuid, Path)),
    request_body = CheckPaymentRequest,
    responses((status = 200, body = InvoiceView), (status = 409, body = crate::error::Problem)))]
pub async fn check_payment(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, payment_id)): Path<(Uuid, Uuid)>,
    Json(req): Json<CheckPaymentRequest>,
) -> ApiResult<Json<InvoiceView>> {
    transition!(state, actor, |tx| service::check_payment(
        tx,
        &state,
        &actor,
        &id.to_string(),
        &payment_id.to_string(),
        req.verified,
        req.reason.as_deref()
    ))
}

/// Draft a credit note that corrects a sent invoice (CS); it is approved
/// and sent like an invoice, numbered `CN/<year>/<sequence>`.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/credit-notes", tag = "invoices",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreditNoteRequest,
    responses((status = 201, body = InvoiceView), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn credit_note(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<CreditNoteRequest>,
) -> ApiResult<(StatusCode, Json<InvoiceView>)> {
    let mut work = Work::begin(&state).await?;
    let applied = service::credit_note(
        work.tx(),
        &state,
        &actor,
        &id.to_string(),
        lines_of(req.lines),
        &req.reason,
    )
    .await?;
    let body = respond(&actor, work, StatusCode::CREATED, applied).await?;
    Ok((StatusCode::CREATED, body))
}
