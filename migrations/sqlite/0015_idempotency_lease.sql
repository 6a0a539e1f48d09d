-- Idempotency keys as short leases (server/src/http/idempotency.rs): a
-- request holds its key for a few seconds under a random token, and the
-- response is stored by the write's own transaction, which checks the token.
-- A crash before commit frees the key when the lease ends; a crash after
-- commit leaves the stored response to replay.
ALTER TABLE idempotency_keys ADD COLUMN lease_token TEXT NULL;
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT NULL;
-- Keys left "in progress" by the old scheme are free at once.
UPDATE idempotency_keys SET lease_until = 0 WHERE status IS NULL;
-- Authentication endpoints no longer take keys, and their stored responses
-- held tokens in plaintext.
DELETE FROM idempotency_keys WHERE scope = 'anonymous';
