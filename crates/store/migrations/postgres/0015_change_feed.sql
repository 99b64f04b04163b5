-- The change feed across replicas (crates/store/src/changes.rs). Every write to a task and
-- every callback becoming pending notifies channel `seedgate_changes` when its transaction
-- commits (never before, and never for a rolled-back one), so each replica's listener hears
-- every replica's commits: its task cache drops the row at once, its workers and callback
-- dispatcher wake without waiting for their tick. Identical payloads within one transaction
-- are folded into one by PostgreSQL.
--   t:<task id>  that task's row changed
--   q            tasks may be due for a worker
--   c            callbacks may be due for the dispatcher
CREATE FUNCTION seedgate_task_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('seedgate_changes', 't:' || OLD.id);
        RETURN NULL;
    END IF;
    PERFORM pg_notify('seedgate_changes', 't:' || NEW.id);
    IF NEW.status = 'queued' THEN
        PERFORM pg_notify('seedgate_changes', 'q');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_change_feed AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION seedgate_task_changed();

CREATE FUNCTION seedgate_callback_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('seedgate_changes', 'c');
    RETURN NULL;
END;
$$;

CREATE TRIGGER callbacks_change_feed AFTER INSERT OR UPDATE OF state, next_attempt_at_ms ON callbacks
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION seedgate_callback_pending();
