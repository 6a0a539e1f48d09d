-- Calls (server/src/calls): the server's record of every call between a
-- staff member and a customer — its state while it lives (ringing,
-- connected, ended) and afterwards the call log shown in the ticket and
-- conversation timelines and in the agents' KPI. State changes are
-- conditional updates on `state`, so of two devices accepting at once
-- exactly one wins, whichever instance each reached.

CREATE TABLE calls (
    id              TEXT PRIMARY KEY,
    -- outbound: staff called the customer; inbound: the customer called support.
    direction       TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    caller_id       TEXT NOT NULL REFERENCES users (id),
    caller_session  TEXT NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    -- The staff member in the call: the caller, or the agent an inbound call
    -- rings (NULL when nobody was available).
    agent_id        TEXT NULL REFERENCES users (id),
    ticket_id       TEXT NULL REFERENCES tickets (id),
    department_id   TEXT NULL,
    media           TEXT NOT NULL CHECK (media IN ('audio', 'video')),
    state           TEXT NOT NULL CHECK (state IN ('ringing', 'connected', 'ended')),
    end_reason      TEXT NULL CHECK (end_reason IN ('declined', 'cancelled', 'missed', 'busy',
                                                    'failed', 'hangup', 'answered_elsewhere')),
    -- Who ended it (NULL: the server, on a timeout or a lost connection).
    ended_by        TEXT NULL,
    -- The call's counter, sent with every state change.
    version         BIGINT NOT NULL,
    -- The last sequence number seen from each side (duplicates are ignored).
    caller_seq      BIGINT NOT NULL,
    callee_seq      BIGINT NOT NULL,
    -- The callee device that took the call, and its account.
    callee_session  TEXT NULL,
    answered_by     TEXT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    rang_at         BIGINT NULL,
    answered_at     BIGINT NULL,
    ended_at        BIGINT NULL,
    -- Since when a chosen device has been disconnected (the grace period).
    caller_lost_at  BIGINT NULL,
    callee_lost_at  BIGINT NULL
);
CREATE INDEX calls_customer ON calls (customer_id, created_at);
CREATE INDEX calls_ticket ON calls (ticket_id, created_at);
CREATE INDEX calls_agent ON calls (agent_id, created_at);
CREATE INDEX calls_created ON calls (created_at);
CREATE INDEX calls_live ON calls (state, expires_at) WHERE state <> 'ended';

-- Relayed call messages too big for one Postgres notification: the
-- notification carries the row's id, and every instance reads it. Rows
-- are deleted a minute later. (Unused on SQLite, which is one instance.)
CREATE TABLE call_relay (
    id      TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX call_relay_at ON call_relay (at);

-- Push tokens of devices (FCM, APNs VoIP), per device session: a call rings
-- a phone without a live connection through its push provider.
CREATE TABLE push_tokens (
    session_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    platform   TEXT NOT NULL CHECK (platform IN ('fcm', 'apns_voip')),
    token      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX push_tokens_user ON push_tokens (user_id);
