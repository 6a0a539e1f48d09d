-- no-transaction
-- Phones proved by a one-time code (server/src/accounts/phone_codes.rs).
--
-- A customer's phone is "verified" when CS typed it, when it sent us a
-- WhatsApp message, or when its owner proved it with a code. Only verified
-- phones are unique and only they link an app account to an existing
-- customer; an app registration that could not prove its phone gets a
-- record of its own (phone_verified = 0) that CS can merge.
--
-- SQLite cannot drop the column's UNIQUE constraint, so the table is
-- rebuilt (the documented procedure: foreign keys off, copy, swap, check),
-- in one explicit transaction.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE customers_rebuilt (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    phone          TEXT NOT NULL,
    email          TEXT NULL,
    address        TEXT NOT NULL DEFAULT '',
    city           TEXT NOT NULL DEFAULT '',
    lat            DOUBLE PRECISION NULL,
    lon            DOUBLE PRECISION NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    created_via    TEXT NOT NULL CHECK (created_via IN ('manual', 'whatsapp', 'app')),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    deactivated_at BIGINT NULL,
    phone_verified BIGINT NOT NULL DEFAULT 1 CHECK (phone_verified IN (0, 1)),
    merged_into    TEXT NULL REFERENCES customers (id),
    CHECK ((lat IS NULL) = (lon IS NULL))
);
INSERT INTO customers_rebuilt (id, name, phone, email, address, city, lat, lon, status,
                               created_via, created_at, updated_at, deactivated_at)
SELECT id, name, phone, email, address, city, lat, lon, status,
       created_via, created_at, updated_at, deactivated_at
FROM customers;
DROP TABLE customers;
ALTER TABLE customers_rebuilt RENAME TO customers;
CREATE INDEX customers_name_lower ON customers (lower(name));
CREATE INDEX customers_status ON customers (status, id);
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
COMMIT;
PRAGMA foreign_keys = ON;
