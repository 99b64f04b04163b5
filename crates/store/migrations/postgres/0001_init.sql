-- seedgate schema, PostgreSQL flavour: the twin of migrations/sqlite/0001_init.sql, step for
-- step. Times are Unix milliseconds and money is whole credits, both BIGINT; every integer is
-- BIGINT so that it reads back as the same i64 the SQLite store reads.

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,          -- SHA-256 of the key, hex; the key itself is never stored
    key_prefix    TEXT NOT NULL,                 -- first characters, to recognise a key in listings
    balance       BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),  -- cache of SUM(ledger_entries.amount)
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

-- Append-only. A balance is the sum of its key's entries.
CREATE TABLE ledger_entries (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    api_key_id    TEXT NOT NULL REFERENCES api_keys(id),
    task_id       TEXT,
    kind          TEXT NOT NULL CHECK (kind IN ('grant', 'hold', 'settle', 'release')),
    amount        BIGINT NOT NULL,
    note          TEXT,
    created_at_ms BIGINT NOT NULL,
    CHECK ((kind = 'grant') = (task_id IS NULL))
);
-- Money never moves twice: one hold per task, and one resolution (settle or release) per hold.
CREATE UNIQUE INDEX ledger_one_hold_per_task ON ledger_entries(task_id) WHERE kind = 'hold';
CREATE UNIQUE INDEX ledger_one_resolution_per_task ON ledger_entries(task_id) WHERE kind IN ('settle', 'release');
CREATE INDEX ledger_by_key ON ledger_entries(api_key_id, seq);

-- Tasks are also the work queue: workers claim rows with a lease (FOR UPDATE SKIP LOCKED).
-- Ids are ordered bytewise, as in SQLite (listings and their cursors rely on it), whatever the
-- database's default collation.
CREATE TABLE tasks (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    api_key_id           TEXT NOT NULL REFERENCES api_keys(id),
    model                TEXT NOT NULL,
    requested_model      TEXT NOT NULL,
    origin_dialect       TEXT NOT NULL,
    request_json         TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    price_credits        BIGINT NOT NULL CHECK (price_credits >= 0),
    billable_seconds     BIGINT NOT NULL,
    micro_usd_per_second BIGINT NOT NULL,
    attempt              BIGINT NOT NULL DEFAULT 0,
    lease_token          TEXT,
    lease_owner          TEXT,
    lease_expires_at_ms  BIGINT,
    next_run_at_ms       BIGINT NOT NULL,
    provider             TEXT,
    provider_job_id      TEXT,
    output_json          TEXT,
    error_kind           TEXT,
    error_message        TEXT,
    created_at_ms        BIGINT NOT NULL,
    updated_at_ms        BIGINT NOT NULL,
    started_at_ms        BIGINT,
    finished_at_ms       BIGINT
);
CREATE INDEX tasks_by_key ON tasks(api_key_id, created_at_ms DESC, id DESC);
CREATE INDEX tasks_claimable ON tasks(status, next_run_at_ms);
CREATE INDEX tasks_leases ON tasks(status, lease_expires_at_ms);

-- Idempotency-Key records, scoped to the API key, kept for the published retention (24 h).
CREATE TABLE idempotency_keys (
    api_key_id      TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
    task_id         TEXT,
    response_status BIGINT,
    response_body   BYTEA,
    locked_at_ms    BIGINT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);
CREATE INDEX idempotency_by_age ON idempotency_keys(created_at_ms);
