-- Phones proved by a one-time code (server/src/accounts/phone_codes.rs).
--
-- A customer's phone is "verified" when CS typed it, when it sent us a
-- WhatsApp message, or when its owner proved it with a code. Only verified
-- phones are unique and only they link an app account to an existing
-- customer; an app registration that could not prove its phone gets a
-- record of its own (phone_verified = 0) that CS can merge.
ALTER TABLE customers ADD COLUMN phone_verified BIGINT NOT NULL DEFAULT 1
    CHECK (phone_verified IN (0, 1));
ALTER TABLE customers ADD COLUMN merged_into TEXT NULL REFERENCES customers (id);
ALTER TABLE customers DROP CONSTRAINT customers_phone_key;
CREATE UNIQUE INDEX customers_verified_phone ON customers (phone) WHERE phone_verified = 1;
CREATE INDEX customers_phone ON customers (phone);

CREATE TABLE phone_codes (
    id             TEXT PRIMARY KEY,
    phone          TEXT NOT NULL,
    -- HMAC-SHA256 of the code under a server secret: a copy of the database
    -- does not give the codes away.
    code_hash      TEXT NOT NULL,
    -- The client address that asked (throttle key), if known.
    requested_from TEXT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    used_at        BIGINT NULL
);
CREATE INDEX phone_codes_phone ON phone_codes (phone, created_at);
CREATE INDEX phone_codes_from ON phone_codes (requested_from, created_at);

-- Template messages (sent outside the 24-hour window): the template's name,
-- language and parameters as JSON; `body` keeps a readable rendition.
-- Secret parameters (codes) are blanked once the message is sent or failed.
ALTER TABLE whatsapp_outbox ADD COLUMN template TEXT NULL;
ALTER TABLE whatsapp_outbox ADD COLUMN secret BIGINT NOT NULL DEFAULT 0;
