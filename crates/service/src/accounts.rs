//! Who is calling and what they may do: API keys resolved to their account and policies, the
//! policies' checks (expiry, client address, models), the per-replica request-rate limiters,
//! and what a member may read of their own account.

use crate::{store_error, GenerationService};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use seedgate_core::accounts::{
    check_counted, utc_day, Gcra, LimitRefusal, Limits, Policy, Rate, RateState, Scope, Usage,
};
use seedgate_core::error::{AuthFailure, Denial, GatewayError};
use seedgate_core::{AccountId, ApiKeyId};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The authenticated caller: a key, its account, and both their policies (as they stood when
/// the key was last read; see `ServiceConfig::key_cache_ttl`).
#[derive(Debug, Clone)]
pub struct Principal {
    pub api_key_id: ApiKeyId,
    pub account_id: AccountId,
    pub name: String,
    pub key_policy: Arc<Policy>,
    pub account_policy: Arc<Policy>,
}

impl Principal {
    /// The key's and the account's policies, with whose each is.
    pub fn policies(&self) -> [(Scope, &Policy, &str); 2] {
        [
            (Scope::Key, &self.key_policy, self.api_key_id.as_str()),
            (
                Scope::Account,
                &self.account_policy,
                self.account_id.as_str(),
            ),
        ]
    }

    /// Refuses a model either policy does not allow.
    pub fn check_model(&self, model_id: &str, requested: &str) -> Result<(), GatewayError> {
        if self
            .policies()
            .iter()
            .all(|(_, p, _)| p.allows_model(model_id, requested))
        {
            Ok(())
        } else {
            Err(Denial::ModelNotAllowed(requested.to_string()).into())
        }
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the rightmost
/// address in `X-Forwarded-For` that is not itself a trusted proxy (addresses further left were
/// written by the client and prove nothing).
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    let peer = peer?;
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rev()
    {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // An unreadable hop: stop at the last address we could trust.
            break;
        };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// One rate a caller is held to, by name (`key-requests`, `account-submits`…), as the
/// IETF `RateLimit-Policy` header lists it, with its state when one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateItem {
    pub name: String,
    pub rate: Rate,
    pub state: Option<RateState>,
}

/// The rates that apply to one answer, for the `RateLimit-Policy` and `RateLimit` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateReport {
    pub items: Vec<RateItem>,
}

impl RateReport {
    /// Every rate the caller's policies set, without states.
    pub fn of(principal: &Principal) -> Self {
        let mut items = Vec::new();
        for (scope, policy, _) in principal.policies() {
            for (kind, rate) in [
                ("requests", policy.limits.request_rate),
                ("submits", policy.limits.submit_rate),
            ] {
                if let Some(rate) = rate {
                    items.push(RateItem {
                        name: format!("{}-{kind}", scope.as_str()),
                        rate,
                        state: None,
                    });
                }
            }
        }
        RateReport { items }
    }

    /// Records the state of the rate named `scope-kind`.
    pub fn set(&mut self, scope: Scope, kind: &str, state: RateState) {
        let name = format!("{}-{kind}", scope.as_str());
        if let Some(item) = self.items.iter_mut().find(|i| i.name == name) {
            item.state = Some(state);
        }
    }

    /// The state a refusal leaves: nothing remaining until the wait is over.
    pub fn refused(&mut self, refusal: &LimitRefusal) {
        let (scope, kind, wait) = match refusal {
            LimitRefusal::SubmitRate {
                scope,
                retry_after_ms,
                ..
            } => (*scope, "submits", *retry_after_ms),
            LimitRefusal::RequestRate {
                scope,
                retry_after_ms,
                ..
            } => (*scope, "requests", *retry_after_ms),
            _ => return,
        };
        self.set(
            scope,
            kind,
            RateState {
                remaining: 0,
                reset_ms: wait,
            },
        );
    }

    /// `RateLimit-Policy`: `"key-requests";q=100;w=60, …` (draft-ietf-httpapi-ratelimit-headers).
    pub fn policy_header(&self) -> Option<String> {
        let items: Vec<String> = self
            .items
            .iter()
            .map(|i| {
                format!(
                    "\"{}\";q={};w={}",
                    i.name, i.rate.limit, i.rate.window_seconds
                )
            })
            .collect();
        (!items.is_empty()).then(|| items.join(", "))
    }

    /// `RateLimit`: `"key-requests";r=99;t=1, …`, for the rates whose state is known; `t` is
    /// whole seconds until the quota is whole again, rounded up.
    pub fn state_header(&self) -> Option<String> {
        let items: Vec<String> = self
            .items
            .iter()
            .filter_map(|i| {
                let s = i.state?;
                let t = (s.reset_ms.max(0) + 999) / 1000;
                Some(format!("\"{}\";r={};t={t}", i.name, s.remaining))
            })
            .collect();
        (!items.is_empty()).then(|| items.join(", "))
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// Request-rate limiters, one per key or account that has a request rate, held in this
/// replica's memory (documented: the request rate is per replica; the submit rate is held
/// in the database). Idle limiters are dropped after an hour; a changed rate starts afresh.
pub(crate) struct RequestLimiters {
    limiters: moka::sync::Cache<String, (Rate, Arc<Limiter>)>,
    clock: DefaultClock,
}

impl RequestLimiters {
    pub(crate) fn new() -> Self {
        Self {
            limiters: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            clock: DefaultClock::default(),
        }
    }

    /// One request by `owner` held to `rate`: its state after, or the milliseconds to wait.
    fn check(&self, owner: &str, rate: Rate) -> Result<RateState, i64> {
        let gcra = Gcra::new(rate);
        let entry = self
            .limiters
            .get(owner)
            .filter(|(r, _)| *r == rate)
            .unwrap_or_else(|| {
                let burst = NonZeroU32::new(rate.limit).unwrap_or(NonZeroU32::MIN);
                let period =
                    Duration::from_millis(u64::try_from(gcra.emission_ms).unwrap_or(1).max(1));
                let quota = Quota::with_period(period)
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(burst);
                let limiter = Arc::new(
                    RateLimiter::direct_with_clock(quota, self.clock.clone())
                        .with_middleware::<StateInformationMiddleware>(),
                );
                let entry = (rate, limiter);
                self.limiters.insert(owner.to_string(), entry.clone());
                entry
            });
        match entry.1.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = i64::from(rate.limit.saturating_sub(remaining));
                Ok(RateState {
                    remaining,
                    reset_ms: used * gcra.emission_ms,
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX).max(1))
            }
        }
    }
}

/// What a member reads of their own account: balance, limits with their current use, and
/// what is left of each budget.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountView {
    pub account_id: AccountId,
    pub account_name: String,
    pub api_key_id: ApiKeyId,
    pub key_name: String,
    /// Credits (1 credit = $0.001).
    pub balance: i64,
    pub price_plan: Option<String>,
    pub account: LimitsView,
    pub key: LimitsView,
}

/// One scope's limits and how much of each is in use.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LimitsView {
    pub limits: Limits,
    pub in_flight: u64,
    pub queued: u64,
    pub spent_today: u64,
    pub spent_this_month: u64,
    pub spent_total: u64,
    pub budgets: Vec<BudgetView>,
    /// Submits still allowed at once, when a submit rate is set.
    pub submits_remaining: Option<u32>,
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BudgetView {
    pub period: &'static str,
    pub limit: u64,
    pub spent: u64,
    pub remaining: u64,
    /// Unix ms when the period ends (UTC); `None` for the total budget.
    pub resets_at_ms: Option<i64>,
}

/// A scope's limits with their use at `now`.
pub(crate) fn limits_view(
    policy: &Policy,
    usage: &Usage,
    submit_tat_ms: Option<i64>,
    now: i64,
) -> LimitsView {
    let day = utc_day(now);
    let budgets = policy
        .limits
        .budgets()
        .map(|(period, limit)| {
            let spent = usage.spent(period);
            BudgetView {
                period: period.as_str(),
                limit,
                spent,
                remaining: limit.saturating_sub(spent),
                resets_at_ms: period
                    .span(day)
                    .1
                    .map(seedgate_core::accounts::day_start_ms),
            }
        })
        .collect();
    LimitsView {
        limits: policy.limits.clone(),
        in_flight: usage.in_flight,
        queued: usage.queued,
        spent_today: usage.spent_today,
        spent_this_month: usage.spent_this_month,
        spent_total: usage.spent_total,
        budgets,
        submits_remaining: policy.limits.submit_rate.map(|rate| {
            let gcra = Gcra::new(rate);
            submit_tat_ms.map_or(rate.limit, |tat| gcra.state(tat, now).remaining)
        }),
        expires_at_ms: policy.expires_at_ms,
    }
}

impl GenerationService {
    /// Resolves an API key presented from `client` (the address [`client_address`] found):
    /// refused when unknown, revoked or expired, or when either policy's allow-list does not
    /// hold the address. Then the request counts against the key's and the account's request
    /// rates. The report lists the caller's rates for the answer's headers.
    pub async fn authenticate(
        &self,
        presented: &str,
        client: Option<IpAddr>,
    ) -> Result<(Principal, RateReport), GatewayError> {
        self.authenticate_digest(&crate::auth::hash_key(presented), client)
            .await
    }

    /// [`Self::authenticate`] for a key known by its SHA-256 only (the console's session keeps
    /// that, never the key): the same checks, the same rates.
    pub async fn authenticate_digest(
        &self,
        hash: &str,
        client: Option<IpAddr>,
    ) -> Result<(Principal, RateReport), GatewayError> {
        let principal = self.principal_by_digest(hash).await?;
        let now = self.config.clock.now_ms();
        let mut report = RateReport::of(&principal);
        for (_, policy, _) in principal.policies() {
            if policy.expired(now) {
                return Err(GatewayError::Unauthenticated(AuthFailure::Expired));
            }
            if policy.ip_allow.is_some() {
                match client {
                    Some(ip) if policy.allows_ip(ip) => {}
                    Some(ip) => return Err(Denial::IpNotAllowed(ip.to_string()).into()),
                    None => return Err(Denial::IpNotAllowed("an unknown address".into()).into()),
                }
            }
        }
        for (scope, policy, owner) in principal.policies() {
            if let Some(rate) = policy.limits.request_rate {
                match self.request_limiters.check(owner, rate) {
                    Ok(state) => report.set(scope, "requests", state),
                    Err(wait) => {
                        let refusal = LimitRefusal::RequestRate {
                            scope,
                            rate,
                            retry_after_ms: wait,
                        };
                        report.refused(&refusal);
                        return Err(GatewayError::limited(refusal, now));
                    }
                }
            }
        }
        Ok((principal, report))
    }

    /// The caller a key names, checking nothing and counting nothing (to describe a refusal).
    pub async fn peek_principal(&self, presented: &str) -> Result<Principal, GatewayError> {
        self.principal(presented).await
    }

    /// The key and its account, from the cache or the store.
    async fn principal(&self, presented: &str) -> Result<Principal, GatewayError> {
        self.principal_by_digest(&crate::auth::hash_key(presented))
            .await
    }

    async fn principal_by_digest(&self, hash: &str) -> Result<Principal, GatewayError> {
        if let Some(principal) = self.caches.keys.get(hash) {
            return Ok(principal);
        }
        let credential = self
            .store
            .find_credential(hash)
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::Unauthenticated(AuthFailure::Invalid))?;
        if credential.key.revoked_at_ms.is_some() {
            return Err(GatewayError::Unauthenticated(AuthFailure::Revoked));
        }
        let principal = Principal {
            api_key_id: credential.key.id,
            account_id: credential.account.id,
            name: credential.key.name,
            key_policy: Arc::new(credential.key.policy),
            account_policy: Arc::new(credential.account.policy),
        };
        // Only valid keys are remembered, so junk keys cannot fill the cache.
        self.caches.keys.insert(hash.to_string(), principal.clone());
        Ok(principal)
    }

    /// Before media is copied for a submit: refuses, without writing anything, a task the
    /// limits would refuse anyway (the store checks again, exactly, when it writes the task).
    pub(crate) async fn precheck_limits(
        &self,
        principal: &Principal,
        cost: u64,
    ) -> Result<(), GatewayError> {
        let now = self.config.clock.now_ms();
        for (scope, policy, owner) in principal.policies() {
            if !policy.limits.guards_submits() {
                continue;
            }
            let usage = self
                .store
                .owner_usage(owner, scope == Scope::Key, now)
                .await
                .map_err(store_error)?;
            check_counted(scope, &policy.limits, &usage.usage, cost, utc_day(now))
                .map_err(|r| GatewayError::limited(r, now))?;
        }
        Ok(())
    }

    /// The caller's account as they may see it.
    pub async fn account_view(&self, principal: &Principal) -> Result<AccountView, GatewayError> {
        let now = self.config.clock.now_ms();
        let account = self
            .store
            .find_account(principal.account_id.as_str())
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::NotFound)?;
        let key = self
            .store
            .find_api_key(principal.api_key_id.as_str())
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::NotFound)?;
        let account_usage = self
            .store
            .owner_usage(account.id.as_str(), false, now)
            .await
            .map_err(store_error)?;
        let key_usage = self
            .store
            .owner_usage(key.id.as_str(), true, now)
            .await
            .map_err(store_error)?;
        Ok(AccountView {
            account_id: account.id,
            account_name: account.name,
            api_key_id: key.id,
            key_name: key.name,
            balance: account.balance,
            price_plan: account.policy.price_plan.as_ref().map(|p| p.describe()),
            account: limits_view(
                &account.policy,
                &account_usage.usage,
                account_usage.submit_tat_ms,
                now,
            ),
            key: limits_view(&key.policy, &key_usage.usage, key_usage.submit_tat_ms, now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // An untrusted peer's header is ignored: it could say anything.
        assert_eq!(
            client_address(peer("203.0.113.9"), &["1.2.3.4"], &trusted),
            peer("203.0.113.9")
        );
        // Through two trusted proxies, the first untrusted hop from the right is the client;
        // what the client wrote to the left of it is not believed.
        assert_eq!(
            client_address(
                peer("10.0.0.2"),
                &["6.6.6.6, 198.51.100.7", "10.0.0.1"],
                &trusted
            ),
            peer("198.51.100.7")
        );
        assert_eq!(
            client_address(peer("10.0.0.2"), &[], &trusted),
            peer("10.0.0.2")
        );
        assert_eq!(
            client_address(peer("10.0.0.2"), &["garbage"], &trusted),
            peer("10.0.0.2")
        );
    }

    #[test]
    fn rate_headers_follow_the_ietf_draft() {
        let mut report = RateReport {
            items: vec![
                RateItem {
                    name: "key-requests".into(),
                    rate: Rate {
                        limit: 100,
                        window_seconds: 60,
                    },
                    state: None,
                },
                RateItem {
                    name: "account-submits".into(),
                    rate: Rate {
                        limit: 10,
                        window_seconds: 60,
                    },
                    state: None,
                },
            ],
        };
        report.set(
            Scope::Key,
            "requests",
            RateState {
                remaining: 99,
                reset_ms: 600,
            },
        );
        assert_eq!(
            report.policy_header().as_deref(),
            Some("\"key-requests\";q=100;w=60, \"account-submits\";q=10;w=60")
        );
        assert_eq!(
            report.state_header().as_deref(),
            Some("\"key-requests\";r=99;t=1")
        );
    }

    #[test]
    fn a_request_limiter_allows_the_burst_then_says_how_long_to_wait() {
        let limiters = RequestLimiters::new();
        let rate = Rate {
            limit: 3,
            window_seconds: 60,
        };
        for left in [2, 1, 0] {
            assert_eq!(limiters.check("key_a", rate).map(|s| s.remaining), Ok(left));
        }
        let wait = limiters
            .check("key_a", rate)
            .expect_err("the fourth is refused");
        assert!((19_000..=20_000).contains(&wait), "{wait}");
        // Another owner has its own allowance.
        assert!(limiters.check("key_b", rate).is_ok());
    }
}
