-- Live events: every published event is kept for a while so that consoles can
-- catch up after a reconnect (?since=) and so that, on Postgres, instances can
-- fetch an event by the id carried in a NOTIFY.
CREATE TABLE event_log (
    id       TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    audience TEXT NOT NULL,
    data     TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX event_log_at ON event_log (at);
