-- Photos: content-addressed blobs (the bytes live in object storage, named by
-- their SHA-256), resumable uploads (tus 1.0 semantics) with their chunks, who
-- uploaded which bytes, and what refers to a blob (for access and for garbage
-- collection). Portable types only (see server/src/db/mod.rs).

-- One row per distinct content. `state`: 'storing' while the bytes are being
-- written, 'stored' once they are in the object store, 'deleting' while the
-- garbage collector removes them (so an upload of the same bytes waits).
CREATE TABLE blobs (
    sha256             TEXT PRIMARY KEY,
    byte_size          BIGINT NOT NULL,
    content_type       TEXT NOT NULL
                       CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    width              BIGINT NOT NULL,
    height             BIGINT NOT NULL,
    -- The thumbnail's blob: claimed by the uploading device or made by the server.
    thumbnail_sha256   TEXT NULL,
    state              TEXT NOT NULL CHECK (state IN ('storing', 'stored', 'deleting')),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    -- Set by the collector when it first sees nothing refer to the blob.
    unreferenced_since BIGINT NULL
);
CREATE INDEX blobs_thumbnail ON blobs (thumbnail_sha256);
CREATE INDEX blobs_gc ON blobs (state, unreferenced_since);

-- Accounts that proved they hold the bytes (by uploading them).
CREATE TABLE blob_uploaders (
    sha256     TEXT NOT NULL REFERENCES blobs (sha256) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sha256, user_id)
);

-- What a photo belongs to. Every row is a reference that keeps the blob alive;
-- 'user' rows also let that account download it. Tickets, visits and check-ins
-- are recorded here when their documents take the photo.
CREATE TABLE photo_owners (
    sha256     TEXT NOT NULL,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'ticket', 'visit', 'check_in')),
    owner_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sha256, owner_kind, owner_id)
);
CREATE INDEX photo_owners_owner ON photo_owners (owner_kind, owner_id);

-- A resumable upload. Only its creator may see or continue it.
CREATE TABLE uploads (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    sha256           TEXT NOT NULL,
    thumbnail_sha256 TEXT NULL,
    upload_length    BIGINT NOT NULL,
    upload_offset    BIGINT NOT NULL DEFAULT 0,
    -- The Upload-Metadata header as sent, echoed on HEAD.
    metadata         TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    completed_at     BIGINT NULL,
    CHECK (upload_offset >= 0 AND upload_offset <= upload_length)
);
CREATE INDEX uploads_sha256 ON uploads (sha256);
CREATE INDEX uploads_updated ON uploads (updated_at);

-- The chunks of an upload, in order; `part` names the object under uploads/<id>/.
CREATE TABLE upload_parts (
    upload_id    TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    start_offset BIGINT NOT NULL,
    byte_size    BIGINT NOT NULL,
    part         TEXT NOT NULL,
    PRIMARY KEY (upload_id, start_offset)
);
