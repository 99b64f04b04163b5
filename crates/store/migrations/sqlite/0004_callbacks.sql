-- Callbacks: a durable outbox written in the same transaction that finishes a task, delivered
-- by a dispatcher with Standard Webhooks signatures, retried on a schedule.

ALTER TABLE tasks ADD COLUMN callback_url TEXT;

-- Signing secrets per API key. The newest is current; during a rotation the previous one stays
-- active until `expires_at_ms`, and both sign every callback.
CREATE TABLE webhook_secrets (
    api_key_id    TEXT NOT NULL REFERENCES api_keys(id),
    secret        TEXT NOT NULL,               -- whsec_…; kept in clear because it signs
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,                     -- NULL while current
    PRIMARY KEY (api_key_id, created_at_ms)
);

-- One callback per task (its id is the constant `webhook-id` of every attempt).
CREATE TABLE callbacks (
    id                  TEXT PRIMARY KEY,
    task_id             TEXT NOT NULL UNIQUE REFERENCES tasks(id),
    api_key_id          TEXT NOT NULL REFERENCES api_keys(id),
    url                 TEXT NOT NULL,
    dialect             TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'gone')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms  INTEGER NOT NULL,
    lease_token         TEXT,
    lease_expires_at_ms INTEGER,
    created_at_ms       INTEGER NOT NULL,
    delivered_at_ms     INTEGER
);
CREATE INDEX callbacks_due ON callbacks(state, next_attempt_at_ms);

CREATE TABLE callback_attempts (
    callback_id   TEXT NOT NULL REFERENCES callbacks(id),
    attempt       INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    status        INTEGER,                     -- HTTP status; NULL when there was no answer
    latency_ms    INTEGER NOT NULL,
    error         TEXT,
    PRIMARY KEY (callback_id, attempt)
);
