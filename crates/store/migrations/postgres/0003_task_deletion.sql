-- Ark's DELETE removes the record of a finished task: it stays (the ledger refers to it) but is
-- no longer read or listed.
ALTER TABLE tasks ADD COLUMN deleted_at_ms BIGINT;
