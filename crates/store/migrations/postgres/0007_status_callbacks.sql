-- Callbacks on status changes. Ark posts one when a task is queued and when it starts running,
-- as well as the final one, so a task may now have several callbacks: one per event
-- ('queued', 'running', 'final'), each with its own constant `webhook-id`. A status callback
-- still undelivered when the final one is written is 'superseded' (never sent after it).
ALTER TABLE callbacks ADD COLUMN event TEXT NOT NULL DEFAULT 'final'
    CHECK (event IN ('queued', 'running', 'final'));
ALTER TABLE callbacks DROP CONSTRAINT callbacks_task_id_key;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_task_id_event_key UNIQUE (task_id, event);
ALTER TABLE callbacks DROP CONSTRAINT callbacks_state_check;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_state_check
    CHECK (state IN ('pending', 'delivered', 'failed', 'gone', 'superseded'));
