//! Invoices as service functions (seed 003's FIN module): CS drafts an
//! invoice from done visits, sales approve the price, CS sends it, the
//! customer or CS attaches proof of payment, CS verifies it, and the
//! invoice is paid.
//!
//! Every transition is checked against the one state machine,
//! [`InvoiceStatus::can_become`], and the policy ([`Action`]); every one
//! leaves an audit row and a live `invoice.*` event for staff (and, once
//! the customer has it, for the customer). Totals are computed here from
//! the lines with the tenant's [`TaxRule`]; numbers are given at
//! approval from a counter bumped in the approving transaction, so they
//! are gapless per series and year ([`crate::db::invoices::next_sequence`]).
//!
//! The PDF is made when an invoice is sent ([`pdf`]).
//!
//! ```text
//! let mut work = Work::begin(&state).await?;
//! let applied = invoices::approve(work.tx(), &state, &actor, id).await?;
//! work.respond(Effects::told(applied.notices), StatusCode::OK, view).await
//! ```

pub mod pdf;

use fieldops_sync::billing::{
    self, InvoiceKind, InvoiceStatus, LineDraft, LineKind, LineProblem, PaymentStatus,
    invoice_number,
};
use fieldops_sync::commands::RejectReason;
use fieldops_sync::money::{self, Currency, MoneyError, TaxRule, Totals};
use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::blobs::{self, OwnerKind};
use crate::db::invoices::{self as db, InvoiceRow, LineRow, NewInvoice, PaymentRow, Stamp};
use crate::db::{Tx, audit, now_ms, visits, whatsapp};
use crate::domain::{self, Validator};
use crate::events::{Happened, InvoiceFacts};
use crate::i18n::{Arg, Lang};
use crate::service::{Applied, Notice, ServiceError, ServiceResult, allow, reject_as};

/// How long the PDF link in the WhatsApp message works.
pub const PDF_LINK_DAYS: i64 = 30;

pub use fieldops_sync::billing::MAX_LINES;

/// At most this many visits billed by one invoice.
pub const MAX_VISITS: usize = 50;

/// A line as a caller wrote it; checked by [`check_lines`].
#[derive(Debug, Clone)]
pub struct LineInput {
    pub kind: LineKind,
    pub description: String,
    /// A decimal with at most three places (`"2.5"`).
    pub quantity: String,
    /// Whole rupiah per unit.
    pub unit_price: i64,
}

/// A new invoice for done visits.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub visit_ids: Vec<String>,
    pub lines: Vec<LineInput>,
    pub notes: String,
    pub tax_invoice_number: Option<String>,
}

/// A change to a draft: `None` keeps a part.
#[derive(Debug, Clone, Default)]
pub struct DraftEdit {
    pub lines: Option<Vec<LineInput>>,
    pub notes: Option<String>,
    /// `Some("")` clears it.
    pub tax_invoice_number: Option<String>,
    /// The version the caller saw; a different one is a conflict.
    pub version: Option<i64>,
}

/// A payment the customer says they made, or CS saw arrive.
#[derive(Debug, Clone, Default)]
pub struct PaymentInput {
    /// The payment's id, when the caller chose it (a phone, offline).
    pub id: Option<String>,
    /// Whole rupiah.
    pub amount: i64,
    /// The SHA-256 of the transfer receipt (a photo or a PDF).
    pub proof_sha256: Option<String>,
    /// Where the proof's bytes are.
    pub proof: ProofBytes,
    /// The bank's or the customer's reference.
    pub reference: String,
}

/// Whether a proof's bytes must be on the server when its payment is
/// recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProofBytes {
    /// Uploaded first, by the caller (HTTP and the console can order it).
    #[default]
    Uploaded,
    /// Following: a phone queues the payment and the receipt's upload
    /// together, offline, and either may reach the server first. The proof
    /// shows to staff once its author has uploaded it (the owner rule of
    /// [`blobs::add_owner`]), never on the strength of the hash alone.
    MayFollow,
}

/// Checks lines and prices them ([`billing::price_lines`]): the stored
/// lines and the invoice totals. Every problem is reported at once, under
/// `lines[i].field`, in the caller's language.
pub fn check_lines(
    lines: &[LineInput],
    rule: TaxRule,
) -> Result<(Vec<LineRow>, Totals), ServiceError> {
    let drafts: Vec<LineDraft<'_>> = lines
        .iter()
        .map(|line| LineDraft {
            kind: line.kind,
            description: &line.description,
            quantity: &line.quantity,
            unit_price: line.unit_price,
        })
        .collect();
    let (priced, totals) = billing::price_lines(&drafts, rule).map_err(|problems| {
        let mut v = Validator::new();
        for problem in problems {
            v.add(&problem.field(), line_message(problem));
        }
        v.finish().err().unwrap_or_else(|| {
            ServiceError::field("lines", line_message(LineProblem::TotalTooLarge))
        })
    })?;
    let rows = priced
        .into_iter()
        .map(|line| LineRow {
            kind: line.kind,
            description: line.description,
            quantity_milli: line.quantity_milli,
            unit_price: line.unit_price,
            amount: line.amount,
        })
        .collect();
    Ok((rows, totals))
}

/// What is wrong with a line, for a person.
fn line_message(problem: LineProblem) -> String {
    match problem {
        LineProblem::TooMany => crate::t!("problem-invoice-too-many-lines", max = MAX_LINES),
        LineProblem::TotalTooLarge => crate::t!("problem-invoice-total-too-large"),
        LineProblem::Description { problem, .. } => crate::i18n::describe(problem),
        LineProblem::Quantity { problem, .. }
        | LineProblem::UnitPrice { problem, .. }
        | LineProblem::Amount { problem, .. } => money_message(problem),
    }
}

/// What is wrong with an amount or a quantity, for a person.
fn money_message(e: MoneyError) -> String {
    match e {
        MoneyError::Negative => crate::t!("problem-money-negative"),
        MoneyError::Zero => crate::t!("problem-money-zero"),
        MoneyError::TooLarge => crate::t!("problem-money-too-large"),
        MoneyError::Malformed => crate::t!("problem-money-malformed"),
    }
}

/// What a search box asks for: a whole number (`inv/2026/123` reads as
/// `INV/2026/000123`), a sequence alone (`123`), or words of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Number(String),
    Sequence(i64),
    Words(String),
}

impl Search {
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if let Ok(sequence) = text.parse::<i64>() {
            return Search::Sequence(sequence);
        }
        let parts: Vec<&str> = text.split('/').map(str::trim).collect();
        if let [series, year, sequence] = parts[..] {
            let kind = [InvoiceKind::Invoice, InvoiceKind::CreditNote]
                .into_iter()
                .find(|k| k.series().eq_ignore_ascii_case(series));
            if let (Some(kind), Ok(year), Ok(sequence)) =
                (kind, year.parse::<i32>(), sequence.parse::<i64>())
            {
                return Search::Number(invoice_number(kind, year, sequence));
            }
        }
        Search::Words(text.to_owned())
    }

    /// Narrows `filter` to what was asked for.
    pub fn narrow(self, filter: &mut db::InvoiceFilter) {
        match self {
            Search::Number(n) => filter.number = Some(n),
            Search::Sequence(n) => filter.sequence = Some(n),
            Search::Words(w) => filter.search = Some(w),
        }
    }
}

/// The tax office's tax-invoice number (Faktur Pajak): 17 digits,
/// punctuation ignored; empty clears it.
fn check_tax_invoice_number(v: &mut Validator, value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    if value.is_empty() {
        return None;
    }
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let only_punctuation = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | ' '));
    if digits.len() != 17 || !only_punctuation {
        v.add(
            "tax_invoice_number",
            crate::t!("problem-invoice-tax-number"),
        );
        return None;
    }
    Some(digits)
}

/// Drafts an invoice for done visits of one customer (CS).
pub async fn draft(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    draft: Draft,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::DraftInvoices)?;
    let mut v = Validator::new();
    let mut visit_ids = draft.visit_ids.clone();
    visit_ids.sort();
    visit_ids.dedup();
    if visit_ids.is_empty() {
        v.add("visit_ids", crate::t!("problem-invoice-no-visits"));
    } else if visit_ids.len() > MAX_VISITS {
        v.add(
            "visit_ids",
            crate::t!("problem-invoice-too-many-visits", max = MAX_VISITS),
        );
    }
    let notes = v.check("notes", domain::optional_text(&draft.notes, 2000));
    let tax_number = check_tax_invoice_number(&mut v, draft.tax_invoice_number.as_deref());
    let mut customer: Option<String> = None;
    let mut tickets: Vec<String> = Vec::new();
    for (i, id) in visit_ids.iter().enumerate() {
        let field = format!("visit_ids[{i}]");
        let Some(visit) = visits::get(&mut **tx, id).await? else {
            v.add(&field, crate::t!("problem-invoice-visit-unknown"));
            continue;
        };
        if visit.status != visits::VisitStatus::Done {
            v.add(&field, crate::t!("problem-invoice-visit-not-done"));
        }
        match &customer {
            None => customer = Some(visit.customer_id.clone()),
            Some(c) if *c != visit.customer_id => {
                v.add(&field, crate::t!("problem-invoice-visit-other-customer"));
            }
            Some(_) => {}
        }
        if let Some(t) = visit.ticket_id
            && !tickets.contains(&t)
        {
            tickets.push(t);
        }
        if db::invoice_of_visit(&mut **tx, id).await?.is_some() {
            v.add(&field, crate::t!("problem-invoice-visit-invoiced"));
        }
    }
    if tickets.len() > 1 {
        v.add(
            "visit_ids",
            crate::t!("problem-invoice-visits-different-tickets"),
        );
    }
    let priced = match check_lines(&draft.lines, state.config.invoices.tax_rule) {
        Ok(priced) => Some(priced),
        Err(ServiceError::Invalid(errors)) => {
            for e in errors {
                v.add(&e.field, e.message);
            }
            None
        }
        Err(e) => return Err(e),
    };
    v.finish()?;
    let (lines, totals) = priced
        .ok_or_else(|| ServiceError::field("lines", crate::t!("problem-invoice-lines-invalid")))?;
    let customer_id = customer.ok_or_else(|| {
        ServiceError::field("visit_ids", crate::t!("problem-invoice-visits-required"))
    })?;
    let id = db::insert(
        tx,
        &NewInvoice {
            kind: InvoiceKind::Invoice,
            customer_id: &customer_id,
            ticket_id: tickets.first().map(String::as_str),
            credits_id: None,
            currency: Currency::Idr.as_str(),
            tax_rule: state.config.invoices.tax_rule.as_str(),
            notes: &notes,
            tax_invoice_number: tax_number.as_deref(),
            drafted_by: &actor.user_id,
        },
    )
    .await?;
    db::link_visits(tx, &id, &visit_ids).await.map_err(|e| {
        if is_unique_violation(&e) {
            // Another draft took a visit since it was checked above: the
            // same answer as if it had been first.
            ServiceError::field("visit_ids", crate::t!("problem-invoice-visit-taken"))
        } else {
            e.into()
        }
    })?;
    db::set_lines(tx, &id, &lines, &totals, &actor.user_id).await?;
    finish(
        tx,
        state,
        actor,
        &id,
        Happened::InvoiceDrafted,
        json!({ "visit_ids": visit_ids }),
    )
    .await
}

/// Drafts a credit note that corrects a sent invoice (CS). It runs the
/// same approval and has its own number series.
pub async fn credit_note(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    invoice_id: &str,
    lines: Vec<LineInput>,
    reason: &str,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::DraftInvoices)?;
    let original = load(tx, state, actor, invoice_id).await?;
    if original.kind != InvoiceKind::Invoice || !original.status.is_issued() {
        return Err(ServiceError::conflict(
            "invoice_not_sent",
            crate::t!("problem-invoice-not-sent"),
        ));
    }
    let mut v = Validator::new();
    let reason = v.check("reason", domain::bounded_text(reason, 2000));
    v.finish()?;
    let (lines, totals) = check_lines(&lines, tax_rule_of(&original)?)?;
    check_credit_room(tx, &original, None, totals.total).await?;
    let id = db::insert(
        tx,
        &NewInvoice {
            kind: InvoiceKind::CreditNote,
            customer_id: &original.customer_id,
            ticket_id: original.ticket_id.as_deref(),
            credits_id: Some(&original.id),
            currency: &original.currency,
            tax_rule: &original.tax_rule,
            notes: &reason,
            tax_invoice_number: None,
            drafted_by: &actor.user_id,
        },
    )
    .await?;
    db::set_lines(tx, &id, &lines, &totals, &actor.user_id).await?;
    finish(
        tx,
        state,
        actor,
        &id,
        Happened::InvoiceDrafted,
        json!({ "credits": original.id }),
    )
    .await
}

/// Edits a draft: its lines (replaced as a whole), notes, tax-invoice
/// number. Anything past draft is locked.
pub async fn edit(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    edit: DraftEdit,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::DraftInvoices)?;
    let invoice = load(tx, state, actor, id).await?;
    if !invoice.status.is_editable() {
        return Err(ServiceError::conflict(
            "invoice_locked",
            crate::t!("problem-invoice-locked", status = invoice.status.as_str()),
        ));
    }
    if let Some(seen) = edit.version
        && seen != invoice.version
    {
        return Err(ServiceError::conflict(
            "version_mismatch",
            crate::t!("problem-invoice-version-mismatch"),
        ));
    }
    let mut v = Validator::new();
    let notes = edit
        .notes
        .as_deref()
        .map(|n| v.check("notes", domain::optional_text(n, 2000)));
    let tax_number = edit
        .tax_invoice_number
        .as_deref()
        .map(|n| check_tax_invoice_number(&mut v, Some(n)));
    v.finish()?;
    if let Some(lines) = &edit.lines {
        let (rows, totals) = check_lines(lines, tax_rule_of(&invoice)?)?;
        if let Some(original) = &invoice.credits_id {
            let original = load(tx, state, actor, original).await?;
            check_credit_room(tx, &original, Some(&invoice.id), totals.total).await?;
        }
        db::set_lines(tx, id, &rows, &totals, &actor.user_id).await?;
    }
    if notes.is_some() || tax_number.is_some() {
        db::set_details(
            tx,
            id,
            notes.as_deref().unwrap_or(&invoice.notes),
            match &tax_number {
                Some(n) => n.as_deref(),
                None => invoice.tax_invoice_number.as_deref(),
            },
        )
        .await?;
    }
    finish(
        tx,
        state,
        actor,
        id,
        Happened::InvoiceUpdated,
        json!({ "lines": edit.lines.is_some() }),
    )
    .await
}

/// Submits a draft to sales for price approval (CS).
pub async fn submit(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::DraftInvoices)?;
    let invoice = load(tx, state, actor, id).await?;
    ensure_can_become(&invoice, InvoiceStatus::PendingApproval)?;
    if db::lines(&mut **tx, id).await?.is_empty() || invoice.total <= 0 {
        return Err(ServiceError::field(
            "lines",
            crate::t!("problem-invoice-no-lines"),
        ));
    }
    let stamp = Stamp {
        submitted: true,
        ..Stamp::default()
    };
    db::transition(
        tx,
        id,
        invoice.status,
        InvoiceStatus::PendingApproval,
        &stamp,
    )
    .await?;
    finish(tx, state, actor, id, Happened::InvoiceSubmitted, json!({})).await
}

/// Sales return a submitted invoice to CS with a comment.
pub async fn return_to_draft(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    comment: &str,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::ApproveInvoices)?;
    let invoice = load(tx, state, actor, id).await?;
    let mut v = Validator::new();
    let comment = v.check("comment", domain::bounded_text(comment, 2000));
    v.finish()?;
    ensure_can_become(&invoice, InvoiceStatus::Draft)?;
    let stamp = Stamp {
        return_comment: Some(Some(&comment)),
        ..Stamp::default()
    };
    db::transition(tx, id, invoice.status, InvoiceStatus::Draft, &stamp).await?;
    finish(
        tx,
        state,
        actor,
        id,
        Happened::InvoiceReturned,
        json!({ "comment": comment }),
    )
    .await
}

/// Sales approve the price: the invoice is locked and numbered
/// (`INV/2026/000123`, the year in the sites' calendar). The approver is
/// never the one who drafted it.
pub async fn approve(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::ApproveInvoices)?;
    let invoice = load(tx, state, actor, id).await?;
    ensure_can_become(&invoice, InvoiceStatus::Approved)?;
    if invoice.drafted_by == actor.user_id || invoice.edited_by.as_deref() == Some(&actor.user_id) {
        return Err(reject_as(
            RejectReason::Forbidden,
            "approver_is_drafter",
            crate::t!("problem-invoice-approver-is-drafter"),
        ));
    }
    if let Some(original) = &invoice.credits_id {
        let original = load(tx, state, actor, original).await?;
        check_credit_room(tx, &original, Some(&invoice.id), invoice.total).await?;
    }
    let today = jiff::Timestamp::from_millisecond(now_ms())
        .map_err(|e| ServiceError::Internal(e.into()))?
        .to_zoned(state.calendar().time_zone().clone())
        .date();
    let year = i64::from(today.year());
    let series = invoice.kind.series();
    let sequence = db::next_sequence(tx, series, year).await?;
    let number = invoice_number(invoice.kind, today.year().into(), sequence);
    db::approve(
        tx,
        id,
        &actor.user_id,
        series,
        year,
        sequence,
        &number,
        &today.to_string(),
    )
    .await?;
    finish(
        tx,
        state,
        actor,
        id,
        Happened::InvoiceApproved,
        json!({ "number": number }),
    )
    .await
}

/// Sends an approved invoice to the customer (CS) with the PDF
/// [`pdf::prepare`] made for it: it appears in their app and goes out as a
/// WhatsApp message. A credit note sent lowers what is due on its invoice.
pub async fn send(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    pdf: &pdf::Made,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::DraftInvoices)?;
    let invoice = load(tx, state, actor, id).await?;
    ensure_can_become(&invoice, InvoiceStatus::Sent)?;
    let stamp = Stamp {
        sent: true,
        ..Stamp::default()
    };
    db::transition(tx, id, invoice.status, InvoiceStatus::Sent, &stamp).await?;
    db::set_pdf(tx, id, &pdf.sha256).await?;
    blobs::add_owner(tx, &pdf.sha256, OwnerKind::Invoice, id, &actor.user_id).await?;
    let key = match invoice.kind {
        InvoiceKind::Invoice => "wa-invoice-sent",
        InvoiceKind::CreditNote => "wa-credit-note-sent",
    };
    let mut body = Lang::Id.text_with(
        key,
        &[
            ("name", Arg::Text(&invoice.customer_name)),
            ("number", Arg::Text(invoice.number.as_deref().unwrap_or(""))),
            ("total", Arg::Text(&money::rupiah(invoice.total))),
        ],
    );
    // The PDF, by a signed link that lasts long enough to be opened
    // later; only with the address customers reach the server at.
    if let Some(base) = &state.config.public_url {
        let expires = now_ms() / 1000 + PDF_LINK_DAYS * 86_400;
        let link = format!("{base}{}", state.links.sign(&pdf.sha256, expires));
        body.push('\n');
        body.push_str(&Lang::Id.text_with("wa-invoice-pdf", &[("link", Arg::Text(&link))]));
    }
    whatsapp::enqueue(tx, &invoice.customer_phone, &body).await?;
    let mut applied = finish(tx, state, actor, id, Happened::InvoiceSent, json!({})).await?;
    if let Some(original) = &invoice.credits_id {
        let settled = settle(tx, state, actor, original).await?;
        applied.notices.extend(settled);
        // What is due on the original changed: its document says so.
        if let Some(row) = db::get(&mut **tx, original).await? {
            applied.notices.extend(sync_document(tx, state, row).await?);
        }
    }
    Ok(applied)
}

/// Records a payment with its proof (the customer on their own sent
/// invoice, or CS); CS verifies it before it counts.
pub async fn submit_payment(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    payment: PaymentInput,
) -> ServiceResult<(InvoiceRow, PaymentRow)> {
    let invoice = load(tx, state, actor, id).await?;
    allow(
        actor,
        Action::SubmitPayment {
            customer_id: &invoice.customer_id,
            issued: invoice.status.is_issued(),
        },
    )?;
    ensure_can_become(&invoice, InvoiceStatus::PaymentSubmitted)?;
    let mut v = Validator::new();
    let reference = v.check("reference", domain::optional_line(&payment.reference, 200));
    // What is due less what waits to be checked: proofs never add up to
    // more than the invoice.
    let unchecked: i64 = db::payments(&mut **tx, id)
        .await?
        .iter()
        .filter(|p| p.status == PaymentStatus::Submitted)
        .map(|p| p.amount)
        .sum();
    let due = amount_due(tx, &invoice).await? - unchecked;
    if payment.amount <= 0 {
        v.add("amount", crate::t!("problem-payment-amount-positive"));
    } else if payment.amount > due {
        v.add(
            "amount",
            crate::t!(
                "problem-payment-amount-over-due",
                open = &money::rupiah(due.max(0))
            ),
        );
    }
    let proof = match payment.proof_sha256.as_deref().map(str::trim) {
        Some(hash) if !hash.is_empty() => {
            let hash = hash.to_ascii_lowercase();
            let well_formed = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            if !well_formed {
                v.add("proof_sha256", crate::t!("problem-payment-proof-format"));
                None
            } else if payment.proof == ProofBytes::MayFollow
                || blobs::uploaded_by(&mut **tx, &hash, &actor.user_id).await?
            {
                Some(hash)
            } else {
                v.add(
                    "proof_sha256",
                    crate::t!("problem-payment-proof-not-uploaded"),
                );
                None
            }
        }
        _ => None,
    };
    if proof.is_none() && actor.role == crate::domain::Role::Customer {
        v.add("proof_sha256", crate::t!("problem-payment-proof-required"));
    }
    if proof.is_none() && reference.is_empty() && actor.role != crate::domain::Role::Customer {
        v.add("reference", crate::t!("problem-payment-reference-required"));
    }
    v.finish()?;
    if let Some(chosen) = &payment.id
        && db::payment(&mut **tx, chosen).await?.is_some()
    {
        return Err(ServiceError::conflict(
            "payment_exists",
            crate::t!("problem-payment-exists"),
        ));
    }
    let row = db::insert_payment(
        tx,
        payment.id.as_deref(),
        id,
        payment.amount,
        proof.as_deref(),
        &reference,
        &actor.user_id,
    )
    .await?;
    if let Some(hash) = &proof {
        blobs::add_owner(tx, hash, OwnerKind::Invoice, id, &actor.user_id).await?;
    }
    let applied = finish_settled(
        tx,
        state,
        actor,
        id,
        Happened::InvoicePaymentSubmitted,
        json!({ "payment_id": row.id, "amount": row.amount }),
    )
    .await?;
    Ok(Applied {
        value: (applied.value, row),
        notices: applied.notices,
    })
}

/// CS verify a submitted payment (it counts) or reject it with a reason.
pub async fn check_payment(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    invoice_id: &str,
    payment_id: &str,
    verified: bool,
    reason: Option<&str>,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::CheckPayments)?;
    // The invoice first: its lock orders two checks of one payment.
    let invoice = load(tx, state, actor, invoice_id).await?;
    let payment = db::payment(&mut **tx, payment_id)
        .await?
        .filter(|p| p.invoice_id == invoice.id)
        .ok_or_else(|| ServiceError::not_found("payment"))?;
    if payment.status != PaymentStatus::Submitted {
        return Err(ServiceError::conflict(
            "payment_checked",
            crate::t!("problem-payment-checked", status = payment.status.as_str()),
        ));
    }
    let mut v = Validator::new();
    let reason = match (verified, reason) {
        (true, _) => None,
        (false, r) => Some(v.check("reason", domain::bounded_text(r.unwrap_or(""), 500))),
    };
    v.finish()?;
    if verified && payment.amount > amount_due(tx, &invoice).await? {
        return Err(ServiceError::conflict(
            "payment_exceeds_due",
            crate::t!("problem-payment-exceeds-due"),
        ));
    }
    let to = if verified {
        PaymentStatus::Verified
    } else {
        PaymentStatus::Rejected
    };
    db::check_payment(tx, payment_id, to, &actor.user_id, reason.as_deref()).await?;
    let kind: fn(InvoiceFacts) -> Happened = if verified {
        Happened::InvoicePaymentVerified
    } else {
        Happened::InvoicePaymentRejected
    };
    finish_settled(
        tx,
        state,
        actor,
        &invoice.id,
        kind,
        json!({ "payment_id": payment_id, "amount": payment.amount, "reason": reason }),
    )
    .await
}

/// Writes off what is still due on a sent invoice, with a reason: the
/// invoice is paid.
pub async fn write_off(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    reason: &str,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::WriteOffInvoices)?;
    let invoice = load(tx, state, actor, id).await?;
    ensure_can_become(&invoice, InvoiceStatus::Paid)?;
    let mut v = Validator::new();
    let reason = v.check("reason", domain::bounded_text(reason, 500));
    v.finish()?;
    let due = amount_due(tx, &invoice).await?;
    if due <= 0 {
        return Err(ServiceError::conflict(
            "nothing_due",
            crate::t!("problem-invoice-nothing-due"),
        ));
    }
    if invoice.status == InvoiceStatus::PaymentSubmitted {
        return Err(ServiceError::conflict(
            "payments_unchecked",
            crate::t!("problem-invoice-payments-unchecked"),
        ));
    }
    db::write_off(tx, id, due, &reason).await?;
    finish_settled(
        tx,
        state,
        actor,
        id,
        Happened::InvoiceWrittenOff,
        json!({ "amount": due, "reason": reason }),
    )
    .await
}

/// Voids an invoice the customer does not have yet (admin); a numbered
/// one keeps its number, and its visits may be invoiced again.
pub async fn void(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    reason: &str,
) -> ServiceResult<InvoiceRow> {
    allow(actor, Action::VoidInvoices)?;
    let invoice = load(tx, state, actor, id).await?;
    let mut v = Validator::new();
    let reason = v.check("reason", domain::bounded_text(reason, 500));
    v.finish()?;
    ensure_can_become(&invoice, InvoiceStatus::Void)?;
    let stamp = Stamp {
        voided: Some(&reason),
        ..Stamp::default()
    };
    db::transition(tx, id, invoice.status, InvoiceStatus::Void, &stamp).await?;
    db::release_visits(tx, id).await?;
    finish(
        tx,
        state,
        actor,
        id,
        Happened::InvoiceVoided,
        json!({ "reason": reason }),
    )
    .await
}

/// What is still due on an invoice: its total less sent credit notes,
/// verified payments and write-offs (nothing on a credit note).
pub fn due_from(invoice: &InvoiceRow, credit_notes: &[InvoiceRow], payments: &[PaymentRow]) -> i64 {
    if invoice.kind == InvoiceKind::CreditNote {
        return 0;
    }
    let credited: i64 = credit_notes
        .iter()
        .filter(|c| c.status.is_issued())
        .map(|c| c.total)
        .sum();
    let paid: i64 = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Verified)
        .map(|p| p.amount)
        .sum();
    invoice.total - credited - paid - invoice.written_off
}

async fn amount_due(tx: &mut Tx, invoice: &InvoiceRow) -> Result<i64, ServiceError> {
    let credit_notes = db::credit_notes(&mut **tx, &invoice.id).await?;
    let payments = db::payments(&mut **tx, &invoice.id).await?;
    Ok(due_from(invoice, &credit_notes, &payments))
}

/// An invoice with everything shown with it.
#[derive(Debug, Clone)]
pub struct Detail {
    pub invoice: InvoiceRow,
    pub lines: Vec<LineRow>,
    pub visit_ids: Vec<String>,
    pub payments: Vec<PaymentRow>,
    pub credit_notes: Vec<InvoiceRow>,
    pub amount_due: i64,
    /// For a credit note: the number of the invoice it corrects.
    pub credits_number: Option<String>,
    /// Per payment: whether its receipt's bytes are on the server, uploaded
    /// by whoever recorded the payment. Until then a receipt is a hash (a
    /// phone's upload on its way, or a name for bytes they never held) and
    /// nobody is shown one.
    pub proofs_received: Vec<bool>,
}

impl Detail {
    /// Reads the parts of `invoice` (on a pool's connection or in a
    /// transaction).
    pub async fn read(conn: &mut sqlx::AnyConnection, invoice: InvoiceRow) -> sqlx::Result<Self> {
        let lines = db::lines(&mut *conn, &invoice.id).await?;
        let visit_ids = db::visit_ids(&mut *conn, &invoice.id).await?;
        let payments = db::payments(&mut *conn, &invoice.id).await?;
        let credit_notes = db::credit_notes(&mut *conn, &invoice.id).await?;
        let amount_due = due_from(&invoice, &credit_notes, &payments);
        let credits_number = match &invoice.credits_id {
            Some(original) => db::get(&mut *conn, original).await?.and_then(|o| o.number),
            None => None,
        };
        let mut proofs_received = Vec::with_capacity(payments.len());
        for p in &payments {
            proofs_received.push(match &p.proof_sha256 {
                Some(hash) => blobs::uploaded_by(&mut *conn, hash, &p.submitted_by).await?,
                None => false,
            });
        }
        Ok(Self {
            proofs_received,
            credits_number,
            invoice,
            lines,
            visit_ids,
            payments,
            credit_notes,
            amount_due,
        })
    }
}

/// Invoice `id` if `actor` may see it (else "not found", so that nobody
/// learns what exists).
pub async fn visible(
    db: &crate::db::Db,
    actor: &Actor,
    id: &str,
) -> Result<InvoiceRow, ServiceError> {
    match db::get(db.pool(), id).await? {
        Some(invoice) if may_view(actor, &invoice) => Ok(invoice),
        _ => Err(ServiceError::not_found("invoice")),
    }
}

/// Moves an issued invoice to the status its payments say
/// ([`InvoiceStatus::from_payments`]).
async fn settle(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<Vec<Notice>, ServiceError> {
    let invoice = load(tx, state, actor, id).await?;
    if !invoice.status.is_issued() || invoice.kind != InvoiceKind::Invoice {
        return Ok(Vec::new());
    }
    let due = amount_due(tx, &invoice).await?;
    let unchecked = db::payments(&mut **tx, id)
        .await?
        .iter()
        .filter(|p| p.status == PaymentStatus::Submitted)
        .count();
    let to = InvoiceStatus::from_payments(due, unchecked);
    if to == invoice.status {
        return Ok(Vec::new());
    }
    let stamp = Stamp {
        paid: to == InvoiceStatus::Paid,
        ..Stamp::default()
    };
    db::transition(tx, id, invoice.status, to, &stamp).await?;
    if to == InvoiceStatus::Paid {
        // Announced only: every caller writes the document once, after.
        return Ok(announce(tx, actor, id, Happened::InvoicePaid, json!({}))
            .await?
            .notices);
    }
    Ok(Vec::new())
}

/// After a change to the payments of invoice `id`: moves it to the status
/// they say ([`settle`]), then audits and announces `kind`; the notices of
/// both, the settlement's first.
async fn finish_settled(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    kind: fn(InvoiceFacts) -> Happened,
    detail: serde_json::Value,
) -> ServiceResult<InvoiceRow> {
    let mut notices = settle(tx, state, actor, id).await?;
    let applied = finish(tx, state, actor, id, kind, detail).await?;
    notices.extend(applied.notices);
    Ok(Applied {
        value: applied.value,
        notices,
    })
}

/// Refuses a credit note that would bring the credits of `original` above
/// its total (`except`: the note being changed, counted as `total`).
async fn check_credit_room(
    tx: &mut Tx,
    original: &InvoiceRow,
    except: Option<&str>,
    total: i64,
) -> Result<(), ServiceError> {
    let others: i64 = db::credit_notes(&mut **tx, &original.id)
        .await?
        .iter()
        .filter(|c| Some(c.id.as_str()) != except)
        .map(|c| c.total)
        .sum();
    if others + total > original.total - original.written_off {
        return Err(ServiceError::field(
            "lines",
            crate::t!(
                "problem-invoice-credit-exceeds",
                credited = &money::rupiah(others),
                total = &money::rupiah(original.total)
            ),
        ));
    }
    Ok(())
}

fn tax_rule_of(invoice: &InvoiceRow) -> Result<TaxRule, ServiceError> {
    invoice
        .tax_rule
        .parse()
        .map_err(|e| ServiceError::Internal(anyhow::Error::new(e)))
}

fn ensure_can_become(invoice: &InvoiceRow, to: InvoiceStatus) -> Result<(), ServiceError> {
    if invoice.status.can_become(invoice.kind, to) {
        Ok(())
    } else {
        Err(ServiceError::conflict(
            "invoice_status",
            crate::t!(
                "problem-invoice-cannot-become",
                status = invoice.status.as_str(),
                to = to.as_str()
            ),
        ))
    }
}

/// Invoice `id`, locked for the transaction, if `actor` may see it (else
/// "not found", so that nobody learns what exists).
async fn load(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<InvoiceRow, ServiceError> {
    match db::lock(tx, state.db.backend(), id).await? {
        Some(invoice) if may_view(actor, &invoice) => Ok(invoice),
        _ => Err(ServiceError::not_found("invoice")),
    }
}

/// Whether `actor` may see `invoice`.
pub fn may_view(actor: &Actor, invoice: &InvoiceRow) -> bool {
    actor.allows(Action::ViewInvoice {
        customer_id: &invoice.customer_id,
        issued: invoice.status.is_issued(),
    })
}

/// Audits the change and says it live (to staff always, to the customer
/// once they have the invoice), and writes an issued invoice's sync
/// document.
async fn finish(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    kind: fn(InvoiceFacts) -> Happened,
    detail: serde_json::Value,
) -> ServiceResult<InvoiceRow> {
    let mut applied = announce(tx, actor, id, kind, detail).await?;
    if applied.value.status.is_issued() {
        let row = applied.value.clone();
        applied.notices.extend(sync_document(tx, state, row).await?);
    }
    Ok(applied)
}

/// [`finish`] without writing the sync document.
async fn announce(
    tx: &mut Tx,
    actor: &Actor,
    id: &str,
    kind: fn(InvoiceFacts) -> Happened,
    detail: serde_json::Value,
) -> ServiceResult<InvoiceRow> {
    let row = db::get(&mut **tx, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("invoice"))?;
    let what = kind((&row).into());
    audit::record(tx, Some(&actor.user_id), what.kind(), "invoice", id, detail).await?;
    let mut notices = vec![Notice::staff(what.clone())];
    if row.status.is_issued() {
        notices.push(Notice::customer(&row.customer_id, what));
    }
    Ok(Applied {
        value: row,
        notices,
    })
}

/// Writes `invoice` into its sync document if the customer has it
/// ([`crate::sync::invoices`]); the phones' wake-up comes back as a notice.
async fn sync_document(
    tx: &mut Tx,
    state: &AppState,
    invoice: InvoiceRow,
) -> Result<Vec<Notice>, ServiceError> {
    let detail = Detail::read(tx, invoice).await?;
    let changed = crate::sync::invoices::project(tx, &state.db, &detail).await?;
    Ok(crate::sync::wake_up(&changed).into_iter().collect())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::Search;

    #[test]
    fn a_search_reads_numbers_as_people_type_them() {
        assert_eq!(
            Search::parse(" inv/2026/123 "),
            Search::Number("INV/2026/000123".into())
        );
        assert_eq!(
            Search::parse("CN/2027/000001"),
            Search::Number("CN/2027/000001".into())
        );
        assert_eq!(Search::parse("123"), Search::Sequence(123));
        assert_eq!(Search::parse("Siti"), Search::Words("Siti".into()));
        assert_eq!(
            Search::parse("XYZ/2026/1"),
            Search::Words("XYZ/2026/1".into())
        );
    }
}
