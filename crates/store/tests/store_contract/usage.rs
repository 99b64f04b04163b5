//! Usage reports on both backends: after a mixed run (successes, failures, cancels, manual
//! refunds, a task still running), every report's totals equal the ledger's own sums over the
//! same range, however it is grouped or filtered; days and months split at UTC midnight.

use crate::support::*;
use futures::TryStreamExt;
use seedgate_core::ledger::EntryKind;
use seedgate_core::task::{Task, TaskOutput, TaskStatus};
use seedgate_core::usage::{bucket_label, Dimension, UsageFigures, UsageQuery, UsageRow};
use seedgate_core::{ApiKeyId, Resolution, TaskId};
use seedgate_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Runs each body on a fresh store of each backend, as `sqlite::<name>` and `postgres::<name>`.
macro_rules! usage_tests {
    (@backend $backend:ident; $($name:ident),*) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::backend::$backend().await.run(super::$name).await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        usage_tests!(@backend sqlite; $($name),*);
        usage_tests!(@backend postgres; $($name),*);
    };
}

usage_tests! {
    usage_report_totals_equal_the_ledger_after_a_mixed_run,
    usage_days_and_months_split_at_utc_midnight,
}

/// 2026-01-31T23:59:59.999Z: the last millisecond of January.
const JAN_LAST_MS: i64 = 1_769_903_999_999;
const FEB_FIRST_MS: i64 = JAN_LAST_MS + 1;
/// 2026-03-01T00:00:00Z.
const MAR_FIRST_MS: i64 = 1_772_323_200_000;
/// 2026-01-01T00:00:00Z and 2026-04-01T00:00:00Z.
const JAN_FIRST_MS: i64 = 1_767_225_600_000;
const APR_FIRST_MS: i64 = 1_775_001_600_000;

fn query(from_ms: i64, to_ms: i64, group_by: &[Dimension]) -> UsageQuery {
    UsageQuery {
        from_ms,
        to_ms,
        group_by: group_by.to_vec(),
        account: None,
        key: None,
        model: None,
    }
}

async fn report(store: &dyn Store, q: &UsageQuery) -> Vec<UsageRow> {
    store
        .usage_report(q)
        .await
        .expect("report")
        .try_collect()
        .await
        .expect("rows")
}

fn total(rows: &[UsageRow]) -> UsageFigures {
    let mut sum = UsageFigures::default();
    for row in rows {
        sum.add(&row.figures);
    }
    sum
}

/// A task created at `created_at_ms` with a model, resolution and price of its own.
fn task_at(key: &ApiKeyId, credits: u64, model: &str, resolution: Resolution, at: i64) -> Task {
    let mut t = task(key, credits);
    t.request.model = model.into();
    t.request.resolution = resolution;
    t.price.billable_seconds = u32::try_from(credits % 7 + 4).expect("seconds");
    t.created_at_ms = at;
    t.updated_at_ms = at;
    t
}

#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Succeed,
    /// Succeeds, then an operator gives back this much (`None`: everything).
    Refund(Option<i64>),
    Fail,
    Cancel,
    /// Claimed and still running when the report is made.
    Running,
}

/// The ledger's own figures over a range (and for one account's entries only, when given),
/// with each task's status and billable seconds from the store.
async fn ledger_figures(
    store: &dyn Store,
    seconds: &HashMap<String, i64>,
    from_ms: i64,
    to_ms: i64,
    account: Option<&str>,
) -> UsageFigures {
    let dump = store.ledger_dump().await.expect("dump");
    let facts: HashMap<String, (TaskStatus, i64)> = dump
        .tasks
        .iter()
        .map(|t| {
            (
                t.task_id.clone(),
                (t.status, seconds.get(&t.task_id).copied().unwrap_or(0)),
            )
        })
        .collect();
    let entries: Vec<_> = dump
        .entries
        .into_iter()
        .filter(|e| account.is_none_or(|a| e.account_id == a))
        .collect();
    UsageFigures::from_ledger(&entries, &facts, from_ms, to_ms)
}

pub async fn usage_report_totals_equal_the_ledger_after_a_mixed_run(store: Arc<dyn Store>) {
    let ka = new_key(&*store, "team-a", "usage-a", 100_000).await;
    let kb = new_key(&*store, "team-b", "usage-b", 100_000).await;
    store
        .grant_credits(&acct(&ka), 500, "top-up", &actor())
        .await
        .expect("grant");
    let now = seedgate_core::clock::now_ms();
    // Created in January (their holds too); every resolution is written now.
    let plan: Vec<(Task, Fate)> = vec![
        (
            task_at(&ka, 300, "seedance-2.0-mini", Resolution::P720, JAN_LAST_MS),
            Fate::Succeed,
        ),
        (
            task_at(
                &ka,
                410,
                "seedance-2.0-mini",
                Resolution::P480,
                JAN_LAST_MS - 5,
            ),
            Fate::Refund(Some(100)),
        ),
        (
            task_at(&ka, 520, "seedance-2.5", Resolution::P1080, JAN_LAST_MS - 9),
            Fate::Refund(None),
        ),
        (
            task_at(&ka, 230, "seedance-2.5", Resolution::P1080, FEB_FIRST_MS),
            Fate::Fail,
        ),
        (
            task_at(
                &ka,
                140,
                "seedance-2.0-mini",
                Resolution::P720,
                FEB_FIRST_MS + 1,
            ),
            Fate::Cancel,
        ),
        (
            task_at(
                &kb,
                650,
                "seedance-2.0-mini",
                Resolution::P720,
                FEB_FIRST_MS + 2,
            ),
            Fate::Succeed,
        ),
        (
            task_at(&kb, 760, "seedance-2.5", Resolution::P480, FEB_FIRST_MS + 3),
            Fate::Fail,
        ),
        (
            task_at(&kb, 870, "seedance-2.5", Resolution::P1080, MAR_FIRST_MS),
            Fate::Running,
        ),
        (
            task_at(
                &kb,
                980,
                "seedance-2.0-mini",
                Resolution::P720,
                MAR_FIRST_MS + 1,
            ),
            Fate::Cancel,
        ),
    ];
    let fates: HashMap<TaskId, Fate> = plan.iter().map(|(t, f)| (t.id.clone(), *f)).collect();
    let seconds: HashMap<String, i64> = plan
        .iter()
        .map(|(t, _)| (t.id.to_string(), i64::from(t.price.billable_seconds)))
        .collect();
    for (t, _) in &plan {
        store.create_task(t, None).await.expect("create");
    }
    for (t, fate) in &plan {
        if *fate == Fate::Cancel {
            store
                .cancel_task(&t.id, &t.account_id)
                .await
                .expect("cancel");
        }
    }
    while let Some(claimed) = store
        .claim_task("w", Duration::from_secs(3600), 3)
        .await
        .expect("claim")
    {
        let id = claimed.task.id.clone();
        let token = claimed.lease_token.clone();
        // Tasks of the first account ran on one upstream account, the second's on another.
        let upstream = if claimed.task.account_id == acct(&ka) {
            "upstream-one"
        } else {
            "upstream-two"
        };
        assert!(store
            .record_provider_job(&id, &token, upstream, "job", None)
            .await
            .expect("job"));
        match fates[&id] {
            Fate::Succeed | Fate::Refund(_) => assert!(store
                .complete_task(&id, &token, &TaskOutput::default())
                .await
                .expect("complete")),
            Fate::Fail => assert!(store
                .fail_task(&id, &token, &failure())
                .await
                .expect("fail")),
            Fate::Running => {}
            Fate::Cancel => unreachable!("cancelled tasks are not claimed"),
        }
    }
    for (t, fate) in &plan {
        if let Fate::Refund(credits) = fate {
            store
                .refund_task(&t.id, *credits, "the video was blank", &actor())
                .await
                .expect("refund");
        }
    }
    assert_ledger_clean(&*store).await;

    let later = seedgate_core::clock::now_ms() + 60_000;
    // Everything: the report's single row is the ledger's sums, and they are what was done.
    let everything = report(&*store, &query(0, later, &[])).await;
    assert_eq!(everything.len(), 1);
    let figures = everything[0].figures;
    assert_eq!(
        figures,
        ledger_figures(&*store, &seconds, 0, later, None).await
    );
    assert_eq!(
        (
            figures.tasks,
            figures.succeeded,
            figures.failed,
            figures.cancelled
        ),
        (9, 4, 2, 2)
    );
    assert_eq!((figures.refunds, figures.refunded), (2, 6));
    assert_eq!(figures.credits_held, 4860);
    assert_eq!(figures.credits_refunded, 100 + 520);
    // Charged: the four successes, less the refunds, and the running task's hold.
    assert_eq!(figures.credits_charged, 300 + 410 + 520 + 650 - 620 + 870);
    assert_eq!(
        figures.credits_charged,
        figures.credits_held - figures.credits_returned - figures.credits_refunded
    );
    let dump = store.ledger_dump().await.expect("dump");
    let task_entries: i64 = dump
        .entries
        .iter()
        .filter(|e| e.kind != EntryKind::Grant)
        .map(|e| e.amount)
        .sum();
    assert_eq!(figures.credits_charged, -task_entries);
    let seconds_settled: i64 = plan
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Succeed | Fate::Refund(_)))
        .map(|(t, _)| i64::from(t.price.billable_seconds))
        .sum();
    assert_eq!(figures.billable_seconds, seconds_settled);

    // Grouped every way at once, the rows add up to the same totals, each group once.
    let all = Dimension::ALL;
    let rows = report(&*store, &query(0, later, &all)).await;
    assert_eq!(total(&rows), figures);
    let columns = query(0, later, &all).group_columns();
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        assert_eq!(row.group.len(), columns.len());
        assert!(seen.insert(row.group.clone()), "{row:?} twice");
    }

    // Only January: the three holds placed then, nothing resolved yet.
    let january = report(&*store, &query(JAN_FIRST_MS, FEB_FIRST_MS, &[])).await;
    assert_eq!(
        january[0].figures,
        ledger_figures(&*store, &seconds, JAN_FIRST_MS, FEB_FIRST_MS, None).await
    );
    assert_eq!(
        (january[0].figures.tasks, january[0].figures.credits_charged),
        (3, 1230)
    );
    // From the run on: the resolutions and refunds alone, giving credits back.
    let resolved = report(&*store, &query(now, later, &[])).await;
    assert_eq!(
        resolved[0].figures,
        ledger_figures(&*store, &seconds, now, later, None).await
    );
    assert_eq!(resolved[0].figures.tasks, 0);
    assert_eq!(resolved[0].figures.succeeded, 4);

    // One account's report is that account's ledger.
    for key in [&ka, &kb] {
        let account = acct(key).to_string();
        let mut q = query(0, later, &[Dimension::Account, Dimension::Model]);
        q.account = Some(account.clone());
        let rows = report(&*store, &q).await;
        assert!(rows
            .iter()
            .all(|r| r.group[0].as_deref() == Some(account.as_str())));
        assert_eq!(
            total(&rows),
            ledger_figures(&*store, &seconds, 0, later, Some(&account)).await
        );
    }

    // By resolution: what each holds, by what was planned.
    let rows = report(&*store, &query(0, later, &[Dimension::Resolution])).await;
    let by_resolution: HashMap<String, UsageFigures> = rows
        .into_iter()
        .map(|r| (r.group[0].clone().expect("resolution"), r.figures))
        .collect();
    for resolution in [Resolution::P480, Resolution::P720, Resolution::P1080] {
        let planned: Vec<_> = plan
            .iter()
            .filter(|(t, _)| t.request.resolution == resolution)
            .collect();
        let got = by_resolution[resolution.as_str()];
        assert_eq!(got.tasks, i64::try_from(planned.len()).expect("n"));
        let held: u64 = planned.iter().map(|(t, _)| t.price.credits).sum();
        assert_eq!(got.credits_held, i64::try_from(held).expect("held"));
    }

    // By upstream account, model and mode; filtered by key and by model.
    let rows = report(&*store, &query(0, later, &[Dimension::UpstreamAccount])).await;
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.group[0].as_deref()).collect();
    // Cancelled tasks never reached an upstream: null sorts first on SQLite, last on PostgreSQL.
    assert_eq!(names.len(), 3, "{names:?}");
    for name in [None, Some("upstream-one"), Some("upstream-two")] {
        assert!(names.contains(&name), "{names:?}");
    }
    let one = rows
        .iter()
        .find(|r| r.group[0].as_deref() == Some("upstream-one"))
        .expect("upstream-one");
    assert_eq!((one.figures.tasks, one.figures.succeeded), (4, 3));
    let rows = report(&*store, &query(0, later, &[Dimension::Mode])).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].group[0].as_deref(), Some("t2v"));
    let mut by_key = query(0, later, &[Dimension::Key]);
    by_key.key = Some(kb.to_string());
    let rows = report(&*store, &by_key).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].group,
        vec![Some(kb.to_string()), Some("team-b".into())]
    );
    assert_eq!(rows[0].figures.tasks, 4);
    let mut by_model = query(0, later, &[Dimension::Model]);
    by_model.model = Some("seedance-2.5".into());
    let rows = report(&*store, &by_model).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].figures.tasks, 4);
    assert_eq!(rows[0].figures.refunds, 1);

    // Ranges whose whole days come from the daily sums and whose ends from the entries, cut
    // at and between midnights, today included as a whole day: each agrees with the ledger,
    // grouped by day or not.
    let day = 86_400_000;
    let today = now.div_euclid(day) * day;
    for (from, to) in [
        (JAN_FIRST_MS, FEB_FIRST_MS + day),
        (JAN_LAST_MS - 10, MAR_FIRST_MS + 5),
        (FEB_FIRST_MS + 1, now),
        (0, today),
        (today, today + day),
        (today - 1, today + 2 * day),
        (0, today + 2 * day),
        (MAR_FIRST_MS, today + day + 7),
    ] {
        let whole = report(&*store, &query(from, to, &[])).await;
        let expected = ledger_figures(&*store, &seconds, from, to, None).await;
        assert_eq!(whole[0].figures, expected, "[{from}, {to})");
        let by_day = report(
            &*store,
            &query(from, to, &[Dimension::Day, Dimension::Account]),
        )
        .await;
        assert_eq!(total(&by_day), expected, "[{from}, {to}) by day");
        for row in &by_day {
            let label = row.group[0].clone().expect("day");
            let start = chrono_free_day_start(&label);
            let (lo, hi) = (start.max(from), (start + day).min(to));
            let account = row.group[1].clone().expect("account");
            assert_eq!(
                row.figures,
                ledger_figures(&*store, &seconds, lo, hi, Some(&account)).await,
                "{label} of {account} in [{from}, {to})"
            );
        }
    }

    // A range with no entries: one row of zeros without grouping, no rows with it.
    let empty = report(&*store, &query(1, 2, &[])).await;
    assert_eq!(
        empty,
        vec![UsageRow {
            group: vec![],
            figures: UsageFigures::default()
        }]
    );
    assert!(report(&*store, &query(1, 2, &[Dimension::Day]))
        .await
        .is_empty());
}

pub async fn usage_days_and_months_split_at_utc_midnight(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "usage-days", 10_000).await;
    let times = [
        JAN_LAST_MS,
        FEB_FIRST_MS,
        MAR_FIRST_MS - 1,
        MAR_FIRST_MS,
        MAR_FIRST_MS + 86_400_000 - 1,
    ];
    for at in times {
        let t = task_at(&key, 100, "seedance-2.0-mini", Resolution::P720, at);
        store.create_task(&t, None).await.expect("create");
    }
    let by_month = report(
        &*store,
        &query(JAN_FIRST_MS, APR_FIRST_MS, &[Dimension::Month]),
    )
    .await;
    let months: Vec<(Option<String>, i64)> = by_month
        .iter()
        .map(|r| (r.group[0].clone(), r.figures.tasks))
        .collect();
    assert_eq!(
        months,
        vec![
            (Some("2026-01".into()), 1),
            (Some("2026-02".into()), 2),
            (Some("2026-03".into()), 2),
        ]
    );
    let by_day = report(
        &*store,
        &query(JAN_FIRST_MS, APR_FIRST_MS, &[Dimension::Day]),
    )
    .await;
    let days: Vec<(Option<String>, i64)> = by_day
        .iter()
        .map(|r| (r.group[0].clone(), r.figures.tasks))
        .collect();
    assert_eq!(
        days,
        vec![
            (Some("2026-01-31".into()), 1),
            (Some("2026-02-01".into()), 1),
            (Some("2026-02-28".into()), 1),
            (Some("2026-03-01".into()), 2),
        ]
    );
    // The database's labels are core's.
    for at in times {
        let day = bucket_label(Dimension::Day, at);
        assert!(days.iter().any(|(d, _)| *d == day), "{day:?}");
    }
    // The range's ends: `from` counts, `to` does not.
    let february = report(&*store, &query(FEB_FIRST_MS, MAR_FIRST_MS, &[])).await;
    assert_eq!(february[0].figures.tasks, 2);
    assert_eq!(february[0].figures.credits_held, 200);
}

/// Big reports (more rows than are read ahead) hold a connection while their client reads; at
/// most four do at once per process, the next one waits, and one whose client went away gives
/// its turn back. One backend is enough (the limit is the process's), and only one test may
/// hold every turn at once, so this runs on SQLite alone.
#[tokio::test]
async fn big_reports_take_turns_and_give_them_back_when_dropped() {
    crate::backend::sqlite()
        .await
        .run(|store: Arc<dyn Store>| async move {
            let key = new_key(&*store, "k", "usage-turns", 1_000_000).await;
            const DAYS: i64 = 300;
            for day in 0..DAYS {
                let at = JAN_FIRST_MS + day * 86_400_000;
                let t = task_at(&key, 10, "seedance-2.0-mini", Resolution::P480, at);
                store.create_task(&t, None).await.expect("create");
            }
            let by_day = query(
                JAN_FIRST_MS,
                JAN_FIRST_MS + DAYS * 86_400_000,
                &[Dimension::Day],
            );
            let mut open = Vec::new();
            for _ in 0..4 {
                let mut rows = store.usage_report(&by_day).await.expect("report");
                assert!(rows.try_next().await.expect("row").is_some());
                open.push(rows);
            }
            // Every turn is taken by a reader its client is not reading: the next one waits.
            let waiting =
                tokio::time::timeout(Duration::from_millis(300), store.usage_report(&by_day)).await;
            assert!(waiting.is_err(), "a fifth big report did not wait its turn");
            drop(open);
            let rows = tokio::time::timeout(Duration::from_secs(10), report(&*store, &by_day))
                .await
                .expect("the dropped readers gave their turns back");
            assert_eq!(i64::try_from(rows.len()).expect("n"), DAYS);
            assert_eq!(total(&rows).tasks, DAYS);
        })
        .await;
}

/// The start (Unix ms) of the UTC day a report labels `YYYY-MM-DD`, found through core's own
/// labels (no date library in the tests).
fn chrono_free_day_start(label: &str) -> i64 {
    let day = 86_400_000;
    (0..30_000)
        .map(|n| n * day)
        .find(|start| bucket_label(Dimension::Day, *start).as_deref() == Some(label))
        .expect("a day label")
}
