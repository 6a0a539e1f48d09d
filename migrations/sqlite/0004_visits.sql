-- Field execution: visits with a technician quota, assignments (claims),
-- attendance (check-in/out) and extension requests.
-- Portable types only (see server/src/db/mod.rs).
--
-- The quota invariant has three guards:
--   * claims go through one conditional UPDATE (seats_taken < technician_quota),
--   * the CHECK below refuses any row with more seats taken than the quota,
--   * a partial unique index allows one held assignment per (visit, technician).

CREATE TABLE visits (
    id               TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL REFERENCES customers (id),
    -- Tickets live in their own module; the reference is kept as plain text.
    ticket_id        TEXT NULL,
    department_id    TEXT NULL REFERENCES departments (id),
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    site_address     TEXT NOT NULL,
    site_lat         DOUBLE PRECISION NOT NULL,
    site_lon         DOUBLE PRECISION NOT NULL,
    -- First day, YYYY-MM-DD in the site's calendar, and the same as days since 1970-01-01.
    scheduled_start  TEXT NOT NULL,
    start_day        BIGINT NOT NULL,
    planned_days     BIGINT NOT NULL CHECK (planned_days BETWEEN 1 AND 366),
    technician_quota BIGINT NOT NULL CHECK (technician_quota BETWEEN 1 AND 100),
    -- Assignments held (state active or completed).
    seats_taken      BIGINT NOT NULL DEFAULT 0,
    status           TEXT NOT NULL
                     CHECK (status IN ('open', 'assigned', 'in_progress', 'done', 'cancelled')),
    emergency        BIGINT NOT NULL DEFAULT 0 CHECK (emergency IN (0, 1)),
    summary          TEXT NULL,
    cancel_reason    TEXT NULL,
    created_by       TEXT NULL REFERENCES users (id),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    completed_at     BIGINT NULL,
    cancelled_at     BIGINT NULL,
    CHECK (seats_taken >= 0 AND seats_taken <= technician_quota)
);
CREATE INDEX visits_status_start ON visits (status, start_day);
CREATE INDEX visits_customer ON visits (customer_id, id);
CREATE INDEX visits_ticket ON visits (ticket_id);

CREATE TABLE assignments (
    id                 TEXT PRIMARY KEY,
    visit_id           TEXT NOT NULL REFERENCES visits (id),
    technician_id      TEXT NOT NULL REFERENCES users (id),
    state              TEXT NOT NULL CHECK (state IN ('active', 'released', 'completed')),
    claimed_at         BIGINT NOT NULL,
    -- 1 while checked in and not yet checked out.
    on_site            BIGINT NOT NULL DEFAULT 0 CHECK (on_site IN (0, 1)),
    first_check_in_at  BIGINT NULL,
    last_check_out_at  BIGINT NULL,
    released_at        BIGINT NULL,
    -- withdrawn (by the technician), returned (to the emergency pool by CS), cancelled.
    release_kind       TEXT NULL CHECK (release_kind IN ('withdrawn', 'returned', 'cancelled')),
    release_reason     TEXT NULL,
    released_by        TEXT NULL REFERENCES users (id)
);
CREATE UNIQUE INDEX assignments_one_held ON assignments (visit_id, technician_id)
    WHERE state <> 'released';
CREATE INDEX assignments_visit ON assignments (visit_id, state);
CREATE INDEX assignments_technician ON assignments (technician_id, state);

CREATE TABLE attendance (
    id              TEXT PRIMARY KEY,
    visit_id        TEXT NOT NULL REFERENCES visits (id),
    assignment_id   TEXT NOT NULL REFERENCES assignments (id),
    technician_id   TEXT NOT NULL REFERENCES users (id),
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    -- The phone's clock (may be wrong) and the server's, both unix ms UTC.
    device_time     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    lat             DOUBLE PRECISION NOT NULL,
    lon             DOUBLE PRECISION NOT NULL,
    accuracy_m      DOUBLE PRECISION NOT NULL,
    distance_m      DOUBLE PRECISION NOT NULL,
    within_geofence BIGINT NOT NULL CHECK (within_geofence IN (0, 1)),
    fence_radius_m  DOUBLE PRECISION NOT NULL
);
CREATE INDEX attendance_visit ON attendance (visit_id, device_time);
CREATE INDEX attendance_technician ON attendance (technician_id, device_time);

CREATE TABLE extension_requests (
    id             TEXT PRIMARY KEY,
    visit_id       TEXT NOT NULL REFERENCES visits (id),
    assignment_id  TEXT NOT NULL REFERENCES assignments (id),
    technician_id  TEXT NOT NULL REFERENCES users (id),
    extra_days     BIGINT NOT NULL CHECK (extra_days BETWEEN 1 AND 30),
    reason         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by     TEXT NULL REFERENCES users (id),
    decided_at     BIGINT NULL,
    decision_note  TEXT NULL,
    created_at     BIGINT NOT NULL
);
-- One open request per technician and visit.
CREATE UNIQUE INDEX extension_requests_one_pending ON extension_requests (visit_id, technician_id)
    WHERE status = 'pending';
CREATE INDEX extension_requests_status ON extension_requests (status, id);
