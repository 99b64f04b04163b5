//! `seedgate generate`: a command-line client for any seedgate, over its reAPI dialect and plain
//! HTTP (it never opens a store, so it works against a seedgate anywhere). Local files are
//! uploaded as assets first (`POST /api/v1/assets`, the raw bytes) and the URLs they are given
//! are sent in their place; `--estimate` prices the request (`POST /api/v1/videos/estimate`) and
//! submits nothing; a submit (`POST /api/v1/videos/generations`) carries an Idempotency-Key made
//! once per invocation, so the client's own retries of a lost answer never make a second task;
//! `--wait` polls `GET /api/v1/tasks/{id}` and downloads the video (and the last frame).
//! What happened is said by the exit code ([`Exit`]), documented in `--help` and the README.

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use url::Url;

/// The exit codes, as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  completed (and downloaded with -o), submitted (without --wait), or estimated (--estimate)
  2  usage error: a bad flag, a local file that does not exist, no API key
  3  refused by the server before any task was made: validation, authentication,
     insufficient credits, a rate limit or budget (the server's message is printed)
  4  the task failed, was cancelled or expired (its hold is refunded)
  5  timed out waiting (--timeout); the task goes on on the server
  6  network or server error: unreachable, a 5xx, an answer that is not seedgate's
  7  could not write the output file";

/// What `seedgate generate` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Completed, submitted (without `--wait`) or estimated.
    Done = 0,
    /// A usage error (clap's own, a missing local file, no key).
    Usage = 2,
    /// Refused by the server before any task was made.
    Refused = 3,
    /// The task failed, was cancelled or expired.
    TaskFailed = 4,
    /// The task did not finish within `--timeout`.
    TimedOut = 5,
    /// The server could not be reached or answered with a server error.
    Unavailable = 6,
    /// The output file could not be written.
    Output = 7,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

const DEFAULT_MODEL: &str = "seedance-2.0-mini";
/// Every API call but uploads and downloads.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);
/// Submit attempts when the answer is lost (a dropped connection, a 5xx, a 409 in flight).
const SUBMIT_ATTEMPTS: u32 = 4;
/// Polls in a row that may fail (network, 5xx) before giving up with [`Exit::Unavailable`].
const POLL_FAILURES_TOLERATED: u32 = 5;
const POLL_FIRST: Duration = Duration::from_millis(500);
const POLL_MAX: Duration = Duration::from_secs(3);

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct GenerateArgs {
    /// What the video shows.
    pub prompt: String,
    /// The seedgate to use (its base URL).
    #[arg(long, env = "SEEDGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The API key.
    #[arg(long, env = "SEEDGATE_KEY", hide_env_values = true)]
    pub key: Option<String>,
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Image-to-video: the first frame, an http(s) URL or a local file (uploaded first).
    #[arg(long, value_name = "FILE|URL")]
    pub first_frame: Option<String>,
    /// The last frame (with --first-frame), an http(s) URL or a local file.
    #[arg(long, value_name = "FILE|URL")]
    pub last_frame: Option<String>,
    /// A reference image, an http(s) URL or a local file; repeatable.
    #[arg(long = "reference-image", value_name = "FILE|URL")]
    pub reference_images: Vec<String>,
    /// A reference video, an http(s) URL or a local file; repeatable.
    #[arg(long = "reference-video", value_name = "FILE|URL")]
    pub reference_videos: Vec<String>,
    /// A reference audio track, an http(s) URL or a local file; repeatable.
    #[arg(long = "reference-audio", value_name = "FILE|URL")]
    pub reference_audios: Vec<String>,
    /// 480p, 720p, … (default: the model's).
    #[arg(long)]
    pub resolution: Option<String>,
    /// 16:9, 9:16, 1:1, … (default: the model's).
    #[arg(long, visible_alias = "ratio")]
    pub aspect_ratio: Option<String>,
    /// Seconds (default: the model's).
    #[arg(long)]
    pub duration: Option<i64>,
    /// Generate an audio track.
    #[arg(long)]
    pub audio: bool,
    /// A seed (Seedance 2.5 models).
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<i64>,
    /// Print what the request would cost and exit, submitting nothing.
    #[arg(long, conflicts_with_all = ["wait", "output", "last_frame_out"])]
    pub estimate: bool,
    /// Wait for the task to finish (implied by -o and --last-frame-out).
    #[arg(long)]
    pub wait: bool,
    /// The most seconds to wait for the task.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
    /// Download the video to this file (waits for the task).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ask for the last frame and download it to this PNG file (Seedance 2.5 models).
    #[arg(long, value_name = "FILE")]
    pub last_frame_out: Option<PathBuf>,
    /// Print one JSON object on stdout (id, status, cost, video_url, output, error, …) and no
    /// progress.
    #[arg(long)]
    pub json: bool,
}

/// What went wrong, and the exit code that says so.
#[derive(Debug)]
struct Failure {
    exit: Exit,
    message: String,
    /// The server's error code (reAPI envelope) or a failed task's.
    code: Option<u64>,
    http_status: Option<u16>,
    request_id: Option<String>,
}

impl Failure {
    fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            code: None,
            http_status: None,
            request_id: None,
        }
    }
}

/// The one JSON object `--json` prints; its fields are null when they do not apply.
#[derive(Debug, Default, Serialize)]
struct Report {
    id: Option<String>,
    /// `estimated`, `processing` (submitted, not waited for), `completed`, `failed`,
    /// `refused`, `timed_out` or `error`.
    status: String,
    model: Option<String>,
    /// Credits the request costs (held at submit, charged when it completes).
    cost: Option<u64>,
    /// Credits actually charged, once the task has ended (0 when it failed: refunded).
    charged: Option<i64>,
    video_url: Option<String>,
    last_frame_url: Option<String>,
    /// Where the video was written.
    output: Option<String>,
    last_frame_output: Option<String>,
    elapsed_seconds: f64,
    error: Option<ErrorReport>,
    exit_code: i32,
    /// The estimate endpoint's answer (`--estimate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    estimate: Option<Value>,
}

#[derive(Debug, Serialize)]
struct ErrorReport {
    code: Option<u64>,
    message: String,
    http_status: Option<u16>,
    request_id: Option<String>,
}

/// `seedgate generate`; returns the exit code.
pub async fn run(args: GenerateArgs) -> i32 {
    let started = Instant::now();
    let progress = Progress::new(!args.json && std::io::stderr().is_terminal(), args.json);
    let mut report = Report {
        model: Some(args.model.clone()),
        ..Report::default()
    };
    let result = generate(&args, &progress, &mut report).await;
    progress.finish();
    report.elapsed_seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    let exit = match result {
        Ok(()) => Exit::Done,
        Err(failure) => {
            let mut line = format!("seedgate generate: {}", failure.message);
            match (failure.code, &failure.request_id) {
                (Some(code), Some(rid)) => line.push_str(&format!(" (code {code}, {rid})")),
                (Some(code), None) => line.push_str(&format!(" (code {code})")),
                (None, Some(rid)) => line.push_str(&format!(" ({rid})")),
                (None, None) => {}
            }
            eprintln!("{line}");
            if report.status.is_empty() || report.status == "processing" {
                report.status = match failure.exit {
                    Exit::Refused => "refused",
                    Exit::TimedOut => "timed_out",
                    Exit::TaskFailed => "failed",
                    _ if report.id.is_some() && report.status == "processing" => "processing",
                    _ => "error",
                }
                .into();
            }
            report.error = Some(ErrorReport {
                code: failure.code,
                message: failure.message,
                http_status: failure.http_status,
                request_id: failure.request_id,
            });
            failure.exit
        }
    };
    report.exit_code = exit.code();
    if args.json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("seedgate generate: {e}"),
        }
    }
    exit.code()
}

/// A reference medium as given: a URL passed as is, or a local file to upload.
enum Medium {
    Url(String),
    File(PathBuf),
}

fn medium(flag: &str, value: &str) -> Result<Medium, Failure> {
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Medium::Url(value.to_string()));
    }
    let path = PathBuf::from(value);
    if !path.is_file() {
        return Err(Failure::new(
            Exit::Usage,
            format!("{flag}: no such file: {value} (nothing was sent)"),
        ));
    }
    Ok(Medium::File(path))
}

/// The output file's directory must exist before anything is submitted (and paid for).
fn check_writable(flag: &str, path: &Path) -> Result<(), Failure> {
    if path.is_dir() {
        return Err(Failure::new(
            Exit::Output,
            format!(
                "{flag}: {} is a directory (nothing was sent)",
                path.display()
            ),
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(Failure::new(
            Exit::Output,
            format!(
                "{flag}: the directory {} does not exist (nothing was sent)",
                parent.display()
            ),
        ));
    }
    Ok(())
}

async fn generate(
    args: &GenerateArgs,
    progress: &Progress,
    report: &mut Report,
) -> Result<(), Failure> {
    // Everything that can be checked here is checked before anything is sent.
    let key = args
        .key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Failure::new(Exit::Usage, "no API key: pass --key or set SEEDGATE_KEY"))?;
    let api = Api::new(&args.url, key)?;
    let mut first_frame = args
        .first_frame
        .as_deref()
        .map(|v| medium("--first-frame", v))
        .transpose()?;
    let mut last_frame = args
        .last_frame
        .as_deref()
        .map(|v| medium("--last-frame", v))
        .transpose()?;
    let mut lists = Vec::new();
    for (field, flag, values) in [
        (
            "reference_image_urls",
            "--reference-image",
            &args.reference_images,
        ),
        (
            "reference_video_urls",
            "--reference-video",
            &args.reference_videos,
        ),
        (
            "reference_audio_urls",
            "--reference-audio",
            &args.reference_audios,
        ),
    ] {
        let media = values
            .iter()
            .map(|v| medium(flag, v))
            .collect::<Result<Vec<_>, _>>()?;
        if !media.is_empty() {
            lists.push((field, media));
        }
    }
    if let Some(out) = &args.output {
        check_writable("-o", out)?;
    }
    if let Some(out) = &args.last_frame_out {
        check_writable("--last-frame-out", out)?;
    }

    // Local files become assets; their URLs are sent in their place.
    let mut body = Map::new();
    body.insert("model".into(), json!(args.model));
    body.insert("prompt".into(), json!(args.prompt));
    for (field, slot) in [
        ("first_frame_url", &mut first_frame),
        ("last_frame_url", &mut last_frame),
    ] {
        if let Some(m) = slot.take() {
            body.insert(field.into(), json!(api.media_url(m, progress).await?));
        }
    }
    for (field, media) in lists {
        let mut urls = Vec::with_capacity(media.len());
        for m in media {
            urls.push(api.media_url(m, progress).await?);
        }
        body.insert(field.into(), json!(urls));
    }
    if let Some(v) = &args.resolution {
        body.insert("resolution".into(), json!(v));
    }
    if let Some(v) = &args.aspect_ratio {
        body.insert("aspect_ratio".into(), json!(v));
    }
    if let Some(v) = args.duration {
        body.insert("duration".into(), json!(v));
    }
    if args.audio {
        body.insert("generate_audio".into(), json!(true));
    }
    if let Some(v) = args.seed {
        body.insert("seed".into(), json!(v));
    }
    if args.last_frame_out.is_some() {
        body.insert("return_last_frame".into(), json!(true));
    }
    let body = Value::Object(body);

    if args.estimate {
        progress.status("estimating");
        let estimate = api
            .call(
                api.http
                    .post(api.endpoint("/api/v1/videos/estimate")?)
                    .json(&body),
            )
            .await?;
        let credits = estimate["credits"].as_u64();
        report.status = "estimated".into();
        report.cost = credits;
        report.estimate = Some(estimate.clone());
        progress.finish();
        if !args.json {
            progress.note(&format!(
                "{} credits: {} billable seconds of {} {} {} ({})",
                credits.map_or("?".into(), |c| c.to_string()),
                estimate["billable_seconds"],
                estimate["model"].as_str().unwrap_or("?"),
                estimate["resolution"].as_str().unwrap_or("?"),
                estimate["aspect_ratio"].as_str().unwrap_or("?"),
                estimate["mode"].as_str().unwrap_or("?"),
            ));
            println!("{}", credits.map_or("?".into(), |c| c.to_string()));
        }
        return Ok(());
    }

    progress.status("submitting");
    let task = api.submit(&body).await?;
    let id = task["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            Failure::new(
                Exit::Unavailable,
                "the submit's answer has no task id: is this a seedgate?",
            )
        })?
        .to_string();
    report.id = Some(id.clone());
    report.status = task["status"].as_str().unwrap_or("processing").to_string();
    let wait = args.wait || args.output.is_some() || args.last_frame_out.is_some();
    if !wait {
        report.cost = api.cost(&id).await.0;
        progress.finish();
        if !args.json {
            println!("{id}");
        }
        return Ok(());
    }

    // Wait for the task to end.
    let started = Instant::now();
    let deadline = Duration::from_secs(args.timeout);
    let mut interval = POLL_FIRST;
    let mut failures = 0;
    let mut task = task;
    loop {
        let status = task["status"].as_str().unwrap_or("").to_string();
        report.status = status.clone();
        progress.status(&format!("{id} {status}"));
        if status != "processing" && !status.is_empty() {
            break;
        }
        let elapsed = started.elapsed();
        if elapsed >= deadline {
            report.status = "timed_out".into();
            (report.cost, _) = api.cost(&id).await;
            return Err(Failure::new(
                Exit::TimedOut,
                format!(
                    "{id} still processing after {} s; it goes on on the server (GET /api/v1/tasks/{id})",
                    args.timeout
                ),
            ));
        }
        tokio::time::sleep(interval.min(deadline - elapsed)).await;
        interval = (interval * 3 / 2).min(POLL_MAX);
        match api
            .call(api.http.get(api.endpoint(&format!("/api/v1/tasks/{id}"))?))
            .await
        {
            Ok(t) => {
                failures = 0;
                task = t;
            }
            // Transient: the server restarting, a proxy's 502, a rate limit.
            Err(f) if f.exit == Exit::Unavailable || f.http_status == Some(429) => {
                failures += 1;
                if failures > POLL_FAILURES_TOLERATED {
                    return Err(Failure {
                        message: format!("polling {id}: {}", f.message),
                        ..f
                    });
                }
            }
            Err(f) => {
                return Err(Failure {
                    exit: Exit::Unavailable,
                    message: format!("polling {id}: {}", f.message),
                    ..f
                })
            }
        }
    }
    (report.cost, report.charged) = api.cost(&id).await;
    let status = task["status"].as_str().unwrap_or("").to_string();
    if status != "completed" {
        let code = task["error"]["code"].as_u64();
        let message = task["error"]["message"]
            .as_str()
            .unwrap_or("no reason given")
            .to_string();
        let what = match code {
            Some(80006) => "was cancelled",
            Some(80005) => "expired",
            _ => "failed",
        };
        report.status = "failed".into();
        return Err(Failure {
            code,
            ..Failure::new(Exit::TaskFailed, format!("{id} {what}: {message}"))
        });
    }
    let output = &task["output"];
    let video_url = output["video_urls"][0]
        .as_str()
        .or_else(|| output["video_url"].as_str())
        .map(str::to_string);
    report.video_url = video_url.clone();
    report.last_frame_url = output["last_frame_url"].as_str().map(str::to_string);

    if let Some(out) = &args.output {
        let url = video_url.ok_or_else(|| {
            Failure::new(
                Exit::Unavailable,
                format!("{id} completed without a video URL"),
            )
        })?;
        progress.status(&format!("{id} downloading the video"));
        api.download(&url, out).await?;
        report.output = Some(out.display().to_string());
    }
    if let Some(out) = &args.last_frame_out {
        let url = report.last_frame_url.clone().ok_or_else(|| {
            Failure::new(
                Exit::Unavailable,
                format!("{id} completed without a last frame"),
            )
        })?;
        progress.status(&format!("{id} downloading the last frame"));
        api.download(&url, out).await?;
        report.last_frame_output = Some(out.display().to_string());
    }
    progress.finish();
    if !args.json {
        let cost = report
            .charged
            .map(|c| format!("; {c} credits"))
            .unwrap_or_default();
        progress.note(&format!(
            "{id} completed in {:.1} s{cost}",
            started.elapsed().as_secs_f64()
        ));
        match (&report.output, &report.video_url) {
            (Some(path), _) => println!("{path}"),
            (None, Some(url)) => println!("{url}"),
            (None, None) => println!("{id}"),
        }
    }
    Ok(())
}

/// seedgate's reAPI over HTTP.
struct Api {
    http: reqwest::Client,
    base: Url,
    key: String,
}

impl Api {
    fn new(base: &str, key: &str) -> Result<Self, Failure> {
        let mut base = Url::parse(base.trim())
            .map_err(|e| Failure::new(Exit::Usage, format!("--url {base}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Failure::new(
                Exit::Usage,
                format!("--url {base}: must be http:// or https://"),
            ));
        }
        // `join` keeps a path prefix (a seedgate behind /video/) only with a trailing slash.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("seedgate-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::new(Exit::Unavailable, format!("HTTP client: {e}")))?;
        Ok(Api {
            http,
            base,
            key: key.to_string(),
        })
    }

    fn endpoint(&self, path: &str) -> Result<Url, Failure> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Failure::new(Exit::Usage, format!("--url: {e}")))
    }

    /// Sends an API call with the key; a 2xx JSON answer, or the failure it is.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = request
            .bearer_auth(&self.key)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| network(&self.base, e))?;
        answer(response).await
    }

    /// The URL to send for a medium: as given, or the uploaded asset's.
    async fn media_url(&self, medium: Medium, progress: &Progress) -> Result<String, Failure> {
        let path = match medium {
            Medium::Url(url) => return Ok(url),
            Medium::File(path) => path,
        };
        progress.status(&format!("uploading {}", path.display()));
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            Failure::new(
                Exit::Usage,
                format!(
                    "cannot read {}: {e} (nothing was submitted)",
                    path.display()
                ),
            )
        })?;
        let response = self
            .http
            .post(self.endpoint("/api/v1/assets")?)
            .bearer_auth(&self.key)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .timeout(TRANSFER_TIMEOUT)
            .body(bytes)
            .send()
            .await
            .map_err(|e| network(&self.base, e))?;
        let asset = answer(response).await.map_err(|f| Failure {
            message: format!("uploading {}: {}", path.display(), f.message),
            ..f
        })?;
        let url = asset["url"].as_str().ok_or_else(|| {
            Failure::new(
                Exit::Unavailable,
                "the asset upload's answer has no url: is this a seedgate?",
            )
        })?;
        progress.note_verbose(&format!(
            "uploaded {} as {}",
            path.display(),
            asset["id"].as_str().unwrap_or("an asset")
        ));
        Ok(url.to_string())
    }

    /// Submits once, retrying a lost answer under the same Idempotency-Key: the server answers
    /// a retry with the first attempt's task, so there is never a second one.
    async fn submit(&self, body: &Value) -> Result<Value, Failure> {
        let idempotency_key = format!("sgcli-{}", hex::encode(rand::random::<[u8; 16]>()));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .call(
                    self.http
                        .post(self.endpoint("/api/v1/videos/generations")?)
                        .header("Idempotency-Key", &idempotency_key)
                        .json(body),
                )
                .await;
            let retry = match &result {
                // 409: the first attempt is still being answered.
                Err(f) => f.exit == Exit::Unavailable || f.http_status == Some(409),
                Ok(_) => false,
            };
            if !retry || attempt >= SUBMIT_ATTEMPTS {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }

    /// (credits the task costs, credits charged once it ended) from its timeline; unknown
    /// (None) when the server does not say.
    async fn cost(&self, id: &str) -> (Option<u64>, Option<i64>) {
        let Ok(url) = self.endpoint(&format!("/api/v1/tasks/{id}/timeline")) else {
            return (None, None);
        };
        let Ok(timeline) = self.call(self.http.get(url)).await else {
            return (None, None);
        };
        let entries = timeline["data"].as_array().cloned().unwrap_or_default();
        let cost = entries
            .iter()
            .find(|e| e["kind"] == "accepted")
            .and_then(|e| e["credits"].as_u64());
        let ended = entries
            .iter()
            .any(|e| e["kind"] == "settled" || e["kind"] == "refunded");
        let charged = ended.then(|| {
            -entries
                .iter()
                .filter(|e| {
                    matches!(
                        e["kind"].as_str(),
                        Some("hold_placed" | "settled" | "refunded")
                    )
                })
                .filter_map(|e| e["amount"].as_i64())
                .sum::<i64>()
        });
        (cost, charged)
    }

    /// Streams a result file to `path` through `<path>.part`, renamed when whole. The link is
    /// signed, so no key is sent (it may point at another host: an S3 bucket).
    async fn download(&self, url: &str, path: &Path) -> Result<(), Failure> {
        let url = self
            .base
            .join(url)
            .map_err(|e| Failure::new(Exit::Unavailable, format!("result URL {url}: {e}")))?;
        let mut response = self
            .http
            .get(url.clone())
            .timeout(TRANSFER_TIMEOUT)
            .send()
            .await
            .map_err(|e| network(&url, e))?;
        if !response.status().is_success() {
            return Err(Failure {
                http_status: Some(response.status().as_u16()),
                ..Failure::new(
                    Exit::Unavailable,
                    format!("downloading {}: HTTP {}", url.path(), response.status()),
                )
            });
        }
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        let write_error = |e: std::io::Error| {
            Failure::new(
                Exit::Output,
                format!("cannot write {}: {e}", path.display()),
            )
        };
        let mut file = tokio::fs::File::create(&part).await.map_err(write_error)?;
        let copied: Result<(), Failure> = async {
            while let Some(chunk) = response.chunk().await.map_err(|e| network(&url, e))? {
                file.write_all(&chunk).await.map_err(write_error)?;
            }
            file.flush().await.map_err(write_error)?;
            file.sync_all().await.map_err(write_error)?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(f) = copied {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(f);
        }
        if let Err(e) = tokio::fs::rename(&part, path).await {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(write_error(e));
        }
        Ok(())
    }
}

fn network(url: &Url, e: reqwest::Error) -> Failure {
    let host = url.host_str().unwrap_or("the server");
    let port = url
        .port_or_known_default()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let what = if e.is_connect() {
        "cannot connect to"
    } else if e.is_timeout() {
        "no answer in time from"
    } else {
        "lost the connection to"
    };
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    Failure::new(Exit::Unavailable, format!("{what} {host}{port}: {detail}"))
}

/// A response's JSON on success; otherwise the failure it is: a 4xx is the server refusing
/// (its reAPI envelope's message and code), anything else is the server failing.
async fn answer(response: reqwest::Response) -> Result<Value, Failure> {
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    if status.is_success() {
        return body.filter(Value::is_object).ok_or_else(|| Failure {
            http_status: Some(status.as_u16()),
            ..Failure::new(
                Exit::Unavailable,
                format!("HTTP {status} with an answer that is not JSON: is this a seedgate?"),
            )
        });
    }
    let error = body.as_ref().map(|b| &b["error"]);
    let message = error
        .and_then(|e| e["message"].as_str().or_else(|| e.as_str()))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            let text = text.trim();
            if text.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {text}")
            }
        });
    Err(Failure {
        exit: if status.is_client_error() {
            Exit::Refused
        } else {
            Exit::Unavailable
        },
        message,
        code: error.and_then(|e| e["code"].as_u64()),
        http_status: Some(status.as_u16()),
        request_id: error
            .and_then(|e| e["request_id"].as_str())
            .map(str::to_string),
    })
}

/// The spinner on stderr (a terminal only, never with `--json`), or plain lines.
struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// The spinner has been cleared: what follows is plain lines.
    finished: std::cell::Cell<bool>,
}

impl Progress {
    fn new(spinner: bool, quiet: bool) -> Self {
        let bar = spinner.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
                bar.set_style(style);
            }
            bar.set_message("starting");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            quiet,
            finished: std::cell::Cell::new(false),
        }
    }

    /// The current status: on the spinner only.
    fn status(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }

    /// A line for people, on stderr (not with `--json`).
    fn note(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) if !self.finished.get() => bar.suspend(|| eprintln!("{line}")),
            _ => eprintln!("{line}"),
        }
    }

    /// A line worth showing on a terminal only.
    fn note_verbose(&self, line: &str) {
        if self.bar.is_some() {
            self.note(line);
        }
    }

    /// Clears the spinner (before the result is printed); once is enough.
    fn finish(&self) {
        if let Some(bar) = self.bar.as_ref().filter(|_| !self.finished.get()) {
            bar.finish_and_clear();
        }
        self.finished.set(true);
    }
}
