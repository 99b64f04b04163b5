-- Callbacks on status changes. Ark posts one when a task is queued and when it starts running,
-- as well as the final one, so a task may now have several callbacks: one per event
-- ('queued', 'running', 'final'), each with its own constant `webhook-id`. A status callback
-- still undelivered when the final one is written is 'superseded' (never sent after it).
--
-- SQLite cannot drop a UNIQUE constraint, so `callbacks` is rebuilt. Foreign keys stay on
-- during migrations: the attempts are set aside in a table without references first, so that
-- no row ever points at a table being dropped.
CREATE TABLE callbacks_v2 (
    id                  TEXT PRIMARY KEY,
    task_id             TEXT NOT NULL REFERENCES tasks(id),
    event               TEXT NOT NULL DEFAULT 'final' CHECK (event IN ('queued', 'running', 'final')),
    api_key_id          TEXT NOT NULL REFERENCES api_keys(id),
    url                 TEXT NOT NULL,
    dialect             TEXT NOT NULL,
    state               TEXT NOT NULL
                        CHECK (state IN ('pending', 'delivered', 'failed', 'gone', 'superseded')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms  INTEGER NOT NULL,
    lease_token         TEXT,
    lease_expires_at_ms INTEGER,
    created_at_ms       INTEGER NOT NULL,
    delivered_at_ms     INTEGER,
    UNIQUE (task_id, event)
);
INSERT INTO callbacks_v2 (id, task_id, event, api_key_id, url, dialect, state, attempts,
                          next_attempt_at_ms, lease_token, lease_expires_at_ms, created_at_ms,
                          delivered_at_ms)
    SELECT id, task_id, 'final', api_key_id, url, dialect, state, attempts, next_attempt_at_ms,
           lease_token, lease_expires_at_ms, created_at_ms, delivered_at_ms
    FROM callbacks;

CREATE TABLE callback_attempts_kept AS SELECT * FROM callback_attempts;
DROP TABLE callback_attempts;
DROP TABLE callbacks;
ALTER TABLE callbacks_v2 RENAME TO callbacks;
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
INSERT INTO callback_attempts SELECT callback_id, attempt, started_at_ms, status, latency_ms, error
    FROM callback_attempts_kept;
DROP TABLE callback_attempts_kept;
