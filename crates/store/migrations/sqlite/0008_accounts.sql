-- Accounts own the money, the limits and the tasks; API keys belong to an account.
--
-- Each existing key becomes the only key of an account of its own, named after it, whose id is
-- the key's ULID with the `acct_` prefix. The account takes over the key's balance, and every
-- task, ledger entry, asset and callback of the key moves to it, so `ledger verify` still
-- balances, now per account.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    balance       INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),  -- cache of SUM(ledger_entries.amount)
    policy_json   TEXT NOT NULL DEFAULT '{}',    -- seedgate_core::accounts::Policy
    created_at_ms INTEGER NOT NULL,
    last_claim_ms INTEGER NOT NULL DEFAULT 0     -- when a worker last took one of its tasks: claims go round the accounts
);
CREATE INDEX accounts_by_last_claim ON accounts(last_claim_ms, id);
INSERT INTO accounts (id, name, balance, created_at_ms)
    SELECT 'acct_' || substr(id, 5), name, balance, created_at_ms FROM api_keys;

ALTER TABLE api_keys ADD COLUMN account_id TEXT REFERENCES accounts(id);
ALTER TABLE api_keys ADD COLUMN policy_json TEXT NOT NULL DEFAULT '{}';
UPDATE api_keys SET account_id = 'acct_' || substr(id, 5);
ALTER TABLE api_keys DROP COLUMN balance;
CREATE INDEX api_keys_by_account ON api_keys(account_id);

ALTER TABLE tasks ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE tasks SET account_id = 'acct_' || substr(api_key_id, 5);
CREATE INDEX tasks_by_account ON tasks(account_id, created_at_ms DESC, id DESC);
-- What the limits count (tasks in flight and queued) and what fair claims look for.
CREATE INDEX tasks_live_by_account ON tasks(account_id, status, next_run_at_ms)
    WHERE status IN ('queued', 'running');
CREATE INDEX tasks_live_by_key ON tasks(api_key_id, status) WHERE status IN ('queued', 'running');

ALTER TABLE assets ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE assets SET account_id = 'acct_' || substr(api_key_id, 5);
CREATE INDEX assets_by_account ON assets(account_id, created_at_ms);

-- The ledger is an account's now: entries name the account, and the key that spent when there
-- was one (an operator's grant to an account has none). SQLite cannot relax NOT NULL in place,
-- so the table is rebuilt with its sequence numbers kept.
CREATE TABLE ledger_entries_v2 (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    api_key_id    TEXT REFERENCES api_keys(id),
    task_id       TEXT,
    kind          TEXT NOT NULL CHECK (kind IN ('grant', 'hold', 'settle', 'release')),
    amount        INTEGER NOT NULL,
    note          TEXT,
    created_at_ms INTEGER NOT NULL,
    CHECK ((kind = 'grant') = (task_id IS NULL))
);
INSERT INTO ledger_entries_v2 (seq, account_id, api_key_id, task_id, kind, amount, note, created_at_ms)
    SELECT seq, 'acct_' || substr(api_key_id, 5), api_key_id, task_id, kind, amount, note, created_at_ms
    FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v2 RENAME TO ledger_entries;
CREATE UNIQUE INDEX ledger_one_hold_per_task ON ledger_entries(task_id) WHERE kind = 'hold';
CREATE UNIQUE INDEX ledger_one_resolution_per_task ON ledger_entries(task_id) WHERE kind IN ('settle', 'release');
CREATE INDEX ledger_by_account ON ledger_entries(account_id, seq);

-- Callbacks are dispatched fairly across accounts and receiving hosts.
ALTER TABLE callbacks ADD COLUMN account_id TEXT REFERENCES accounts(id);
ALTER TABLE callbacks ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE callbacks SET account_id = 'acct_' || substr(api_key_id, 5),
    host = lower(CASE
        WHEN instr(substr(url, instr(url, '://') + 3), '/') > 0
        THEN substr(substr(url, instr(url, '://') + 3), 1, instr(substr(url, instr(url, '://') + 3), '/') - 1)
        ELSE substr(url, instr(url, '://') + 3)
    END);
CREATE INDEX callbacks_due_by_account ON callbacks(state, account_id, next_attempt_at_ms);

-- Credits spent per owner (an account or a key) per UTC day: what budgets are checked against.
-- A hold adds its price to the day the task was created; a refund takes it back from that day.
CREATE TABLE spend_daily (
    owner_id TEXT NOT NULL,
    day      INTEGER NOT NULL,                   -- UTC days since 1970-01-01
    credits  INTEGER NOT NULL,
    PRIMARY KEY (owner_id, day)
);
INSERT INTO spend_daily (owner_id, day, credits)
    SELECT account_id, created_at_ms / 86400000, SUM(price_credits) FROM tasks
    WHERE status NOT IN ('failed', 'cancelled') GROUP BY account_id, created_at_ms / 86400000;
INSERT INTO spend_daily (owner_id, day, credits)
    SELECT api_key_id, created_at_ms / 86400000, SUM(price_credits) FROM tasks
    WHERE status NOT IN ('failed', 'cancelled') GROUP BY api_key_id, created_at_ms / 86400000;

-- The submit rate's state per owner: the GCRA's theoretical arrival time, shared by replicas.
CREATE TABLE rate_limits (
    owner_id TEXT NOT NULL,
    name     TEXT NOT NULL,
    tat_ms   INTEGER NOT NULL,
    PRIMARY KEY (owner_id, name)
);

-- Operators: admin tokens (never API keys), and the record of every admin write.
CREATE TABLE admin_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,          -- SHA-256, hex
    token_prefix  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);
CREATE TABLE admin_audit (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms         INTEGER NOT NULL,
    actor         TEXT NOT NULL,                 -- `token:<id> (<name>)` or `cli`
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    before_json   TEXT,
    after_json    TEXT
);
CREATE INDEX admin_audit_by_target ON admin_audit(target, seq);
