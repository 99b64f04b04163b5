-- The change feed (crates/store/src/changes.rs). On PostgreSQL this step adds the triggers
-- that carry each replica's commits to the others. An SQLite file has one process writing
-- it, which publishes its own commits as it makes them: nothing to add to the schema. The
-- step exists so that both backends keep the same migration numbers.
SELECT 1;
