-- no-transaction
-- Invoices and credit notes (server/src/invoices): seed 003's FIN module.
--
-- Money is BIGINT minor units next to a currency code (IDR: whole rupiah);
-- quantities are thousandths. Totals are computed by the server from the
-- lines and stored, so a list never recomputes them.

PRAGMA foreign_keys = OFF;
BEGIN;

-- Gapless numbering: one row per series and year (Asia/Jakarta), bumped in
-- the transaction that approves, so a rolled-back approval gives its number
-- back and two approvals never share one.
CREATE TABLE invoice_counters (
    series TEXT NOT NULL,
    year   BIGINT NOT NULL,
    last   BIGINT NOT NULL,
    PRIMARY KEY (series, year)
);

CREATE TABLE invoices (
    id                 TEXT PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    status             TEXT NOT NULL CHECK (status IN ('draft', 'pending_approval', 'approved',
                                                       'sent', 'payment_submitted', 'paid', 'void')),
    -- Assigned at approval, never at draft; kept by a voided invoice.
    number             TEXT NULL UNIQUE,
    series             TEXT NULL,
    year               BIGINT NULL,
    sequence           BIGINT NULL,
    customer_id        TEXT NOT NULL REFERENCES customers (id),
    ticket_id          TEXT NULL REFERENCES tickets (id),
    -- A credit note: the invoice it corrects.
    credits_id         TEXT NULL REFERENCES invoices (id),
    currency           TEXT NOT NULL CHECK (currency IN ('IDR')),
    tax_rule           TEXT NOT NULL CHECK (tax_rule IN ('ppn_12_dpp_11_12', 'none')),
    subtotal           BIGINT NOT NULL DEFAULT 0,
    tax_base           BIGINT NOT NULL DEFAULT 0,
    tax                BIGINT NOT NULL DEFAULT 0,
    total              BIGINT NOT NULL DEFAULT 0,
    -- The tax office's own 17-digit tax-invoice number, issued outside fieldops.
    tax_invoice_number TEXT NULL,
    notes              TEXT NOT NULL DEFAULT '',
    -- Sales' comment when they returned it to draft.
    return_comment     TEXT NULL,
    written_off        BIGINT NOT NULL DEFAULT 0,
    write_off_reason   TEXT NULL,
    void_reason        TEXT NULL,
    drafted_by         TEXT NOT NULL REFERENCES users (id),
    -- Who last changed the lines: like the drafter, never the approver.
    edited_by          TEXT NULL REFERENCES users (id),
    submitted_at       BIGINT NULL,
    approved_by        TEXT NULL REFERENCES users (id),
    approved_at        BIGINT NULL,
    -- The approval day in the sites' calendar, YYYY-MM-DD: the invoice date.
    issued_on          TEXT NULL,
    sent_at            BIGINT NULL,
    paid_at            BIGINT NULL,
    voided_at          BIGINT NULL,
    -- The PDF rendered when it was sent (a blob, never rendered again).
    pdf_sha256         TEXT NULL,
    -- Bumped by every change; a client's edit names the version it saw.
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    CHECK ((number IS NULL) = (sequence IS NULL)),
    CHECK ((kind = 'credit_note') = (credits_id IS NOT NULL)),
    UNIQUE (series, year, sequence)
);
CREATE INDEX invoices_status ON invoices (status, id);
CREATE INDEX invoices_customer ON invoices (customer_id, id);
CREATE INDEX invoices_credits ON invoices (credits_id);
-- A search for a number's sequence alone (`123`).
CREATE INDEX invoices_sequence ON invoices (sequence);

CREATE TABLE invoice_lines (
    invoice_id     TEXT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position       BIGINT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('labour', 'material', 'travel', 'other')),
    description    TEXT NOT NULL,
    quantity_milli BIGINT NOT NULL CHECK (quantity_milli > 0),
    unit_price     BIGINT NOT NULL CHECK (unit_price >= 0),
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (invoice_id, position)
);

-- The done visits an invoice bills. A visit is on at most one live
-- (not void) invoice: the partial unique index holds that on both backends
-- even when two drafts race.
CREATE TABLE invoice_visits (
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    visit_id   TEXT NOT NULL REFERENCES visits (id),
    live       BIGINT NOT NULL DEFAULT 1 CHECK (live IN (0, 1)),
    PRIMARY KEY (invoice_id, visit_id)
);
CREATE UNIQUE INDEX invoice_visits_live ON invoice_visits (visit_id) WHERE live = 1;

-- Money the customer says they paid, with proof; CS verifies or rejects it.
CREATE TABLE invoice_payments (
    id            TEXT PRIMARY KEY,
    invoice_id    TEXT NOT NULL REFERENCES invoices (id),
    amount        BIGINT NOT NULL CHECK (amount > 0),
    proof_sha256  TEXT NULL,
    reference     TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('submitted', 'verified', 'rejected')),
    submitted_by  TEXT NOT NULL REFERENCES users (id),
    submitted_at  BIGINT NOT NULL,
    checked_by    TEXT NULL REFERENCES users (id),
    checked_at    BIGINT NULL,
    reject_reason TEXT NULL
);
CREATE INDEX invoice_payments_invoice ON invoice_payments (invoice_id, submitted_at);

-- A proof of payment is a photo that belongs to its invoice. SQLite cannot
-- change a CHECK, so photo_owners is rebuilt (nothing refers to it).
CREATE TABLE photo_owners_rebuilt (
    sha256      TEXT NOT NULL,
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'ticket', 'visit', 'check_in', 'invoice')),
    owner_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    attached_by TEXT NULL,
    PRIMARY KEY (sha256, owner_kind, owner_id)
);
INSERT INTO photo_owners_rebuilt (sha256, owner_kind, owner_id, created_at, attached_by)
SELECT sha256, owner_kind, owner_id, created_at, attached_by FROM photo_owners;
DROP TABLE photo_owners;
ALTER TABLE photo_owners_rebuilt RENAME TO photo_owners;
CREATE INDEX photo_owners_owner ON photo_owners (owner_kind, owner_id);

-- Invoice PDFs are blobs too. SQLite cannot change a CHECK: the table is
-- rebuilt (foreign keys off above; blob_uploaders refers to it).
CREATE TABLE blobs_rebuilt (
    sha256             TEXT PRIMARY KEY,
    byte_size          BIGINT NOT NULL,
    content_type       TEXT NOT NULL
                       CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp', 'application/pdf')),
    width              BIGINT NOT NULL,
    height             BIGINT NOT NULL,
    thumbnail_sha256   TEXT NULL,
    state              TEXT NOT NULL CHECK (state IN ('storing', 'stored', 'deleting')),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    unreferenced_since BIGINT NULL
);
INSERT INTO blobs_rebuilt SELECT sha256, byte_size, content_type, width, height, thumbnail_sha256,
                                 state, created_at, updated_at, unreferenced_since FROM blobs;
DROP TABLE blobs;
ALTER TABLE blobs_rebuilt RENAME TO blobs;
CREATE INDEX blobs_thumbnail ON blobs (thumbnail_sha256);
CREATE INDEX blobs_gc ON blobs (state, unreferenced_since);
COMMIT;
PRAGMA foreign_keys = ON;
