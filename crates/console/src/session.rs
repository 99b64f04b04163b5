//! Console sessions: the secret a person signs in with (a member's API key, an operator's admin
//! token) is exchanged for a signed, expiring, HttpOnly, SameSite=Strict cookie and never kept.
//!
//! The cookie holds the credential's SHA-256 (what the store looks keys and tokens up by), an
//! expiry and a random nonce, signed with a server secret every replica shares. Each request
//! resolves the digest again through the same services the APIs use, so a revoked or expired key
//! or token ends its sessions at once (within the key cache's lifetime), and an IP allow-list or
//! request rate holds in the console as it does in the APIs. The CSRF token is derived from the
//! nonce with the same secret: nothing is stored, and it is worthless without the cookie.

use crate::error::ConsoleError;
use crate::Console;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use hmac::Mac;
use seedgate_core::webhook::{hmac_sha256, HmacSha256};
use seedgate_service::{client_address, Principal};
use seedgate_store::Actor;
use seedgate_store::AdminRole;
use std::net::SocketAddr;

/// The cookie's name.
pub const COOKIE: &str = "seedgate_console";
/// The header the console's scripts send their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field pages send it in.
pub const CSRF_FIELD: &str = "csrf";

/// Who signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// With an API key: one account's pages.
    Member,
    /// With an admin token: the operators' pages.
    Operator,
}

impl Role {
    fn tag(self) -> &'static str {
        match self {
            Role::Member => "m",
            Role::Operator => "o",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "m" => Some(Role::Member),
            "o" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// A verified session cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    /// The SHA-256 of the key or token signed in with.
    pub digest: String,
    pub expires_ms: i64,
    /// The token forms and scripts must send back.
    pub csrf: String,
}

/// Signs and checks session cookies.
#[derive(Clone)]
pub struct SessionKeys {
    secret: Vec<u8>,
    /// How long a session lasts from sign-in.
    pub ttl_ms: i64,
    /// Whether cookies carry `Secure` (the console is served over HTTPS).
    pub secure: bool,
}

impl SessionKeys {
    pub fn new(secret: Vec<u8>, ttl_ms: i64, secure: bool) -> Self {
        Self {
            secret,
            ttl_ms,
            secure,
        }
    }

    fn mac(&self, parts: &[&str]) -> HmacSha256 {
        let mut mac = hmac_sha256(&self.secret);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(b".");
            }
            mac.update(part.as_bytes());
        }
        mac
    }

    fn csrf_for(&self, nonce: &str) -> String {
        hex::encode(self.mac(&["csrf", nonce]).finalize().into_bytes())
    }

    /// A new session's cookie value for a credential's digest.
    pub fn issue(&self, role: Role, digest: &str, now_ms: i64) -> (String, Session) {
        use rand::RngCore;
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        let expires_ms = now_ms.saturating_add(self.ttl_ms);
        let expires = expires_ms.to_string();
        let signed = [role.tag(), digest, expires.as_str(), nonce.as_str()];
        let mac = hex::encode(self.mac(&signed).finalize().into_bytes());
        let value = format!("{}.{mac}", signed.join("."));
        let session = Session {
            role,
            digest: digest.to_string(),
            expires_ms,
            csrf: self.csrf_for(&nonce),
        };
        (value, session)
    }

    /// The session a cookie value holds, if its signature is ours and it has not expired.
    pub fn verify(&self, value: &str, now_ms: i64) -> Option<Session> {
        let mut parts = value.split('.');
        let (role, digest, expires, nonce, mac) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if parts.next().is_some() {
            return None;
        }
        let mac = hex::decode(mac).ok()?;
        self.mac(&[role, digest, expires, nonce])
            .verify_slice(&mac)
            .ok()?;
        let expires_ms: i64 = expires.parse().ok()?;
        if expires_ms <= now_ms {
            return None;
        }
        Some(Session {
            role: Role::from_tag(role)?,
            digest: digest.to_string(),
            expires_ms,
            csrf: self.csrf_for(nonce),
        })
    }

    /// The `Set-Cookie` value that stores a session.
    pub fn set_cookie(&self, value: &str) -> String {
        format!(
            "{COOKIE}={value}; Path=/console; Max-Age={}; HttpOnly; SameSite=Strict{}",
            self.ttl_ms / 1000,
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that ends one.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{COOKIE}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

impl Session {
    /// Refuses a state change whose token is not this session's (compared in constant time).
    pub fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        use subtle_eq::eq;
        if eq(presented.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }
}

mod subtle_eq {
    /// Equality whose time does not depend on where the inputs first differ.
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The session cookie's value in a request's headers.
fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Where an unauthenticated request is sent to sign in, coming back to it afterwards.
fn sign_in_for(parts: &Parts) -> ConsoleError {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/console".into());
    ConsoleError::SignIn { next }
}

fn session_of(parts: &Parts, console: &Console) -> Result<Session, ConsoleError> {
    let now = console.clock.now_ms();
    cookie_value(&parts.headers)
        .and_then(|value| console.sessions.verify(value, now))
        .ok_or_else(|| sign_in_for(parts))
}

/// The client's address as the APIs find it (a trusted proxy's `X-Forwarded-For` believed).
pub(crate) fn client_of(parts: &Parts, console: &Console) -> Option<std::net::IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    client_address(peer, &forwarded, console.service.trusted_proxies())
}

/// A member signed in with a live API key, on a member page.
pub struct Member {
    pub principal: Principal,
    pub session: Session,
}

/// An operator signed in with a live admin token, on an operator page.
pub struct Operator {
    pub actor: Actor,
    pub role: AdminRole,
    pub session: Session,
}

impl Operator {
    /// Whether this operator's token may change things (the `admin` role, not `viewer`).
    pub fn can_write(&self) -> bool {
        self.role == AdminRole::Admin
    }
}

/// Either kind of session (the sign-in page and the console's root accept both).
pub enum Signed {
    Member(Member),
    Operator(Operator),
}

impl FromRequestParts<Console> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Self, Self::Rejection> {
        let session = session_of(parts, console)?;
        match session.role {
            Role::Member => {
                let client = client_of(parts, console);
                let (principal, _) = console
                    .service
                    .authenticate_digest(&session.digest, client)
                    .await
                    .map_err(|e| match e {
                        seedgate_core::GatewayError::Unauthenticated(_) => sign_in_for(parts),
                        other => ConsoleError::Gateway(other),
                    })?;
                Ok(Signed::Member(Member { principal, session }))
            }
            Role::Operator => {
                let (actor, role) = console
                    .admin
                    .authenticate_digest(&session.digest, false)
                    .await
                    .map_err(|e| match e {
                        seedgate_service::admin::AdminError::Unauthenticated => sign_in_for(parts),
                        other => ConsoleError::Admin(other),
                    })?;
                Ok(Signed::Operator(Operator {
                    actor,
                    role,
                    session,
                }))
            }
        }
    }
}

impl FromRequestParts<Console> for Member {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Self, Self::Rejection> {
        match Signed::from_request_parts(parts, console).await? {
            Signed::Member(member) => Ok(member),
            Signed::Operator(_) => Err(ConsoleError::Forbidden(
                "This page belongs to a member's account. You are signed in as an operator: \
                 sign out and sign in with an API key to use it."
                    .into(),
            )),
        }
    }
}

impl FromRequestParts<Console> for Operator {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Self, Self::Rejection> {
        match Signed::from_request_parts(parts, console).await? {
            Signed::Operator(operator) => Ok(operator),
            Signed::Member(_) => Err(ConsoleError::Forbidden(
                "This page is for operators. Sign in with an admin token to use it.".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(b"secret".to_vec(), 60_000, false)
    }

    #[test]
    fn an_issued_cookie_verifies_until_it_expires() {
        let keys = keys();
        let (value, issued) = keys.issue(Role::Member, "ab12", 1_000);
        let session = keys.verify(&value, 1_000).expect("fresh cookie");
        assert_eq!(session.role, Role::Member);
        assert_eq!(session.digest, "ab12");
        assert_eq!(session.csrf, issued.csrf);
        assert!(keys.verify(&value, 60_999).is_some());
        assert!(
            keys.verify(&value, 61_000).is_none(),
            "expired at issue + ttl"
        );
    }

    #[test]
    fn a_changed_cookie_or_another_servers_secret_is_refused() {
        let keys = keys();
        let (value, _) = keys.issue(Role::Member, "ab12", 1_000);
        // Promote the member to an operator: the signature no longer matches.
        let forged = value.replacen("m.", "o.", 1);
        assert!(keys.verify(&forged, 1_000).is_none());
        // Push the expiry out.
        let stretched = value.replacen("61000", "99999999", 1);
        assert!(keys.verify(&stretched, 1_000).is_none());
        let other = SessionKeys::new(b"other".to_vec(), 60_000, false);
        assert!(other.verify(&value, 1_000).is_none());
        assert!(keys.verify("", 1_000).is_none());
        assert!(keys.verify("m.a.b.c.d.e", 1_000).is_none());
        assert!(keys.verify("m.ab12.61000.nonce.zz", 1_000).is_none());
    }

    #[test]
    fn each_session_has_its_own_csrf_token() {
        let keys = keys();
        let (_, a) = keys.issue(Role::Operator, "x", 0);
        let (_, b) = keys.issue(Role::Operator, "x", 0);
        assert_ne!(a.csrf, b.csrf);
        assert!(a.check_csrf(&a.csrf).is_ok());
        assert!(a.check_csrf(&b.csrf).is_err());
        assert!(a.check_csrf("").is_err());
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; seedgate_console=m.x.1.n.mac; b=2"
                .parse()
                .expect("header"),
        );
        assert_eq!(cookie_value(&headers), Some("m.x.1.n.mac"));
    }
}
