-- Images a customer sends on WhatsApp are kept as attachments of their
-- conversation (helpdesk::whatsapp::media): one image per message, its
-- bytes in the photo store, the conversation its owner. The server fetched
-- them from the Cloud API itself, so the ownership row has no uploader
-- (attached_by NULL), which counts only for a conversation.
ALTER TABLE chat_messages ADD COLUMN attachment_sha256 TEXT NULL;

ALTER TABLE photo_owners DROP CONSTRAINT photo_owners_owner_kind_check;
ALTER TABLE photo_owners ADD CONSTRAINT photo_owners_owner_kind_check
    CHECK (owner_kind IN ('user', 'ticket', 'visit', 'check_in', 'invoice', 'conversation'));
