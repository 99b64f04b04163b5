//! Flat RGB frame buffer plus precomputed overlays composited onto it every frame.

/// A packed RGB8 image, row-major, no padding.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0; width * height * 3],
        }
    }

    /// Blends `color` over the rectangle at `opacity` (0..=256), clipped to the canvas.
    pub fn blend_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3], opacity: u32) {
        let x0 = x.clamp(0, self.width as i64) as usize;
        let x1 = (x + w).clamp(0, self.width as i64) as usize;
        let y0 = y.clamp(0, self.height as i64) as usize;
        let y1 = (y + h).clamp(0, self.height as i64) as usize;
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let a = opacity.min(256);
        let premul = color.map(|c| u32::from(c) * a);
        let keep = 256 - a;
        for row in y0..y1 {
            let start = (row * self.width + x0) * 3;
            let end = (row * self.width + x1) * 3;
            for px in self.data[start..end].chunks_exact_mut(3) {
                for c in 0..3 {
                    px[c] = ((u32::from(px[c]) * keep + premul[c]) >> 8) as u8;
                }
            }
        }
    }

    /// `self = self * (256 - weight) + other * weight`, with `weight` in 0..=256.
    pub fn blend_from(&mut self, other: &Canvas, weight: u32) {
        let w = weight.min(256);
        if w == 0 {
            return;
        }
        if w == 256 {
            self.data.copy_from_slice(&other.data);
            return;
        }
        let keep = 256 - w;
        for (d, s) in self.data.iter_mut().zip(&other.data) {
            // Wrapping ops: no overflow possible (< 2^17), and no per-byte checks in dev builds.
            *d = (crate::draw::mix8(*d, keep, *s, w).wrapping_add(128) >> 8) as u8;
        }
    }
}

/// A rectangular layer of premultiplied RGBA, positioned on the canvas. Built once per render
/// (text, panels, captions) and composited per frame, so per-frame text cost is one blend pass
/// over the layer's bounding box.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub x: i64,
    pub y: i64,
    pub width: usize,
    pub height: usize,
    /// Premultiplied RGBA8.
    pub rgba: Vec<u8>,
}

impl Overlay {
    pub fn new(x: i64, y: i64, width: usize, height: usize) -> Self {
        Self {
            x,
            y,
            width,
            height,
            rgba: vec![0; width * height * 4],
        }
    }

    /// Composites colour `color` with coverage `alpha` (0..=1) *over* what is already at
    /// layer-local pixel (`px`, `py`). Out-of-range pixels are ignored.
    pub fn paint(&mut self, px: i64, py: i64, color: [u8; 3], alpha: f32) {
        if px < 0 || py < 0 || px >= self.width as i64 || py >= self.height as i64 {
            return;
        }
        let a = alpha.clamp(0.0, 1.0);
        if a <= 0.0 {
            return;
        }
        let i = (py as usize * self.width + px as usize) * 4;
        let dst = &mut self.rgba[i..i + 4];
        let keep = 1.0 - a;
        for c in 0..3 {
            dst[c] = (f32::from(color[c]) * a + f32::from(dst[c]) * keep).round() as u8;
        }
        dst[3] = (255.0 * a + f32::from(dst[3]) * keep).round() as u8;
    }

    /// Blends the layer onto `canvas`, shifted by (`dx`, `dy`) and faded by `opacity` (0..=256).
    pub fn composite(&self, canvas: &mut Canvas, dx: i64, dy: i64, opacity: u32) {
        let opacity = opacity.min(256);
        if opacity == 0 {
            return;
        }
        let left = self.x + dx;
        let top = self.y + dy;
        // Clip the layer against the canvas.
        let sx0 = (-left).max(0) as usize;
        let sy0 = (-top).max(0) as usize;
        let sx1 = ((canvas.width as i64 - left).min(self.width as i64)).max(0) as usize;
        let sy1 = ((canvas.height as i64 - top).min(self.height as i64)).max(0) as usize;
        if sx0 >= sx1 || sy0 >= sy1 {
            return;
        }
        for sy in sy0..sy1 {
            let cy = (top + sy as i64) as usize;
            let cx0 = (left + sx0 as i64) as usize;
            let src = &self.rgba[(sy * self.width + sx0) * 4..(sy * self.width + sx1) * 4];
            let dst = &mut canvas.data[(cy * canvas.width + cx0) * 3..][..(sx1 - sx0) * 3];
            // Wrapping ops: all values stay below 2^17; dev builds would otherwise check each one.
            for (s, d) in src.chunks_exact(4).zip(dst.chunks_exact_mut(3)) {
                let a = u32::from(s[3]).wrapping_mul(opacity) >> 8;
                if a == 0 {
                    continue;
                }
                let keep = 255 - a;
                for c in 0..3 {
                    let premul = u32::from(s[c]).wrapping_mul(opacity) >> 8;
                    let v = u32::from(d[c])
                        .wrapping_mul(keep)
                        .wrapping_add(premul.wrapping_mul(255));
                    d[c] = (v.wrapping_add(127) / 255) as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_composite_clips_and_blends() {
        let mut canvas = Canvas::new(4, 4);
        let mut layer = Overlay::new(2, 2, 4, 4);
        for y in 0..4 {
            for x in 0..4 {
                layer.paint(x, y, [255, 255, 255], 1.0);
            }
        }
        layer.composite(&mut canvas, 0, 0, 256);
        // Only the bottom-right 2x2 is covered; nothing panics at the edges.
        assert_eq!(&canvas.data[0..3], &[0, 0, 0]);
        let i = (3 * 4 + 3) * 3;
        assert_eq!(&canvas.data[i..i + 3], &[255, 255, 255]);
        layer.composite(&mut canvas, -10, -10, 256);
        layer.composite(&mut canvas, 10, 10, 256);
    }

    #[test]
    fn blend_rect_half() {
        let mut canvas = Canvas::new(2, 2);
        canvas.blend_rect(-1, -1, 10, 10, [200, 100, 0], 128);
        assert_eq!(&canvas.data[0..3], &[100, 50, 0]);
    }
}
