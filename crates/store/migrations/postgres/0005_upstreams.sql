-- Upstream providers: a write-ahead record of each submit, and secrets shared by every replica.

-- The Idempotency-Key of a submit that was about to be sent (or was sent) to `provider` but
-- whose answer was never recorded. A re-claimed task with a key and no `provider_job_id` is
-- reconciled with that account, never resubmitted elsewhere.
ALTER TABLE tasks ADD COLUMN submit_key TEXT;

-- Running tasks per upstream account, for per-account concurrency caps.
CREATE INDEX tasks_running_by_provider ON tasks(provider) WHERE status = 'running';

-- Process-wide secrets every replica must agree on (e.g. the key that makes upstream callback
-- URLs unguessable). The first replica to need one creates it.
CREATE TABLE server_secrets (
    name          TEXT PRIMARY KEY,
    value         TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
