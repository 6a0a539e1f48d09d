-- Sign-in throttling by growing delays instead of a lock-out window
-- (server/src/auth/throttle.rs): each key keeps its failures, the time of
-- its last attempt and the earliest time it may try again.
ALTER TABLE login_failures RENAME COLUMN window_start TO last_at;
ALTER TABLE login_failures ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;
