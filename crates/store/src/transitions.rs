//! Every statement that changes a task's status is built here, from one of the core's
//! [`Transition`]s: its `SET status = <to>` and its `WHERE status = <from>` guard come from the
//! state machine, and the caller adds only what else the statement sets and checks. So a
//! status change cannot be written in SQL alone (a test below reads the backends' sources to
//! hold them to it).

use seedgate_core::task::Transition;

/// `UPDATE tasks SET status = <to>, <set> WHERE status = <from> AND <guard>`, plus `tail`
/// (a `RETURNING` clause, or nothing).
pub(crate) fn update(transition: Transition, set: &str, guard: &str, tail: &str) -> String {
    let mut sql = format!(
        "UPDATE tasks SET status = '{}', {set} WHERE status = '{}' AND ({guard})",
        transition.to().as_str(),
        transition.from().as_str(),
    );
    if !tail.is_empty() {
        sql.push(' ');
        sql.push_str(tail);
    }
    sql
}

/// Columns cleared whenever a task leaves `running`: its lease is over.
pub(crate) const END_LEASE: &str =
    "lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL";

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::task::TaskStatus;

    #[test]
    fn a_statement_moves_only_from_its_transitions_source() {
        let sql = update(Transition::Cancel, "updated_at_ms = $1", "id = $2", "");
        assert_eq!(
            sql,
            "UPDATE tasks SET status = 'cancelled', updated_at_ms = $1 \
             WHERE status = 'queued' AND (id = $2)"
        );
        for t in Transition::ALL {
            assert!(t.from().can_become(t.to()));
            let sql = update(t, "x = 1", "y = 2", "RETURNING id");
            assert!(sql.contains(&format!("WHERE status = '{}'", t.from().as_str())));
            assert!(sql.ends_with(" RETURNING id"));
        }
        // A running task is cancelled only by an operator's stop, fenced by its lease.
        assert_eq!(
            Transition::ending_in(TaskStatus::Cancelled, true),
            Some(Transition::Stop)
        );
    }

    /// The backends' sources set a task's status only through [`update`]: a statement that
    /// wrote `SET status` itself would be a transition the state machine does not know of.
    #[test]
    fn no_backend_writes_a_status_but_through_a_transition() {
        for (file, source) in [
            ("shared/mod.rs", include_str!("shared/mod.rs")),
            ("shared/queue.rs", include_str!("shared/queue.rs")),
            ("shared/tasks.rs", include_str!("shared/tasks.rs")),
            ("shared/task_admin.rs", include_str!("shared/task_admin.rs")),
            ("shared/callbacks.rs", include_str!("shared/callbacks.rs")),
            ("shared/accounts.rs", include_str!("shared/accounts.rs")),
            (
                "shared/idempotency.rs",
                include_str!("shared/idempotency.rs"),
            ),
            ("shared/assets.rs", include_str!("shared/assets.rs")),
            ("shared/ledger.rs", include_str!("shared/ledger.rs")),
            ("sqlite.rs", include_str!("sqlite.rs")),
            ("postgres.rs", include_str!("postgres.rs")),
        ] {
            let flat = source.to_ascii_lowercase().replace(char::is_whitespace, "");
            assert!(
                !flat.contains("setstatus=") && !flat.contains(",status="),
                "{file} sets a task status in SQL of its own"
            );
        }
    }
}
