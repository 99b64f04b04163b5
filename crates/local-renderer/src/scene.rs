//! The three scene kinds, prepared once (decode, fit, lay out text) and then drawn per frame.

use crate::canvas::{Canvas, Overlay};
use crate::draw::{self, ease, fnv1a, hsv, lerp, smoothstep, to_rgb8, Gradient, View};
use crate::images;
use crate::text::{self, Face};
use crate::{RenderError, RenderSpec, Scene};

/// Pictures are fitted this much larger than the frame, so the slow zoom (up to this factor)
/// samples real detail instead of magnifying pixels.
const MAX_ZOOM: f64 = 1.12;
/// Text and captions fade in over this long.
const FADE_IN_SECONDS: f64 = 0.6;

pub struct Prepared {
    kind: Kind,
    fps: u32,
    seed: u64,
}

enum Kind {
    Card(Card),
    Frames(Frames),
    References(References),
}

impl Prepared {
    /// Prepares `spec`'s scene. Every seeded choice (palette, angles, pans, voicing) comes from
    /// one number derived from the inputs, mixed with `variation` when given.
    pub fn new(spec: &RenderSpec, variation: Option<u32>) -> Result<Self, RenderError> {
        let (w, h) = (spec.width as usize, spec.height as usize);
        let vary = |seed: u64| match variation {
            None => seed,
            Some(v) => {
                let mut bytes = [0u8; 12];
                bytes[..8].copy_from_slice(&seed.to_le_bytes());
                bytes[8..].copy_from_slice(&v.to_le_bytes());
                fnv1a(&bytes)
            }
        };
        let (kind, seed) = match &spec.scene {
            Scene::Card { prompt } => {
                let seed = vary(fnv1a(prompt.as_bytes()));
                (Kind::Card(Card::new(w, h, prompt, seed)), seed)
            }
            Scene::Frames {
                first,
                last,
                prompt,
            } => {
                let seed = vary(seed_from(prompt.as_deref(), first));
                (
                    Kind::Frames(Frames::new(
                        w,
                        h,
                        first,
                        last.as_deref(),
                        prompt.as_deref(),
                        seed,
                    )?),
                    seed,
                )
            }
            Scene::References { images, prompt } => {
                let seed = vary(seed_from(
                    prompt.as_deref(),
                    images.first().map_or(&[][..], Vec::as_slice),
                ));
                (
                    Kind::References(References::new(w, h, images, prompt.as_deref(), seed)?),
                    seed,
                )
            }
        };
        Ok(Self {
            kind,
            fps: spec.fps,
            seed,
        })
    }

    /// A stable number derived from the inputs and the variation (for the soundtrack's voicing).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Draws frame `index` of `count` into `canvas`.
    pub fn draw(&mut self, index: u32, count: u32, canvas: &mut Canvas) {
        let clock = Clock {
            t: if count > 1 {
                f64::from(index) / f64::from(count - 1)
            } else {
                0.0
            },
            seconds: f64::from(index) / f64::from(self.fps),
            index,
            count,
            fps: f64::from(self.fps),
        };
        match &mut self.kind {
            Kind::Card(card) => card.draw(&clock, canvas),
            Kind::Frames(frames) => frames.draw(&clock, canvas),
            Kind::References(refs) => refs.draw(&clock, canvas),
        }
    }
}

fn seed_from(prompt: Option<&str>, image: &[u8]) -> u64 {
    match prompt {
        Some(p) if !p.trim().is_empty() => fnv1a(p.as_bytes()),
        _ => fnv1a(&image[..image.len().min(4096)]) ^ image.len() as u64,
    }
}

/// Where a frame sits in time.
struct Clock {
    /// 0 at the first frame, 1 at the last.
    t: f64,
    seconds: f64,
    index: u32,
    count: u32,
    fps: f64,
}

impl Clock {
    fn fade_in(&self) -> u32 {
        (smoothstep(0.0, FADE_IN_SECONDS, self.seconds) * 256.0) as u32
    }
}

/// Font size for the main card text: readable at 480p, not oversized at 720p+.
fn card_font_px(w: usize, h: usize) -> f32 {
    (h as f32 * 0.06).min(w as f32 * 0.045).max(14.0)
}

// ---------------------------------------------------------------------------------------------
// Text-to-video card.

struct Card {
    gradient: Gradient,
    /// Panel + prompt text, centred.
    body: Overlay,
    /// Small "SEEDGATE · PREVIEW" label in the corner.
    label: Overlay,
    /// The body drifts up by this many pixels over the clip.
    drift: f64,
    accent: [u8; 3],
}

impl Card {
    /// `hash` picks the palette and angle (the prompt's hash, unless a seed varies it).
    fn new(w: usize, h: usize, prompt: &str, hash: u64) -> Self {
        let hue = (hash % 360) as f64;
        let palette = [
            hsv(hue, 0.55, 0.55),
            hsv(hue + 38.0, 0.6, 0.34),
            hsv(hue - 32.0, 0.45, 0.46),
        ];
        let angle = 20.0 + ((hash >> 16) % 50) as f64;
        let gradient = Gradient::new(w, h, palette, angle);

        let face = Face::new(card_font_px(w, h));
        let line_height = face.line_height();
        let max_lines = ((h as f32 * 0.6 / line_height) as usize).clamp(2, 7);
        let mut lines = text::wrap_balanced(&face, prompt, w as f32 * 0.78, max_lines);
        if lines.is_empty() {
            lines.push("(empty prompt)".into());
        }
        let body = card_body(w, h, &face, &lines);

        let small = Face::new((face.px * 0.42).max(10.0));
        let label_text = "SEEDGATE \u{00B7} PREVIEW";
        let margin = (h.min(w) as f32 * 0.045).round();
        let lw = (small.measure(label_text) + 4.0).ceil() as usize;
        let lh = (small.line_height() + 4.0).ceil() as usize;
        let mut label = Overlay::new(margin as i64, margin as i64, lw, lh);
        small.draw(
            &mut label,
            label_text,
            1.0,
            small.ascent() + 1.0,
            [255, 255, 255],
            0.72,
        );

        Self {
            gradient,
            body,
            label,
            drift: h as f64 * 0.012,
            accent: to_rgb8(hsv(hue, 0.35, 1.0)),
        }
    }

    fn draw(&self, clock: &Clock, canvas: &mut Canvas) {
        // Bands slide ~0.05 palette cycles per second: visible motion, never busy.
        self.gradient.draw(canvas, clock.seconds * 0.05);
        self.label.composite(canvas, 0, 0, 256);
        let dy = (self.drift * (0.5 - ease(clock.t))).round() as i64;
        self.body.composite(canvas, 0, dy, clock.fade_in());
        progress_bar(canvas, clock, self.accent);
    }
}

/// A translucent rounded panel with the wrapped prompt centred on it.
fn card_body(w: usize, h: usize, face: &Face, lines: &[String]) -> Overlay {
    let line_height = face.line_height();
    let pad = face.px * 0.9;
    let text_w = lines.iter().map(|l| face.measure(l)).fold(0.0f32, f32::max);
    let panel_w = (text_w + 2.0 * pad).min(w as f32 * 0.9);
    let panel_h = lines.len() as f32 * line_height + 2.0 * pad;
    let x = ((w as f32 - panel_w) / 2.0).floor();
    let y = ((h as f32 - panel_h) / 2.0).floor();
    let mut layer = Overlay::new(
        x as i64,
        y as i64,
        panel_w.ceil() as usize + 1,
        panel_h.ceil() as usize + 1,
    );
    let size = (f64::from(panel_w), f64::from(panel_h));
    draw::rounded_rect(&mut layer, size, f64::from(face.px * 0.6), [8, 8, 12], 0.38);
    // Lines are centred horizontally; the block starts one padding below the panel's top.
    let top = pad;
    for (i, line) in lines.iter().enumerate() {
        let lx = (panel_w - face.measure(line)) / 2.0;
        let baseline = top + i as f32 * line_height + face.ascent();
        face.draw_with_shadow(&mut layer, line, lx, baseline, [255, 255, 255]);
    }
    layer
}

/// A thin bar along the bottom that fills as the clip plays.
fn progress_bar(canvas: &mut Canvas, clock: &Clock, accent: [u8; 3]) {
    let (w, h) = (canvas.width as i64, canvas.height as i64);
    let bar_h = (h / 120).max(4);
    let margin = (h.min(w) as f64 * 0.045).round() as i64;
    let track_w = w - 2 * margin;
    let y = h - margin - bar_h;
    let filled = track_w * i64::from(clock.index + 1) / i64::from(clock.count.max(1));
    canvas.blend_rect(margin, y, track_w, bar_h, [255, 255, 255], 56);
    canvas.blend_rect(margin, y, filled, bar_h, accent, 232);
}

// ---------------------------------------------------------------------------------------------
// Image-to-video.

/// A decoded picture cover-fitted to `MAX_ZOOM` × the frame.
fn prepare_picture(bytes: &[u8], index: usize, w: usize, h: usize) -> Result<Canvas, RenderError> {
    let img = images::decode(bytes, index)?;
    let pw = ((w as f64 * MAX_ZOOM).ceil() as usize).max(2);
    let ph = ((h as f64 * MAX_ZOOM).ceil() as usize).max(2);
    Ok(images::cover(&img, pw, ph))
}

/// A small pan direction (in picture fractions) derived from the seed.
fn pan(seed: u64, salt: u64) -> (f64, f64) {
    let v = fnv1a(&(seed ^ salt).to_le_bytes());
    let dx = ((v & 0xff) as f64 / 255.0 - 0.5) * 0.08;
    let dy = (((v >> 8) & 0xff) as f64 / 255.0 - 0.5) * 0.06;
    (dx, dy)
}

/// Caption with the prompt over a dark gradient at the bottom of image scenes.
fn caption(w: usize, h: usize, prompt: Option<&str>) -> Option<Overlay> {
    let prompt = prompt?;
    let face = Face::new((h as f32 * 0.042).min(w as f32 * 0.032).max(12.0));
    let lines = text::wrap(&face, prompt, w as f32 * 0.86, 2);
    if lines.is_empty() {
        return None;
    }
    let line_height = face.line_height();
    let pad = face.px * 1.2;
    let strip_h = (lines.len() as f32 * line_height + 2.5 * pad).ceil() as usize;
    let strip_h = strip_h.min(h);
    let mut layer = Overlay::new(0, (h - strip_h) as i64, w, strip_h);
    for y in 0..strip_h {
        // Transparent at the top edge, darkest at the bottom.
        let a = smoothstep(0.0, 1.0, y as f64 / strip_h as f64) as f32 * 0.6;
        for x in 0..w {
            layer.paint(x as i64, y as i64, [0, 0, 0], a);
        }
    }
    let top = strip_h as f32 - pad - lines.len() as f32 * line_height;
    for (i, line) in lines.iter().enumerate() {
        let lx = (w as f32 - face.measure(line)) / 2.0;
        let baseline = top + i as f32 * line_height + face.ascent();
        face.draw_with_shadow(&mut layer, line, lx, baseline, [255, 255, 255]);
    }
    Some(layer)
}

struct Frames {
    first: Canvas,
    last: Option<Canvas>,
    caption: Option<Overlay>,
    pan_first: (f64, f64),
    pan_last: (f64, f64),
    /// Second layer for crossfades, reused across frames.
    scratch: Canvas,
}

impl Frames {
    fn new(
        w: usize,
        h: usize,
        first: &[u8],
        last: Option<&[u8]>,
        prompt: Option<&str>,
        seed: u64,
    ) -> Result<Self, RenderError> {
        Ok(Self {
            first: prepare_picture(first, 0, w, h)?,
            last: last.map(|b| prepare_picture(b, 1, w, h)).transpose()?,
            caption: caption(w, h, prompt),
            pan_first: pan(seed, 1),
            pan_last: pan(seed, 2),
            scratch: Canvas::new(w, h),
        })
    }

    fn draw(&mut self, clock: &Clock, canvas: &mut Canvas) {
        let t = clock.t;
        match &self.last {
            None => {
                // Ken Burns: a slow push-in with a gentle drift.
                let e = ease(t);
                let view = View {
                    zoom: lerp(1.0, MAX_ZOOM, e),
                    cx: 0.5 + self.pan_first.0 * e,
                    cy: 0.5 + self.pan_first.1 * e,
                };
                draw::sample(&self.first, view, canvas);
            }
            Some(last) => {
                // The first picture pushes in while the last one settles out of a zoom,
                // crossfading through the middle of the clip; both ends show the inputs whole.
                let e = ease(t);
                let mix = (smoothstep(0.2, 0.8, t) * 256.0).round() as u32;
                if mix < 256 {
                    let view = View {
                        zoom: lerp(1.0, MAX_ZOOM, e),
                        cx: 0.5 + self.pan_first.0 * e,
                        cy: 0.5 + self.pan_first.1 * e,
                    };
                    draw::sample(&self.first, view, canvas);
                }
                if mix > 0 {
                    let view = View {
                        zoom: lerp(MAX_ZOOM, 1.0, e),
                        cx: 0.5 + self.pan_last.0 * (1.0 - e),
                        cy: 0.5 + self.pan_last.1 * (1.0 - e),
                    };
                    draw::sample(last, view, &mut self.scratch);
                    canvas.blend_from(&self.scratch, mix);
                }
            }
        }
        if let Some(caption) = &self.caption {
            caption.composite(canvas, 0, 0, clock.fade_in());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference-to-video.

struct References {
    pictures: Vec<Canvas>,
    caption: Option<Overlay>,
    seed: u64,
    scratch: Canvas,
}

/// Crossfades between references last this long (or a third of a segment if shorter).
const CROSSFADE_SECONDS: f64 = 0.5;

impl References {
    fn new(
        w: usize,
        h: usize,
        images: &[Vec<u8>],
        prompt: Option<&str>,
        seed: u64,
    ) -> Result<Self, RenderError> {
        let pictures = images
            .iter()
            .enumerate()
            .map(|(i, bytes)| prepare_picture(bytes, i, w, h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            pictures,
            caption: caption(w, h, prompt),
            seed,
            scratch: Canvas::new(w, h),
        })
    }

    /// The view of picture `i` at frame position `f` (in frames): each picture slowly zooms
    /// across the time it is visible, alternating in and out, with a small drift.
    fn view(&self, i: usize, f: f64, segment: f64, fade: f64) -> View {
        let start = i as f64 * segment - fade / 2.0;
        let end = (i + 1) as f64 * segment + fade / 2.0;
        let u = ease((f - start) / (end - start));
        let depth = 1.0 + (MAX_ZOOM - 1.0) * 0.8;
        let zoom = if i.is_multiple_of(2) {
            lerp(1.0, depth, u)
        } else {
            lerp(depth, 1.0, u)
        };
        let (dx, dy) = pan(self.seed, 10 + i as u64);
        View {
            zoom,
            cx: 0.5 + dx * (u - 0.5),
            cy: 0.5 + dy * (u - 0.5),
        }
    }

    fn draw(&mut self, clock: &Clock, canvas: &mut Canvas) {
        let n = self.pictures.len();
        if n == 0 {
            return; // validate() rejects this; nothing to show regardless
        }
        let frames = f64::from(clock.count);
        let segment = frames / n as f64;
        let f = f64::from(clock.index);
        let fade = (CROSSFADE_SECONDS * clock.fps).min(segment / 3.0);

        // Nearest boundary between picture k-1 and k.
        let k = ((f / segment).round() as usize).clamp(1, n.max(2) - 1);
        let distance = f - k as f64 * segment;
        if n > 1 && distance.abs() < fade / 2.0 {
            let mix = (smoothstep(-fade / 2.0, fade / 2.0, distance) * 256.0).round() as u32;
            draw::sample(
                &self.pictures[k - 1],
                self.view(k - 1, f, segment, fade),
                canvas,
            );
            let view = self.view(k, f, segment, fade);
            draw::sample(&self.pictures[k], view, &mut self.scratch);
            canvas.blend_from(&self.scratch, mix);
        } else {
            let i = ((f / segment) as usize).min(n - 1);
            draw::sample(&self.pictures[i], self.view(i, f, segment, fade), canvas);
        }
        if let Some(caption) = &self.caption {
            caption.composite(canvas, 0, 0, clock.fade_in());
        }
    }
}
