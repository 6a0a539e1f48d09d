-- Who may read a photo's bytes is decided by proof of possession: an account
-- that uploaded the bytes, or whoever may see a ticket or visit the photo was
-- attached to by such an account (server/src/photos.rs, `may_read`).
--
-- `attached_by`: the account on whose word a photo was recorded as a ticket's
-- or visit's (a photo document's author). The ownership grants access only
-- once that account has uploaded the bytes, so a document naming someone
-- else's hash keeps the blob alive but shows it to nobody. Rows from before
-- this migration are attributed to the author of a photo document of the
-- same owner who uploaded the bytes, or to whoever listed the photo on the
-- ticket and uploaded it; rows nobody can be found for grant nothing.
ALTER TABLE photo_owners ADD COLUMN attached_by TEXT NULL;
UPDATE photo_owners SET attached_by = COALESCE(
    (SELECT d.author_id FROM sync_documents d
       JOIN blob_uploaders u ON u.user_id = d.author_id AND u.sha256 = photo_owners.sha256
      WHERE d.kind = 'photo' AND d.parent_id = photo_owners.owner_id
      ORDER BY d.created_at LIMIT 1),
    (SELECT a.added_by FROM ticket_attachments a
       JOIN blob_uploaders u ON u.user_id = a.added_by AND u.sha256 = photo_owners.sha256
      WHERE photo_owners.owner_kind = 'ticket' AND a.ticket_id = photo_owners.owner_id
        AND a.photo_hash = photo_owners.sha256))
WHERE owner_kind <> 'user';

-- A photo's thumbnail was whatever its first uploader claimed, so a claim
-- could point at anyone's photo. A thumbnail now counts only when one account
-- uploaded both files (or the server made it); claims from before this
-- migration that no single account backs are forgotten, and the server makes
-- those thumbnails again on first request.
UPDATE blobs SET thumbnail_sha256 = NULL
WHERE thumbnail_sha256 IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM blob_uploaders p
                    JOIN blob_uploaders t ON t.user_id = p.user_id
                   WHERE p.sha256 = blobs.sha256 AND t.sha256 = blobs.thumbnail_sha256);
