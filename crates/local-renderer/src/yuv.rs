//! RGB → I420 (YUV 4:2:0) conversion, BT.709 limited range.
//!
//! BT.709 matches what the encoder signals in the SPS VUI, so players that honour it and those
//! that assume HD defaults show the same colours.

use openh264::formats::YUVSource;

use crate::canvas::Canvas;

// 16.16 fixed-point BT.709 coefficients scaled to limited range (Y 16..235, C 16..240).
// Each chroma row sums to zero so greys map exactly to 128.
const Y_R: i32 = 11966;
const Y_G: i32 = 40254;
const Y_B: i32 = 4064;
const U_R: i32 = -6596;
const U_G: i32 = -22188;
const U_B: i32 = 28784;
const V_R: i32 = 28784;
const V_G: i32 = -26145;
const V_B: i32 = -2639;
const HALF: i32 = 1 << 15;

/// One planar I420 picture with tightly packed planes. Width and height must be even.
pub struct I420 {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl I420 {
    pub fn new(width: usize, height: usize) -> Self {
        let chroma = (width / 2) * (height / 2);
        Self {
            width,
            height,
            y: vec![0; width * height],
            u: vec![128; chroma],
            v: vec![128; chroma],
        }
    }

    /// Converts `rgb` (same size as `self`) in place; chroma is taken from the 2×2 average.
    pub fn fill_from_rgb(&mut self, rgb: &Canvas) {
        debug_assert_eq!((rgb.width, rgb.height), (self.width, self.height));
        let w = self.width;
        let cw = w / 2;
        for cy in 0..self.height / 2 {
            let row0 = &rgb.data[(2 * cy) * w * 3..(2 * cy + 1) * w * 3];
            let row1 = &rgb.data[(2 * cy + 1) * w * 3..(2 * cy + 2) * w * 3];
            let (y_top, y_bottom) = self.y[2 * cy * w..(2 * cy + 2) * w].split_at_mut(w);
            let u_row = &mut self.u[cy * cw..(cy + 1) * cw];
            let v_row = &mut self.v[cy * cw..(cy + 1) * cw];
            let pairs0 = row0.chunks_exact(6);
            let pairs1 = row1.chunks_exact(6);
            let ys0 = y_top.chunks_exact_mut(2);
            let ys1 = y_bottom.chunks_exact_mut(2);
            for ((((p0, p1), y0), y1), (u, v)) in pairs0
                .zip(pairs1)
                .zip(ys0)
                .zip(ys1)
                .zip(u_row.iter_mut().zip(v_row.iter_mut()))
            {
                let px = [
                    (i32::from(p0[0]), i32::from(p0[1]), i32::from(p0[2])),
                    (i32::from(p0[3]), i32::from(p0[4]), i32::from(p0[5])),
                    (i32::from(p1[0]), i32::from(p1[1]), i32::from(p1[2])),
                    (i32::from(p1[3]), i32::from(p1[4]), i32::from(p1[5])),
                ];
                y0[0] = luma(px[0]);
                y0[1] = luma(px[1]);
                y1[0] = luma(px[2]);
                y1[1] = luma(px[3]);
                // Sums of four pixels are 4× the average: shift by 2 more bits.
                let r = px[0].0 + px[1].0 + px[2].0 + px[3].0;
                let g = px[0].1 + px[1].1 + px[2].1 + px[3].1;
                let b = px[0].2 + px[1].2 + px[2].2 + px[3].2;
                *u = chroma(dot((U_R, U_G, U_B), (r, g, b)));
                *v = chroma(dot((V_R, V_G, V_B), (r, g, b)));
            }
        }
    }
}

/// Fixed-point dot product. Inputs are at most 4×255 against 16-bit coefficients, far from
/// overflow; wrapping ops avoid the dev profile's per-operation overflow checks in this hot loop.
#[inline(always)]
fn dot(k: (i32, i32, i32), c: (i32, i32, i32)) -> i32 {
    k.0.wrapping_mul(c.0)
        .wrapping_add(k.1.wrapping_mul(c.1))
        .wrapping_add(k.2.wrapping_mul(c.2))
}

#[inline(always)]
fn luma(c: (i32, i32, i32)) -> u8 {
    ((dot((Y_R, Y_G, Y_B), c).wrapping_add(HALF) >> 16) + 16) as u8
}

#[inline(always)]
fn chroma(sum4: i32) -> u8 {
    ((sum4.wrapping_add(HALF << 2) >> 18) + 128).clamp(16, 240) as u8
}

impl YUVSource for I420 {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }

    fn y(&self) -> &[u8] {
        &self.y
    }

    fn u(&self) -> &[u8] {
        &self.u
    }

    fn v(&self) -> &[u8] {
        &self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(color: [u8; 3]) -> (u8, u8, u8) {
        let mut canvas = Canvas::new(4, 2);
        for px in canvas.data.chunks_exact_mut(3) {
            px.copy_from_slice(&color);
        }
        let mut yuv = I420::new(4, 2);
        yuv.fill_from_rgb(&canvas);
        (yuv.y[0], yuv.u[0], yuv.v[0])
    }

    #[test]
    fn reference_colours() {
        assert_eq!(convert([0, 0, 0]), (16, 128, 128));
        assert_eq!(convert([255, 255, 255]), (235, 128, 128));
        assert_eq!(convert([128, 128, 128]), (126, 128, 128));
        // BT.709 limited-range primaries (rounded): red (63,102,240), blue (32,240,118).
        assert_eq!(convert([255, 0, 0]), (63, 102, 240));
        assert_eq!(convert([0, 0, 255]), (32, 240, 118));
    }
}
