-- Images a customer sends on WhatsApp are kept as attachments of their
-- conversation (helpdesk::whatsapp::media): one image per message, its
-- bytes in the photo store, the conversation its owner. The server fetched
-- them from the Cloud API itself, so the ownership row has no uploader
-- (attached_by NULL), which counts only for a conversation.
ALTER TABLE chat_messages ADD COLUMN attachment_sha256 TEXT NULL;

-- SQLite cannot change a CHECK: photo_owners is rebuilt (nothing refers to it).
CREATE TABLE photo_owners_rebuilt (
    sha256      TEXT NOT NULL,
    owner_kind  TEXT NOT NULL
                CHECK (owner_kind IN ('user', 'ticket', 'visit', 'check_in', 'invoice', 'conversation')),
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
