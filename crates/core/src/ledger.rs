//! The credit ledger's rules. The ledger is append-only; an account's balance is the sum of its
//! entries. A task places one `hold` (negative) at submit; its terminal state resolves the hold
//! once: `settle` (the charge stands; the entry carries any unused part back, normally 0) or
//! `release` (the whole hold comes back: the automatic refund). An operator may later give a
//! settled task's charge back by hand, once: a `refund` (positive, at most what was charged).
//!
//! [`verify`] checks every invariant over a full dump of the ledger and tasks; stores enforce
//! the same rules with constraints so that a violation cannot be written in the first place.

use crate::task::{HoldResolution, TaskStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The most credits an account may hold (10^15 credits, $10^12). Grants are refused past it, so
/// no sum of a balance and an amount can overflow a 64-bit integer in either database (SQLite
/// would silently turn it into a float, PostgreSQL would fail the statement).
pub const MAX_BALANCE: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Credits added by an operator (positive) or taken away (negative).
    Grant,
    /// Funds reserved for a task (negative).
    Hold,
    /// The task succeeded; the hold is charged. Amount: the unused part returned (≥ 0).
    Settle,
    /// The task failed or was cancelled; the whole hold is returned (positive).
    Release,
    /// An operator gave back (part of) a settled task's charge by hand (positive, at most the
    /// credits charged, at most once per task).
    Refund,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Grant => "grant",
            EntryKind::Hold => "hold",
            EntryKind::Settle => "settle",
            EntryKind::Release => "release",
            EntryKind::Refund => "refund",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EntryKind::Grant,
            EntryKind::Hold,
            EntryKind::Settle,
            EntryKind::Release,
            EntryKind::Refund,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl From<HoldResolution> for EntryKind {
    fn from(r: HoldResolution) -> Self {
        match r {
            HoldResolution::Settle => EntryKind::Settle,
            HoldResolution::Release => EntryKind::Release,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Monotonic position in the ledger; the order balances are replayed in.
    pub seq: i64,
    pub account_id: String,
    pub task_id: Option<String>,
    pub kind: EntryKind,
    pub amount: i64,
    pub created_at_ms: i64,
}

/// The facts about a task the ledger must agree with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFacts {
    pub task_id: String,
    pub account_id: String,
    pub status: TaskStatus,
    pub price_credits: i64,
}

/// The balance an account's row caches, checked against the sum of its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedBalance {
    pub account_id: String,
    pub balance: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The task or account the violation is about.
    pub subject: String,
    pub rule: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.subject, self.rule, self.detail)
    }
}

/// Checks the ledger invariants:
/// 1. every task has exactly one hold, equal to minus its price, on the task's own account;
/// 2. a hold is resolved at most once (one settle or one release, never both, never twice);
/// 3. a settle returns between 0 and the held amount; a release returns exactly the hold;
/// 4. succeeded tasks are settled, failed and cancelled ones released, live ones unresolved;
/// 5. no balance is ever negative, replaying each account's entries in ledger order;
/// 6. the cached balance of each account equals the sum of its entries;
/// 7. only grants stand without a task, and every task-bound entry names a known task;
/// 8. a manual refund is given at most once, only for a succeeded task, after its settle, on
///    its own account, positive and at most the credits the settle charged.
pub fn verify(
    entries: &[LedgerEntry],
    tasks: &[TaskFacts],
    balances: &[CachedBalance],
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut by_task: HashMap<&str, Vec<&LedgerEntry>> = HashMap::new();
    let known: HashMap<&str, &TaskFacts> = tasks.iter().map(|t| (t.task_id.as_str(), t)).collect();

    for e in entries {
        match (&e.task_id, e.kind) {
            (None, EntryKind::Grant) => {}
            (None, kind) => violations.push(Violation {
                subject: format!("entry #{}", e.seq),
                rule: "task entry without a task",
                detail: format!("{} of {} has no task", kind.as_str(), e.amount),
            }),
            (Some(t), EntryKind::Grant) => violations.push(Violation {
                subject: format!("entry #{}", e.seq),
                rule: "grant bound to a task",
                detail: format!("grant names task {t}"),
            }),
            (Some(t), _) => {
                if !known.contains_key(t.as_str()) {
                    violations.push(Violation {
                        subject: t.clone(),
                        rule: "entry for an unknown task",
                        detail: format!("entry #{} ({})", e.seq, e.kind.as_str()),
                    });
                }
                by_task.entry(t.as_str()).or_default().push(e);
            }
        }
    }

    for task in tasks {
        let list = by_task
            .get(task.task_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let holds: Vec<_> = list.iter().filter(|e| e.kind == EntryKind::Hold).collect();
        let resolutions: Vec<_> = list
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Settle | EntryKind::Release))
            .collect();
        let mut flag = |rule: &'static str, detail: String| {
            violations.push(Violation {
                subject: task.task_id.clone(),
                rule,
                detail,
            })
        };

        if holds.len() != 1 {
            flag(
                "exactly one hold per task",
                format!("{} holds", holds.len()),
            );
        }
        for h in &holds {
            if h.amount != -task.price_credits {
                flag(
                    "hold equals the task's price",
                    format!("hold {} for price {}", h.amount, task.price_credits),
                );
            }
            if h.account_id != task.account_id {
                flag(
                    "hold on the task's own account",
                    format!("hold on {}", h.account_id),
                );
            }
        }
        check_refunds(list, task, &mut flag);
        if resolutions.len() > 1 {
            flag(
                "hold resolved at most once",
                format!("{} resolutions", resolutions.len()),
            );
        }
        let held = holds.first().map(|h| -h.amount).unwrap_or(0);
        for r in &resolutions {
            let ok = match r.kind {
                EntryKind::Release => r.amount == held,
                _ => (0..=held).contains(&r.amount),
            };
            if !ok {
                flag(
                    "resolution within the hold",
                    format!("{} of {} against hold {}", r.kind.as_str(), r.amount, held),
                );
            }
            if r.account_id != task.account_id {
                flag(
                    "resolution on the task's own account",
                    format!("on {}", r.account_id),
                );
            }
        }
        let expected = task.status.hold_resolution().map(EntryKind::from);
        let actual = resolutions.first().map(|r| r.kind);
        if resolutions.len() <= 1 && expected != actual {
            flag(
                "terminal state matches its resolution",
                format!(
                    "status {} with {}",
                    task.status.as_str(),
                    actual.map(EntryKind::as_str).unwrap_or("no resolution")
                ),
            );
        }
    }

    let mut running: BTreeMap<&str, i64> = BTreeMap::new();
    let mut ordered: Vec<&LedgerEntry> = entries.iter().collect();
    ordered.sort_by_key(|e| e.seq);
    let mut reported_negative = std::collections::HashSet::new();
    for e in ordered {
        let balance = running.entry(e.account_id.as_str()).or_insert(0);
        *balance += e.amount;
        if *balance < 0 && reported_negative.insert(e.account_id.as_str()) {
            violations.push(Violation {
                subject: e.account_id.clone(),
                rule: "balance never negative",
                detail: format!("balance {} after entry #{}", balance, e.seq),
            });
        }
    }
    for b in balances {
        let sum = running.get(b.account_id.as_str()).copied().unwrap_or(0);
        if sum != b.balance {
            violations.push(Violation {
                subject: b.account_id.clone(),
                rule: "cached balance equals the sum of entries",
                detail: format!("cached {} vs ledger {}", b.balance, sum),
            });
        }
    }
    violations
}

/// Rule 8, over one task's entries.
fn check_refunds(
    entries: &[&LedgerEntry],
    task: &TaskFacts,
    flag: &mut impl FnMut(&'static str, String),
) {
    let refunds: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Refund)
        .collect();
    if refunds.is_empty() {
        return;
    }
    if refunds.len() > 1 {
        flag(
            "refunded by hand at most once",
            format!("{} refunds", refunds.len()),
        );
    }
    let held = entries
        .iter()
        .find(|e| e.kind == EntryKind::Hold)
        .map_or(0, |h| -h.amount);
    let settle = entries.iter().find(|e| e.kind == EntryKind::Settle);
    for r in refunds {
        let Some(settle) = settle.filter(|s| s.seq < r.seq) else {
            flag(
                "a refund follows a settle",
                format!("refund #{} of a task not settled before it", r.seq),
            );
            continue;
        };
        let charged = held - settle.amount;
        if r.amount <= 0 || r.amount > charged {
            flag(
                "refund within the charge",
                format!("refund of {} against a charge of {}", r.amount, charged),
            );
        }
        if task.status != TaskStatus::Succeeded {
            flag(
                "only a succeeded task is refunded by hand",
                format!("refund #{} of a {} task", r.seq, task.status.as_str()),
            );
        }
        if r.account_id != task.account_id {
            flag(
                "refund on the task's own account",
                format!("on {}", r.account_id),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, task: Option<&str>, kind: EntryKind, amount: i64) -> LedgerEntry {
        LedgerEntry {
            seq,
            account_id: "acct_a".into(),
            task_id: task.map(str::to_owned),
            kind,
            amount,
            created_at_ms: seq,
        }
    }

    fn task(id: &str, status: TaskStatus, price: i64) -> TaskFacts {
        TaskFacts {
            task_id: id.into(),
            account_id: "acct_a".into(),
            status,
            price_credits: price,
        }
    }

    fn balance(b: i64) -> Vec<CachedBalance> {
        vec![CachedBalance {
            account_id: "acct_a".into(),
            balance: b,
        }]
    }

    #[test]
    fn a_clean_ledger_passes() {
        let entries = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
            entry(3, Some("t1"), EntryKind::Settle, 0),
            entry(4, Some("t2"), EntryKind::Hold, -300),
            entry(5, Some("t2"), EntryKind::Release, 300),
            entry(6, Some("t3"), EntryKind::Hold, -300),
        ];
        let tasks = vec![
            task("t1", TaskStatus::Succeeded, 300),
            task("t2", TaskStatus::Failed, 300),
            task("t3", TaskStatus::Running, 300),
        ];
        assert_eq!(verify(&entries, &tasks, &balance(400)), vec![]);
    }

    #[test]
    fn double_refund_is_caught() {
        let entries = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
            entry(3, Some("t1"), EntryKind::Release, 300),
            entry(4, Some("t1"), EntryKind::Release, 300),
        ];
        let v = verify(
            &entries,
            &[task("t1", TaskStatus::Failed, 300)],
            &balance(1300),
        );
        assert!(
            v.iter().any(|v| v.rule == "hold resolved at most once"),
            "{v:?}"
        );
    }

    #[test]
    fn missing_refund_and_missing_hold_are_caught() {
        let entries = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
        ];
        let tasks = vec![
            task("t1", TaskStatus::Failed, 300),
            task("t2", TaskStatus::Queued, 100),
        ];
        let v = verify(&entries, &tasks, &balance(700));
        assert!(v
            .iter()
            .any(|v| v.subject == "t1" && v.rule == "terminal state matches its resolution"));
        assert!(v
            .iter()
            .any(|v| v.subject == "t2" && v.rule == "exactly one hold per task"));
    }

    #[test]
    fn negative_balance_and_stale_cache_are_caught() {
        let entries = vec![
            entry(1, None, EntryKind::Grant, 100),
            entry(2, Some("t1"), EntryKind::Hold, -300),
        ];
        let v = verify(
            &entries,
            &[task("t1", TaskStatus::Running, 300)],
            &balance(100),
        );
        assert!(v.iter().any(|v| v.rule == "balance never negative"));
        assert!(v
            .iter()
            .any(|v| v.rule == "cached balance equals the sum of entries"));
    }

    #[test]
    fn wrong_amounts_are_caught() {
        let entries = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -200),
            entry(3, Some("t1"), EntryKind::Release, 250),
        ];
        let v = verify(
            &entries,
            &[task("t1", TaskStatus::Failed, 300)],
            &balance(1050),
        );
        assert!(v.iter().any(|v| v.rule == "hold equals the task's price"));
        assert!(v.iter().any(|v| v.rule == "resolution within the hold"));
    }

    #[test]
    fn one_refund_after_a_settle_within_the_charge_passes() {
        let entries = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
            entry(3, Some("t1"), EntryKind::Settle, 0),
            entry(4, Some("t1"), EntryKind::Refund, 120),
        ];
        let tasks = vec![task("t1", TaskStatus::Succeeded, 300)];
        assert_eq!(verify(&entries, &tasks, &balance(820)), vec![]);
    }

    #[test]
    fn a_second_refund_an_early_one_and_too_much_are_caught() {
        let twice = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
            entry(3, Some("t1"), EntryKind::Settle, 0),
            entry(4, Some("t1"), EntryKind::Refund, 100),
            entry(5, Some("t1"), EntryKind::Refund, 100),
        ];
        let succeeded = [task("t1", TaskStatus::Succeeded, 300)];
        let v = verify(&twice, &succeeded, &balance(900));
        assert!(
            v.iter().any(|v| v.rule == "refunded by hand at most once"),
            "{v:?}"
        );

        let before_settle = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
            entry(3, Some("t1"), EntryKind::Refund, 100),
            entry(4, Some("t1"), EntryKind::Settle, 0),
        ];
        let v = verify(&before_settle, &succeeded, &balance(800));
        assert!(
            v.iter().any(|v| v.rule == "a refund follows a settle"),
            "{v:?}"
        );

        let too_much = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
            entry(3, Some("t1"), EntryKind::Settle, 0),
            entry(4, Some("t1"), EntryKind::Refund, 301),
        ];
        let v = verify(&too_much, &succeeded, &balance(1001));
        assert!(
            v.iter().any(|v| v.rule == "refund within the charge"),
            "{v:?}"
        );
    }

    #[test]
    fn a_refund_of_a_released_task_is_caught() {
        let entries = vec![
            entry(1, None, EntryKind::Grant, 1000),
            entry(2, Some("t1"), EntryKind::Hold, -300),
            entry(3, Some("t1"), EntryKind::Release, 300),
            entry(4, Some("t1"), EntryKind::Refund, 300),
        ];
        let v = verify(
            &entries,
            &[task("t1", TaskStatus::Failed, 300)],
            &balance(1300),
        );
        assert!(
            v.iter().any(|v| v.rule == "a refund follows a settle"),
            "{v:?}"
        );
    }
}
