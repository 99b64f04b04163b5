-- Callbacks: a durable outbox written in the same transaction that finishes a task, delivered
-- by a dispatcher with Standard Webhooks signatures, retried on a schedule.

ALTER TABLE tasks ADD COLUMN callback_url TEXT;

-- Signing secrets per API key. The newest is current; during a rotation the previous one stays
-- active until `expires_at_ms`, and both sign every callback.
CREATE TABLE webhook_secrets (
    api_key_id    TEXT NOT NULL REFERENCES api_keys(id),
    secret        TEXT NOT NULL,               -- whsec_…; kept in clear because it signs
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,                      -- NULL while current
    PRIMARY KEY (api_key_id, created_at_ms)
);
-- At most one current secret per key, whatever replicas race (the store also serialises
-- ensure/rotate per key; this is the backstop).
CREATE UNIQUE INDEX webhook_secrets_one_current ON webhook_secrets(api_key_id) WHERE expires_at_ms IS NULL;

-- One callback per task (its id is the constant `webhook-id` of every attempt).
CREATE TABLE callbacks (
    id                  TEXT PRIMARY KEY,
    task_id             TEXT NOT NULL UNIQUE REFERENCES tasks(id),
    api_key_id          TEXT NOT NULL REFERENCES api_keys(id),
    url                 TEXT NOT NULL,
    dialect             TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'gone')),
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms  BIGINT NOT NULL,
    lease_token         TEXT,
    lease_expires_at_ms BIGINT,
    created_at_ms       BIGINT NOT NULL,
    delivered_at_ms     BIGINT
);
CREATE INDEX callbacks_due ON callbacks(state, next_attempt_at_ms);

CREATE TABLE callback_attempts (
    callback_id   TEXT NOT NULL REFERENCES callbacks(id),
    attempt       BIGINT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    status        BIGINT,                      -- HTTP status; NULL when there was no answer
    latency_ms    BIGINT NOT NULL,
    error         TEXT,
    PRIMARY KEY (callback_id, attempt)
);
