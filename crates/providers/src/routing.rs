//! Which provider account a new task goes to. Per model, an ordered list of accounts and a
//! strategy: `priority` tries them in order, `weighted` in a random order drawn by weight. An
//! account whose circuit breaker is open, that does not serve the model, or that is at its
//! concurrency cap is passed over. Once an upstream accepts a task, the task sticks to that
//! account (the caller records it); the router is only asked about new submits.

use crate::Provider;
use rand::Rng;
use seedgate_core::{DeliveryCheck, GenerationRequest, Inexpressible};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoutingStrategy {
    /// The first account that can take the task.
    #[default]
    Priority,
    /// A random account, drawn in proportion to the weights; the others follow as fallbacks.
    Weighted,
}

/// A model's route: accounts by name, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Route {
    pub strategy: RoutingStrategy,
    pub providers: Vec<String>,
}

/// When an account's breaker opens, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive transient failures (429, 5xx, no connection) that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker keeps the account out before one trial request is let through.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    open_until: Option<Instant>,
    /// A half-open breaker lets one trial through; others wait for its outcome, or until this
    /// time (a trial offered to a submit that went elsewhere never reports back).
    trial_until: Option<Instant>,
}

/// An account's breaker, shared by every task on this replica.
#[derive(Debug, Default)]
pub struct AccountHealth {
    breaker: Mutex<Breaker>,
}

/// What the breaker says about sending to an account now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Closed,
    /// Open, but its time is up: this caller is the trial.
    Trial,
    Open,
}

impl AccountHealth {
    fn admit(&self, now: Instant) -> Admission {
        let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        match b.open_until {
            None => Admission::Closed,
            Some(until) if now < until || b.trial_until.is_some_and(|t| now < t) => Admission::Open,
            Some(until) => {
                let open_for = until.saturating_duration_since(b.opened_at.unwrap_or(until));
                b.trial_until = Some(now + open_for);
                Admission::Trial
            }
        }
    }

    fn succeeded(&self) {
        let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        *b = Breaker::default();
    }

    fn failed(&self, config: &BreakerConfig, now: Instant) {
        let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        b.consecutive_failures = b.consecutive_failures.saturating_add(1);
        if b.trial_until.is_some() || b.consecutive_failures >= config.failure_threshold {
            b.opened_at = Some(now);
            b.open_until = Some(now + config.open_for);
        }
        b.trial_until = None;
    }

    /// Whether the breaker keeps the account out right now.
    pub fn is_open(&self) -> bool {
        let b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        b.open_until.is_some_and(|until| Instant::now() < until)
    }

    /// The breaker as an operator sees it (the admin API's upstream view, the metrics).
    pub fn state(&self) -> BreakerView {
        let b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let wall = |at: Instant| std::time::SystemTime::now() + at.saturating_duration_since(now);
        let state = match b.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open { until: wall(until) },
            // Its time is up: the next submit (or the one now out) is the trial.
            Some(_) => BreakerState::HalfOpen,
        };
        BreakerView {
            state,
            consecutive_failures: b.consecutive_failures,
            opened_at: b
                .opened_at
                .map(|at| std::time::SystemTime::now() - now.saturating_duration_since(at)),
        }
    }
}

/// Where an account's breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Keeping the account out until then (wall-clock time, for display).
    Open {
        until: std::time::SystemTime,
    },
    /// Its open time is over: one trial request decides.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// [`AccountHealth::state`]: the state and what led to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerView {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// When it last opened, while it is open or half-open.
    pub opened_at: Option<std::time::SystemTime>,
}

/// One configured account.
pub struct Account {
    /// The account's provider, wrapped in [`crate::observed::Observed`] so that every call is
    /// counted in the metrics and in `stats`.
    pub provider: Arc<dyn Provider>,
    pub weight: u32,
    /// Tasks this account may have in flight at once, across all replicas.
    pub max_concurrent: Option<u64>,
    pub health: AccountHealth,
    /// Its recent calls on this replica (success rate, latencies, last errors).
    pub stats: Arc<crate::observed::UpstreamStats>,
}

impl Account {
    pub fn new(provider: Arc<dyn Provider>, weight: u32, max_concurrent: Option<u64>) -> Self {
        let stats = Arc::new(crate::observed::UpstreamStats::default());
        Self {
            provider: Arc::new(crate::observed::Observed::new(provider, stats.clone())),
            weight,
            max_concurrent,
            health: AccountHealth::default(),
            stats,
        }
    }

    pub fn name(&self) -> &str {
        self.provider.name()
    }
}

/// Why no account was offered for a submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAccount {
    /// No configured account serves the model at all.
    Unserved,
    /// Every account that serves the model lacks a feature the request uses (the first
    /// account's reason).
    Inexpressible(Inexpressible),
    /// Every account that can take it is busy or cooling off: wait, then try again.
    Busy,
}

pub struct Router {
    accounts: BTreeMap<String, Arc<Account>>,
    routes: HashMap<String, Route>,
    /// Used for models without a route of their own.
    default_route: Route,
    breaker: BreakerConfig,
}

impl Router {
    /// `routes` name accounts that must exist in `accounts` (checked when the config loads).
    pub fn new(
        accounts: Vec<Account>,
        routes: HashMap<String, Route>,
        default_route: Route,
        breaker: BreakerConfig,
    ) -> Result<Self, String> {
        let accounts: BTreeMap<String, Arc<Account>> = accounts
            .into_iter()
            .map(|a| (a.name().to_string(), Arc::new(a)))
            .collect();
        for (model, route) in routes
            .iter()
            .map(|(m, r)| (m.as_str(), r))
            .chain([("(default)", &default_route)])
        {
            if let Some(missing) = route.providers.iter().find(|p| !accounts.contains_key(*p)) {
                return Err(format!(
                    "routing for {model} names provider {missing}, which is not configured"
                ));
            }
        }
        Ok(Self {
            accounts,
            routes,
            default_route,
            breaker,
        })
    }

    /// The account a task is stuck to.
    pub fn account(&self, name: &str) -> Option<&Arc<Account>> {
        self.accounts.get(name)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.accounts.values()
    }

    pub fn route(&self, model: &str) -> &Route {
        self.routes.get(model).unwrap_or(&self.default_route)
    }

    /// Whether any account on the model's route has a concurrency cap, i.e. whether
    /// [`Router::candidates`] needs the running counts at all.
    pub fn route_has_caps(&self, model: &str) -> bool {
        self.route(model)
            .providers
            .iter()
            .filter_map(|name| self.accounts.get(name))
            .any(|a| a.max_concurrent.is_some())
    }

    /// The accounts on the request's route that serve its model and can carry it as asked,
    /// in the route's order.
    fn able(&self, request: &GenerationRequest) -> Result<Vec<&Arc<Account>>, NoAccount> {
        let serving: Vec<&Arc<Account>> = self
            .route(&request.model)
            .providers
            .iter()
            .filter_map(|name| self.accounts.get(name))
            .filter(|a| a.provider.serves(&request.model))
            .collect();
        if serving.is_empty() {
            return Err(NoAccount::Unserved);
        }
        let mut refusal = None;
        let able: Vec<&Arc<Account>> = serving
            .into_iter()
            .filter(|a| match a.provider.inexpressible(request) {
                None => true,
                Some(why) => {
                    refusal.get_or_insert(why);
                    false
                }
            })
            .collect();
        match refusal {
            Some(why) if able.is_empty() => Err(NoAccount::Inexpressible(why)),
            _ => Ok(able),
        }
    }

    /// The accounts to try for a new task, best first. `active` gives the tasks in flight per
    /// account (across replicas); accounts at their cap and accounts whose breaker is open are
    /// left out, and so are accounts that cannot carry the request as asked.
    pub fn candidates(
        &self,
        request: &GenerationRequest,
        active: &HashMap<String, u64>,
    ) -> Result<Vec<Arc<Account>>, NoAccount> {
        let able = self.able(request)?;
        let ordered = match self.route(&request.model).strategy {
            RoutingStrategy::Priority => able,
            RoutingStrategy::Weighted => weighted_order(able, &mut rand::thread_rng()),
        };
        let now = Instant::now();
        let open: Vec<Arc<Account>> = ordered
            .into_iter()
            .filter(|a| {
                a.max_concurrent
                    .is_none_or(|cap| active.get(a.name()).copied().unwrap_or(0) < cap)
            })
            .filter(|a| a.health.admit(now) != Admission::Open)
            .cloned()
            .collect();
        if open.is_empty() {
            Err(NoAccount::Busy)
        } else {
            Ok(open)
        }
    }

    /// Feeds the breaker: a submit or poll the account answered.
    pub fn record_success(&self, account: &str) {
        if let Some(a) = self.accounts.get(account) {
            a.health.succeeded();
        }
    }

    /// Feeds the breaker: a transient failure (429, 5xx, no connection).
    pub fn record_failure(&self, account: &str) {
        if let Some(a) = self.accounts.get(account) {
            a.health.failed(&self.breaker, Instant::now());
        }
    }
}

/// Asked at submit, before any money moves. A model no account serves is let through: that is
/// the operator's configuration, reported when the task is routed.
impl DeliveryCheck for Router {
    fn check(&self, request: &GenerationRequest) -> Result<(), Inexpressible> {
        match self.able(request) {
            Err(NoAccount::Inexpressible(why)) => Err(why),
            _ => Ok(()),
        }
    }
}

/// A random order in which each account comes first in proportion to its weight
/// (Efraimidis–Spirakis: sort by `u^(1/w)`, largest first). Weight 0 goes last.
fn weighted_order<'a>(
    accounts: Vec<&'a Arc<Account>>,
    rng: &mut impl Rng,
) -> Vec<&'a Arc<Account>> {
    let mut keyed: Vec<(f64, &Arc<Account>)> = accounts
        .into_iter()
        .map(|a| {
            let key = if a.weight == 0 {
                -1.0
            } else {
                rng.gen::<f64>().powf(1.0 / f64::from(a.weight))
            };
            (key, a)
        })
        .collect();
    keyed.sort_by(|x, y| y.0.total_cmp(&x.0));
    keyed.into_iter().map(|(_, a)| a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CheckReport, Job, Progress, ProviderError};
    use async_trait::async_trait;

    /// An account by name that serves every model or none, and may lack web search.
    struct Named(&'static str, bool, bool);

    #[async_trait]
    impl Provider for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn serves(&self, _model: &str) -> bool {
            self.1
        }
        fn inexpressible(&self, request: &GenerationRequest) -> Option<Inexpressible> {
            (self.2 && request.web_search)
                .then(|| Inexpressible::new("web_search", format!("{} has no web search", self.0)))
        }
        async fn submit(&self, _job: &Job) -> Result<Progress, ProviderError> {
            unreachable!("routing never submits")
        }
        async fn poll(&self, _job: &Job, _id: &str) -> Result<Progress, ProviderError> {
            unreachable!("routing never polls")
        }
        async fn check(&self) -> CheckReport {
            unreachable!("routing never checks")
        }
    }

    fn router(
        strategy: RoutingStrategy,
        accounts: &[(&'static str, u32, Option<u64>, bool)],
    ) -> Router {
        let route = Route {
            strategy,
            providers: accounts.iter().map(|a| a.0.to_string()).collect(),
        };
        Router::new(
            accounts
                .iter()
                .map(|(name, weight, cap, serves)| {
                    Account::new(Arc::new(Named(name, *serves, false)), *weight, *cap)
                })
                .collect(),
            HashMap::from([("m".to_string(), route)]),
            Route::default(),
            BreakerConfig {
                failure_threshold: 2,
                open_for: Duration::from_millis(50),
            },
        )
        .expect("router")
    }

    fn req(model: &str) -> GenerationRequest {
        GenerationRequest {
            model: model.into(),
            ..crate::upstream::apixo::tests::request(seedgate_core::Mode::T2v)
        }
    }

    fn names(accounts: &[Arc<Account>]) -> Vec<&str> {
        accounts.iter().map(|a| a.name()).collect()
    }

    #[test]
    fn priority_keeps_the_configured_order_and_skips_accounts_that_do_not_serve_the_model() {
        let r = router(
            RoutingStrategy::Priority,
            &[
                ("a", 1, None, true),
                ("b", 1, None, false),
                ("c", 1, None, true),
            ],
        );
        let got = r
            .candidates(&req("m"), &HashMap::new())
            .expect("candidates");
        assert_eq!(names(&got), ["a", "c"]);
    }

    #[test]
    fn an_account_at_its_cap_is_passed_over_and_all_full_means_busy() {
        let r = router(
            RoutingStrategy::Priority,
            &[("a", 1, Some(2), true), ("b", 1, Some(1), true)],
        );
        assert!(r.route_has_caps("m"));
        let active = HashMap::from([("a".to_string(), 2)]);
        assert_eq!(names(&r.candidates(&req("m"), &active).expect("b")), ["b"]);
        let active = HashMap::from([("a".to_string(), 2), ("b".to_string(), 1)]);
        assert_eq!(
            r.candidates(&req("m"), &active).err(),
            Some(NoAccount::Busy)
        );
    }

    #[test]
    fn a_model_no_account_serves_is_unserved() {
        let r = router(RoutingStrategy::Priority, &[("a", 1, None, false)]);
        assert_eq!(
            r.candidates(&req("m"), &HashMap::new()).err(),
            Some(NoAccount::Unserved)
        );
        // The default route here is empty, so other models are unserved too.
        assert_eq!(
            r.candidates(&req("other"), &HashMap::new()).err(),
            Some(NoAccount::Unserved)
        );
    }

    #[test]
    fn accounts_that_cannot_carry_the_request_are_passed_over() {
        let account =
            |name, no_web_search| Account::new(Arc::new(Named(name, true, no_web_search)), 1, None);
        let route = |providers: &[&str]| Route {
            strategy: RoutingStrategy::Priority,
            providers: providers.iter().map(|p| p.to_string()).collect(),
        };
        let r = Router::new(
            vec![account("plain", true), account("full", false)],
            HashMap::from([
                ("m".to_string(), route(&["plain", "full"])),
                ("only-plain".to_string(), route(&["plain"])),
            ]),
            Route::default(),
            BreakerConfig::default(),
        )
        .expect("router");
        let searching = |model| GenerationRequest {
            web_search: true,
            ..req(model)
        };
        assert_eq!(
            names(&r.candidates(&req("m"), &HashMap::new()).expect("c")),
            ["plain", "full"]
        );
        assert_eq!(
            names(&r.candidates(&searching("m"), &HashMap::new()).expect("c")),
            ["full"]
        );
        assert_eq!(r.check(&searching("m")), Ok(()));
        let refused = r.candidates(&searching("only-plain"), &HashMap::new());
        match refused {
            Err(NoAccount::Inexpressible(why)) => {
                assert_eq!(why.field, "web_search");
                assert_eq!(why.reason, "plain has no web search");
            }
            other => panic!("{:?}", other.map(|c| names(&c).join(","))),
        }
        assert_eq!(
            r.check(&searching("only-plain")).map_err(|why| why.field),
            Err("web_search")
        );
        assert_eq!(r.check(&req("only-plain")), Ok(()));
        assert_eq!(
            r.check(&req("unrouted")),
            Ok(()),
            "an unserved model is the operator's to fix, not the client's"
        );
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_then_lets_one_trial_through() {
        let r = router(
            RoutingStrategy::Priority,
            &[("a", 1, None, true), ("b", 1, None, true)],
        );
        r.record_failure("a");
        assert_eq!(
            names(&r.candidates(&req("m"), &HashMap::new()).expect("c")),
            ["a", "b"]
        );
        r.record_failure("a");
        assert_eq!(
            names(&r.candidates(&req("m"), &HashMap::new()).expect("c")),
            ["b"],
            "two failures in a row open a's breaker"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            names(&r.candidates(&req("m"), &HashMap::new()).expect("c")),
            ["a", "b"],
            "after the open period, one trial goes to a"
        );
        assert_eq!(
            names(&r.candidates(&req("m"), &HashMap::new()).expect("c")),
            ["b"],
            "while the trial is out, a stays closed to others"
        );
        r.record_failure("a");
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(
            names(&r.candidates(&req("m"), &HashMap::new()).expect("c")),
            ["b"],
            "a failed trial reopens at once"
        );
        std::thread::sleep(Duration::from_millis(60));
        let _trial = r.candidates(&req("m"), &HashMap::new());
        r.record_success("a");
        assert_eq!(
            names(&r.candidates(&req("m"), &HashMap::new()).expect("c")),
            ["a", "b"],
            "a successful trial closes the breaker"
        );
    }

    #[test]
    fn the_breaker_state_reads_closed_then_open_until_then_half_open() {
        let r = router(RoutingStrategy::Priority, &[("a", 1, None, true)]);
        let health = |r: &Router| r.account("a").expect("a").health.state();
        assert_eq!(health(&r).state, BreakerState::Closed);
        r.record_failure("a");
        assert_eq!(
            (health(&r).state, health(&r).consecutive_failures),
            (BreakerState::Closed, 1)
        );
        r.record_failure("a");
        let open = health(&r);
        match open.state {
            BreakerState::Open { until } => {
                let left = until
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default();
                assert!(left <= Duration::from_millis(50), "{left:?}");
            }
            other => panic!("expected open, got {other:?}"),
        }
        assert!(open.opened_at.is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(health(&r).state, BreakerState::HalfOpen);
        r.record_success("a");
        assert_eq!(health(&r).state, BreakerState::Closed);
        assert_eq!(health(&r).opened_at, None);
    }

    #[test]
    fn weighted_order_follows_the_weights() {
        let r = router(
            RoutingStrategy::Weighted,
            &[
                ("light", 1, None, true),
                ("heavy", 3, None, true),
                ("never", 0, None, true),
            ],
        );
        let mut first = HashMap::<String, u32>::new();
        for _ in 0..4000 {
            let got = r.candidates(&req("m"), &HashMap::new()).expect("c");
            assert_eq!(got.len(), 3, "the others stay as fallbacks");
            assert_eq!(got[2].name(), "never", "weight 0 is a fallback only");
            *first.entry(got[0].name().to_string()).or_default() += 1;
        }
        let heavy = f64::from(first["heavy"]) / 4000.0;
        assert!(
            (0.70..0.80).contains(&heavy),
            "heavy first {heavy:.3} of the time, expected 0.75"
        );
    }

    #[test]
    fn a_route_naming_an_unknown_account_is_refused() {
        let err = Router::new(
            Vec::new(),
            HashMap::from([(
                "m".to_string(),
                Route {
                    strategy: RoutingStrategy::Priority,
                    providers: vec!["ghost".into()],
                },
            )]),
            Route::default(),
            BreakerConfig::default(),
        )
        .err()
        .expect("refused");
        assert!(err.contains("ghost"), "{err}");
    }
}
