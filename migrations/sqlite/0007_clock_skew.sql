-- Estimated device clock skew (server time minus device time, milliseconds),
-- per device session and recorded with each check-in or check-out made
-- through sync, so CS can read a device time correctly.
ALTER TABLE device_sessions ADD COLUMN clock_skew_ms BIGINT NULL;
ALTER TABLE attendance ADD COLUMN clock_skew_ms BIGINT NULL;
