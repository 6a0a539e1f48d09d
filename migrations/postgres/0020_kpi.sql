-- KPI (server/src/kpi): a daily rollup of counts per subject, so a year's
-- dashboard reads a few hundred rows instead of scanning a million tickets.
-- Days are days since 1970-01-01 in the sites' calendar. A day is written
-- once it is over (kpi_rollup.through_day says how far); days after it are
-- counted live from the source tables.

CREATE TABLE kpi_daily (
    subject    TEXT NOT NULL CHECK (subject IN ('all', 'technician', 'agent', 'department')),
    subject_id TEXT NOT NULL,
    day        BIGINT NOT NULL,
    metric     TEXT NOT NULL,
    value      BIGINT NOT NULL,
    PRIMARY KEY (subject, subject_id, day, metric)
);
-- A table over a span of days reads one kind of subject by day; a day is
-- rewritten whole.
CREATE INDEX kpi_daily_by_day ON kpi_daily (subject, day, subject_id, metric, value);
CREATE INDEX kpi_daily_day ON kpi_daily (day);

-- Instants of facts that changed after their day may have been rolled up
-- (a check-in synced late from an offline phone, a resolution undone by a
-- reopen): the rollup writes those days again and forgets the rows.
CREATE TABLE kpi_late (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);

CREATE TABLE kpi_rollup (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    through_day BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- When a resolved or closed ticket was last reopened (the reopen rate).
ALTER TABLE tickets ADD COLUMN reopened_at BIGINT NULL;

-- The source ranges a day's rollup reads.
CREATE INDEX tickets_first_response ON tickets (first_response_at);
CREATE INDEX tickets_resolved ON tickets (resolved_at);
CREATE INDEX tickets_reopened ON tickets (reopened_at);
CREATE INDEX visits_completed ON visits (completed_at);
CREATE INDEX extension_requests_created ON extension_requests (created_at);
CREATE INDEX extension_requests_decided ON extension_requests (decided_at);
-- A day's attendance report: visits whose last planned day is not over
-- (few: today's and the future's), records by the phone's clock.
CREATE INDEX visits_last_day ON visits ((start_day + planned_days - 1));
CREATE INDEX attendance_device_time ON attendance (device_time);

-- What Meta's status webhooks said about a sent message (sent, delivered,
-- read, failed), found by the id the Cloud API gave it.
ALTER TABLE whatsapp_outbox ADD COLUMN delivery_status TEXT NULL
    CHECK (delivery_status IN ('sent', 'delivered', 'read', 'failed'));
ALTER TABLE whatsapp_outbox ADD COLUMN delivery_at BIGINT NULL;
ALTER TABLE whatsapp_outbox ADD COLUMN delivery_error TEXT NULL;
CREATE INDEX whatsapp_outbox_provider ON whatsapp_outbox (provider_id);

-- What admins must see and act on: a rating template Meta rejected or
-- re-categorised, a rating request that could not be delivered.
CREATE TABLE admin_alerts (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    detail       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    dismissed_at BIGINT NULL,
    dismissed_by TEXT NULL REFERENCES users (id)
);
CREATE INDEX admin_alerts_open ON admin_alerts (dismissed_at, created_at);
CREATE UNIQUE INDEX admin_alerts_one_open ON admin_alerts (kind, subject) WHERE dismissed_at IS NULL;

-- Settings admins change while the server runs (server/src/settings.rs):
-- one JSON document per group (sla, assignment, ratings) replacing the
-- configuration file's defaults; every instance reloads them when
-- updated_at moves.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_by TEXT NULL REFERENCES users (id),
    updated_at BIGINT NOT NULL
);

-- A rating request is for a visit done or, when the settings ask, for a
-- ticket resolved: exactly one of the two.
ALTER TABLE rating_requests ALTER COLUMN visit_id DROP NOT NULL;
ALTER TABLE rating_requests ADD COLUMN ticket_id TEXT NULL UNIQUE REFERENCES tickets (id);
ALTER TABLE rating_requests ADD CONSTRAINT rating_requests_one_subject
    CHECK ((visit_id IS NULL) <> (ticket_id IS NULL));
CREATE INDEX rating_requests_created ON rating_requests (created_at);
CREATE INDEX rating_requests_message ON rating_requests (whatsapp_id);
ALTER TABLE ratings ALTER COLUMN visit_id DROP NOT NULL;
ALTER TABLE ratings ADD COLUMN ticket_id TEXT NULL UNIQUE REFERENCES tickets (id);
ALTER TABLE ratings ADD CONSTRAINT ratings_one_subject
    CHECK ((visit_id IS NULL) <> (ticket_id IS NULL));
