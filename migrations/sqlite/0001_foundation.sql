-- Foundation: identity, departments, customers, sessions, idempotency, audit.
-- Portable types only (see server/src/db/mod.rs): TEXT ids (UUIDv7), BIGINT unix
-- milliseconds (UTC), DOUBLE PRECISION coordinates, TEXT enums with CHECKs.

CREATE TABLE departments (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    lead_user_id TEXT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE customers (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    phone          TEXT NOT NULL UNIQUE,
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
    CHECK ((lat IS NULL) = (lon IS NULL))
);
CREATE INDEX customers_name_lower ON customers (lower(name));
CREATE INDEX customers_status ON customers (status, id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    phone         TEXT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'cs', 'sales', 'technician', 'customer')),
    password_hash TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    presence      TEXT NOT NULL DEFAULT 'offline'
                  CHECK (presence IN ('available', 'busy', 'away', 'offline')),
    customer_id   TEXT NULL UNIQUE REFERENCES customers (id),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT NULL
);
CREATE INDEX users_role ON users (role, id);

CREATE TABLE department_members (
    department_id TEXT NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (department_id, user_id)
);
CREATE INDEX department_members_user ON department_members (user_id);

CREATE TABLE device_sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name    TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    revoked_at     BIGINT NULL,
    revoked_reason TEXT NULL
);
CREATE INDEX device_sessions_user ON device_sessions (user_id);

-- One row per refresh token ever issued; only the SHA-256 of the token is kept.
-- A token whose row is already used is a replay: the whole session is revoked.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES device_sessions (id) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NULL
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Stored responses for the Idempotency-Key header. status IS NULL while the
-- first request is still being handled.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NULL,
    content_type TEXT NULL,
    body         BLOB NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Secrets generated on first start and shared by every instance (JWT key).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    actor_id    TEXT NULL,
    action      TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    at          BIGINT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_kind, entity_id, at);
