//! The page shell every console page shares (skip link, header, navigation for the role, sign
//! out), the error page, and small formatting helpers for what pages show.

use crate::session::{Role, Session, CSRF_FIELD};
use axum::http::StatusCode;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// Who is looking at a page, for its navigation.
pub struct Chrome<'a> {
    pub role: Role,
    /// The key's or the token's name.
    pub who: &'a str,
    pub session: &'a Session,
    /// The navigation entry to mark as current (its path).
    pub current: &'a str,
}

const MEMBER_NAV: &[(&str, &str)] = &[
    ("/console/playground", "Playground"),
    ("/console/tasks", "Tasks"),
    ("/console/account", "Account"),
];

const OPERATOR_NAV: &[(&str, &str)] = &[
    ("/console/admin/accounts", "Accounts"),
    ("/console/admin/usage", "Usage"),
    ("/console/admin/tasks", "Tasks"),
    ("/console/admin/upstreams", "Upstreams"),
    ("/console/admin/audit", "Audit log"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · seedgate" }
            link rel="stylesheet" href=(crate::assets::url("console.css"));
            script src=(crate::assets::url("console.js")) defer {}
        }
    }
}

/// A full page: `body` inside the shell, with the CSRF token where scripts find it.
pub fn page(chrome: &Chrome<'_>, title: &str, body: Markup) -> Markup {
    let nav = match chrome.role {
        Role::Member => MEMBER_NAV,
        Role::Operator => OPERATOR_NAV,
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body data-csrf=(chrome.session.csrf) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console" { "seedgate" }
                    nav aria-label="Console" {
                        ul {
                            @for (path, label) in nav {
                                li {
                                    @if chrome.current.starts_with(path) {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.signout method="post" action="/console/sign-out" {
                        (csrf_field(chrome.session))
                        span.who {
                            (match chrome.role { Role::Member => "key ", Role::Operator => "operator " })
                            strong { (chrome.who) }
                        }
                        button type="submit" { "Sign out" }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden field a form carries its CSRF token in.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// A page without a session (sign-in, errors).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main #main tabindex="-1" {
                    p.brand-line { a.brand href="/console" { "seedgate" } }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = match status.as_u16() {
        403 => "Not allowed",
        404 => "Not found",
        401 => "Signed out",
        429 => "Slow down",
        400..=499 => "That did not work",
        _ => "Something went wrong",
    };
    bare_page(
        title,
        html! {
            p.error role="alert" { (message) }
            p { a href="/console" { "Back to the console" } " · " a href="/console/sign-in" { "Sign in again" } }
        },
    )
}

/// A notice above a page's content (after a form did something).
pub fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.notice role="status" { (message) }
        }
    }
}

/// A task's status as a coloured badge.
pub fn status_badge(status: seedgate_core::TaskStatus) -> Markup {
    html! { span class=(format!("badge {}", status.as_str())) { (status.as_str()) } }
}

/// A form field's text, trimmed; `None` when blank.
pub fn given(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The start (Unix ms, UTC) of a day written `2026-12-01`.
pub fn day_start_ms(text: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Percent-encodes a value for a query string.
pub fn query_escape(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A Unix-ms time as `2026-12-07 11:53:56 UTC`.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A time as a `<time>` element.
pub fn time_el(ms: i64) -> Markup {
    let iso = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    html! { time datetime=(iso) { (time(ms)) } }
}

/// Credits with thousands separators and their dollar value (1 credit = $0.001).
pub fn credits(amount: i64) -> Markup {
    html! {
        span.credits title=(format!("${:.3}", amount as f64 / 1000.0)) {
            (grouped(amount)) " credits"
        }
    }
}

/// An integer with thin-space thousands separators.
pub fn grouped(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if amount < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Raw markup already escaped (JSON embedded for a script, for one).
pub fn json_script(id: &str, value: &serde_json::Value) -> Markup {
    // `</` cannot end the script element from inside a JSON string once its slash is escaped.
    let text = value.to_string().replace("</", "<\\/");
    html! { script type="application/json" id=(id) { (PreEscaped(text)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(-1234567), "-1,234,567");
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            query_escape("/console/tasks?x=1&y"),
            "%2Fconsole%2Ftasks%3Fx%3D1%26y"
        );
    }

    #[test]
    fn embedded_json_cannot_close_its_script() {
        let markup = json_script("d", &serde_json::json!({"p": "</script><script>alert(1)"}));
        let text = markup.into_string();
        assert!(!text.contains("</script><script>"));
        assert!(text.ends_with("</script>"));
    }
}
