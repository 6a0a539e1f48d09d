-- When a document last left the technician pool (feed position), so that
-- technicians' devices learn to drop it without a row per technician.
ALTER TABLE sync_documents ADD COLUMN pool_exit_seq BIGINT NOT NULL DEFAULT 0;
