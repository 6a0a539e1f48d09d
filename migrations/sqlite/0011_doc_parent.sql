-- The document a document belongs to (a photo's ticket or visit) and who
-- made it (a photo's author). A technician who joins a visit's crew later (a
-- replacement from the emergency pool) is given the visit's earlier photos
-- through them, and one who leaves loses the photos others took
-- (server/src/sync/project.rs). Photos stored before this migration have no
-- parent and stay with the readers they had.
ALTER TABLE sync_documents ADD COLUMN parent_id TEXT NULL;
ALTER TABLE sync_documents ADD COLUMN author_id TEXT NULL;
CREATE INDEX sync_documents_parent ON sync_documents (parent_id) WHERE parent_id IS NOT NULL;
