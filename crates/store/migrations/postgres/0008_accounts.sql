-- Accounts own the money, the limits and the tasks; API keys belong to an account. The twin of
-- migrations/sqlite/0008_accounts.sql: each existing key becomes the only key of an account of
-- its own (the key's ULID with the `acct_` prefix), which takes over its balance, tasks, ledger
-- entries, assets and callbacks.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    balance       BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    policy_json   TEXT NOT NULL DEFAULT '{}',
    created_at_ms BIGINT NOT NULL,
    last_claim_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX accounts_by_last_claim ON accounts(last_claim_ms, id);
INSERT INTO accounts (id, name, balance, created_at_ms)
    SELECT 'acct_' || substr(id, 5), name, balance, created_at_ms FROM api_keys;

ALTER TABLE api_keys ADD COLUMN account_id TEXT REFERENCES accounts(id);
ALTER TABLE api_keys ADD COLUMN policy_json TEXT NOT NULL DEFAULT '{}';
UPDATE api_keys SET account_id = 'acct_' || substr(id, 5);
ALTER TABLE api_keys ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE api_keys DROP COLUMN balance;
CREATE INDEX api_keys_by_account ON api_keys(account_id);

ALTER TABLE tasks ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE tasks SET account_id = 'acct_' || substr(api_key_id, 5);
ALTER TABLE tasks ALTER COLUMN account_id SET NOT NULL;
CREATE INDEX tasks_by_account ON tasks(account_id, created_at_ms DESC, id DESC);
CREATE INDEX tasks_live_by_account ON tasks(account_id, status, next_run_at_ms)
    WHERE status IN ('queued', 'running');
CREATE INDEX tasks_live_by_key ON tasks(api_key_id, status) WHERE status IN ('queued', 'running');

ALTER TABLE assets ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE assets SET account_id = 'acct_' || substr(api_key_id, 5);
ALTER TABLE assets ALTER COLUMN account_id SET NOT NULL;
CREATE INDEX assets_by_account ON assets(account_id, created_at_ms);

ALTER TABLE ledger_entries ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE ledger_entries SET account_id = 'acct_' || substr(api_key_id, 5);
ALTER TABLE ledger_entries ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE ledger_entries ALTER COLUMN api_key_id DROP NOT NULL;
DROP INDEX ledger_by_key;
CREATE INDEX ledger_by_account ON ledger_entries(account_id, seq);

ALTER TABLE callbacks ADD COLUMN account_id TEXT REFERENCES accounts(id);
ALTER TABLE callbacks ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE callbacks SET account_id = 'acct_' || substr(api_key_id, 5),
    host = lower(COALESCE(substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]+)'), ''));
ALTER TABLE callbacks ALTER COLUMN account_id SET NOT NULL;
CREATE INDEX callbacks_due_by_account ON callbacks(state, account_id, next_attempt_at_ms);

CREATE TABLE spend_daily (
    owner_id TEXT NOT NULL,
    day      BIGINT NOT NULL,
    credits  BIGINT NOT NULL,
    PRIMARY KEY (owner_id, day)
);
INSERT INTO spend_daily (owner_id, day, credits)
    SELECT account_id, created_at_ms / 86400000, SUM(price_credits) FROM tasks
    WHERE status NOT IN ('failed', 'cancelled') GROUP BY account_id, created_at_ms / 86400000;
INSERT INTO spend_daily (owner_id, day, credits)
    SELECT api_key_id, created_at_ms / 86400000, SUM(price_credits) FROM tasks
    WHERE status NOT IN ('failed', 'cancelled') GROUP BY api_key_id, created_at_ms / 86400000;

CREATE TABLE rate_limits (
    owner_id TEXT NOT NULL,
    name     TEXT NOT NULL,
    tat_ms   BIGINT NOT NULL,
    PRIMARY KEY (owner_id, name)
);

CREATE TABLE admin_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    token_prefix  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE TABLE admin_audit (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms         BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    before_json   TEXT,
    after_json    TEXT
);
CREATE INDEX admin_audit_by_target ON admin_audit(target, seq);
