-- The server's document store for the sync engine (see server/src/sync/mod.rs).

-- The feed position. Every stored change takes the next value by updating this
-- one row inside its own transaction, so positions are handed out in commit
-- order: once position n is visible, every position below n is settled.
CREATE TABLE sync_counter (
    id    BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO sync_counter (id, value) VALUES (1, 0);

-- One Automerge document: a compacted snapshot plus the change runs stored
-- since (sync_changes), its scope keys, and feed positions.
CREATE TABLE sync_documents (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes')),
    customer_id   TEXT NULL,
    department_id TEXT NULL,
    in_pool       BIGINT NOT NULL DEFAULT 0,
    deleted       BIGINT NOT NULL DEFAULT 0,
    snapshot      BYTEA NOT NULL,
    heads         TEXT NOT NULL,
    -- Feed position of the newest change.
    seq           BIGINT NOT NULL,
    -- Readers whose cursor is below this need the whole document (it was
    -- created, compacted or changed scope after their cursor).
    full_from_seq BIGINT NOT NULL,
    change_count  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX sync_documents_seq ON sync_documents (seq);
CREATE INDEX sync_documents_customer ON sync_documents (customer_id, seq);
CREATE INDEX sync_documents_department ON sync_documents (department_id, seq);

-- Change runs stored after the snapshot, each at its feed position.
CREATE TABLE sync_changes (
    doc_id TEXT NOT NULL REFERENCES sync_documents (id) ON DELETE CASCADE,
    seq    BIGINT NOT NULL,
    bytes  BYTEA NOT NULL,
    PRIMARY KEY (doc_id, seq)
);

-- Documents a particular user may read beyond their role's scope
-- (a technician's assigned visits, their check-ins and photos).
CREATE TABLE sync_doc_access (
    doc_id      TEXT NOT NULL REFERENCES sync_documents (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    granted_seq BIGINT NOT NULL,
    PRIMARY KEY (doc_id, user_id)
);
CREATE INDEX sync_doc_access_user ON sync_doc_access (user_id);

-- Documents that left a user's scope, so their devices are told to drop them.
CREATE TABLE sync_drops (
    user_id TEXT NOT NULL,
    doc_id  TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (user_id, seq, doc_id)
);

-- Every command a device sent, with its result: executed at most once.
CREATE TABLE sync_commands (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    device_seq  BIGINT NOT NULL,
    name        TEXT NOT NULL,
    accepted    BIGINT NOT NULL,
    result      TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX sync_commands_device ON sync_commands (device_id, device_seq);
