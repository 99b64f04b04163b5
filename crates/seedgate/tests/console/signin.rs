//! Sign-in, sessions and what each role may reach.

use crate::browser::{Browser, ConsoleApp};
use std::time::Duration;

#[tokio::test]
async fn a_member_signs_in_with_a_key_and_the_browser_keeps_only_an_http_only_cookie() {
    let console = ConsoleApp::spawn().await;
    let browser = Browser::start().await;
    browser.goto(&console.url("/console/tasks")).await;
    // Sent to sign in first, and back to the page afterwards.
    assert_eq!(browser.path().await, "/console/sign-in");
    browser.screenshots("sign-in").await;
    browser.fill("#secret", &console.app.key).await;
    browser.click("form button[type=submit]").await;
    browser
        .wait_until(
            "the tasks page",
            "return location.pathname === '/console/tasks'",
            Duration::from_secs(10),
        )
        .await;
    // Scripts cannot read the session, and nothing of the key is kept in the page's storage.
    let visible = browser
        .eval("return document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
        .await;
    let visible = visible.as_str().unwrap_or_default().to_string();
    assert!(!visible.contains("seedgate_console"), "{visible}");
    assert!(!visible.contains(&console.app.key), "{visible}");
    let cookies = browser.client.get_all_cookies().await.expect("cookies");
    let session = cookies
        .iter()
        .find(|c| c.name() == "seedgate_console")
        .expect("the session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(
        session.same_site().map(|s| s.to_string()).as_deref(),
        Some("Strict")
    );
    assert!(!session.value().contains(&console.app.key));

    // Signing out ends the session: the next page asks to sign in again.
    browser.click("form.signout button").await;
    browser
        .wait_until(
            "the sign-in page",
            "return location.pathname === '/console/sign-in'",
            Duration::from_secs(10),
        )
        .await;
    browser.goto(&console.url("/console/account")).await;
    assert_eq!(browser.path().await, "/console/sign-in");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_on_the_form() {
    let console = ConsoleApp::spawn().await;
    let browser = Browser::start().await;
    browser
        .sign_in(&console.app.base, "sg_live_not_a_real_key")
        .await;
    assert_eq!(browser.path().await, "/console/sign-in");
    let message = browser.text("#sign-in-error").await;
    assert!(message.contains("not valid"), "{message}");
    browser.screenshots("sign-in-refused").await;
}

#[tokio::test]
async fn an_operator_signs_in_with_an_admin_token_and_reads_the_audit_log() {
    let console = ConsoleApp::spawn().await;
    let browser = Browser::start().await;
    browser
        .sign_in(&console.app.base, &console.operator_token)
        .await;
    assert!(browser.path().await.starts_with("/console/admin"));
    browser.goto(&console.url("/console/admin/audit")).await;
    let table = browser.text("#audit").await;
    assert!(
        table.contains("admin_token.create") && table.contains("ops"),
        "{table}"
    );
    browser.screenshots("operator-audit").await;
}

#[tokio::test]
async fn a_member_cannot_reach_an_operator_page_by_url() {
    let console = ConsoleApp::spawn().await;
    let browser = Browser::start().await;
    browser.sign_in(&console.app.base, &console.app.key).await;
    for path in [
        "/console/admin/accounts",
        "/console/admin/audit",
        "/console/admin/tasks",
        "/console/admin/usage",
        "/console/admin/upstreams",
    ] {
        browser.goto(&console.url(path)).await;
        let body = browser.eval("return document.body.innerText").await;
        let body = body.as_str().unwrap_or_default();
        assert!(body.contains("for operators"), "{path}: {body}");
        assert!(!body.contains("audited"), "{path}");
    }
    browser.screenshots("member-refused-operator-page").await;
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_is_refused() {
    let console = ConsoleApp::spawn().await;
    let browser = Browser::start().await;
    browser.sign_in(&console.app.base, &console.app.key).await;
    // The sign-out form, submitted by the page itself with its token removed: the session
    // survives.
    let status = browser
        .eval_async(
            "const form = document.querySelector('form.signout');
             const data = new URLSearchParams(new FormData(form));
             data.delete('csrf');
             const answer = await fetch(form.action, {method: 'POST', body: data,
                 headers: {'content-type': 'application/x-www-form-urlencoded'}});
             return answer.status;",
        )
        .await;
    assert_eq!(status, 403);
    browser.goto(&console.url("/console/account")).await;
    assert_eq!(browser.path().await, "/console/account");
    // The same form with a wrong token.
    let status = browser
        .eval_async(
            "const form = document.querySelector('form.signout');
             const data = new URLSearchParams(new FormData(form));
             data.set('csrf', '0'.repeat(64));
             const answer = await fetch(form.action, {method: 'POST', body: data,
                 headers: {'content-type': 'application/x-www-form-urlencoded'}});
             return answer.status;",
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_session_ends_when_it_expires_and_when_its_key_is_revoked() {
    let console = ConsoleApp::spawn_with(|s| s.auth.console_session_minutes = 30).await;
    let browser = Browser::start().await;
    browser.sign_in(&console.app.base, &console.app.key).await;
    browser.goto(&console.url("/console/account")).await;
    assert_eq!(browser.path().await, "/console/account");
    // Half an hour later the cookie is no longer accepted, whatever the browser still holds.
    console.app.clock.advance_ms(30 * 60 * 1000 + 1);
    browser.goto(&console.url("/console/account")).await;
    assert_eq!(browser.path().await, "/console/sign-in");

    // A fresh session (its clock half an hour on), then the key is revoked: the console stops at once (the key cache is
    // five seconds by default; the test app's store is read after it).
    browser.sign_in(&console.app.base, &console.app.key).await;
    assert_eq!(browser.path().await, "/console/playground");
    let admin = seedgate_service::admin::AdminService::new(
        console.app.store.clone(),
        std::sync::Arc::new(seedgate_core::clock::SystemClock),
    );
    admin
        .revoke_key("development", &seedgate_store::Actor("test".into()))
        .await
        .expect("revoke");
    let started = std::time::Instant::now();
    loop {
        browser.goto(&console.url("/console/account")).await;
        if browser.path().await == "/console/sign-in" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a revoked key's session still opens pages"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // And it cannot sign in again.
    browser.sign_in(&console.app.base, &console.app.key).await;
    assert_eq!(browser.path().await, "/console/sign-in");
}

#[tokio::test]
async fn the_console_is_usable_by_keyboard() {
    let console = ConsoleApp::spawn().await;
    let browser = Browser::start().await;
    browser.goto(&console.url("/console/sign-in")).await;
    // The secret field has the focus; typing and Enter sign in.
    let focused = browser.eval("return document.activeElement.id").await;
    assert_eq!(focused, "secret");
    let field = browser
        .client
        .active_element()
        .await
        .expect("focused element");
    field
        .send_keys(&format!("{}\u{E007}", console.app.key))
        .await
        .expect("type and press Enter");
    browser
        .wait_until(
            "the playground",
            "return location.pathname === '/console/playground'",
            Duration::from_secs(10),
        )
        .await;
    // The first Tab reaches the skip link, and following it moves the focus to the content.
    browser
        .client
        .active_element()
        .await
        .expect("body")
        .send_keys("\u{E004}")
        .await
        .expect("Tab");
    let first = browser
        .eval("return document.activeElement.className + ' ' + document.activeElement.getAttribute('href')")
        .await;
    assert_eq!(first, "skip #main");
    browser
        .client
        .active_element()
        .await
        .expect("skip link")
        .send_keys("\u{E007}")
        .await
        .expect("Enter");
    browser
        .wait_until(
            "the focus on the content",
            "return document.activeElement.id === 'main'",
            Duration::from_secs(5),
        )
        .await;
    // Every navigation entry is a link reachable by Tab.
    let nav = browser
        .eval("return [...document.querySelectorAll('header nav a')].every(a => a.tabIndex >= 0 && a.href)")
        .await;
    assert_eq!(nav, true);
}
