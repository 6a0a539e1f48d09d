-- no-transaction
-- Journeys (server/src/journeys): versioned intake forms customers fill in
-- offline; a submission opens a ticket routed by the end it reaches.
-- sync_documents learns the 'journey' kind: SQLite cannot change a CHECK, so
-- the table is rebuilt as in 0018 (foreign keys off).

PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE journeys (
    id         TEXT PRIMARY KEY,
    -- The latest version's title, in Bahasa Indonesia and English, for lists.
    title_id   TEXT NOT NULL,
    title_en   TEXT NOT NULL,
    created_by TEXT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A version is a draft (at most one per journey: the one being edited), then
-- published (at most one: the one customers get), then retired. A published
-- version never changes; its document (doc_id) is written once and dropped
-- from customers' phones when the version is retired.
CREATE TABLE journey_versions (
    journey_id   TEXT NOT NULL REFERENCES journeys (id),
    version      BIGINT NOT NULL CHECK (version >= 1),
    status       TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    definition   TEXT NOT NULL,
    doc_id       TEXT NULL,
    created_by   TEXT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    published_by TEXT NULL,
    published_at BIGINT NULL,
    retired_at   BIGINT NULL,
    PRIMARY KEY (journey_id, version),
    CHECK (status = 'draft' OR published_at IS NOT NULL),
    CHECK (status <> 'retired' OR retired_at IS NOT NULL)
);
CREATE UNIQUE INDEX journey_versions_one_draft ON journey_versions (journey_id)
    WHERE status = 'draft';
CREATE UNIQUE INDEX journey_versions_one_published ON journey_versions (journey_id)
    WHERE status = 'published';

-- The answers a ticket was opened with, pinned to the version answered.
CREATE TABLE ticket_journeys (
    ticket_id     TEXT PRIMARY KEY REFERENCES tickets (id),
    journey_id    TEXT NOT NULL,
    version       BIGINT NOT NULL,
    end_id        TEXT NOT NULL,
    answers       TEXT NOT NULL,
    propose_visit BIGINT NOT NULL DEFAULT 0,
    started_at    BIGINT NOT NULL,
    submitted_at  BIGINT NOT NULL,
    FOREIGN KEY (journey_id, version) REFERENCES journey_versions (journey_id, version)
);
CREATE INDEX ticket_journeys_journey ON ticket_journeys (journey_id, version);
CREATE TABLE sync_documents_rebuilt (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL
                  CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes', 'invoice', 'journey')),
    customer_id   TEXT NULL,
    department_id TEXT NULL,
    in_pool       BIGINT NOT NULL DEFAULT 0,
    deleted       BIGINT NOT NULL DEFAULT 0,
    snapshot      BLOB NOT NULL,
    heads         TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    full_from_seq BIGINT NOT NULL,
    change_count  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    pool_exit_seq BIGINT NOT NULL DEFAULT 0,
    parent_id     TEXT NULL,
    author_id     TEXT NULL
);
INSERT INTO sync_documents_rebuilt
SELECT id, kind, customer_id, department_id, in_pool, deleted, snapshot, heads, seq,
       full_from_seq, change_count, created_at, updated_at, pool_exit_seq, parent_id, author_id
FROM sync_documents;
DROP TABLE sync_documents;
ALTER TABLE sync_documents_rebuilt RENAME TO sync_documents;
CREATE INDEX sync_documents_seq ON sync_documents (seq);
CREATE INDEX sync_documents_customer ON sync_documents (customer_id, seq);
CREATE INDEX sync_documents_department ON sync_documents (department_id, seq);
CREATE INDEX sync_documents_parent ON sync_documents (parent_id) WHERE parent_id IS NOT NULL;
COMMIT;
PRAGMA foreign_keys = ON;
