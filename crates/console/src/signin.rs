//! `GET/POST /console/sign-in` and `POST /console/sign-out`.
//!
//! A member signs in with an API key (`sg_live_…`), an operator with an admin token; the form
//! tells them apart by trying the secret as each. The secret is checked by the same services
//! the APIs use and then forgotten: the browser keeps only the session cookie.

use crate::error::ConsoleError;
use crate::layout::{bare_page, query_escape};
use crate::session::{client_of, Role, Signed};
use crate::Console;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use seedgate_core::GatewayError;
use seedgate_service::admin::AdminError;
use serde::Deserialize;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
}

#[derive(Deserialize, Default)]
pub struct Next {
    next: Option<String>,
}

/// Only a path inside the console is followed after sign-in (never another site).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with("/console")
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.contains("://") =>
        {
            path
        }
        _ => "/console",
    }
}

fn form(next: &str, message: Option<&str>) -> Markup {
    bare_page(
        "Sign in",
        html! {
            @if let Some(message) = message {
                p.error role="alert" #sign-in-error { (message) }
            }
            form.panel method="post" action="/console/sign-in" {
                input type="hidden" name="next" value=(next);
                label for="secret" { "API key or admin token" }
                input #secret type="password" name="secret" required autocomplete="current-password"
                    autofocus spellcheck="false";
                p.hint {
                    "Members sign in with their API key (" code { "sg_live_…" } "); operators with an admin token. "
                    "The browser keeps only a session cookie, never the key."
                }
                div.actions { button type="submit" { "Sign in" } }
            }
        },
    )
}

async fn sign_in_page(signed: Result<Signed, ConsoleError>, Query(next): Query<Next>) -> Response {
    let next = safe_next(next.next.as_deref());
    if signed.is_ok() {
        return Redirect::to(next).into_response();
    }
    form(next, None).into_response()
}

#[derive(Deserialize)]
pub struct SignIn {
    secret: String,
    next: Option<String>,
}

async fn sign_in(
    State(console): State<Console>,
    parts: Parts,
    Form(input): Form<SignIn>,
) -> Response {
    let next = safe_next(input.next.as_deref()).to_string();
    let secret = input.secret.trim();
    let refuse = |message: &str| {
        (
            axum::http::StatusCode::UNAUTHORIZED,
            form(&next, Some(message)),
        )
            .into_response()
    };
    if secret.is_empty() {
        return refuse("Enter an API key or an admin token.");
    }
    let digest = seedgate_service::auth::hash_key(secret);
    // An admin token first: its prefix is distinct, and an operator is never also a member.
    let role = match console.admin.authenticate_digest(&digest, false).await {
        Ok(_) => Role::Operator,
        Err(AdminError::Unauthenticated) | Err(AdminError::ReadOnly) => {
            match console
                .service
                .authenticate_digest(&digest, client_of(&parts, &console))
                .await
            {
                Ok(_) => Role::Member,
                Err(GatewayError::Unauthenticated(failure)) => {
                    tracing::info!(?failure, "console sign-in refused");
                    return refuse("That key or token is not valid (unknown, revoked or expired).");
                }
                Err(other) => return ConsoleError::Gateway(other).into_response(),
            }
        }
        Err(other) => return ConsoleError::Admin(other).into_response(),
    };
    let (value, _) = console
        .sessions
        .issue(role, &digest, console.clock.now_ms());
    let target = match (role, next.as_str()) {
        // An operator sent to a member page (or the reverse) would only be refused there.
        (Role::Operator, path) if !path.starts_with("/console/admin") => "/console/admin/accounts",
        (Role::Member, path) if path.starts_with("/console/admin") => "/console/playground",
        (_, path) => path,
    };
    (
        [(SET_COOKIE, console.sessions.set_cookie(&value))],
        Redirect::to(target),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SignOut {
    #[serde(rename = "csrf")]
    token: Option<String>,
}

async fn sign_out(
    State(console): State<Console>,
    signed: Result<Signed, ConsoleError>,
    Form(input): Form<SignOut>,
) -> Response {
    // Signing out of a session that has already ended needs no token; otherwise it is checked,
    // so another site cannot sign a person out.
    if let Ok(signed) = &signed {
        let session = match signed {
            Signed::Member(m) => &m.session,
            Signed::Operator(o) => &o.session,
        };
        if let Err(e) = session.check_csrf(input.token.as_deref().unwrap_or_default()) {
            return e.into_response();
        }
    }
    (
        [(SET_COOKIE, console.sessions.clear_cookie())],
        Redirect::to(&format!(
            "/console/sign-in?next={}",
            query_escape("/console")
        )),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/console/tasks?page=2")),
            "/console/tasks?page=2"
        );
        assert_eq!(safe_next(Some("https://evil.example/console")), "/console");
        assert_eq!(safe_next(Some("//evil.example")), "/console");
        assert_eq!(safe_next(Some("/console\\@evil")), "/console");
        assert_eq!(safe_next(Some("/consolex://a")), "/console");
        assert_eq!(safe_next(None), "/console");
    }
}
