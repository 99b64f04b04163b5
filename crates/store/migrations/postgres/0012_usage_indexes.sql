-- Usage reports read the ledger entries written in a time range (every account's for an
-- operator, one account's for a member), joined to their tasks by primary key.
CREATE INDEX ledger_by_time ON ledger_entries(created_at_ms);
CREATE INDEX ledger_by_account_time ON ledger_entries(account_id, created_at_ms);
