-- Retention: a finished task's media expire after `retention.media_days`. The janitor marks a
-- task (`media_expired_at_ms`) in the transaction that decides, and from then on it reads back
-- with no media; its files are deleted once every link handed out before the mark has expired,
-- and `media_purged_at_ms` records that they are gone (a crash in between only leaves files to
-- delete again on the next pass). Ledger entries are never touched.
ALTER TABLE tasks ADD COLUMN media_expired_at_ms BIGINT;
ALTER TABLE tasks ADD COLUMN media_purged_at_ms BIGINT;
-- Succeeded tasks whose media are still kept, by the time they finished.
CREATE INDEX tasks_media_kept ON tasks(finished_at_ms)
    WHERE status = 'succeeded' AND media_expired_at_ms IS NULL;
-- Tasks whose media expired but whose files are not deleted yet, by the time of the mark.
CREATE INDEX tasks_media_to_purge ON tasks(media_expired_at_ms)
    WHERE media_expired_at_ms IS NOT NULL AND media_purged_at_ms IS NULL;
-- Timeline events, by age: the oldest are pruned first.
CREATE INDEX task_events_by_age ON task_events(at_ms);
-- Daily spend, by day: days no budget counts any more are pruned.
CREATE INDEX spend_daily_by_day ON spend_daily(day);

-- One janitor pass at a time across every replica: a lease, taken with one conditional upsert
-- and renewed between batches.
CREATE TABLE janitor_leases (
    name          TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
