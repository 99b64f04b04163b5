//! Usage reports: what the ledger says was held, charged and given back, with task counts,
//! over a time range and grouped by any of the [`Dimension`]s. The report is read from the
//! ledger (joined to each entry's task for the dimensions), so its figures reconcile exactly
//! with it: [`UsageFigures::from_ledger`] computes the same totals from a ledger dump.
//!
//! **Time attribution**: every figure counts the ledger entries *written* in `[from, to)`
//! (UTC, Unix ms), each in the bucket of its own time. A task's hold is written when it is
//! created, its settle or release when it ends, a manual refund when an operator makes it; so
//! a past month's figures never change, and a refund made in March for a February task lowers
//! March's charge.
//!
//! Parameters are parsed here ([`UsageParams::parse`]) so the admin API, the member route and
//! the command line accept exactly the same ones.

use crate::ledger::LedgerEntry;
use crate::task::TaskStatus;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use std::collections::HashMap;

/// What a report can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The task's account (with its name).
    Account,
    /// The API key that created the task (with its name).
    Key,
    /// The canonical model id.
    Model,
    /// `480p`, `720p` or `1080p`.
    Resolution,
    /// `t2v`, `i2v` or `r2v`.
    Mode,
    /// The upstream account that ran the task last (null for a task no upstream took: never
    /// claimed, or made by the built-in local renderer).
    UpstreamAccount,
    /// The UTC day of the ledger entry, `YYYY-MM-DD`.
    Day,
    /// The UTC month of the ledger entry, `YYYY-MM`.
    Month,
}

impl Dimension {
    pub const ALL: [Dimension; 8] = [
        Dimension::Account,
        Dimension::Key,
        Dimension::Model,
        Dimension::Resolution,
        Dimension::Mode,
        Dimension::UpstreamAccount,
        Dimension::Day,
        Dimension::Month,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Account => "account",
            Dimension::Key => "key",
            Dimension::Model => "model",
            Dimension::Resolution => "resolution",
            Dimension::Mode => "mode",
            Dimension::UpstreamAccount => "upstream_account",
            Dimension::Day => "day",
            Dimension::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The columns this dimension adds to a row: its value, and for accounts and keys their
    /// name as well (ids alone make a poor spreadsheet).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Dimension::Account => &["account", "account_name"],
            Dimension::Key => &["key", "key_name"],
            Dimension::Model => &["model"],
            Dimension::Resolution => &["resolution"],
            Dimension::Mode => &["mode"],
            Dimension::UpstreamAccount => &["upstream_account"],
            Dimension::Day => &["day"],
            Dimension::Month => &["month"],
        }
    }

    /// Whether members may group their own usage by it: which upstream account ran a task is
    /// the operator's business.
    pub fn for_members(self) -> bool {
        self != Dimension::UpstreamAccount
    }
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageFormat {
    Json,
    Csv,
}

/// A usage report to run: the range `[from_ms, to_ms)`, the grouping, and the filters (ids,
/// once the caller has resolved names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    pub group_by: Vec<Dimension>,
    pub account: Option<String>,
    pub key: Option<String>,
    pub model: Option<String>,
}

impl UsageQuery {
    /// Every grouping column of a row, in order.
    pub fn group_columns(&self) -> Vec<&'static str> {
        self.group_by
            .iter()
            .flat_map(|d| d.columns().iter().copied())
            .collect()
    }
}

/// The figures of one group (or of the whole report). Counts and credits are sums over the
/// ledger entries written in the range; see [`UsageFigures::COLUMNS`] for each meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UsageFigures {
    pub tasks: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub refunded: i64,
    pub refunds: i64,
    pub credits_held: i64,
    pub credits_returned: i64,
    pub credits_refunded: i64,
    pub credits_charged: i64,
    pub billable_seconds: i64,
}

impl UsageFigures {
    /// Each figure's name and meaning, in row order (the README and the OpenAPI document say
    /// the same).
    pub const COLUMNS: [(&'static str, &'static str); 11] = [
        ("tasks", "tasks created (their hold placed) in the range"),
        ("succeeded", "tasks settled (succeeded) in the range"),
        ("failed", "tasks released because they failed, in the range"),
        ("cancelled", "tasks released because they were cancelled, in the range"),
        (
            "refunded",
            "distinct tasks given credits back in the range: released (failed or cancelled) or refunded by hand",
        ),
        ("refunds", "manual refunds (ledger `refund` entries) made in the range"),
        ("credits_held", "credits held by the holds placed in the range"),
        (
            "credits_returned",
            "credits returned automatically in the range: releases of failed and cancelled tasks, and any unused part a settle gives back",
        ),
        ("credits_refunded", "credits given back by manual refunds in the range"),
        (
            "credits_charged",
            "credits_held − credits_returned − credits_refunded: minus the sum of every task-bound ledger entry in the range",
        ),
        ("billable_seconds", "billable seconds of the tasks settled in the range"),
    ];

    pub fn values(&self) -> [i64; 11] {
        [
            self.tasks,
            self.succeeded,
            self.failed,
            self.cancelled,
            self.refunded,
            self.refunds,
            self.credits_held,
            self.credits_returned,
            self.credits_refunded,
            self.credits_charged,
            self.billable_seconds,
        ]
    }

    /// Adds another group's figures (for the report's totals). `refunded` counts distinct
    /// tasks per group; a task is in one group only unless the report is split by time and
    /// the task was released and refunded in different buckets, which cannot happen (a task
    /// is released or refunded, never both).
    pub fn add(&mut self, other: &UsageFigures) {
        self.tasks += other.tasks;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.refunded += other.refunded;
        self.refunds += other.refunds;
        self.credits_held += other.credits_held;
        self.credits_returned += other.credits_returned;
        self.credits_refunded += other.credits_refunded;
        self.credits_charged += other.credits_charged;
        self.billable_seconds += other.billable_seconds;
    }

    /// The report's totals computed straight from ledger entries: what a report over
    /// `[from_ms, to_ms)` must add up to. `tasks` gives each task's status and billable
    /// seconds; grants (bound to no task) are not usage.
    pub fn from_ledger(
        entries: &[LedgerEntry],
        tasks: &HashMap<String, (TaskStatus, i64)>,
        from_ms: i64,
        to_ms: i64,
    ) -> Self {
        let mut figures = UsageFigures::default();
        let mut given_back = std::collections::HashSet::new();
        for e in entries {
            let Some(task) = e.task_id.as_deref() else {
                continue;
            };
            if e.created_at_ms < from_ms || e.created_at_ms >= to_ms {
                continue;
            }
            let (status, seconds) = tasks.get(task).copied().unwrap_or((TaskStatus::Queued, 0));
            figures.credits_charged -= e.amount;
            // By name, so that a kind this build does not list yet (`refund`) is still read.
            match e.kind.as_str() {
                "hold" => {
                    figures.tasks += 1;
                    figures.credits_held -= e.amount;
                }
                "settle" => {
                    figures.succeeded += 1;
                    figures.credits_returned += e.amount;
                    figures.billable_seconds += seconds;
                }
                "release" => {
                    match status {
                        TaskStatus::Failed => figures.failed += 1,
                        TaskStatus::Cancelled => figures.cancelled += 1,
                        _ => {}
                    }
                    figures.credits_returned += e.amount;
                    given_back.insert(task);
                }
                "refund" => {
                    figures.refunds += 1;
                    figures.credits_refunded += e.amount;
                    given_back.insert(task);
                }
                _ => {}
            }
        }
        figures.refunded = i64::try_from(given_back.len()).unwrap_or(i64::MAX);
        figures
    }
}

/// One group of a report: its grouping values (in [`UsageQuery::group_columns`] order; null
/// where the task has none, e.g. the upstream account of a task no worker took) and figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub group: Vec<Option<String>>,
    pub figures: UsageFigures,
}

/// The label of the UTC day or month holding `ms` (what the `day` and `month` columns hold).
pub fn bucket_label(dimension: Dimension, ms: i64) -> Option<String> {
    let at = DateTime::<Utc>::from_timestamp_millis(ms)?;
    match dimension {
        Dimension::Day => Some(at.format("%Y-%m-%d").to_string()),
        Dimension::Month => Some(format!("{:04}-{:02}", at.year(), at.month())),
        _ => None,
    }
}

/// A usage report's parameters as a caller wrote them (query string or command line).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub group_by: Option<String>,
    pub format: Option<String>,
    pub account: Option<String>,
    pub key: Option<String>,
    pub model: Option<String>,
}

/// A parameter that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {reason}")]
pub struct UsageParamError {
    pub param: &'static str,
    pub reason: String,
}

fn bad(param: &'static str, reason: impl Into<String>) -> UsageParamError {
    UsageParamError {
        param,
        reason: reason.into(),
    }
}

/// The latest time a report may name: the end of year 9999.
const MAX_MS: i64 = 253_402_300_799_999;

/// A point in time: RFC 3339 (`2026-03-01T00:00:00Z`, any offset, turned into UTC) or Unix
/// milliseconds.
pub fn parse_time(param: &'static str, text: &str) -> Result<i64, UsageParamError> {
    let text = text.trim();
    let ms = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>()
            .map_err(|_| bad(param, "Unix milliseconds out of range"))?
    } else {
        DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                bad(
                    param,
                    format!(
                        "`{text}` is neither RFC 3339 (2026-03-01T00:00:00Z) nor Unix milliseconds: {e}"
                    ),
                )
            })?
            .timestamp_millis()
    };
    if !(0..=MAX_MS).contains(&ms) {
        return Err(bad(param, "must lie between 1970 and the end of 9999"));
    }
    Ok(ms)
}

/// The start of the UTC month holding `ms`.
fn month_start_ms(ms: i64) -> i64 {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .and_then(|t| t.date_naive().with_day(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

/// RFC 3339 of a Unix-ms time, for the report's header.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl UsageParams {
    /// The report these parameters ask for. `from` defaults to the start of the current UTC
    /// month and `to` (exclusive) to `now_ms`; `group_by` is a comma-separated list (empty:
    /// one row of totals). Members (`operator` false) cannot filter by account (they see
    /// their own) nor group by upstream account. The filters are returned as given; the
    /// caller resolves account and key names.
    pub fn parse(
        &self,
        now_ms: i64,
        operator: bool,
    ) -> Result<(UsageQuery, Option<UsageFormat>), UsageParamError> {
        let to_ms = match &self.to {
            Some(t) => parse_time("to", t)?,
            None => now_ms.clamp(0, MAX_MS),
        };
        let from_ms = match &self.from {
            Some(f) => parse_time("from", f)?,
            None => month_start_ms(to_ms.saturating_sub(1).max(0)),
        };
        if from_ms >= to_ms {
            return Err(bad(
                "from",
                format!(
                    "must be before `to` ({} is not before {})",
                    rfc3339(from_ms),
                    rfc3339(to_ms)
                ),
            ));
        }
        let mut group_by = Vec::new();
        for name in self
            .group_by
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let dimension = Dimension::parse(name).ok_or_else(|| {
                bad(
                    "group_by",
                    format!(
                        "`{name}` is not a dimension; use any of {}",
                        Dimension::ALL.map(Dimension::as_str).join(", ")
                    ),
                )
            })?;
            if !operator && !dimension.for_members() {
                return Err(bad("group_by", format!("`{name}` is for operators only")));
            }
            if group_by.contains(&dimension) {
                return Err(bad("group_by", format!("`{name}` is named twice")));
            }
            group_by.push(dimension);
        }
        let format = match self.format.as_deref().map(str::trim) {
            None => None,
            Some(f) if f.eq_ignore_ascii_case("json") => Some(UsageFormat::Json),
            Some(f) if f.eq_ignore_ascii_case("csv") => Some(UsageFormat::Csv),
            Some(other) => {
                return Err(bad("format", format!("`{other}`: use json or csv")));
            }
        };
        let filter =
            |param: &'static str, value: &Option<String>| match value.as_deref().map(str::trim) {
                None => Ok(None),
                Some("") => Err(bad(param, "must not be empty")),
                Some(v) if v.len() > 200 => Err(bad(param, "at most 200 bytes")),
                Some(v) => Ok(Some(v.to_string())),
            };
        if !operator && self.account.is_some() {
            return Err(bad("account", "members see their own account only"));
        }
        Ok((
            UsageQuery {
                from_ms,
                to_ms,
                group_by,
                account: filter("account", &self.account)?,
                key: filter("key", &self.key)?,
                model: filter("model", &self.model)?,
            },
            format,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::EntryKind;

    const NOW: i64 = 1_772_409_600_000; // 2026-03-02T00:00:00Z

    fn params(pairs: &[(&str, &str)]) -> UsageParams {
        let mut p = UsageParams::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "from" => p.from = v,
                "to" => p.to = v,
                "group_by" => p.group_by = v,
                "format" => p.format = v,
                "account" => p.account = v,
                "key" => p.key = v,
                "model" => p.model = v,
                _ => panic!("{k}"),
            }
        }
        p
    }

    #[test]
    fn days_and_months_split_at_utc_midnight() {
        // 2026-01-31T23:59:59.999Z and the next millisecond.
        let last = 1_769_903_999_999;
        assert_eq!(
            bucket_label(Dimension::Day, last).as_deref(),
            Some("2026-01-31")
        );
        assert_eq!(
            bucket_label(Dimension::Day, last + 1).as_deref(),
            Some("2026-02-01")
        );
        assert_eq!(
            bucket_label(Dimension::Month, last).as_deref(),
            Some("2026-01")
        );
        assert_eq!(
            bucket_label(Dimension::Month, last + 1).as_deref(),
            Some("2026-02")
        );
        // An offset in the input is turned into UTC: 00:30 in Paris is still January in UTC.
        let paris = parse_time("from", "2026-02-01T00:30:00+01:00").expect("time");
        assert_eq!(
            bucket_label(Dimension::Month, paris).as_deref(),
            Some("2026-01")
        );
        assert_eq!(bucket_label(Dimension::Model, paris), None);
    }

    #[test]
    fn times_are_rfc3339_or_unix_ms() {
        assert_eq!(parse_time("from", "1769904000000"), Ok(1_769_904_000_000));
        assert_eq!(
            parse_time("from", "2026-02-01T00:00:00Z"),
            Ok(1_769_904_000_000)
        );
        assert_eq!(
            parse_time("from", "2026-02-01T01:00:00+01:00"),
            Ok(1_769_904_000_000)
        );
        for bad in [
            "yesterday",
            "",
            "-5",
            "2026-02-01",
            "99999999999999999999",
            "1e12",
        ] {
            let e = parse_time("to", bad).expect_err(bad);
            assert_eq!(e.param, "to", "{bad}");
        }
    }

    #[test]
    fn defaults_are_this_month_up_to_now() {
        let (q, format) = UsageParams::default().parse(NOW, true).expect("parse");
        assert_eq!(q.to_ms, NOW);
        assert_eq!(q.from_ms, 1_772_323_200_000); // 2026-03-01T00:00:00Z
        assert!(q.group_by.is_empty());
        assert_eq!(format, None);
    }

    #[test]
    fn group_by_lists_dimensions_once_each() {
        let (q, format) = params(&[
            ("group_by", "account, model,resolution,day"),
            ("format", "CSV"),
            ("from", "0"),
        ])
        .parse(NOW, true)
        .expect("parse");
        assert_eq!(
            q.group_by,
            vec![
                Dimension::Account,
                Dimension::Model,
                Dimension::Resolution,
                Dimension::Day
            ]
        );
        assert_eq!(
            q.group_columns(),
            vec!["account", "account_name", "model", "resolution", "day"]
        );
        assert_eq!(format, Some(UsageFormat::Csv));
        let twice = params(&[("group_by", "model,model")]).parse(NOW, true);
        assert_eq!(twice.expect_err("twice").param, "group_by");
        let unknown = params(&[("group_by", "colour")]).parse(NOW, true);
        let e = unknown.expect_err("unknown");
        assert!(e.reason.contains("upstream_account"), "{e}");
    }

    #[test]
    fn bad_parameters_name_themselves() {
        // (parameters, asked by an operator, the parameter the error names)
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);
        let cases: &[Case] = &[
            (
                &[
                    ("from", "2026-03-02T00:00:00Z"),
                    ("to", "2026-03-01T00:00:00Z"),
                ],
                true,
                "from",
            ),
            (&[("from", "5"), ("to", "5")], true, "from"),
            (&[("format", "xml")], true, "format"),
            (&[("group_by", "upstream_account")], false, "group_by"),
            (&[("account", "acct_x")], false, "account"),
            (&[("model", " ")], true, "model"),
        ];
        for (pairs, operator, param) in cases {
            let e = params(pairs).parse(NOW, *operator).expect_err(param);
            assert_eq!(e.param, *param, "{pairs:?}: {e}");
        }
        // Operators may group by upstream account and filter by account.
        let (q, _) = params(&[("group_by", "upstream_account"), ("account", "team-a")])
            .parse(NOW, true)
            .expect("operator");
        assert_eq!(q.account.as_deref(), Some("team-a"));
    }

    fn entry(seq: i64, task: &str, kind: EntryKind, amount: i64, at: i64) -> LedgerEntry {
        LedgerEntry {
            seq,
            account_id: "acct_a".into(),
            task_id: Some(task.into()),
            kind,
            amount,
            created_at_ms: at,
        }
    }

    #[test]
    fn ledger_totals_count_entries_in_the_range_by_their_own_time() {
        let entries = vec![
            LedgerEntry {
                seq: 1,
                account_id: "acct_a".into(),
                task_id: None,
                kind: EntryKind::Grant,
                amount: 5000,
                created_at_ms: 10,
            },
            entry(2, "ok", EntryKind::Hold, -300, 10),
            entry(3, "ok", EntryKind::Settle, 0, 20),
            entry(4, "bad", EntryKind::Hold, -200, 10),
            entry(5, "bad", EntryKind::Release, 200, 20),
            entry(6, "stop", EntryKind::Hold, -100, 10),
            entry(7, "stop", EntryKind::Release, 100, 20),
            // Held inside the range, released after it.
            entry(8, "late", EntryKind::Hold, -400, 15),
            entry(9, "late", EntryKind::Release, 400, 30),
        ];
        let tasks: HashMap<String, (TaskStatus, i64)> = [
            ("ok", (TaskStatus::Succeeded, 5)),
            ("bad", (TaskStatus::Failed, 4)),
            ("stop", (TaskStatus::Cancelled, 3)),
            ("late", (TaskStatus::Failed, 8)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let f = UsageFigures::from_ledger(&entries, &tasks, 10, 30);
        assert_eq!(
            f,
            UsageFigures {
                tasks: 4,
                succeeded: 1,
                failed: 1,
                cancelled: 1,
                refunded: 2,
                refunds: 0,
                credits_held: 1000,
                credits_returned: 300,
                credits_refunded: 0,
                credits_charged: 700,
                billable_seconds: 5,
            }
        );
        assert_eq!(
            f.credits_charged,
            f.credits_held - f.credits_returned - f.credits_refunded
        );
        let everything = UsageFigures::from_ledger(&entries, &tasks, 0, 100);
        assert_eq!(everything.credits_charged, 300);
        assert_eq!(everything.failed, 2);
    }
}
