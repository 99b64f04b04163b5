-- Every task's timeline: what happened to it, in order. Events tied to a status change
-- (claimed, requeued, waiting for an account) are written in the transaction of that change;
-- the workers add what they saw (sent to an upstream account, its job id, status changes,
-- errors, failovers, result copies). What the task's own row, its ledger entries, its callback
-- attempts and the admin audit entries naming it already say (accepted with its quote, the end,
-- the money, deliveries, operator actions) is not copied here: a timeline read merges it in.
CREATE TABLE task_events (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
    task_id          TEXT NOT NULL REFERENCES tasks(id),
    at_ms            BIGINT NOT NULL,
    kind             TEXT NOT NULL,              -- seedgate_core::timeline::TaskEvent's kind
    detail_json      TEXT NOT NULL,              -- the whole event, as JSON
    upstream_account TEXT                        -- the provider account it concerns, if any
);
CREATE INDEX task_events_by_task ON task_events(task_id, seq);
-- An upstream account's recent errors, without reading every event.
CREATE INDEX task_events_upstream_errors ON task_events(upstream_account, seq)
    WHERE kind = 'upstream_error';
