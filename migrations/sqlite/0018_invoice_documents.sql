-- no-transaction
-- Invoices become sync documents on the customer's phone
-- (server/src/sync/invoices.rs). SQLite cannot change a CHECK: the table is
-- rebuilt (foreign keys off; sync_changes and sync_doc_access refer to it).

PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE sync_documents_rebuilt (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL
                  CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes', 'invoice')),
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
