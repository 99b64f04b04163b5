-- Operator alerts: one row per crossing of a condition (a balance below its threshold, a budget
-- fraction spent, a breaker open, tasks waiting too long), deduplicated across replicas by
-- `dedupe_key`, with a durable delivery state so the webhook is retried until it arrives.
CREATE TABLE alerts (
    id                  TEXT PRIMARY KEY,              -- alrt_<ULID>: the webhook-id of every attempt
    dedupe_key          TEXT NOT NULL UNIQUE,          -- kind, subject and crossing
    kind                TEXT NOT NULL,
    subject             TEXT NOT NULL,
    message             TEXT NOT NULL,
    figures_json        TEXT NOT NULL,
    created_at_ms       INTEGER NOT NULL,
    resolved_at_ms      INTEGER,                       -- the condition cleared; the next crossing is a new alert
    state               TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'unsent')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms  INTEGER NOT NULL,
    lease_token         TEXT,
    lease_expires_at_ms INTEGER,
    delivered_at_ms     INTEGER,
    last_error          TEXT
);
CREATE INDEX alerts_due ON alerts(state, next_attempt_at_ms);
CREATE INDEX alerts_open ON alerts(kind, subject) WHERE resolved_at_ms IS NULL;
CREATE INDEX alerts_by_time ON alerts(created_at_ms);
