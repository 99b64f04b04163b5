//! The web console in real Chromium: each test spawns the application on a random port,
//! starts its own chromedriver and headless Chromium, and uses the console as a person would.
//! Screenshots of every page, at desktop and phone width, are written under
//! `target/tmp/console-screenshots/`. Chromium and chromedriver must be installed (Debian's
//! `chromium` and `chromium-driver`; `.ci/run` installs them): without them these tests fail.

mod browser;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod member_pages;
mod operator_pages;
mod playground;
mod signin;
