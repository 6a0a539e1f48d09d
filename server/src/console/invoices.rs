//! Invoices as CS and sales work them (seed 003, FIN): done visits waiting
//! for an invoice, drafting with line editing, sales' approval queue
//! (approve, or return with a comment), sending, checking payments with
//! the receipt photo, write-offs, credit notes.
//!
//! Every form posts to one of [`create`], [`edit`] or [`act`], which call
//! the same services as the API (`crate::invoices`); a refusal shows the
//! page again with the problem (next to its line when it names one).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use fieldops_sync::billing::{InvoiceKind, InvoiceStatus, LineKind, PaymentStatus};
use fieldops_sync::money::Quantity;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, internal, missing, presence, see_other};
use super::render::{Chrome, date, date_time, page, rupiah};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::blobs;
use crate::db::invoices::{self as db, InvoiceFilter, InvoiceRow};
use crate::i18n::Lang;
use crate::invoices::{self as service, Detail, LineInput};
use crate::service::{Applied, FieldError, ServiceError};
use crate::work::{Effects, Work};

/// Blank line rows offered below the filled ones.
const SPARE_LINES: usize = 3;

/// A form's fields in the order sent (`lines[0].kind`, repeated `visit_id`).
type Fields = Vec<(String, String)>;

fn value<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// One line of the editor, as typed.
#[derive(Debug, Clone, Default)]
struct LineForm {
    kind: String,
    description: String,
    quantity: String,
    unit_price: String,
}

impl LineForm {
    fn is_blank(&self) -> bool {
        self.description.trim().is_empty()
            && self.quantity.trim().is_empty()
            && self.unit_price.trim().is_empty()
    }
}

/// The editor's filled rows, blank ones dropped, so that a problem's
/// `lines[i]` names the i-th row shown again.
fn line_forms(fields: &Fields) -> Vec<LineForm> {
    (0..service::MAX_LINES + SPARE_LINES)
        .map(|i| {
            let part = |name: &str| value(fields, &format!("lines[{i}].{name}")).to_owned();
            LineForm {
                kind: part("kind"),
                description: part("description"),
                quantity: part("quantity"),
                unit_price: part("unit_price"),
            }
        })
        .filter(|l| !l.is_blank())
        .collect()
}

/// `Rp1.250.000`, `1250000` and `1 250 000` are all whole rupiah.
fn parse_rupiah(text: &str) -> Option<i64> {
    let digits: String = text
        .trim()
        .trim_start_matches("Rp")
        .chars()
        .filter(|c| !matches!(c, '.' | ' ' | '\u{a0}'))
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    digits.parse().ok()
}

/// The service's lines, or the rows' problems found before asking it.
fn line_inputs(lang: Lang, rows: &[LineForm]) -> Result<Vec<LineInput>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let kind = row.kind.parse::<LineKind>().unwrap_or(LineKind::Other);
        let price = parse_rupiah(&row.unit_price);
        if price.is_none() {
            errors.push(FieldError::new(
                &format!("lines[{i}].unit_price"),
                lang.text("invoice-price-rupiah"),
            ));
        }
        lines.push(LineInput {
            kind,
            description: row.description.clone(),
            quantity: row.quantity.clone(),
            unit_price: price.unwrap_or_default(),
        });
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

/// A row of the line editor, with each field's name, label and problem.
struct EditorRow {
    kind_field: String,
    kind: String,
    inputs: Vec<EditorInput>,
}

struct EditorInput {
    name: String,
    label: String,
    value: String,
    mode: &'static str,
    size: u8,
    problem: String,
}

/// The editor's rows: `rows`, then blank ones to add more; problems go
/// next to the field they name (a line's amount next to its price).
fn editor(lang: Lang, rows: Vec<LineForm>, problems: &Problems) -> Vec<EditorRow> {
    let spare = std::iter::repeat_with(|| LineForm {
        kind: LineKind::Labour.as_str().to_owned(),
        ..LineForm::default()
    })
    .take(SPARE_LINES);
    rows.into_iter()
        .chain(spare)
        .enumerate()
        .map(|(i, line)| {
            let field = |part: &str| format!("lines[{i}].{part}");
            let input = |part: &str, value: String, mode, size| {
                let mut problem = problems.said(&field(part)).to_owned();
                if part == "unit_price" {
                    problem.push_str(problems.said(&field("amount")));
                }
                EditorInput {
                    name: field(part),
                    label: lang.text(&format!("invoice-line-{part}")),
                    value,
                    mode,
                    size,
                    problem,
                }
            };
            EditorRow {
                kind_field: field("kind"),
                inputs: vec![
                    input("description", line.description, "text", 30),
                    input("quantity", line.quantity, "decimal", 6),
                    input("unit_price", line.unit_price, "numeric", 12),
                ],
                kind: line.kind,
            }
        })
        .collect()
}

fn kinds(lang: Lang) -> Vec<(&'static str, String)> {
    LineKind::ALL
        .iter()
        .map(|k| (k.as_str(), lang.text(&format!("line-kind-{}", k.as_str()))))
        .collect()
}

fn status_label(lang: Lang, status: InvoiceStatus) -> String {
    lang.text(&format!("invoice-status-{}", status.as_str()))
}

/// Runs one service call in a unit of work and commits what it applied:
/// `run!(state, |work| service::submit(work.tx(), …))`.
macro_rules! run {
    ($state:expr, |$work:ident| $call:expr) => {
        async {
            let mut $work = Work::begin($state).await?;
            let applied = $call.await?;
            $work.commit(Effects::told(applied.notices)).await?;
            Ok::<_, ServiceError>(applied.value)
        }
        .await
    };
}

// ------------------------------------------------------------------- list

struct ListRow {
    id: String,
    number: String,
    credit_note: bool,
    customer: String,
    status_key: &'static str,
    status: String,
    total: String,
    date: String,
    /// Waits for the reader's next step.
    yours: bool,
}

/// Whether an invoice in `status` waits for `actor`: a price to approve
/// (sales, admins), a draft to finish or an approved one to send, a
/// payment to check (CS, admins).
fn waits_for(actor: &crate::auth::Actor, status: InvoiceStatus) -> bool {
    match status {
        InvoiceStatus::PendingApproval => actor.allows(Action::ApproveInvoices),
        InvoiceStatus::Draft | InvoiceStatus::Approved => actor.allows(Action::DraftInvoices),
        InvoiceStatus::PaymentSubmitted => actor.allows(Action::CheckPayments),
        InvoiceStatus::Sent | InvoiceStatus::Paid | InvoiceStatus::Void => false,
    }
}

fn list_row(lang: Lang, offset: i64, i: &InvoiceRow, yours: bool) -> ListRow {
    ListRow {
        yours,
        id: i.id.clone(),
        number: i
            .number
            .clone()
            .unwrap_or_else(|| lang.text("invoice-unnumbered")),
        credit_note: i.kind == InvoiceKind::CreditNote,
        customer: i.customer_name.clone(),
        status_key: i.status.as_str(),
        status: status_label(lang, i.status),
        total: rupiah(i.total),
        date: i
            .issued_on
            .as_deref()
            .map_or_else(|| date_time(lang, i.created_at, offset), |d| date(lang, d)),
    }
}

struct WaitingVisit {
    id: String,
    title: String,
    customer: String,
    done: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "console/invoices.html")]
struct ListPage {
    chrome: Chrome,
    params: ListParams,
    statuses: Vec<(&'static str, String)>,
    rows: Vec<ListRow>,
    waiting: Vec<WaitingVisit>,
    can_draft: bool,
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(params): Query<ListParams>,
) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    if !actor.role.is_staff() || !actor.allows(Action::ListInvoices) {
        return Err(forbidden(lang));
    }
    let fail = |e: sqlx::Error| internal(lang, &e);
    // Sales land on what waits for them.
    let status = match params.status.as_str() {
        "" if actor.allows(Action::ApproveInvoices) && !actor.allows(Action::DraftInvoices) => {
            Some(InvoiceStatus::PendingApproval)
        }
        "" | "all" => None,
        s => s.parse().ok(),
    };
    let params = ListParams {
        status: status.map_or_else(|| "all".to_owned(), |s| s.as_str().to_owned()),
        q: params.q.trim().chars().take(100).collect(),
    };
    let mut filter = InvoiceFilter {
        status,
        ..InvoiceFilter::default()
    };
    if !params.q.is_empty() {
        service::Search::parse(&params.q).narrow(&mut filter);
    }
    let offset = state.config.attendance.utc_offset_minutes;
    // What waits for the reader comes first (an admin who approves sees the
    // prices to approve before the rest), newest first within each part.
    let mut rows: Vec<ListRow> = db::list(state.db.pool(), &filter, 200)
        .await
        .map_err(fail)?
        .iter()
        .map(|i| list_row(lang, offset, i, waits_for(actor, i.status)))
        .collect();
    rows.sort_by_key(|r| !r.yours);
    let can_draft = actor.allows(Action::DraftInvoices);
    let waiting = if can_draft {
        db::uninvoiced_visits(state.db.pool(), 50)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|v| WaitingVisit {
                id: v.id,
                title: v.title,
                customer: v.customer_name,
                done: v
                    .completed_at
                    .map(|ms| date_time(lang, ms, offset))
                    .unwrap_or_default(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let statuses = InvoiceStatus::ALL
        .iter()
        .map(|s| (s.as_str(), status_label(lang, *s)))
        .collect();
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/invoices");
    Ok(page(
        StatusCode::OK,
        &ListPage {
            chrome,
            params,
            statuses,
            rows,
            waiting,
            can_draft,
        },
    ))
}

// ------------------------------------------------------------------ draft

#[derive(Template)]
#[template(path = "console/invoice_new.html")]
struct DraftPage {
    chrome: Chrome,
    visit_id: String,
    visit: String,
    customer: String,
    editor: Vec<EditorRow>,
    notes: String,
    kinds: Vec<(&'static str, String)>,
    problems: Problems,
}

#[derive(Debug, Deserialize)]
pub(super) struct NewParams {
    visit: uuid::Uuid,
}

async fn draft_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    visit_id: &str,
    lines: Vec<LineForm>,
    notes: String,
    problems: Problems,
) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::DraftInvoices) {
        return Err(forbidden(lang));
    }
    let visit = crate::db::visits::get(state.db.pool(), visit_id)
        .await
        .map_err(|e| internal(lang, &e))?
        .ok_or_else(|| missing(lang))?;
    let chrome = Chrome::new(console, presence(state, console).await, "/invoices");
    Ok(page(
        status,
        &DraftPage {
            chrome,
            visit_id: visit.id,
            visit: visit.title,
            customer: visit.customer_name,
            editor: editor(lang, lines, &problems),
            notes,
            kinds: kinds(lang),
            problems,
        },
    ))
}

pub(super) async fn new(
    State(state): State<AppState>,
    console: Console,
    Query(params): Query<NewParams>,
) -> PageResult {
    let visit = params.visit.to_string();
    draft_page(
        &state,
        &console,
        StatusCode::OK,
        &visit,
        Vec::new(),
        String::new(),
        Problems::default(),
    )
    .await
}

/// Drafts the invoice the form describes.
pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Form(fields): Form<Fields>,
) -> PageResult {
    let lang = console.lang;
    let visit_id = value(&fields, "visit_id").to_owned();
    let rows = line_forms(&fields);
    let notes = value(&fields, "notes").to_owned();
    let again = |problems: Problems, rows: Vec<LineForm>, notes: String| {
        let (state, console, visit_id) = (&state, &console, &visit_id);
        async move {
            draft_page(
                state,
                console,
                StatusCode::UNPROCESSABLE_ENTITY,
                visit_id,
                rows,
                notes,
                problems,
            )
            .await
        }
    };
    let lines = match line_inputs(lang, &rows) {
        Ok(lines) => lines,
        Err(errors) => return again(Problems::fields(lang, errors), rows, notes).await,
    };
    let draft = service::Draft {
        visit_ids: vec![visit_id.clone()],
        lines,
        notes: notes.clone(),
        tax_invoice_number: None,
    };
    let outcome = run!(&state, |work| service::draft(
        work.tx(),
        &state,
        &console.actor,
        draft
    ));
    match outcome {
        Ok(invoice) => Ok(see_other(&format!("/invoices/{}", invoice.id))),
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            again(problems, rows, notes).await
        }
    }
}

// ----------------------------------------------------------------- detail

struct LineShow {
    kind: String,
    description: String,
    quantity: String,
    unit_price: String,
    amount: String,
}

struct PaymentShow {
    id: String,
    amount: String,
    status_key: &'static str,
    status: String,
    reference: String,
    /// A signed link to the receipt, once its author has uploaded it.
    proof_url: Option<String>,
    /// The receipt is a PDF (linked, not shown).
    proof_pdf: bool,
    /// The receipt's bytes are still on their way from the customer's phone.
    proof_uploading: bool,
    submitted: String,
    reject_reason: String,
    unchecked: bool,
}

/// What the signed-in person may do to this invoice now.
#[derive(Default)]
struct Can {
    edit: bool,
    submit: bool,
    approve: bool,
    send: bool,
    void: bool,
    record_payment: bool,
    check: bool,
    write_off: bool,
    credit: bool,
}

#[derive(Template)]
#[template(path = "console/invoice.html")]
struct InvoicePage<'a> {
    chrome: Chrome,
    id: String,
    title: String,
    credit_note: bool,
    credits: Option<(String, String)>,
    customer: String,
    /// The business that issues it (`[invoices]` settings).
    seller: &'a crate::config::InvoiceConfig,
    status_key: &'static str,
    status: String,
    issued_on: String,
    tax_invoice_number: String,
    notes: String,
    return_comment: String,
    void_reason: String,
    lines: Vec<LineShow>,
    subtotal: String,
    tax_base: String,
    tax: String,
    taxed: bool,
    total: String,
    amount_due: String,
    stamp_duty: bool,
    written_off: String,
    payments: Vec<PaymentShow>,
    credit_notes: Vec<ListRow>,
    /// A signed link to the PDF made when it was sent.
    pdf_url: Option<String>,
    /// The version the line editor was loaded at (a stale save is refused).
    version: i64,
    editor: Vec<EditorRow>,
    kinds: Vec<(&'static str, String)>,
    can: Can,
    problems: Problems,
}

async fn invoice_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    id: &str,
    editing: Option<Vec<LineForm>>,
    problems: Problems,
) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    if !actor.role.is_staff() {
        return Err(forbidden(lang));
    }
    let fail = |e: &dyn std::fmt::Display| internal(lang, e);
    let row = service::visible(&state.db, actor, id)
        .await
        .map_err(|_| missing(lang))?;
    let mut conn = state.db.pool().acquire().await.map_err(|e| fail(&e))?;
    let d = Detail::read(&mut conn, row).await.map_err(|e| fail(&e))?;
    let credits = match &d.invoice.credits_id {
        Some(original) => db::get(&mut *conn, original)
            .await
            .map_err(|e| fail(&e))?
            .map(|o| (o.id, o.number.unwrap_or_default())),
        None => None,
    };
    // A receipt shows once the account that named it has uploaded its
    // bytes: a phone's upload may still be under way, and a hash alone
    // proves nothing (it may name someone else's file).
    let mut receipts = Vec::with_capacity(d.payments.len());
    for (p, received) in d.payments.iter().zip(&d.proofs_received) {
        let mut receipt = None;
        if let (Some(hash), true) = (&p.proof_sha256, *received) {
            let blob = blobs::get(&mut *conn, hash).await.map_err(|e| fail(&e))?;
            receipt = blob.map(|b| (hash.clone(), b.content_type == crate::photos::PDF));
        }
        receipts.push(receipt);
    }
    drop(conn);
    let i = &d.invoice;
    let offset = state.config.attendance.utc_offset_minutes;
    let expires = jiff::Timestamp::now().as_second()
        + i64::try_from(state.config.download_url_ttl.as_secs()).unwrap_or(900);
    let payments = d
        .payments
        .iter()
        .zip(receipts)
        .map(|(p, receipt)| PaymentShow {
            id: p.id.clone(),
            amount: rupiah(p.amount),
            status_key: p.status.as_str(),
            status: lang.text(&format!("payment-status-{}", p.status.as_str())),
            reference: p.reference.clone(),
            proof_uploading: p.proof_sha256.is_some() && receipt.is_none(),
            proof_pdf: receipt.as_ref().is_some_and(|(_, pdf)| *pdf),
            proof_url: receipt.map(|(hash, _)| state.links.sign(&hash, expires)),
            submitted: date_time(lang, p.submitted_at, offset),
            reject_reason: p.reject_reason.clone().unwrap_or_default(),
            unchecked: p.status == PaymentStatus::Submitted,
        })
        .collect();
    let issued = i.status.is_issued();
    let invoice = i.kind == InvoiceKind::Invoice;
    let can = Can {
        edit: i.status.is_editable() && actor.allows(Action::DraftInvoices),
        submit: i.status.is_editable() && actor.allows(Action::DraftInvoices),
        approve: i.status == InvoiceStatus::PendingApproval
            && actor.allows(Action::ApproveInvoices),
        send: i.status == InvoiceStatus::Approved && actor.allows(Action::DraftInvoices),
        void: i.status.can_become(i.kind, InvoiceStatus::Void)
            && actor.allows(Action::VoidInvoices),
        record_payment: invoice
            && issued
            && d.amount_due > 0
            && actor.allows(Action::CheckPayments),
        check: actor.allows(Action::CheckPayments),
        write_off: invoice && issued && d.amount_due > 0 && actor.allows(Action::WriteOffInvoices),
        credit: invoice && issued && actor.allows(Action::DraftInvoices),
    };
    // A draft's editor starts from its lines; a credit note's from nothing.
    let editor_rows = editing.unwrap_or_else(|| {
        d.lines
            .iter()
            .filter(|_| i.status.is_editable())
            .map(|l| LineForm {
                kind: l.kind.as_str().to_owned(),
                description: l.description.clone(),
                quantity: Quantity::from_milli(l.quantity_milli)
                    .map(|q| q.to_string())
                    .unwrap_or_default(),
                unit_price: l.unit_price.to_string(),
            })
            .collect()
    });
    let title = match (&i.number, i.kind) {
        (Some(n), _) => n.clone(),
        (None, InvoiceKind::CreditNote) => lang.text("invoice-credit-draft"),
        (None, InvoiceKind::Invoice) => lang.text("invoice-draft-title"),
    };
    let chrome =
        Chrome::new(console, presence(state, console).await, "/invoices").titled(title.clone());
    Ok(page(
        status,
        &InvoicePage {
            chrome,
            id: i.id.clone(),
            title,
            credit_note: !invoice,
            credits,
            customer: i.customer_name.clone(),
            seller: &state.config.invoices,
            status_key: i.status.as_str(),
            status: status_label(lang, i.status),
            issued_on: i
                .issued_on
                .as_deref()
                .map(|d| date(lang, d))
                .unwrap_or_default(),
            tax_invoice_number: i.tax_invoice_number.clone().unwrap_or_default(),
            notes: i.notes.clone(),
            return_comment: i.return_comment.clone().unwrap_or_default(),
            void_reason: i.void_reason.clone().unwrap_or_default(),
            lines: d
                .lines
                .iter()
                .map(|l| LineShow {
                    kind: lang.text(&format!("line-kind-{}", l.kind.as_str())),
                    description: l.description.clone(),
                    quantity: Quantity::from_milli(l.quantity_milli)
                        .map(|q| q.to_string())
                        .unwrap_or_default(),
                    unit_price: rupiah(l.unit_price),
                    amount: rupiah(l.amount),
                })
                .collect(),
            subtotal: rupiah(i.subtotal),
            tax_base: rupiah(i.tax_base),
            tax: rupiah(i.tax),
            taxed: i.tax_rule != fieldops_sync::money::TaxRule::None.as_str(),
            total: rupiah(i.total),
            amount_due: rupiah(d.amount_due),
            stamp_duty: i.total > fieldops_sync::money::STAMP_DUTY_ABOVE,
            written_off: if i.written_off > 0 {
                rupiah(i.written_off)
            } else {
                String::new()
            },
            payments,
            credit_notes: d
                .credit_notes
                .iter()
                .map(|c| list_row(lang, offset, c, false))
                .collect(),
            pdf_url: i.pdf_sha256.as_ref().map(|h| state.links.sign(h, expires)),
            version: i.version,
            editor: editor(lang, editor_rows, &problems),
            kinds: kinds(lang),
            can,
            problems,
        },
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    invoice_page(
        &state,
        &console,
        StatusCode::OK,
        &id.to_string(),
        None,
        Problems::default(),
    )
    .await
}

/// Saves the line editor of a draft.
pub(super) async fn edit(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(fields): Form<Fields>,
) -> PageResult {
    let lang = console.lang;
    let id = id.to_string();
    let rows = line_forms(&fields);
    let lines = match line_inputs(lang, &rows) {
        Ok(lines) => lines,
        Err(errors) => {
            let problems = Problems::fields(lang, errors);
            return invoice_page(
                &state,
                &console,
                StatusCode::UNPROCESSABLE_ENTITY,
                &id,
                Some(rows),
                problems,
            )
            .await;
        }
    };
    let edit = service::DraftEdit {
        lines: Some(lines),
        notes: Some(value(&fields, "notes").to_owned()),
        tax_invoice_number: Some(value(&fields, "tax_invoice_number").to_owned()),
        version: value(&fields, "version").parse().ok(),
    };
    let outcome = run!(&state, |work| service::edit(
        work.tx(),
        &state,
        &console.actor,
        &id,
        edit
    ));
    finish(&state, &console, &id, outcome, Some(rows)).await
}

/// One of the buttons of an invoice: `submit`, `approve`, `return`,
/// `send`, `void`, `write-off`, `payment`, `check`, `credit-note`.
pub(super) async fn act(
    State(state): State<AppState>,
    console: Console,
    Path((id, action)): Path<(uuid::Uuid, String)>,
    Form(fields): Form<Fields>,
) -> PageResult {
    let lang = console.lang;
    let id = id.to_string();
    let actor = &console.actor;
    let reason = value(&fields, "reason").to_owned();
    if action == "credit-note" {
        return credit_note(&state, &console, &id, &fields).await;
    }
    let outcome = match action.as_str() {
        "submit" => run!(&state, |w| service::submit(w.tx(), &state, actor, &id)),
        "approve" => run!(&state, |w| service::approve(w.tx(), &state, actor, &id)),
        "return" => {
            run!(&state, |w| service::return_to_draft(
                w.tx(),
                &state,
                actor,
                &id,
                &reason
            ))
        }
        "send" => match service::pdf::prepare(&state, actor, &id).await {
            Ok(pdf) => run!(&state, |w| service::send(w.tx(), &state, actor, &id, &pdf)),
            Err(e) => Err(e),
        },
        "void" => run!(&state, |w| service::void(
            w.tx(),
            &state,
            actor,
            &id,
            &reason
        )),
        "write-off" => {
            run!(&state, |w| service::write_off(
                w.tx(),
                &state,
                actor,
                &id,
                &reason
            ))
        }
        "payment" => {
            let Some(amount) = parse_rupiah(value(&fields, "amount")) else {
                let problems = Problems::fields(
                    lang,
                    vec![FieldError::new("amount", lang.text("invoice-price-rupiah"))],
                );
                return invoice_page(
                    &state,
                    &console,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &id,
                    None,
                    problems,
                )
                .await;
            };
            let input = service::PaymentInput {
                amount,
                reference: value(&fields, "reference").to_owned(),
                ..service::PaymentInput::default()
            };
            run!(&state, |w| async {
                let applied = service::submit_payment(w.tx(), &state, actor, &id, input).await?;
                Ok::<_, ServiceError>(Applied {
                    value: applied.value.0,
                    notices: applied.notices,
                })
            })
        }
        "check" => {
            let payment = value(&fields, "payment_id").to_owned();
            let verified = value(&fields, "verdict") == "verify";
            let reason = Some(reason.as_str());
            run!(&state, |w| service::check_payment(
                w.tx(),
                &state,
                actor,
                &id,
                &payment,
                verified,
                reason
            ))
        }
        _ => return Err(missing(lang)),
    };
    finish(&state, &console, &id, outcome, None).await
}

async fn credit_note(state: &AppState, console: &Console, id: &str, fields: &Fields) -> PageResult {
    let lang = console.lang;
    let rows = line_forms(fields);
    let lines = match line_inputs(lang, &rows) {
        Ok(lines) => lines,
        Err(errors) => {
            let problems = Problems::fields(lang, errors);
            return invoice_page(
                state,
                console,
                StatusCode::UNPROCESSABLE_ENTITY,
                id,
                None,
                problems,
            )
            .await;
        }
    };
    let reason = value(fields, "reason").to_owned();
    let outcome = run!(state, |w| service::credit_note(
        w.tx(),
        state,
        &console.actor,
        id,
        lines,
        &reason
    ));
    match outcome {
        Ok(note) => Ok(see_other(&format!("/invoices/{}", note.id))),
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            invoice_page(state, console, StatusCode::CONFLICT, id, None, problems).await
        }
    }
}

/// Back to the invoice after a change, or the page again with the problem.
async fn finish(
    state: &AppState,
    console: &Console,
    id: &str,
    outcome: Result<InvoiceRow, ServiceError>,
    editing: Option<Vec<LineForm>>,
) -> PageResult {
    match outcome {
        Ok(_) => Ok(see_other(&format!("/invoices/{id}"))),
        Err(e) => {
            let status = match &e {
                ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            invoice_page(state, console, status, id, editing, problems).await
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn rupiah_is_read_as_people_type_it() {
        assert_eq!(parse_rupiah("Rp1.250.000"), Some(1_250_000));
        assert_eq!(parse_rupiah(" 1 250 000 "), Some(1_250_000));
        assert_eq!(parse_rupiah("350000"), Some(350_000));
        assert_eq!(parse_rupiah("-5"), Some(-5));
        assert_eq!(parse_rupiah(""), None);
        assert_eq!(parse_rupiah("12,5"), None);
        assert_eq!(parse_rupiah("abc"), None);
    }

    #[test]
    fn blank_editor_rows_are_dropped_and_the_rest_renumbered() {
        let fields: Fields = vec![
            ("lines[0].kind".into(), "labour".into()),
            ("lines[0].description".into(), "Kerja".into()),
            ("lines[0].quantity".into(), "2".into()),
            ("lines[0].unit_price".into(), "100000".into()),
            ("lines[1].kind".into(), "labour".into()),
            ("lines[2].description".into(), "MCB".into()),
            ("lines[2].quantity".into(), "1".into()),
            ("lines[2].unit_price".into(), "Rp350.000".into()),
        ];
        let rows = line_forms(&fields);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].description, "MCB");
        let lines = line_inputs(Lang::Id, &rows).unwrap();
        assert_eq!(lines[1].unit_price, 350_000);
    }
}
