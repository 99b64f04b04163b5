//! Per-frame drawing primitives over flat RGB buffers: the animated gradient, the zoom/pan
//! sampler, rounded panels and small helpers. Everything here runs once per frame per pixel, so
//! it works with integer fixed point and precomputed per-row/per-column tables.

use crate::canvas::{Canvas, Overlay};

/// 64-bit FNV-1a: a small, stable hash for deriving colours and motion from inputs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `h` in degrees, `s` and `v` in 0..=1.
pub fn hsv(h: f64, s: f64, v: f64) -> [f64; 3] {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

pub fn to_rgb8(c: [f64; 3]) -> [u8; 3] {
    c.map(|v| v.round().clamp(0.0, 255.0) as u8)
}

pub fn smoothstep(edge0: f64, edge1: f64, x: f64) -> f64 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Sine ease-in-out over 0..=1.
pub fn ease(t: f64) -> f64 {
    0.5 - 0.5 * (t.clamp(0.0, 1.0) * std::f64::consts::PI).cos()
}

pub fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

const LUT_LEN: usize = 1024;

/// A diagonal colour gradient whose bands slide over time, cycling through a palette, with a
/// soft separable vignette.
pub struct Gradient {
    palette: [[f64; 3]; 3],
    /// Gradient direction (cos, sin); both positive so the projection starts at 0 in the corner.
    dir: (f64, f64),
    /// Palette cycles across the frame diagonal.
    span: f64,
    vignette_x: Vec<u32>,
    vignette_y: Vec<u32>,
}

impl Gradient {
    pub fn new(width: usize, height: usize, palette: [[f64; 3]; 3], angle_degrees: f64) -> Self {
        let a = angle_degrees.to_radians();
        let falloff = |n: usize| -> Vec<u32> {
            (0..n)
                .map(|i| {
                    let d = (i as f64 + 0.5) / n as f64 * 2.0 - 1.0;
                    // 8.8 fixed point; corners end up ~30% darker.
                    ((1.0 - 0.16 * d * d) * 256.0) as u32
                })
                .collect()
        };
        Self {
            palette,
            dir: (a.cos(), a.sin()),
            span: 0.85,
            vignette_x: falloff(width),
            vignette_y: falloff(height),
        }
    }

    fn palette_at(&self, p: f64) -> [f64; 3] {
        let f = p.rem_euclid(1.0) * 3.0;
        let i = (f as usize).min(2);
        let t = smoothstep(0.0, 1.0, f - i as f64);
        let (a, b) = (self.palette[i], self.palette[(i + 1) % 3]);
        [
            lerp(a[0], b[0], t),
            lerp(a[1], b[1], t),
            lerp(a[2], b[2], t),
        ]
    }

    /// Fills the canvas; `phase` (in palette cycles) animates the bands.
    pub fn draw(&self, canvas: &mut Canvas, phase: f64) {
        let lut: Vec<[u32; 3]> = (0..LUT_LEN)
            .map(|i| {
                let c = self.palette_at(i as f64 / (LUT_LEN - 1) as f64 * self.span + phase);
                c.map(|v| v.round().clamp(0.0, 255.0) as u32)
            })
            .collect();
        let (w, h) = (canvas.width, canvas.height);
        let extent = w as f64 * self.dir.0 + h as f64 * self.dir.1;
        // 16.16 fixed-point LUT position: per-column step plus a per-row start.
        let scale = (LUT_LEN - 1) as f64 / extent * 65536.0;
        let step = (self.dir.0 * scale) as u64;
        for (y, row) in canvas.data.chunks_exact_mut(w * 3).enumerate() {
            let mut acc = (y as f64 * self.dir.1 * scale) as u64;
            let vy = self.vignette_y[y];
            // Wrapping ops: values stay below 2^24, and dev builds skip per-pixel overflow checks.
            for (px, &vx) in row.chunks_exact_mut(3).zip(&self.vignette_x) {
                let c = &lut[((acc >> 16) as usize).min(LUT_LEN - 1)];
                let v = vx.wrapping_mul(vy); // 16.16
                px[0] = (c[0].wrapping_mul(v) >> 16) as u8;
                px[1] = (c[1].wrapping_mul(v) >> 16) as u8;
                px[2] = (c[2].wrapping_mul(v) >> 16) as u8;
                acc = acc.wrapping_add(step);
            }
        }
    }
}

/// Which part of a source picture is visible: `zoom` ≥ 1 magnifies, (`cx`, `cy`) is the centre
/// in 0..=1 of the source (clamped so the view never leaves the picture).
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub zoom: f64,
    pub cx: f64,
    pub cy: f64,
}

/// Per-axis bilinear taps: source index and 0..=256 weight of the next sample.
fn taps(out_len: usize, src_len: usize, zoom: f64, centre: f64) -> Vec<(usize, u32)> {
    let visible = src_len as f64 / zoom.max(1.0);
    let half = visible / 2.0;
    let c = (centre * src_len as f64).clamp(half, src_len as f64 - half);
    let start = c - half;
    let scale = visible / out_len as f64;
    let last = src_len.saturating_sub(2);
    (0..out_len)
        .map(|i| {
            let u = (start + (i as f64 + 0.5) * scale - 0.5).clamp(0.0, (src_len - 1) as f64);
            let i0 = (u.floor() as usize).min(last);
            let frac = ((u - i0 as f64) * 256.0).round().clamp(0.0, 256.0) as u32;
            (i0, frac)
        })
        .collect()
}

/// `a * wa + b * wb` for 8-bit samples and weights up to 256 (so at most 2^17: no overflow).
///
/// Per-pixel kernels use wrapping arithmetic on purpose: the workspace's dev profile keeps
/// overflow checks on, which would otherwise put a branch after every multiply of every pixel.
#[inline(always)]
pub fn mix8(a: u8, wa: u32, b: u8, wb: u32) -> u32 {
    u32::from(a)
        .wrapping_mul(wa)
        .wrapping_add(u32::from(b).wrapping_mul(wb))
}

/// Draws `view` of `src` scaled to fill `out`, with bilinear filtering.
/// `src` must be at least 2×2 (pictures are cover-fitted to at least the output size).
pub fn sample(src: &Canvas, view: View, out: &mut Canvas) {
    if src.width < 2 || src.height < 2 {
        return;
    }
    let cols = taps(out.width, src.width, view.zoom, view.cx);
    let rows = taps(out.height, src.height, view.zoom, view.cy);
    let stride = src.width * 3;
    let out_stride = out.width * 3;
    for (oy, &(sy, fy)) in rows.iter().enumerate() {
        // `taps` keeps sy <= height - 2 and sx <= width - 2, so both rows and the 6-byte
        // (two-pixel) windows below are in bounds.
        let r0 = &src.data[sy * stride..(sy + 1) * stride];
        let r1 = &src.data[(sy + 1) * stride..(sy + 2) * stride];
        let row = &mut out.data[oy * out_stride..(oy + 1) * out_stride];
        let (wy1, wy0) = (fy, 256 - fy);
        for (px, &(sx, fx)) in row.chunks_exact_mut(3).zip(&cols) {
            let i = sx * 3;
            let a = &r0[i..i + 6];
            let b = &r1[i..i + 6];
            let (wx1, wx0) = (fx, 256 - fx);
            for c in 0..3 {
                let top = mix8(a[c], wx0, a[c + 3], wx1);
                let bottom = mix8(b[c], wx0, b[c + 3], wx1);
                let v = top
                    .wrapping_mul(wy0)
                    .wrapping_add(bottom.wrapping_mul(wy1))
                    .wrapping_add(1 << 15);
                px[c] = (v >> 16) as u8;
            }
        }
    }
}

/// Paints an anti-aliased rounded rectangle of `size` (from the layer's origin) in `color` at
/// `alpha` into the layer.
pub fn rounded_rect(
    layer: &mut Overlay,
    (w, h): (f64, f64),
    radius: f64,
    color: [u8; 3],
    alpha: f32,
) {
    let r = radius.min(w / 2.0).min(h / 2.0).max(0.0);
    let (cx0, cy0) = (w / 2.0, h / 2.0);
    for py in 0..h.ceil() as i64 {
        for px in 0..w.ceil() as i64 {
            // Signed distance from the pixel centre to the rounded rectangle.
            let (cx, cy) = (px as f64 + 0.5, py as f64 + 0.5);
            let qx = (cx - cx0).abs() - (cx0 - r);
            let qy = (cy - cy0).abs() - (cy0 - r);
            let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
            let dist = outside + qx.max(qy).min(0.0) - r;
            let coverage = (0.5 - dist).clamp(0.0, 1.0) as f32;
            if coverage > 0.0 {
                layer.paint(px, py, color, coverage * alpha);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_primaries() {
        assert_eq!(to_rgb8(hsv(0.0, 1.0, 1.0)), [255, 0, 0]);
        assert_eq!(to_rgb8(hsv(120.0, 1.0, 1.0)), [0, 255, 0]);
        assert_eq!(to_rgb8(hsv(240.0, 1.0, 1.0)), [0, 0, 255]);
        assert_eq!(to_rgb8(hsv(-120.0, 1.0, 1.0)), [0, 0, 255]);
    }

    #[test]
    fn sampling_identity_view_reproduces_source() {
        let mut src = Canvas::new(8, 6);
        for (i, v) in src.data.iter_mut().enumerate() {
            *v = (i * 7 % 251) as u8;
        }
        let mut out = Canvas::new(8, 6);
        sample(
            &src,
            View {
                zoom: 1.0,
                cx: 0.5,
                cy: 0.5,
            },
            &mut out,
        );
        assert_eq!(out.data, src.data);
    }

    #[test]
    fn sampling_zoom_and_extreme_centres_stay_in_bounds() {
        let src = Canvas::new(20, 10);
        let mut out = Canvas::new(16, 8);
        for (zoom, cx, cy) in [
            (1.0, 0.0, 0.0),
            (3.0, 1.0, 1.0),
            (1.2, -5.0, 9.0),
            (0.5, 0.5, 0.5),
        ] {
            sample(&src, View { zoom, cx, cy }, &mut out);
        }
    }

    #[test]
    fn gradient_fills_every_pixel() {
        let mut canvas = Canvas::new(64, 36);
        let palette = [
            hsv(200.0, 0.5, 0.6),
            hsv(240.0, 0.5, 0.4),
            hsv(170.0, 0.4, 0.5),
        ];
        Gradient::new(64, 36, palette, 30.0).draw(&mut canvas, 0.3);
        assert!(canvas
            .data
            .chunks_exact(3)
            .all(|p| p.iter().any(|&c| c > 0)));
    }
}
