-- Operators act on tasks: a settled task's charge can be given back by hand, once, as a
-- `refund` entry (positive, at most what was charged); and tasks are searched across accounts.
--
-- SQLite cannot change a CHECK constraint in place, so `ledger_entries` is rebuilt to let the
-- new kind in, every row kept with its sequence number, and the AUTOINCREMENT counter carried
-- over (numbers are never reused, even past rows that no longer exist).
CREATE TABLE ledger_entries_v3 (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    api_key_id    TEXT REFERENCES api_keys(id),
    task_id       TEXT,
    kind          TEXT NOT NULL CHECK (kind IN ('grant', 'hold', 'settle', 'release', 'refund')),
    amount        INTEGER NOT NULL,
    note          TEXT,
    created_at_ms INTEGER NOT NULL,
    CHECK ((kind = 'grant') = (task_id IS NULL))
);
INSERT INTO ledger_entries_v3 (seq, account_id, api_key_id, task_id, kind, amount, note, created_at_ms)
    SELECT seq, account_id, api_key_id, task_id, kind, amount, note, created_at_ms
    FROM ledger_entries;
DELETE FROM sqlite_sequence WHERE name = 'ledger_entries_v3';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'ledger_entries_v3', seq FROM sqlite_sequence WHERE name = 'ledger_entries';
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v3 RENAME TO ledger_entries;
CREATE UNIQUE INDEX ledger_one_hold_per_task ON ledger_entries(task_id) WHERE kind = 'hold';
CREATE UNIQUE INDEX ledger_one_resolution_per_task ON ledger_entries(task_id) WHERE kind IN ('settle', 'release');
CREATE INDEX ledger_by_account ON ledger_entries(account_id, seq);
-- At most one manual refund per task, whichever replica writes it.
CREATE UNIQUE INDEX ledger_one_refund_per_task ON ledger_entries(task_id) WHERE kind = 'refund';

-- The operator's task search: by upstream job id (a point lookup), by upstream account, and by
-- creation time across accounts (by account and by key are indexed already).
CREATE INDEX tasks_by_provider_job ON tasks(provider_job_id) WHERE provider_job_id IS NOT NULL;
CREATE INDEX tasks_by_provider ON tasks(provider, id) WHERE provider IS NOT NULL;
CREATE INDEX tasks_by_created ON tasks(created_at_ms, id);
