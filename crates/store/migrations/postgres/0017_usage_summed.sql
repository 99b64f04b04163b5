-- Which ledger entries `usage_daily` (migration 0016) has summed: 1 once summed, 0 until then
-- (2 only inside the transaction that is summing it). The daily sums were written by the new
-- code alone, when it ended a task or refunded one by hand; an entry written or ended by a
-- replica of an earlier release, still running beside an upgraded one during a rolling
-- upgrade, was in neither the sums nor the report's reads of the ledger (tasks still under
-- way), so reports missed it. Now a report reads from the ledger every entry not summed yet,
-- whoever wrote it, and the janitor sums the entries of ended tasks left unsummed.
ALTER TABLE ledger_entries ADD COLUMN summed SMALLINT NOT NULL DEFAULT 0;
-- Adding the column locks ledger_entries until this migration commits, so no replica (of
-- any release) appends an entry, and no task can end, between the marking and the sums.

-- What 0016 summed is every entry of every ended task, except those a replica of an earlier
-- release ended since: summed afresh here, exactly the entries marked.
UPDATE ledger_entries SET summed = 1
WHERE task_id IN (SELECT id FROM tasks WHERE status IN ('succeeded', 'failed', 'cancelled'));
DELETE FROM usage_daily;
INSERT INTO usage_daily (day, account_id, api_key_id, model, resolution, mode, provider,
    tasks, succeeded, failed, cancelled, refunded, refunds, credits_held, credits_returned,
    credits_refunded, billable_seconds)
SELECT e.created_at_ms / 86400000, t.account_id, t.api_key_id, t.model,
    COALESCE((CAST(t.request_json AS json) ->> 'resolution'), ''), COALESCE((CAST(t.request_json AS json) ->> 'mode'), ''), COALESCE(t.provider, ''),
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
WHERE e.summed = 1
GROUP BY e.created_at_ms / 86400000, t.account_id, t.api_key_id, t.model,
    COALESCE((CAST(t.request_json AS json) ->> 'resolution'), ''), COALESCE((CAST(t.request_json AS json) ->> 'mode'), ''), COALESCE(t.provider, '');

-- The report's reads of entries not summed yet, and the janitor's search for them.
CREATE INDEX ledger_unsummed ON ledger_entries(created_at_ms) WHERE summed = 0;
