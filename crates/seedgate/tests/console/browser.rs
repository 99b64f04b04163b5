//! A headless Chromium driven over WebDriver, and the console app it talks to.

use crate::helpers::{spawn_app_with, TestApp};
use fantoccini::{Client, ClientBuilder, Locator};
use seedgate::config::Settings;
use seedgate_core::clock::SystemClock;
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Desktop and phone viewports for screenshots.
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

fn program(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_string())
}

/// chromedriver and the Chromium session it started; both end with this value.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing chromedriver ends the Chromium it started (it is in its process group).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    pub async fn start() -> Browser {
        let driver_path = program("SEEDGATE_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("SEEDGATE_CHROMIUM", "/usr/bin/chromium");
        assert!(
            std::path::Path::new(&driver_path).exists() && std::path::Path::new(&chromium).exists(),
            "the console tests need Chromium and chromedriver ({chromium}, {driver_path}): \
             apt-get install chromium chromium-driver"
        );
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--mute-audio",
                    "--autoplay-policy=no-user-gesture-required",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
            }
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("could not start Chromium through chromedriver: {e}"),
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_string()
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
            .text()
            .await
            .expect("text")
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no field `{css}`: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing to click at `{css}`: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Runs a script in the page and returns what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs `body` as the body of an async function in the page and returns what it returns
    /// (a thrown error comes back as `"error: …"`).
    pub async fn eval_async(&self, body: &str) -> Value {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             (async () => {{ {body} }})().then(done, e => done('error: ' + e));"
        );
        self.client
            .execute_async(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{body}"))
    }

    /// Waits until `script` returns `true` (or fails the test after `within`).
    pub async fn wait_until(&self, what: &str, script: &str, within: Duration) {
        let started = Instant::now();
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > within {
                let body = self.eval("return document.body.innerText").await;
                panic!("waited {within:?} for {what}; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in on the sign-in page with `secret`.
    pub async fn sign_in(&self, base: &str, secret: &str) {
        self.goto(&format!("{base}/console/sign-in")).await;
        self.fill("#secret", secret).await;
        self.click("form button[type=submit]").await;
        self.wait_until(
            "the sign-in to finish",
            "return !location.pathname.startsWith('/console/sign-in') || !!document.querySelector('#sign-in-error')",
            Duration::from_secs(10),
        )
        .await;
    }

    /// Writes the page as it looks at desktop and at phone width, whole (the window is made as
    /// tall as the page), to `<target>/tmp/console-screenshots/<name>-{desktop,phone}.png`.
    pub async fn screenshots(&self, name: &str) {
        let dir = screenshot_dir();
        for (label, (width, height)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.client
                .set_window_size(width, height)
                .await
                .expect("resize");
            // The window's height includes the browser's own frame: add it, so the whole page
            // fits in the viewport.
            let full = self
                .eval(
                    "return Math.ceil(document.documentElement.scrollHeight) \
                     + Math.max(0, window.outerHeight - window.innerHeight)",
                )
                .await
                .as_u64()
                .unwrap_or(height as u64)
                .clamp(height as u64, 8000) as u32;
            self.client
                .set_window_size(width, full)
                .await
                .expect("resize");
            let png = self.client.screenshot().await.expect("screenshot");
            let path = dir.join(format!("{name}-{label}.png"));
            std::fs::write(&path, png).expect("write screenshot");
        }
        self.client
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("resize");
    }
}

pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// The application with an admin token for the operator; the member signs in with the
/// development key.
pub struct ConsoleApp {
    pub app: TestApp,
    pub operator_token: String,
    pub viewer_token: String,
}

impl ConsoleApp {
    pub async fn spawn() -> ConsoleApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> ConsoleApp {
        let app = spawn_app_with(configure).await;
        let admin = AdminService::new(app.store.clone(), Arc::new(SystemClock));
        let actor = Actor("test".into());
        let operator_token = admin
            .create_admin_token("ops", AdminRole::Admin, &actor)
            .await
            .expect("admin token")
            .token;
        let viewer_token = admin
            .create_admin_token("auditor", AdminRole::Viewer, &actor)
            .await
            .expect("viewer token")
            .token;
        ConsoleApp {
            app,
            operator_token,
            viewer_token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.app.url(path)
    }
}
