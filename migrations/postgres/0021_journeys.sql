-- Journeys (server/src/journeys): versioned intake forms customers fill in
-- offline; a submission opens a ticket routed by the end it reaches.

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

ALTER TABLE sync_documents DROP CONSTRAINT sync_documents_kind_check;
ALTER TABLE sync_documents ADD CONSTRAINT sync_documents_kind_check
    CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes', 'invoice', 'journey'));
