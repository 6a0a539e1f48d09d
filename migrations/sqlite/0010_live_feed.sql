-- The live feed reads every drop recorded in a range of feed positions, for
-- all users at once (server/src/sync/live.rs).
CREATE INDEX sync_drops_seq ON sync_drops (seq);
