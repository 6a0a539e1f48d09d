//! Invoices, their lines, the visits they bill, their payments and the
//! gapless number counters (`migrations/*/0017_invoices.sql`).
//!
//! Only `crate::invoices` writes here; it has already validated and
//! computed everything (totals included), so these functions store what
//! they are given.

use fieldops_sync::billing::{InvoiceKind, InvoiceStatus, LineKind, PaymentStatus};
use fieldops_sync::money::Totals;
use sqlx::{AnyExecutor, FromRow};

use super::{Backend, Tx, like_contains, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct InvoiceRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub kind: InvoiceKind,
    #[sqlx(try_from = "String")]
    pub status: InvoiceStatus,
    pub number: Option<String>,
    pub customer_id: String,
    pub customer_name: String,
    pub customer_phone: String,
    /// Street and city, as one line.
    pub customer_address: String,
    pub ticket_id: Option<String>,
    pub credits_id: Option<String>,
    pub currency: String,
    pub tax_rule: String,
    pub subtotal: i64,
    pub tax_base: i64,
    pub tax: i64,
    pub total: i64,
    pub tax_invoice_number: Option<String>,
    pub notes: String,
    pub return_comment: Option<String>,
    pub written_off: i64,
    pub write_off_reason: Option<String>,
    pub void_reason: Option<String>,
    pub drafted_by: String,
    /// Who last changed the lines (never the approver).
    pub edited_by: Option<String>,
    pub submitted_at: Option<i64>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub issued_on: Option<String>,
    pub sent_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub pdf_sha256: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "i.id, i.kind, i.status, i.number, i.customer_id, \
     c.name AS customer_name, c.phone AS customer_phone, \
     CASE WHEN c.city = '' THEN c.address ELSE c.address || ', ' || c.city END AS customer_address, \
     i.ticket_id, i.credits_id, \
     i.currency, i.tax_rule, i.subtotal, i.tax_base, i.tax, i.total, i.tax_invoice_number, \
     i.notes, i.return_comment, i.written_off, i.write_off_reason, i.void_reason, \
     i.drafted_by, i.edited_by, i.submitted_at, i.approved_by, i.approved_at, i.issued_on, i.sent_at, \
     i.paid_at, i.voided_at, i.pdf_sha256, i.version, i.created_at, i.updated_at";

const FROM: &str = "FROM invoices i JOIN customers c ON c.id = i.customer_id";

/// One line as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LineRow {
    #[sqlx(try_from = "String")]
    pub kind: LineKind,
    pub description: String,
    pub quantity_milli: i64,
    pub unit_price: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    pub id: String,
    pub invoice_id: String,
    pub amount: i64,
    pub proof_sha256: Option<String>,
    pub reference: String,
    #[sqlx(try_from = "String")]
    pub status: PaymentStatus,
    pub submitted_by: String,
    pub submitted_at: i64,
    pub checked_by: Option<String>,
    pub checked_at: Option<i64>,
    pub reject_reason: Option<String>,
}

const PAYMENT_COLUMNS: &str = "id, invoice_id, amount, proof_sha256, reference, status, \
     submitted_by, submitted_at, checked_by, checked_at, reject_reason";

/// A new draft, validated.
#[derive(Debug, Clone)]
pub struct NewInvoice<'a> {
    pub kind: InvoiceKind,
    pub customer_id: &'a str,
    pub ticket_id: Option<&'a str>,
    pub credits_id: Option<&'a str>,
    pub currency: &'a str,
    pub tax_rule: &'a str,
    pub notes: &'a str,
    pub tax_invoice_number: Option<&'a str>,
    pub drafted_by: &'a str,
}

pub async fn insert(tx: &mut Tx, new: &NewInvoice<'_>) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO invoices (id, kind, status, customer_id, ticket_id, credits_id, currency, \
                               tax_rule, notes, tax_invoice_number, drafted_by, created_at, updated_at) \
         VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(&id)
    .bind(new.kind.as_str())
    .bind(new.customer_id)
    .bind(new.ticket_id)
    .bind(new.credits_id)
    .bind(new.currency)
    .bind(new.tax_rule)
    .bind(new.notes)
    .bind(new.tax_invoice_number)
    .bind(new.drafted_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<InvoiceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE i.id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Reads invoice `id` and holds it until the transaction ends, so that
/// two transitions of one invoice run one after the other (SQLite's
/// `BEGIN IMMEDIATE` already does).
pub async fn lock(tx: &mut Tx, backend: Backend, id: &str) -> sqlx::Result<Option<InvoiceRow>> {
    if backend == Backend::Postgres {
        let locked: Option<(String,)> =
            sqlx::query_as("SELECT id FROM invoices WHERE id = $1 FOR NO KEY UPDATE")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    get(&mut **tx, id).await
}

/// Which invoices a list shows.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    pub kind: Option<InvoiceKind>,
    pub customer_id: Option<String>,
    /// Only invoices the customer has been sent (a customer's own list).
    pub issued_only: bool,
    /// Part of the customer's name (or of the number).
    pub search: Option<String>,
    /// Exactly this number (`INV/2026/000123`).
    pub number: Option<String>,
    /// This sequence in any series and year (`123`).
    pub sequence: Option<i64>,
    /// Created at or after, unix ms.
    pub from_ms: Option<i64>,
    /// Created before, unix ms.
    pub until_ms: Option<i64>,
    /// Ids below this one (newest first).
    pub before_id: Option<String>,
}

const ISSUED: &str = "'sent', 'payment_submitted', 'paid'";

/// Newest first, at most `limit`.
pub async fn list(
    ex: impl AnyExecutor<'_>,
    filter: &InvoiceFilter,
    limit: i64,
) -> sqlx::Result<Vec<InvoiceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} \
         WHERE ($1 IS NULL OR i.status = $1) AND ($2 IS NULL OR i.kind = $2) \
           AND ($3 IS NULL OR i.customer_id = $3) AND ($4 = 0 OR i.status IN ({ISSUED})) \
           AND ($5 IS NULL OR lower(i.number) LIKE $5 ESCAPE '\\' OR lower(c.name) LIKE $5 ESCAPE '\\') \
           AND ($6 IS NULL OR i.created_at >= $6) AND ($7 IS NULL OR i.created_at < $7) \
           AND ($8 IS NULL OR i.id < $8) AND ($10 IS NULL OR i.number = $10) \
           AND ($11 IS NULL OR i.sequence = $11) \
         ORDER BY i.id DESC LIMIT $9"
    )))
    .bind(filter.status.map(|s| s.as_str()))
    .bind(filter.kind.map(|k| k.as_str()))
    .bind(&filter.customer_id)
    .bind(i64::from(filter.issued_only))
    .bind(filter.search.as_deref().map(like_contains))
    .bind(filter.from_ms)
    .bind(filter.until_ms)
    .bind(&filter.before_id)
    .bind(limit)
    .bind(&filter.number)
    .bind(filter.sequence)
    .fetch_all(ex)
    .await
}

/// How many invoices are in `status` (the dashboard's counts).
pub async fn count_in(ex: impl AnyExecutor<'_>, status: InvoiceStatus) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM invoices WHERE status = $1")
        .bind(status.as_str())
        .fetch_one(ex)
        .await
}

pub async fn lines(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Vec<LineRow>> {
    sqlx::query_as(
        "SELECT kind, description, quantity_milli, unit_price, amount FROM invoice_lines \
         WHERE invoice_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(ex)
    .await
}

/// Replaces the lines and the totals computed from them, as `editor`.
pub async fn set_lines(
    tx: &mut Tx,
    id: &str,
    lines: &[LineRow],
    totals: &Totals,
    editor: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM invoice_lines WHERE invoice_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for (position, line) in (0_i64..).zip(lines) {
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, position, kind, description, quantity_milli, \
                                        unit_price, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(position)
        .bind(line.kind.as_str())
        .bind(&line.description)
        .bind(line.quantity_milli)
        .bind(line.unit_price)
        .bind(line.amount)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "UPDATE invoices SET subtotal = $2, tax_base = $3, tax = $4, total = $5, edited_by = $7, \
                             version = version + 1, updated_at = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(totals.subtotal)
    .bind(totals.tax_base)
    .bind(totals.tax)
    .bind(totals.total)
    .bind(now_ms())
    .bind(editor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets the draft's free fields.
pub async fn set_details(
    tx: &mut Tx,
    id: &str,
    notes: &str,
    tax_invoice_number: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE invoices SET notes = $2, tax_invoice_number = $3, version = version + 1, \
                             updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(notes)
    .bind(tax_invoice_number)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a transition writes next to the status: one timestamp column (or
/// none) and the columns it sets.
#[derive(Debug, Clone, Default)]
pub struct Stamp<'a> {
    pub submitted: bool,
    pub sent: bool,
    pub paid: bool,
    pub voided: Option<&'a str>,
    /// `Some(None)` clears the comment, `Some(Some(_))` sets it.
    pub return_comment: Option<Option<&'a str>>,
}

/// Moves invoice `id` from `from` to `to` with what `stamp` says.
pub async fn transition(
    tx: &mut Tx,
    id: &str,
    from: InvoiceStatus,
    to: InvoiceStatus,
    stamp: &Stamp<'_>,
) -> sqlx::Result<()> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE invoices SET status = $3, version = version + 1, updated_at = $4, \
             submitted_at = CASE WHEN $5 = 1 THEN $4 ELSE submitted_at END, \
             sent_at = CASE WHEN $6 = 1 THEN $4 ELSE sent_at END, \
             paid_at = CASE WHEN $7 = 1 THEN $4 WHEN $3 <> 'paid' THEN NULL ELSE paid_at END, \
             voided_at = CASE WHEN $8 IS NOT NULL THEN $4 ELSE voided_at END, \
             void_reason = COALESCE($8, void_reason), \
             return_comment = CASE WHEN $9 = 1 THEN $10 ELSE return_comment END \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .bind(i64::from(stamp.submitted))
    .bind(i64::from(stamp.sent))
    .bind(i64::from(stamp.paid))
    .bind(stamp.voided)
    .bind(i64::from(stamp.return_comment.is_some()))
    .bind(stamp.return_comment.flatten())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(sqlx::Error::Protocol(format!(
            "invoice {id} was not {from} when moved to {to}"
        )));
    }
    Ok(())
}

/// Takes the next number of `series` in `year`: the counter row is bumped
/// in the caller's transaction, so a rollback gives the number back and a
/// concurrent approval waits for this one (Postgres row lock; SQLite's one
/// writer).
pub async fn next_sequence(tx: &mut Tx, series: &str, year: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO invoice_counters (series, year, last) VALUES ($1, $2, 1) \
         ON CONFLICT (series, year) DO UPDATE SET last = invoice_counters.last + 1 \
         RETURNING last",
    )
    .bind(series)
    .bind(year)
    .fetch_one(&mut **tx)
    .await
}

/// Records the approval and the number it was given.
#[allow(clippy::too_many_arguments)]
pub async fn approve(
    tx: &mut Tx,
    id: &str,
    approver: &str,
    series: &str,
    year: i64,
    sequence: i64,
    number: &str,
    issued_on: &str,
) -> sqlx::Result<()> {
    transition(
        tx,
        id,
        InvoiceStatus::PendingApproval,
        InvoiceStatus::Approved,
        &Stamp::default(),
    )
    .await?;
    sqlx::query(
        "UPDATE invoices SET approved_by = $2, approved_at = $3, series = $4, year = $5, \
                             sequence = $6, number = $7, issued_on = $8, return_comment = NULL \
         WHERE id = $1",
    )
    .bind(id)
    .bind(approver)
    .bind(now_ms())
    .bind(series)
    .bind(year)
    .bind(sequence)
    .bind(number)
    .bind(issued_on)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records the PDF rendered when the invoice was sent.
pub async fn set_pdf(tx: &mut Tx, id: &str, sha256: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE invoices SET pdf_sha256 = $2 WHERE id = $1 AND pdf_sha256 IS NULL")
        .bind(id)
        .bind(sha256)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn write_off(tx: &mut Tx, id: &str, amount: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE invoices SET written_off = written_off + $2, write_off_reason = $3, \
                             version = version + 1, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(amount)
    .bind(reason)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Links the visits an invoice bills; fails on a unique violation when
/// one is already on another live invoice.
pub async fn link_visits(tx: &mut Tx, id: &str, visit_ids: &[String]) -> sqlx::Result<()> {
    for visit in visit_ids {
        sqlx::query("INSERT INTO invoice_visits (invoice_id, visit_id) VALUES ($1, $2)")
            .bind(id)
            .bind(visit)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Frees the visits of a voided invoice for another.
pub async fn release_visits(tx: &mut Tx, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE invoice_visits SET live = 0 WHERE invoice_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn visit_ids(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT visit_id FROM invoice_visits WHERE invoice_id = $1 ORDER BY visit_id",
    )
    .bind(id)
    .fetch_all(ex)
    .await
}

/// The live invoice that bills `visit_id`, if any.
pub async fn invoice_of_visit(
    ex: impl AnyExecutor<'_>,
    visit_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT invoice_id FROM invoice_visits WHERE visit_id = $1 AND live = 1")
        .bind(visit_id)
        .fetch_optional(ex)
        .await
}

/// Credit notes of invoice `id` that are not void, with their totals.
pub async fn credit_notes(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Vec<InvoiceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE i.credits_id = $1 AND i.status <> 'void' ORDER BY i.id"
    )))
    .bind(id)
    .fetch_all(ex)
    .await
}

pub async fn insert_payment(
    tx: &mut Tx,
    id: Option<&str>,
    invoice_id: &str,
    amount: i64,
    proof_sha256: Option<&str>,
    reference: &str,
    submitted_by: &str,
) -> sqlx::Result<PaymentRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO invoice_payments (id, invoice_id, amount, proof_sha256, reference, status, \
                                       submitted_by, submitted_at) \
         VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $7) RETURNING {PAYMENT_COLUMNS}"
    )))
    .bind(id.map_or_else(new_id, str::to_owned))
    .bind(invoice_id)
    .bind(amount)
    .bind(proof_sha256)
    .bind(reference)
    .bind(submitted_by)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await
}

pub async fn payment(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PAYMENT_COLUMNS} FROM invoice_payments WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn payments(ex: impl AnyExecutor<'_>, invoice_id: &str) -> sqlx::Result<Vec<PaymentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PAYMENT_COLUMNS} FROM invoice_payments WHERE invoice_id = $1 \
         ORDER BY submitted_at, id"
    )))
    .bind(invoice_id)
    .fetch_all(ex)
    .await
}

/// Records CS's check of a submitted payment.
pub async fn check_payment(
    tx: &mut Tx,
    id: &str,
    to: PaymentStatus,
    checked_by: &str,
    reject_reason: Option<&str>,
) -> sqlx::Result<()> {
    let done = sqlx::query(
        "UPDATE invoice_payments SET status = $2, checked_by = $3, checked_at = $4, \
                                     reject_reason = $5 \
         WHERE id = $1 AND status = 'submitted'",
    )
    .bind(id)
    .bind(to.as_str())
    .bind(checked_by)
    .bind(now_ms())
    .bind(reject_reason)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(sqlx::Error::Protocol(format!(
            "payment {id} was already checked"
        )));
    }
    Ok(())
}

/// A done visit no live invoice bills yet.
#[derive(Debug, Clone, FromRow)]
pub struct UninvoicedVisit {
    pub id: String,
    pub title: String,
    pub customer_id: String,
    pub customer_name: String,
    pub completed_at: Option<i64>,
}

/// Done visits waiting for an invoice, most recently done first.
pub async fn uninvoiced_visits(
    ex: impl AnyExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<UninvoicedVisit>> {
    sqlx::query_as(
        "SELECT v.id, v.title, v.customer_id, c.name AS customer_name, v.completed_at \
         FROM visits v JOIN customers c ON c.id = v.customer_id \
         WHERE v.status = 'done' \
           AND NOT EXISTS (SELECT 1 FROM invoice_visits iv WHERE iv.visit_id = v.id AND iv.live = 1) \
         ORDER BY v.completed_at DESC, v.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ex)
    .await
}
