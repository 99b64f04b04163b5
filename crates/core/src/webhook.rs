//! Callback signing and delivery policy, without I/O.
//!
//! Every callback carries the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`), signed with HMAC-SHA256 over `"{id}.{timestamp}.{body}"` with the
//! API key's `whsec_` secret. HiAPI callbacks also carry HiAPI's own `X-HiAPI-Timestamp` and
//! `X-HiAPI-Signature` (hex HMAC-SHA256 over `"{timestamp}.{body}"`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

pub type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 keyed with `key`. HMAC takes keys of every length, so this cannot fail.
pub fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

/// What a callback reports. Every dialect sends the final one; a dialect that documents
/// callbacks on each status change (Ark) also gets one when its task is queued and when it
/// starts running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackEvent {
    Queued,
    Running,
    Final,
}

impl CallbackEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackEvent::Queued => "queued",
            CallbackEvent::Running => "running",
            CallbackEvent::Final => "final",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            CallbackEvent::Queued,
            CallbackEvent::Running,
            CallbackEvent::Final,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }

    /// The constant `webhook-id` of this event's callback for a task.
    pub fn callback_id(self, task_id: &str) -> String {
        match self {
            CallbackEvent::Final => format!("evt_{task_id}"),
            other => format!("evt_{task_id}_{}", other.as_str()),
        }
    }

    /// The task as it stood at this event: what a status call answered then. The final
    /// event is the task as it is.
    pub fn view(self, task: &crate::task::Task) -> crate::task::Task {
        let status = match self {
            CallbackEvent::Final => return task.clone(),
            CallbackEvent::Queued => crate::task::TaskStatus::Queued,
            CallbackEvent::Running => crate::task::TaskStatus::Running,
        };
        crate::task::Task {
            status,
            output: None,
            error: None,
            finished_at_ms: None,
            ..task.clone()
        }
    }
}

/// Whether a dialect's clients are told of every status change (queued, running) besides the
/// final one. Ark documents it (upstream-contracts §1.9); the others post only the result.
pub fn wants_status_callbacks(dialect: &str) -> bool {
    dialect == "ark"
}

/// A callback's body in the dialect its task was created in.
pub struct RenderedCallback {
    pub body: Vec<u8>,
    /// Add HiAPI's `X-HiAPI-Timestamp` / `X-HiAPI-Signature` headers.
    pub hiapi_signature: bool,
}

/// Renders callbacks. The dialects implement it (they know each body); the dispatcher calls it.
pub trait CallbackRenderer: Send + Sync + 'static {
    /// `None` when the dialect has no callbacks.
    fn render(&self, dialect: &str, task: &crate::task::Task) -> Option<RenderedCallback>;
}

pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret: the `whsec_`-prefixed base64 of 24 to 64 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `whsec_`")]
    Prefix,
    #[error("a webhook secret is base64 after its prefix")]
    Base64,
    #[error("a webhook secret holds 24 to 64 bytes")]
    Length,
}

impl WebhookSecret {
    /// A secret from random bytes (the caller supplies the randomness: the core does no I/O).
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, SecretError> {
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Length);
        }
        Ok(Self { key })
    }

    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        Self::from_bytes(key)
    }

    /// The `whsec_…` form given to clients.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The Standard Webhooks `v1,<base64>` signature of one attempt.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// HiAPI's `X-HiAPI-Signature`: hex HMAC-SHA256 over `"{timestamp}.{body}"`, keyed as
    /// HiAPI documents it: with the secret exactly as the client was given it (the whole
    /// `whsec_…` string), so an unchanged HiAPI receiver verifies it.
    pub fn sign_hiapi(&self, timestamp: i64, body: &[u8]) -> String {
        let mut mac = hmac_sha256(self.expose().as_bytes());
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn mac(&self) -> HmacSha256 {
        hmac_sha256(&self.key)
    }
}

/// The `webhook-signature` header: one entry per active secret (two during a rotation),
/// space-separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a receiver's answer to one attempt counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Any 2xx.
    Delivered,
    /// 410 Gone: the receiver asks us to stop.
    Gone,
    /// Anything else (3xx is never followed, and counts here), or no answer at all.
    Failed,
}

pub fn classify(status: Option<u16>) -> AttemptOutcome {
    match status {
        Some(s) if (200..300).contains(&s) => AttemptOutcome::Delivered,
        Some(410) => AttemptOutcome::Gone,
        _ => AttemptOutcome::Failed,
    }
}

/// When to try again after `attempts` failed attempts: the schedule's next delay (with jitter
/// of ±`jitter_percent`, drawn from `unit`, a number in [0, 1) supplied by the caller), at
/// least the receiver's `Retry-After`; `None` once the schedule is used up.
pub fn next_delay(
    schedule: &[Duration],
    attempts: u32,
    jitter_percent: u32,
    unit: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let spread = f64::from(jitter_percent.min(100)) / 100.0;
    let factor = 1.0 + spread * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    let jittered = base.mul_f64(factor.max(0.0));
    Some(match retry_after {
        Some(wait) if wait > jittered => wait,
        _ => jittered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks conformance vector (standard-webhooks `libraries/rust`, `test_sign`).
    #[test]
    fn signs_the_published_test_vector() {
        let secret =
            WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("secret");
        let signature = secret.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let s = WebhookSecret::from_bytes(vec![7; 32]).expect("secret");
        assert_eq!(WebhookSecret::parse(&s.expose()), Ok(s.clone()));
        assert_eq!(WebhookSecret::parse("abc"), Err(SecretError::Prefix));
        assert_eq!(WebhookSecret::parse("whsec_!!!"), Err(SecretError::Base64));
        assert_eq!(WebhookSecret::parse("whsec_AAAA"), Err(SecretError::Length));
        assert!(!format!("{s:?}").contains(&s.expose()));
    }

    #[test]
    fn rotation_sends_one_signature_per_secret() {
        let a = WebhookSecret::from_bytes(vec![1; 24]).expect("a");
        let b = WebhookSecret::from_bytes(vec![2; 24]).expect("b");
        let header = signature_header(&[a.clone(), b.clone()], "msg", 5, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            vec![a.sign("msg", 5, b"{}"), b.sign("msg", 5, b"{}")]
        );
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn hiapi_signature_is_hex_over_timestamp_and_body() {
        let s = WebhookSecret::from_bytes(b"0123456789abcdef01234567".to_vec()).expect("s");
        let sig = s.sign_hiapi(1_700_000_000, b"{\"a\":1}");
        assert_eq!(sig.len(), 64);
        assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(sig, s.sign_hiapi(1_700_000_001, b"{\"a\":1}"));
    }

    #[test]
    fn status_rules() {
        assert_eq!(classify(Some(200)), AttemptOutcome::Delivered);
        assert_eq!(classify(Some(204)), AttemptOutcome::Delivered);
        assert_eq!(classify(Some(301)), AttemptOutcome::Failed);
        assert_eq!(classify(Some(410)), AttemptOutcome::Gone);
        assert_eq!(classify(Some(500)), AttemptOutcome::Failed);
        assert_eq!(classify(None), AttemptOutcome::Failed);
    }

    #[test]
    fn delays_follow_the_schedule_with_jitter_and_retry_after() {
        let schedule = [Duration::from_secs(5), Duration::from_secs(300)];
        assert_eq!(
            next_delay(&schedule, 1, 0, 0.9, None),
            Some(Duration::from_secs(5))
        );
        let low = next_delay(&schedule, 2, 20, 0.0, None).expect("delay");
        let high = next_delay(&schedule, 2, 20, 0.999_999, None).expect("delay");
        assert_eq!(low, Duration::from_secs(240));
        assert!(high > Duration::from_secs(359) && high <= Duration::from_secs(360));
        assert_eq!(
            next_delay(&schedule, 1, 0, 0.5, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(next_delay(&schedule, 3, 0, 0.5, None), None);
        assert_eq!(next_delay(&schedule, 0, 0, 0.5, None), None);
    }
}

/// The host (and port, when not the scheme's default) a callback URL points at, lowercased:
/// the dispatcher shares its deliveries fairly across these. An unparsable URL is `""`.
pub fn receiver_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod receiver_host_tests {
    use super::receiver_host;

    #[test]
    fn hosts_are_lowercased_with_their_port() {
        assert_eq!(
            receiver_host("https://Hooks.Example.com/a?b"),
            "hooks.example.com"
        );
        assert_eq!(receiver_host("http://1.2.3.4:8080/x"), "1.2.3.4:8080");
        assert_eq!(receiver_host("not a url"), "");
    }
}
