//! Accounts, and the policies on them and on their keys.
//!
//! An account (a team, a project, a customer) holds the balance, the budgets, the limits and
//! the tasks; each API key belongs to one account and may carry a policy of its own. A request
//! must pass both policies: the key's and its account's. This module only decides: the store
//! keeps the counters that must agree across replicas (tasks in flight and queued, spend per
//! UTC day, the submit rate's theoretical arrival time) and the service keeps the per-replica
//! request-rate limiters.

use crate::catalog::PriceTier;
use crate::request::Resolution;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What a key or an account allows. Every field is optional: an empty policy allows all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Model ids (or aliases) that may be used; `None` allows every model of the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    /// Client addresses allowed to use the key (CIDRs); `None` allows any address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allow: Option<Vec<IpNet>>,
    /// Unix ms after which the key or account is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
    /// Free-form labels for operators (team, cost centre…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Limits::is_empty")]
    pub limits: Limits,
    /// How this account's tasks are priced; only accounts carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_plan: Option<PricePlan>,
}

/// A rate: at most `limit` events per `window_seconds`, with bursts up to `limit` (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub limit: u32,
    pub window_seconds: u32,
}

/// Limits on a key or an account. Each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Task submissions (held across replicas, in the database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_rate: Option<Rate>,
    /// Every authenticated request (held per replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<Rate>,
    /// Tasks queued or running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// Tasks queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queued: Option<u32>,
    /// Credits spent per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget: Option<u64>,
    /// Credits spent per UTC calendar month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_budget: Option<u64>,
    /// Credits spent ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_budget: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self == &Limits::default()
    }

    /// Whether a submit must look at the database counters at all.
    pub fn guards_submits(&self) -> bool {
        self.submit_rate.is_some()
            || self.max_in_flight.is_some()
            || self.max_queued.is_some()
            || self.budgets().next().is_some()
    }

    /// The budgets set, with their period.
    pub fn budgets(&self) -> impl Iterator<Item = (BudgetPeriod, u64)> + '_ {
        [
            (BudgetPeriod::Day, self.daily_budget),
            (BudgetPeriod::Month, self.monthly_budget),
            (BudgetPeriod::Total, self.total_budget),
        ]
        .into_iter()
        .filter_map(|(p, b)| Some((p, b?)))
    }
}

/// How an account's tasks are priced instead of the catalog's prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PricePlan {
    /// Every catalog price times this factor (0.8 is a 20% discount).
    Multiplier(f64),
    /// Prices in USD per second by model id and resolution; what the table lacks is priced
    /// from the catalog.
    Table(BTreeMap<String, BTreeMap<Resolution, PriceTier>>),
}

impl PricePlan {
    /// The tier to price `model` at `resolution` with, given the catalog's.
    pub fn tier(&self, model: &str, resolution: Resolution, catalog: &PriceTier) -> PriceTier {
        match self {
            PricePlan::Multiplier(m) => PriceTier {
                standard: catalog.standard * m,
                with_reference_video: catalog.with_reference_video * m,
            },
            PricePlan::Table(table) => table
                .get(model)
                .and_then(|by_resolution| by_resolution.get(&resolution))
                .copied()
                .unwrap_or(*catalog),
        }
    }

    /// One line for the estimate: what plan priced the request.
    pub fn describe(&self) -> String {
        match self {
            PricePlan::Multiplier(m) => format!("catalog prices × {m}"),
            PricePlan::Table(_) => "account price table".into(),
        }
    }
}

impl Policy {
    /// Refuses a policy that could never be applied as meant.
    pub fn check(&self, for_account: bool) -> Result<(), String> {
        let l = &self.limits;
        for (name, rate) in [
            ("submit_rate", l.submit_rate),
            ("request_rate", l.request_rate),
        ] {
            if let Some(r) = rate {
                if r.limit == 0 || r.window_seconds == 0 {
                    return Err(format!(
                        "{name}: limit and window_seconds must be at least 1"
                    ));
                }
                if r.window_seconds > 31 * 86_400 {
                    return Err(format!("{name}: window_seconds is at most 31 days"));
                }
            }
        }
        match &self.price_plan {
            Some(_) if !for_account => {
                return Err("price_plan: only an account carries a price plan".into())
            }
            Some(PricePlan::Multiplier(m)) if !(m.is_finite() && *m > 0.0 && *m <= 100.0) => {
                return Err("price_plan.multiplier must be above 0 and at most 100".into())
            }
            Some(PricePlan::Table(table)) => {
                for (model, tiers) in table {
                    for (res, tier) in tiers {
                        let ok = |p: f64| p.is_finite() && (0.0..=100.0).contains(&p);
                        if !ok(tier.standard) || !ok(tier.with_reference_video) {
                            return Err(format!(
                                "price_plan.table.{model}.{}: prices are USD per second, 0 to 100",
                                res.as_str()
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        if self.labels.len() > 64
            || self
                .labels
                .iter()
                .any(|(k, v)| k.is_empty() || k.len() > 64 || v.len() > 256)
        {
            return Err(
                "labels: at most 64, each a name of 1-64 bytes and a value of at most 256".into(),
            );
        }
        Ok(())
    }

    /// Whether `model` (the catalog id the request resolved to, or the name the client sent)
    /// may be used.
    pub fn allows_model(&self, model_id: &str, requested: &str) -> bool {
        self.allowed_models.as_ref().is_none_or(|allowed| {
            allowed
                .iter()
                .any(|m| m.eq_ignore_ascii_case(model_id) || m.eq_ignore_ascii_case(requested))
        })
    }

    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) matches IPv4 CIDRs.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.ip_allow
            .as_ref()
            .is_none_or(|nets| nets.iter().any(|n| n.contains(&ip)))
    }

    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|t| now_ms >= t)
    }
}

/// Whose limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Key,
    Account,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Key => "key",
            Scope::Account => "account",
        }
    }
}

/// A budget's period. Days and months are UTC calendar days and months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Day,
    Month,
    Total,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "daily",
            BudgetPeriod::Month => "monthly",
            BudgetPeriod::Total => "total",
        }
    }

    /// The first UTC day (days since 1970-01-01) of the period holding `day`, and the first
    /// day of the next one (`None`: a total budget never resets).
    pub fn span(self, day: i64) -> (i64, Option<i64>) {
        match self {
            BudgetPeriod::Day => (day, Some(day + 1)),
            BudgetPeriod::Total => (i64::MIN, None),
            BudgetPeriod::Month => {
                let date = date_of(day);
                let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date);
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(first);
                (day_number(first), Some(day_number(next)))
            }
        }
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// The UTC day (days since 1970-01-01) of a Unix-ms time.
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// Unix ms at the start of a UTC day.
pub fn day_start_ms(day: i64) -> i64 {
    day.saturating_mul(MS_PER_DAY)
}

fn date_of(day: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(day.saturating_mul(86_400), 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn day_number(date: NaiveDate) -> i64 {
    utc_day(
        date.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(0),
    )
}

/// Why a limit refused a request. Every refusal says when to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitRefusal {
    #[error("{} submit rate limit exceeded: at most {} tasks per {} s", scope.as_str(), rate.limit, rate.window_seconds)]
    SubmitRate {
        scope: Scope,
        rate: Rate,
        retry_after_ms: i64,
    },
    #[error("{} request rate limit exceeded: at most {} requests per {} s", scope.as_str(), rate.limit, rate.window_seconds)]
    RequestRate {
        scope: Scope,
        rate: Rate,
        retry_after_ms: i64,
    },
    #[error("{} limit of {limit} tasks in flight (queued or running) reached", scope.as_str())]
    InFlight { scope: Scope, limit: u32 },
    #[error("{} limit of {limit} queued tasks reached", scope.as_str())]
    Queued { scope: Scope, limit: u32 },
    #[error("{} {} budget of {limit} credits would be exceeded: {spent} spent, this request costs {cost}{}", scope.as_str(), period.as_str(), resets_at_ms.map(|t| format!("; it resets at {}", rfc3339(t))).unwrap_or_else(|| "; it does not reset".into()))]
    Budget {
        scope: Scope,
        period: BudgetPeriod,
        limit: u64,
        spent: u64,
        cost: u64,
        /// Unix ms when the period ends; `None` for the total budget.
        resets_at_ms: Option<i64>,
    },
}

/// How long a client refused for tasks in flight should wait: tasks take tens of seconds.
pub const IN_FLIGHT_RETRY_MS: i64 = 10_000;
/// What a refusal with no reset (a total budget) tells the client to wait: an operator may
/// raise the budget meanwhile.
pub const NO_RESET_RETRY_MS: i64 = 86_400_000;

impl LimitRefusal {
    /// Milliseconds until a retry may succeed.
    pub fn retry_after_ms(&self, now_ms: i64) -> i64 {
        match self {
            LimitRefusal::SubmitRate { retry_after_ms, .. }
            | LimitRefusal::RequestRate { retry_after_ms, .. } => *retry_after_ms,
            LimitRefusal::InFlight { .. } | LimitRefusal::Queued { .. } => IN_FLIGHT_RETRY_MS,
            LimitRefusal::Budget { resets_at_ms, .. } => {
                resets_at_ms.map_or(NO_RESET_RETRY_MS, |t| (t - now_ms).max(1000))
            }
        }
    }

    /// A budget refusal is a quota, the others are rates (dialects with two codes tell them
    /// apart).
    pub fn is_budget(&self) -> bool {
        matches!(self, LimitRefusal::Budget { .. })
    }

    /// A short machine name: `submit_rate`, `request_rate`, `in_flight`, `queued`,
    /// `daily_budget`, `monthly_budget`, `total_budget`.
    pub fn limit_name(&self) -> &'static str {
        match self {
            LimitRefusal::SubmitRate { .. } => "submit_rate",
            LimitRefusal::RequestRate { .. } => "request_rate",
            LimitRefusal::InFlight { .. } => "in_flight",
            LimitRefusal::Queued { .. } => "queued",
            LimitRefusal::Budget { period, .. } => match period {
                BudgetPeriod::Day => "daily_budget",
                BudgetPeriod::Month => "monthly_budget",
                BudgetPeriod::Total => "total_budget",
            },
        }
    }
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// The generic cell rate algorithm over one stored number, the theoretical arrival time (TAT):
/// exact, with no background refill, and the same answer on every replica that reads the same
/// TAT. A rate of `limit` per `window` emits one event every `window / limit` and tolerates a
/// burst of `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Milliseconds between events at the steady rate.
    pub emission_ms: i64,
    /// How far ahead of now the TAT may run: `window − emission`.
    pub tolerance_ms: i64,
}

/// What a rate's state is after an allowed event, for the `RateLimit` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    /// Events still allowed at once.
    pub remaining: u32,
    /// Milliseconds until the whole quota is available again.
    pub reset_ms: i64,
}

impl Gcra {
    pub fn new(rate: Rate) -> Self {
        let window = i64::from(rate.window_seconds) * 1000;
        let emission = (window / i64::from(rate.limit.max(1))).max(1);
        Gcra {
            emission_ms: emission,
            tolerance_ms: window - emission,
        }
    }

    /// An event at `now` against the stored TAT: the new TAT and the state after it, or the
    /// milliseconds to wait.
    pub fn check(&self, tat: Option<i64>, now: i64) -> Result<(i64, RateState), i64> {
        let tat = tat.unwrap_or(now).max(now);
        let wait = tat - now - self.tolerance_ms;
        if wait > 0 {
            return Err(wait);
        }
        let new_tat = tat + self.emission_ms;
        Ok((new_tat, self.state(new_tat, now)))
    }

    /// The state a stored TAT leaves at `now`, without an event.
    pub fn state(&self, tat: i64, now: i64) -> RateState {
        let ahead = (tat - now).max(0);
        let free = self.tolerance_ms + self.emission_ms - ahead;
        RateState {
            remaining: u32::try_from((free / self.emission_ms).max(0)).unwrap_or(u32::MAX),
            reset_ms: ahead,
        }
    }
}

/// What the store counted for one scope before a submit, under the account's lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub in_flight: u64,
    pub queued: u64,
    pub spent_today: u64,
    pub spent_this_month: u64,
    pub spent_total: u64,
}

impl Usage {
    pub fn spent(&self, period: BudgetPeriod) -> u64 {
        match period {
            BudgetPeriod::Day => self.spent_today,
            BudgetPeriod::Month => self.spent_this_month,
            BudgetPeriod::Total => self.spent_total,
        }
    }
}

/// Checks a submit costing `cost` against one scope's counted limits (the submit rate is
/// checked apart, as it writes state). `day` is today's UTC day.
pub fn check_counted(
    scope: Scope,
    limits: &Limits,
    usage: &Usage,
    cost: u64,
    day: i64,
) -> Result<(), LimitRefusal> {
    if let Some(limit) = limits.max_in_flight {
        if usage.in_flight >= u64::from(limit) {
            return Err(LimitRefusal::InFlight { scope, limit });
        }
    }
    if let Some(limit) = limits.max_queued {
        if usage.queued >= u64::from(limit) {
            return Err(LimitRefusal::Queued { scope, limit });
        }
    }
    for (period, limit) in limits.budgets() {
        let spent = usage.spent(period);
        if spent.saturating_add(cost) > limit {
            return Err(LimitRefusal::Budget {
                scope,
                period,
                limit,
                spent,
                cost,
                resets_at_ms: period.span(day).1.map(day_start_ms),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(limit: u32, window_seconds: u32) -> Rate {
        Rate {
            limit,
            window_seconds,
        }
    }

    #[test]
    fn gcra_allows_a_burst_of_the_limit_then_one_per_emission_interval() {
        let g = Gcra::new(rate(5, 10));
        assert_eq!(g.emission_ms, 2000);
        let mut tat = None;
        for i in 0..5 {
            let (t, state) = g.check(tat, 0).expect("within the burst");
            assert_eq!(state.remaining, 4 - i);
            tat = Some(t);
        }
        let wait = g.check(tat, 0).expect_err("the sixth at once is refused");
        assert_eq!(wait, 2000);
        assert!(g.check(tat, 1999).is_err());
        let (t, state) = g.check(tat, 2000).expect("one more after the interval");
        assert_eq!(state.remaining, 0);
        assert_eq!(state.reset_ms, 10_000);
        // After a full window of silence, the whole burst is back.
        assert_eq!(g.state(t, 12_000).remaining, 5);
    }

    #[test]
    fn budget_periods_are_utc_days_and_calendar_months() {
        // 2026-12-07T05:00:00Z
        let now = 1_796_619_600_000;
        let day = utc_day(now);
        let (start, next) = BudgetPeriod::Day.span(day);
        assert_eq!(day_start_ms(start), 1_796_601_600_000); // 2026-12-07T00:00Z
        assert_eq!(next.map(day_start_ms), Some(1_796_688_000_000));
        let (start, next) = BudgetPeriod::Month.span(day);
        assert_eq!(rfc3339(day_start_ms(start)), "2026-12-01T00:00:00Z");
        assert_eq!(
            next.map(|d| rfc3339(day_start_ms(d))).as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(BudgetPeriod::Total.span(day).1, None);
    }

    #[test]
    fn counted_limits_name_what_refused_and_when_it_resets() {
        let limits = Limits {
            max_in_flight: Some(2),
            daily_budget: Some(100),
            ..Limits::default()
        };
        let usage = Usage {
            in_flight: 1,
            spent_today: 90,
            ..Usage::default()
        };
        let day = utc_day(1_796_619_600_000);
        let refusal = check_counted(Scope::Account, &limits, &usage, 11, day).unwrap_err();
        assert_eq!(refusal.limit_name(), "daily_budget");
        assert!(
            refusal
                .to_string()
                .contains("resets at 2026-12-08T00:00:00Z"),
            "{refusal}"
        );
        assert!(check_counted(Scope::Account, &limits, &usage, 10, day).is_ok());
        let busy = Usage {
            in_flight: 2,
            ..usage
        };
        assert_eq!(
            check_counted(Scope::Key, &limits, &busy, 1, day),
            Err(LimitRefusal::InFlight {
                scope: Scope::Key,
                limit: 2
            })
        );
    }

    #[test]
    fn policies_match_models_addresses_and_expiry() {
        let p: Policy = serde_json::from_str(
            r#"{"allowed_models":["seedance-2.0-mini"],"ip_allow":["10.0.0.0/8","2001:db8::/32"],
                "expires_at_ms":1000,"limits":{"max_in_flight":3}}"#,
        )
        .unwrap();
        assert!(p.allows_model("seedance-2.0-mini", "mini"));
        assert!(!p.allows_model("seedance-2.0", "seedance-2.0"));
        assert!(p.allows_ip("10.1.2.3".parse().unwrap()));
        assert!(p.allows_ip("::ffff:10.1.2.3".parse().unwrap()));
        assert!(p.allows_ip("2001:db8::1".parse().unwrap()));
        assert!(!p.allows_ip("192.168.0.1".parse().unwrap()));
        assert!(!p.expired(999));
        assert!(p.expired(1000));
        assert!(Policy::default().allows_ip("1.2.3.4".parse().unwrap()));
        assert!(serde_json::from_str::<Policy>(r#"{"limit":{}}"#).is_err());
    }

    #[test]
    fn price_plans_scale_or_replace_the_catalog_tier() {
        let catalog = PriceTier {
            standard: 0.05,
            with_reference_video: 0.1,
        };
        let plan = PricePlan::Multiplier(0.5);
        assert_eq!(plan.tier("m", Resolution::P720, &catalog).standard, 0.025);
        let plan: PricePlan = serde_json::from_str(
            r#"{"table":{"m":{"720p":{"standard":0.01,"with_reference_video":0.02}}}}"#,
        )
        .unwrap();
        assert_eq!(plan.tier("m", Resolution::P720, &catalog).standard, 0.01);
        assert_eq!(plan.tier("m", Resolution::P480, &catalog), catalog);
        let key_with_plan = Policy {
            price_plan: Some(PricePlan::Multiplier(2.0)),
            ..Policy::default()
        };
        assert!(key_with_plan.check(false).is_err());
        assert!(key_with_plan.check(true).is_ok());
    }
}
