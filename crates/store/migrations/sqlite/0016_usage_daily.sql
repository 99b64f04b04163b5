-- Usage reports over long histories (crates/store/src/shared/usage.rs): finished tasks' ledger
-- entries summed per UTC day (day = Unix ms / 86,400,000) and per grouping value, so a report
-- reads its range's whole days here instead of every entry. The task's end (or its manual
-- refund) adds its entries in the same transaction; a missing value is '' (a key column
-- cannot be NULL) and reads back as NULL. Entries of tasks still under way are not summed:
-- a report reads those from the ledger.
CREATE TABLE usage_daily (
    day              INTEGER NOT NULL,
    account_id       TEXT NOT NULL,
    api_key_id       TEXT NOT NULL,
    model            TEXT NOT NULL,
    resolution       TEXT NOT NULL,
    mode             TEXT NOT NULL,
    provider         TEXT NOT NULL,
    tasks            INTEGER NOT NULL,
    succeeded        INTEGER NOT NULL,
    failed           INTEGER NOT NULL,
    cancelled        INTEGER NOT NULL,
    refunded         INTEGER NOT NULL,
    refunds          INTEGER NOT NULL,
    credits_held     INTEGER NOT NULL,
    credits_returned INTEGER NOT NULL,
    credits_refunded INTEGER NOT NULL,
    billable_seconds INTEGER NOT NULL,
    PRIMARY KEY (day, account_id, api_key_id, model, resolution, mode, provider)
);
-- A member's report reads one account's days.
CREATE INDEX usage_daily_by_account ON usage_daily(account_id, day);
-- A task's end sums its entries: found by task, not by scanning the ledger (the partial
-- unique indexes on task_id each cover one kind only).
CREATE INDEX ledger_by_task ON ledger_entries(task_id);
-- An operator's task search by status across accounts, newest first (0.5 s a page among a
-- million tasks without it).
CREATE INDEX tasks_by_status ON tasks(status, id);

-- The history so far: every entry of every task that has ended.
INSERT INTO usage_daily (day, account_id, api_key_id, model, resolution, mode, provider,
    tasks, succeeded, failed, cancelled, refunded, refunds, credits_held, credits_returned,
    credits_refunded, billable_seconds)
SELECT e.created_at_ms / 86400000, t.account_id, t.api_key_id, t.model,
    COALESCE(json_extract(t.request_json, '$.resolution'), ''), COALESCE(json_extract(t.request_json, '$.mode'), ''), COALESCE(t.provider, ''),
    CAST(SUM(CASE WHEN e.kind = 'hold' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind = 'settle' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind = 'release' AND t.status = 'failed' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind = 'release' AND t.status = 'cancelled' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind IN ('release', 'refund') THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind = 'refund' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind = 'hold' THEN -e.amount ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind IN ('settle', 'release') THEN e.amount ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind = 'refund' THEN e.amount ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN e.kind = 'settle' THEN t.billable_seconds ELSE 0 END) AS BIGINT)
FROM ledger_entries e JOIN tasks t ON t.id = e.task_id
WHERE t.status IN ('succeeded', 'failed', 'cancelled')
GROUP BY e.created_at_ms / 86400000, t.account_id, t.api_key_id, t.model,
    COALESCE(json_extract(t.request_json, '$.resolution'), ''), COALESCE(json_extract(t.request_json, '$.mode'), ''), COALESCE(t.provider, '');
