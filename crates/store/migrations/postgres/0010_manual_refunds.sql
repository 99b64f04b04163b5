-- Operators act on tasks: a settled task's charge can be given back by hand, once, as a
-- `refund` entry. The twin of migrations/sqlite/0010_manual_refunds.sql; here the CHECK on
-- `kind` is replaced in place (rows and sequence untouched).
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('grant', 'hold', 'settle', 'release', 'refund'));
CREATE UNIQUE INDEX ledger_one_refund_per_task ON ledger_entries(task_id) WHERE kind = 'refund';

CREATE INDEX tasks_by_provider_job ON tasks(provider_job_id) WHERE provider_job_id IS NOT NULL;
CREATE INDEX tasks_by_provider ON tasks(provider, id) WHERE provider IS NOT NULL;
CREATE INDEX tasks_by_created ON tasks(created_at_ms, id);
