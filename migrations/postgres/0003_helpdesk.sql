-- Help desk: tickets (with SLA state, messages, attachments, assignment history),
-- round-robin state, live chat, and the WhatsApp inbound log and outbound queue.
-- Portable types only (see server/src/db/mod.rs); full-text search is the one
-- backend-specific piece (FTS5 here, tsvector + GIN on Postgres).

-- Sequential ticket numbers: one row, bumped inside the creating transaction.
CREATE TABLE ticket_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO ticket_counters (name, value) VALUES ('ticket', 0);

CREATE TABLE tickets (
    id                     TEXT PRIMARY KEY,
    seq                    BIGINT NOT NULL UNIQUE,
    number                 TEXT NOT NULL UNIQUE,
    subject                TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    category               TEXT NOT NULL,
    priority               TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status                 TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    department_id          TEXT NOT NULL REFERENCES departments (id),
    customer_id            TEXT NOT NULL REFERENCES customers (id),
    -- The customer's name when the ticket was opened (searched with the subject).
    customer_name          TEXT NOT NULL,
    assignee_id            TEXT NULL REFERENCES users (id),
    created_by             TEXT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    first_response_at      BIGINT NULL,
    resolved_at            BIGINT NULL,
    closed_at              BIGINT NULL,
    -- SLA: set while waiting on the customer (the clocks are paused).
    waiting_since          BIGINT NULL,
    response_due_at        BIGINT NULL,
    resolution_due_at      BIGINT NULL,
    response_breached_at   BIGINT NULL,
    resolution_breached_at BIGINT NULL,
    escalated_at           BIGINT NULL
);
CREATE INDEX tickets_department ON tickets (department_id, id);
CREATE INDEX tickets_customer ON tickets (customer_id, id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, id);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_unassigned ON tickets (department_id, created_at) WHERE assignee_id IS NULL;
CREATE INDEX tickets_response_due ON tickets (response_due_at) WHERE response_breached_at IS NULL;
CREATE INDEX tickets_resolution_due ON tickets (resolution_due_at) WHERE resolution_breached_at IS NULL;

-- Closed intervals during which the ticket waited on the customer.
CREATE TABLE ticket_sla_pauses (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, started_at)
);

CREATE TABLE ticket_messages (
    id         TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id  TEXT NULL REFERENCES users (id),
    author_kind TEXT NOT NULL CHECK (author_kind IN ('staff', 'customer', 'system')),
    body       TEXT NOT NULL,
    internal   BIGINT NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- References to photo content (SHA-256) filled by the photo upload work.
CREATE TABLE ticket_attachments (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    photo_hash TEXT NOT NULL,
    added_by   TEXT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, photo_hash)
);

-- Why each assignment happened (round-robin or manual).
CREATE TABLE ticket_assignments (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    assignee_id TEXT NOT NULL REFERENCES users (id),
    actor_id    TEXT NULL,
    method      TEXT NOT NULL CHECK (method IN ('round_robin', 'manual')),
    reason      TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX ticket_assignments_ticket ON ticket_assignments (ticket_id, at);

-- Round-robin state per agent: the least recently assigned available agent goes next.
-- Shift in minutes of the day (calendar time zone); NULL = any time.
CREATE TABLE agent_rotation (
    user_id          TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_assigned_at BIGINT NOT NULL DEFAULT 0,
    assigned_count   BIGINT NOT NULL DEFAULT 0,
    shift_start_min  BIGINT NULL,
    shift_end_min    BIGINT NULL
);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    assignee_id     TEXT NULL REFERENCES users (id),
    channel         TEXT NOT NULL CHECK (channel IN ('app', 'whatsapp')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL
);
CREATE INDEX conversations_customer ON conversations (customer_id, last_message_at);
CREATE INDEX conversations_last ON conversations (last_message_at, id);

CREATE TABLE chat_messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id       TEXT NULL REFERENCES users (id),
    sender_kind     TEXT NOT NULL CHECK (sender_kind IN ('staff', 'customer', 'system')),
    body            TEXT NOT NULL,
    client_id       TEXT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, client_id)
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation_id, id);

-- How far each reader has read: messages with a larger id are unread.
CREATE TABLE chat_reads (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_id    TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- Every WhatsApp message id seen once (Meta redelivers).
CREATE TABLE whatsapp_inbound (
    message_id  TEXT PRIMARY KEY,
    from_phone  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

-- Outbound WhatsApp messages: pending -> sending (leased) -> sent | failed.
CREATE TABLE whatsapp_outbox (
    id              TEXT PRIMARY KEY,
    to_phone        TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NULL,
    provider_id     TEXT NULL,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT NULL
);
CREATE INDEX whatsapp_outbox_due ON whatsapp_outbox (status, next_attempt_at);

-- Full-text search (db::tickets::search_condition): a generated tsvector in one
-- multi-column GIN index with the usual filters, so a searched, filtered list
-- intersects posting lists instead of fetching every row that matches a word.
-- btree_gin is a trusted extension (the database owner may create it); it goes
-- to `public` so that every schema's default operator classes find it, under an
-- advisory lock so that concurrent migrations of several schemas do not race.
SELECT pg_advisory_xact_lock(7204110003);
CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public;
ALTER TABLE tickets ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', subject || ' ' || customer_name)) STORED;
CREATE INDEX tickets_search ON tickets USING GIN (search, department_id, status, priority, category);
