//! The playground: a first frame dropped in, the estimate, a submit followed live to the video;
//! "copy as code" snippets that really work; a validation error shown in the page.

use crate::browser::{Browser, ConsoleApp};
use serde_json::{json, Value};
use std::time::Duration;

const PROMPT: &str = "a lighthouse at dusk, waves rolling in";
const DURATION: f64 = 4.0;

/// A 640×360 PNG (Seedance first frames need at least 300 px a side): a gradient.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        let mut data = Vec::with_capacity((width * height * 3) as usize);
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 140]);
            }
        }
        writer.write_image_data(&data).expect("png data");
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sets a select or input and tells the page, as a person changing it would.
async fn set_value(browser: &Browser, id: &str, value: &str) {
    browser
        .eval(&format!(
            "const f = document.getElementById({id}); f.value = {value};
             f.dispatchEvent(new Event('input', {{bubbles: true}}));
             f.dispatchEvent(new Event('change', {{bubbles: true}}));
             return true;",
            id = json!(id),
            value = json!(value),
        ))
        .await;
}

/// Drops a PNG on a drop zone: a real `drop` event whose DataTransfer holds a File.
async fn drop_png(browser: &Browser, field: &str, name: &str, bytes: &[u8]) {
    let script = format!(
        "const bin = atob({b64});
         const bytes = new Uint8Array(bin.length);
         for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
         const file = new File([bytes], {name}, {{type: 'image/png'}});
         const dt = new DataTransfer();
         dt.items.add(file);
         const zone = document.querySelector('.dropzone[data-field=\"' + {field} + '\"]');
         for (const type of ['dragenter', 'dragover', 'drop']) {{
           zone.dispatchEvent(new DragEvent(type, {{dataTransfer: dt, bubbles: true, cancelable: true}}));
         }}
         return true;",
        b64 = json!(base64(bytes)),
        name = json!(name),
        field = json!(field),
    );
    assert_eq!(browser.eval(&script).await, Value::Bool(true));
}

/// Opens the playground and fills an image-to-video request with a dropped frame;
/// returns the uploaded frame's URL once the estimate for it is shown.
async fn fill_first_frame_request(console: &ConsoleApp, browser: &Browser) -> String {
    browser.goto(&console.url("/console/playground")).await;
    browser
        .wait_until(
            "the empty form's estimate asking for a prompt",
            "return document.getElementById('estimate-body').textContent.includes('prompt')",
            Duration::from_secs(10),
        )
        .await;
    browser.fill("#prompt", PROMPT).await;
    set_value(browser, "model", "seedance-2.0-mini").await;
    set_value(browser, "resolution", "480p").await;
    set_value(browser, "aspect_ratio", "16:9").await;
    set_value(browser, "duration", "4").await;
    browser.click("input[name=mode][value=i2v]").await;
    assert_eq!(
        browser
            .eval("return document.querySelector('.mode-panel[data-mode=i2v]').hidden")
            .await,
        Value::Bool(false),
        "the first-frame panel shows"
    );
    drop_png(browser, "first_frame_url", "first.png", &png(640, 360)).await;
    browser
        .wait_until(
            "the dropped frame's probe and its estimate",
            "const li = document.querySelector('#files-first_frame_url li.file[data-url]');
             const mode = document.getElementById('estimate-mode');
             return !!li && li.textContent.includes('640×360') && !!mode && mode.textContent === 'i2v';",
            Duration::from_secs(15),
        )
        .await;
    browser
        .eval("return document.querySelector('#files-first_frame_url li.file').dataset.url")
        .await
        .as_str()
        .expect("the frame's URL")
        .to_string()
}

#[tokio::test]
async fn a_member_drops_a_first_frame_sees_the_estimate_and_watches_it_finish() {
    let console = ConsoleApp::spawn().await;
    let app = &console.app;
    let browser = Browser::start().await;
    browser.sign_in(&app.base, &app.key).await;
    browser.goto(&console.url("/console/playground")).await;
    browser
        .wait_until(
            "the empty form's estimate asking for a prompt",
            "return document.getElementById('estimate-body').textContent.includes('prompt')",
            Duration::from_secs(10),
        )
        .await;
    // A blank form is not scolded: the estimate says what it needs.
    assert_eq!(
        browser
            .eval("return document.getElementById('error-prompt').hidden")
            .await,
        Value::Bool(true)
    );
    browser.screenshots("playground-empty").await;

    let frame_url = fill_first_frame_request(&console, &browser).await;
    // The estimate is reAPI's for the same request.
    let reapi: Value = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&app.key)
        .json(&json!({
            "model": "seedance-2.0-mini", "prompt": PROMPT, "first_frame_url": frame_url,
            "duration": 4, "resolution": "480p", "aspect_ratio": "16:9",
        }))
        .send()
        .await
        .expect("estimate")
        .json()
        .await
        .expect("json");
    let credits = reapi["credits"]
        .as_u64()
        .unwrap_or_else(|| panic!("{reapi}"));
    let shown = browser
        .eval("return document.getElementById('estimate-body').dataset.credits")
        .await;
    assert_eq!(shown, json!(credits.to_string()), "reAPI: {reapi}");
    let text = browser.text("#estimate-credits").await;
    assert_eq!(text.replace(',', ""), credits.to_string());
    let probe = browser.text("#estimate-body .media-facts").await;
    assert!(
        probe.contains("first_frame_url") && probe.contains("640×360"),
        "{probe}"
    );
    browser.screenshots("playground-estimate").await;

    let balance = app.balance_of(&app.key).await;
    browser.click("#generate").await;
    let mut seen = std::collections::BTreeSet::new();
    let started = std::time::Instant::now();
    loop {
        let state = browser
            .eval(
                "const s = document.getElementById('task-state'); return s ? s.textContent : null",
            )
            .await;
        if let Some(state) = state.as_str() {
            seen.insert(state.to_string());
            if state == "completed" {
                break;
            }
            assert!(
                state != "failed",
                "the task failed: {:?}",
                browser.text("#task-output").await
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "never completed: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        app.balance_of(&app.key).await < balance,
        "the task was paid for"
    );
    // The status region is live for screen readers.
    assert_eq!(
        browser
            .eval("return document.getElementById('task-status').getAttribute('aria-live')")
            .await,
        json!("polite")
    );

    // The player loads the video: as long as asked, with data for the current frame.
    browser
        .wait_until(
            "the video to load",
            "const v = document.getElementById('result-video'); return !!v && v.readyState >= 2;",
            Duration::from_secs(20),
        )
        .await;
    let duration = browser
        .eval("return document.getElementById('result-video').duration")
        .await
        .as_f64()
        .expect("a duration");
    assert!(
        (duration - DURATION).abs() <= 0.1,
        "the video lasts {duration} s, {DURATION} s were asked for"
    );
    browser
        .wait_until(
            "the last frame to load",
            "const img = document.getElementById('last-frame');
             return !!img && img.complete && img.naturalWidth > 0;",
            Duration::from_secs(20),
        )
        .await;
    let download = browser
        .eval_async(
            "const a = document.getElementById('download');
             const r = await fetch(a.href);
             const bytes = (await r.arrayBuffer()).byteLength;
             return [r.status, r.headers.get('content-type'), bytes, a.hasAttribute('download')];",
        )
        .await;
    assert_eq!(download[0], json!(200), "{download}");
    assert_eq!(download[1], json!("video/mp4"), "{download}");
    assert!(download[2].as_u64().unwrap_or(0) > 1000, "{download}");
    assert_eq!(download[3], json!(true));
    browser.screenshots("playground-completed").await;

    // A task made in the console reads back through the APIs like any other.
    let id = browser
        .eval("return document.querySelector('#task-status a code').textContent")
        .await;
    let id = id.as_str().expect("task id");
    let task = app.get_json(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(task["status"], json!("completed"), "{task}");
    let timeline = app
        .client
        .get(app.url(&format!("/api/v1/tasks/{id}/timeline")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("timeline");
    assert_eq!(timeline.status(), 200);
}

/// Reads a curl snippet's URL and JSON body (undoing the shell's single quotes).
fn parse_curl(curl: &str) -> (String, Value) {
    let url = curl
        .lines()
        .next()
        .and_then(|l| l.split('\'').nth(1))
        .expect("the URL")
        .to_string();
    let start = curl.find("-d '").expect("a body") + 4;
    let quoted = curl[start..].trim_end();
    let quoted = quoted.strip_suffix('\'').expect("closing quote");
    let body = serde_json::from_str(&quoted.replace(r"'\''", "'")).expect("JSON body");
    (url, body)
}

#[tokio::test]
async fn copy_as_code_gives_snippets_that_create_tasks_and_errors_show_in_the_page() {
    let console = ConsoleApp::spawn().await;
    let app = &console.app;
    let browser = Browser::start().await;
    browser.sign_in(&app.base, &app.key).await;
    fill_first_frame_request(&console, &browser).await;

    browser.click("#show-code").await;
    browser
        .wait_until(
            "the snippets",
            "return !document.getElementById('code').hidden && !!document.getElementById('code-reapi-curl')",
            Duration::from_secs(10),
        )
        .await;
    // Tabs: reAPI selected; choosing another shows its panel.
    assert_eq!(
        browser
            .eval("return document.getElementById('tab-reapi').getAttribute('aria-selected')")
            .await,
        json!("true")
    );
    browser.click("#tab-ark").await;
    assert_eq!(
        browser
            .eval("return [document.getElementById('tab-ark').getAttribute('aria-selected'), document.getElementById('panel-ark').hidden, document.getElementById('panel-reapi').hidden]")
            .await,
        json!(["true", false, true])
    );
    browser.screenshots("playground-code").await;
    browser.click("#tab-reapi").await;
    let curl = browser.text("#code-reapi-curl").await;
    assert!(curl.contains("$SEEDGATE_KEY"), "{curl}");
    assert!(!curl.contains(&app.key), "the member's key never appears");
    let python = browser.text("#code-reapi-python").await;
    assert!(python.contains("os.environ[\"SEEDGATE_KEY\"]"), "{python}");

    // The reAPI curl body, sent with the member's key, creates a task that completes.
    let (url, body) = parse_curl(&curl);
    assert!(url.starts_with(&app.base), "{url}");
    let created = app
        .client
        .post(&url)
        .bearer_auth(&app.key)
        .json(&body)
        .send()
        .await
        .expect("submit");
    assert!(created.status().is_success(), "{body}");
    let created: Value = created.json().await.expect("json");
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));
    let done = app.wait_for_task(id).await;
    assert_eq!(done["status"], json!("completed"), "{done}");

    // Every other dialect's snippet is accepted too, and holds the task's price.
    let snippets = browser
        .eval_async(
            "const form = {
               model: 'seedance-2.0-mini', prompt: document.getElementById('prompt').value,
               mode: 'i2v', resolution: '480p', aspect_ratio: '16:9', duration: 4,
               generate_audio: false, return_last_frame: true,
               first_frame_url: document.querySelector('#files-first_frame_url li.file').dataset.reference,
             };
             const r = await window.seedgate.api('POST', '/console/api/code', form);
             return r.snippets;",
        )
        .await;
    let snippets = snippets.as_array().unwrap_or_else(|| panic!("{snippets}"));
    assert_eq!(snippets.len(), 7, "one per dialect");
    // Every dialect can express a first frame with a prompt.
    let unavailable: Vec<&Value> = snippets
        .iter()
        .filter(|s| !s["unavailable"].is_null())
        .collect();
    assert!(unavailable.is_empty(), "{unavailable:?}");
    for s in snippets {
        let dialect = s["dialect"].as_str().expect("dialect");
        if s["unavailable"].is_string() {
            continue;
        }
        let before = app.balance_of(&app.key).await;
        let mut request = app
            .client
            .post(s["url"].as_str().expect("url"))
            .json(&s["body"]);
        request = if s["auth_header"] == json!("x-api-key") {
            request.header("x-api-key", &app.key)
        } else {
            request.bearer_auth(&app.key)
        };
        let response = request.send().await.expect("send");
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{dialect}: {status} {answer}");
        if let Some(code) = answer.get("code").and_then(Value::as_i64) {
            assert!(code == 0 || code == 200, "{dialect}: {answer}");
        }
        assert!(
            app.balance_of(&app.key).await < before,
            "{dialect}: no task was created: {answer}"
        );
    }

    // A duration the model does not offer: the message shows beside the field, and a submit
    // creates nothing.
    let balance = app.balance_of(&app.key).await;
    set_value(&browser, "duration", "99").await;
    browser
        .wait_until(
            "the duration error",
            "const e = document.getElementById('error-duration'); return !e.hidden && e.textContent.length > 0;",
            Duration::from_secs(10),
        )
        .await;
    let message = browser.text("#error-duration").await;
    assert!(message.contains("duration"), "{message}");
    browser.click("#generate").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let message = browser.text("#error-duration").await;
    assert!(!message.is_empty());
    assert_eq!(
        browser
            .eval("return document.getElementById('task-state')")
            .await,
        Value::Null,
        "no task is shown"
    );
    assert_eq!(
        app.balance_of(&app.key).await,
        balance,
        "no task was created"
    );
    // The snippets of the earlier, valid form are gone with it.
    assert_eq!(
        browser
            .eval("return document.getElementById('code-reapi-curl')")
            .await,
        Value::Null
    );

    // The drop zones' file inputs are real, labelled and reachable by keyboard.
    assert_eq!(
        browser
            .eval(
                "const input = document.getElementById('file-first_frame_url');
                 return [input.type, input.tabIndex >= 0,
                         !!document.querySelector('label[for=file-first_frame_url]')];"
            )
            .await,
        json!(["file", true, true])
    );

    // Another account's task is not found through the console's API.
    let other = app.create_key("elsewhere", 10_000).await;
    let r = app
        .submit_as(
            &other,
            &json!({"model": "seedance-2.0-mini", "prompt": "not yours", "duration": 4,
                    "resolution": "480p", "aspect_ratio": "16:9"}),
        )
        .await;
    let theirs: Value = r.json().await.expect("json");
    let theirs = theirs["id"].as_str().unwrap_or_else(|| panic!("{theirs}"));
    let answer = browser
        .eval_async(&format!(
            "const r = await fetch('/console/api/tasks/' + {id});
             return [r.status, (await r.json()).error.code];",
            id = json!(theirs)
        ))
        .await;
    assert_eq!(answer, json!([404, "not_found"]));

    // References: an image dropped among the reference images is priced as one.
    set_value(&browser, "duration", "4").await;
    browser.click("input[name=mode][value=r2v]").await;
    drop_png(&browser, "reference_image_urls", "look.png", &png(400, 400)).await;
    browser
        .wait_until(
            "the reference image's estimate",
            "const mode = document.getElementById('estimate-mode');
             const facts = document.querySelector('#estimate-body .media-facts');
             return !!mode && mode.textContent === 'r2v' && !!facts
                 && facts.textContent.includes('reference_image_urls[0]');",
            Duration::from_secs(15),
        )
        .await;
    // A file the model cannot take is refused beside its drop zone.
    drop_png(&browser, "reference_image_urls", "tiny.png", &png(100, 100)).await;
    browser
        .wait_until(
            "the refused upload's message",
            "const e = document.getElementById('error-reference_image_urls');
             return !e.hidden && e.textContent.includes('tiny.png');",
            Duration::from_secs(15),
        )
        .await;
    // It stays after the estimate that follows the upload.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let refused = browser.text("#error-reference_image_urls").await;
    assert!(refused.contains("300"), "{refused}");
    browser.screenshots("playground-references").await;
    browser.screenshots("playground-invalid").await;
}
