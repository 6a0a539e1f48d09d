-- Ratings (server/src/ratings): seed 003's FDB module. When a visit is done
-- the customer is sent a signed link; the token is stored only as its
-- SHA-256, with the visit, an expiry and when it was spent. Attribution (the
-- technicians who checked in, the CS agent of the ticket) is fixed when the
-- request is made.

CREATE TABLE rating_requests (
    id           TEXT PRIMARY KEY,
    visit_id     TEXT NOT NULL UNIQUE REFERENCES visits (id),
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    token_sha256 TEXT NOT NULL UNIQUE,
    cs_agent_id  TEXT NULL REFERENCES users (id),
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT NULL,
    whatsapp_id  TEXT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE rating_request_technicians (
    request_id    TEXT NOT NULL REFERENCES rating_requests (id),
    technician_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (request_id, technician_id)
);
CREATE INDEX rating_request_technicians_by ON rating_request_technicians (technician_id);

-- One rating per request (and so per visit), 1 to 5.
CREATE TABLE ratings (
    id         TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE REFERENCES rating_requests (id),
    visit_id   TEXT NOT NULL UNIQUE REFERENCES visits (id),
    score      BIGINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment    TEXT NOT NULL DEFAULT '',
    via        TEXT NOT NULL CHECK (via IN ('link', 'app')),
    created_at BIGINT NOT NULL
);
CREATE INDEX ratings_created ON ratings (created_at);
