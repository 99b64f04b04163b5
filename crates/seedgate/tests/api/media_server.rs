//! A local server for reference media: images of any size, MP4s of any length (made by the
//! local renderer), a slow MP4, and a missing file.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use seedgate_local_renderer::{render, RenderSpec, Scene};
use std::io::Cursor;
use std::time::Duration;

pub struct MediaServer {
    pub base: String,
}

impl MediaServer {
    pub async fn start() -> Self {
        let router = Router::new()
            .route("/img/{name}", get(image))
            .route("/video/{name}", get(video))
            .route("/slow/{name}", get(slow_video))
            .route(
                "/garbage.mp4",
                get(|| async { ([(header::CONTENT_TYPE, "video/mp4")], vec![7u8; 4096]) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { base }
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

/// A short MP4 of `seconds` seconds.
pub fn make_video(seconds: u32) -> Vec<u8> {
    render(&RenderSpec {
        width: 640,
        height: 640,
        fps: 24,
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

async fn video(Path(name): Path<String>) -> Response {
    let Some(seconds) = name
        .strip_suffix(".mp4")
        .and_then(|s| s.parse::<u32>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let bytes = tokio::task::spawn_blocking(move || make_video(seconds))
        .await
        .expect("render");
    ([(header::CONTENT_TYPE, "video/mp4")], bytes).into_response()
}

async fn slow_video(Path(name): Path<String>) -> Response {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    video(Path(name)).await
}
