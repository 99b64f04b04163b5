//! A local server for reference media: images of any size, MP4s of any length (made by the
//! local renderer), a slow MP4, and a missing file.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use seedgate_local_renderer::{render, RenderSpec, Scene};
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct MediaServer {
    pub base: String,
    hits: Hits,
    /// What `/mutable.mp4` serves now.
    mutable: Arc<Mutex<Vec<u8>>>,
}

/// GET requests per path.
type Hits = Arc<Mutex<HashMap<String, usize>>>;

impl MediaServer {
    pub async fn start() -> Self {
        let hits: Hits = Arc::default();
        let mutable: Arc<Mutex<Vec<u8>>> = Arc::default();
        let current = mutable.clone();
        let router = Router::new()
            .route("/img/{name}", get(image))
            .route("/video/{name}", get(video))
            .route("/slow/{name}", get(slow_video))
            .route("/audio/{name}", get(audio))
            .route(
                "/garbage.mp4",
                get(|| async { ([(header::CONTENT_TYPE, "video/mp4")], vec![7u8; 4096]) }),
            )
            .route(
                "/mutable.mp4",
                get(move || {
                    let bytes = current.lock().map(|b| b.clone()).unwrap_or_default();
                    async move {
                        let etag = format!("\"{}\"", fnv(&bytes));
                        (
                            [
                                (header::CONTENT_TYPE, "video/mp4".to_string()),
                                (header::ETAG, etag),
                            ],
                            bytes,
                        )
                    }
                }),
            )
            .route(
                "/garbage.png",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![7u8; 4096]) }),
            )
            .route(
                "/to-metadata.png",
                get(|| async {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, "http://169.254.169.254/latest/meta-data/")],
                    )
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                hits.clone(),
                count_and_tag,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base,
            hits,
            mutable,
        }
    }

    /// Replaces what `/mutable.mp4` serves (and so its ETag).
    pub fn set_mutable(&self, bytes: Vec<u8>) {
        if let Ok(mut m) = self.mutable.lock() {
            *m = bytes;
        }
    }

    pub fn mutable_url(&self) -> String {
        format!("{}/mutable.mp4", self.base)
    }

    /// How many GET requests reached `path` (e.g. `/img/800x600.png`).
    pub fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .map(|h| h.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// A video of `width`×`height` at `fps` for `seconds`.
    pub fn video_of(&self, width: u32, height: u32, fps: u32, seconds: u32) -> String {
        format!("{}/video/{width}x{height}_{fps}_{seconds}.mp4", self.base)
    }

    /// A WAV of `seconds` seconds (`1.5` works).
    pub fn wav(&self, seconds: f64) -> String {
        format!("{}/audio/{seconds}.wav", self.base)
    }

    /// `WxH.png` or `WxH.jpg`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/img/{name}", self.base)
    }

    /// `<seconds>.mp4`.
    pub fn video(&self, seconds: u32) -> String {
        format!("{}/video/{seconds}.mp4", self.base)
    }

    pub fn slow_video(&self, seconds: u32) -> String {
        format!("{}/slow/{seconds}.mp4", self.base)
    }
}

/// A test image: a diagonal gradient, so scaling and cropping are visible.
pub fn make_image(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            128,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

/// Counts GETs per path and tags every response with an ETag derived from its path, as a
/// static file server would.
async fn count_and_tag(
    axum::extract::State(hits): axum::extract::State<Hits>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    if request.method() == axum::http::Method::GET {
        if let Ok(mut h) = hits.lock() {
            *h.entry(path.clone()).or_default() += 1;
        }
    }
    let mut response = next.run(request).await;
    // A static file server's ETag: derived from the path, unless the handler set its own.
    if !response.headers().contains_key(header::ETAG) {
        let etag = format!("\"{}\"", fnv(path.as_bytes()));
        if let Ok(v) = axum::http::HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, v);
        }
    }
    response
}

fn fnv(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    });
    format!("{hash:x}")
}

/// A WAV file: 16-bit mono PCM at 16 kHz, a quiet tone.
pub fn make_wav(seconds: f64) -> Vec<u8> {
    let rate = 16_000u32;
    let samples = (seconds * f64::from(rate)) as u32;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let v = ((f64::from(i) * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 3000.0)
            as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// An MP4 made by the local renderer.
pub fn make_video_of(width: u32, height: u32, fps: u32, seconds: u32) -> Vec<u8> {
    render(&RenderSpec {
        width,
        height,
        fps,
        duration_seconds: seconds,
        scene: Scene::Card {
            prompt: "reference clip".into(),
        },
        audio: false,
    })
    .expect("render reference video")
}

async fn image(Path(name): Path<String>) -> Response {
    let Some((dims, ext)) = name.split_once('.') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((w, h)) = dims
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (format, mime) = match ext {
        "png" => (image::ImageFormat::Png, "image/png"),
        "jpg" => (image::ImageFormat::Jpeg, "image/jpeg"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, mime)], make_image(w, h, format)).into_response()
}

/// `<seconds>.mp4` (640×640 at 24 fps) or `<w>x<h>_<fps>_<seconds>.mp4`.
async fn video(Path(name): Path<String>) -> Response {
    let Some(stem) = name.strip_suffix(".mp4") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let parts: Vec<u32> = stem
        .split(['x', '_'])
        .filter_map(|p| p.parse().ok())
        .collect();
    let (w, h, fps, secs) = match parts[..] {
        [secs] => (640, 640, 24, secs),
        [w, h, fps, secs] => (w, h, fps, secs),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let bytes = tokio::task::spawn_blocking(move || make_video_of(w, h, fps, secs))
        .await
        .expect("render");
    ([(header::CONTENT_TYPE, "video/mp4")], bytes).into_response()
}

async fn audio(Path(name): Path<String>) -> Response {
    let Some(seconds) = name
        .strip_suffix(".wav")
        .and_then(|s| s.parse::<f64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    ([(header::CONTENT_TYPE, "audio/wav")], make_wav(seconds)).into_response()
}

async fn slow_video(Path(name): Path<String>) -> Response {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    video(Path(name)).await
}
