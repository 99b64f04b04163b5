//! Prompt text: sanitising, word-wrapping with an ellipsis, and rasterising into an [`Overlay`].
//!
//! Glyphs come from DejaVu Sans, shipped inside the `dejavu` crate and rasterised by
//! `ab_glyph` with anti-aliasing, so text stays readable at any output size.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};

use crate::canvas::Overlay;

/// Prompts longer than this are cut before layout; no card shows more anyway.
const MAX_PROMPT_CHARS: usize = 2000;
const ELLIPSIS: char = '\u{2026}';
/// Drawn for characters the font has no glyph for (CJK, emoji, ...).
const PLACEHOLDER: char = '\u{FFFD}';

pub fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        // The TTF is embedded at compile time from the `dejavu` crate, so parsing cannot fail
        // at run time; `text::tests::embedded_font_parses` guards this.
        FontRef::try_from_slice(dejavu::sans::regular()).expect("embedded DejaVu Sans parses")
    })
}

/// A font at a pixel size.
#[derive(Clone, Copy)]
pub struct Face {
    pub px: f32,
}

impl Face {
    pub fn new(px: f32) -> Self {
        Self { px: px.max(6.0) }
    }

    fn scaled(&self) -> ab_glyph::PxScaleFont<&'static FontRef<'static>> {
        font().as_scaled(PxScale::from(self.px))
    }

    pub fn ascent(&self) -> f32 {
        self.scaled().ascent()
    }

    /// Baseline-to-baseline distance.
    pub fn line_height(&self) -> f32 {
        let s = self.scaled();
        (s.ascent() - s.descent() + s.line_gap()) * 1.05
    }

    fn glyph(&self, c: char) -> GlyphId {
        let f = font();
        let id = f.glyph_id(c);
        if id.0 != 0 {
            return id;
        }
        let placeholder = f.glyph_id(PLACEHOLDER);
        if placeholder.0 != 0 {
            placeholder
        } else {
            f.glyph_id('?')
        }
    }

    /// Advance width of `text` in pixels, including kerning.
    pub fn measure(&self, text: &str) -> f32 {
        let s = self.scaled();
        let mut width = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = self.glyph(c);
            if let Some(p) = prev {
                width += s.kern(p, id);
            }
            width += s.h_advance(id);
            prev = Some(id);
        }
        width
    }

    /// Rasterises `text` with its baseline starting at (`x`, `baseline`) in layer coordinates.
    pub fn draw(
        &self,
        layer: &mut Overlay,
        text: &str,
        x: f32,
        baseline: f32,
        color: [u8; 3],
        alpha: f32,
    ) {
        let f = font();
        let s = self.scaled();
        let mut caret = x;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = self.glyph(c);
            if let Some(p) = prev {
                caret += s.kern(p, id);
            }
            let glyph = id.with_scale_and_position(PxScale::from(self.px), point(caret, baseline));
            caret += s.h_advance(id);
            prev = Some(id);
            if let Some(outlined) = f.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                let (ox, oy) = (bounds.min.x as i64, bounds.min.y as i64);
                outlined.draw(|gx, gy, coverage| {
                    layer.paint(
                        ox + i64::from(gx),
                        oy + i64::from(gy),
                        color,
                        coverage * alpha,
                    );
                });
            }
        }
    }

    /// Draws `text` with a soft dark shadow behind it, for legibility on any background.
    pub fn draw_with_shadow(
        &self,
        layer: &mut Overlay,
        text: &str,
        x: f32,
        baseline: f32,
        color: [u8; 3],
    ) {
        let d = (self.px / 18.0).max(1.0);
        // A few offset copies at low alpha approximate a blurred drop shadow cheaply.
        for (ox, oy, a) in [
            (d, d, 0.45),
            (0.0, d, 0.2),
            (d, 0.0, 0.2),
            (2.0 * d, 2.0 * d, 0.2),
        ] {
            self.draw(layer, text, x + ox, baseline + oy, [0, 0, 0], a);
        }
        self.draw(layer, text, x, baseline, color, 1.0);
    }
}

/// Collapses whitespace and control characters into single spaces and caps the length.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_PROMPT_CHARS * 4));
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() >= MAX_PROMPT_CHARS {
            break;
        }
    }
    out.chars().take(MAX_PROMPT_CHARS).collect()
}

/// Greedy word wrap to `max_width` pixels, at most `max_lines` lines; text that does not fit
/// ends the last line with an ellipsis. Words wider than a line are broken between characters
/// (which also handles scripts written without spaces).
pub fn wrap(face: &Face, text: &str, max_width: f32, max_lines: usize) -> Vec<String> {
    let text = sanitize(text);
    let max_lines = max_lines.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut truncated = false;

    'words: for word in text.split(' ') {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if face.measure(&candidate) <= max_width {
            current = candidate;
            continue;
        }
        // The word does not fit on the current line: start a new one.
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
            if lines.len() == max_lines {
                truncated = true;
                break 'words;
            }
        }
        // Place the word, breaking it between characters if it is wider than a whole line.
        for c in word.chars() {
            current.push(c);
            if face.measure(&current) > max_width && current.chars().count() > 1 {
                current.pop();
                lines.push(std::mem::replace(&mut current, c.to_string()));
                if lines.len() == max_lines {
                    truncated = true;
                    break 'words;
                }
            }
        }
    }
    if !truncated && !current.is_empty() {
        lines.push(current);
    }
    if truncated {
        if let Some(last) = lines.last_mut() {
            while !last.is_empty() && face.measure(&format!("{last}{ELLIPSIS}")) > max_width {
                last.pop();
            }
            let trimmed = last.trim_end().to_string();
            *last = format!("{trimmed}{ELLIPSIS}");
        }
    }
    lines
}

/// Like [`wrap`], but narrows the measure as far as possible without adding a line, so the
/// lines come out similar in length (no lone word on the last line of a centred card).
pub fn wrap_balanced(face: &Face, text: &str, max_width: f32, max_lines: usize) -> Vec<String> {
    let lines = wrap(face, text, max_width, max_lines);
    let truncated = lines.last().is_some_and(|l| l.ends_with(ELLIPSIS));
    if lines.len() < 2 || truncated {
        return lines;
    }
    let count = lines.len();
    let fits = |width: f32| {
        let candidate = wrap(face, text, width, max_lines);
        let ok =
            candidate.len() == count && !candidate.last().is_some_and(|l| l.ends_with(ELLIPSIS));
        ok.then_some(candidate)
    };
    // Binary search for the narrowest width that keeps the line count.
    let (mut lo, mut hi) = (max_width / 2.0, max_width);
    let mut best = lines;
    for _ in 0..10 {
        let mid = (lo + hi) / 2.0;
        match fits(mid) {
            Some(candidate) => {
                best = candidate;
                hi = mid;
            }
            None => lo = mid,
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_parses() {
        let face = Face::new(32.0);
        assert!(face.measure("Hello") > 32.0);
        assert!(font().glyph_id(PLACEHOLDER).0 != 0);
    }

    #[test]
    fn wraps_and_truncates_with_ellipsis() {
        let face = Face::new(20.0);
        let text = "a quiet harbour at dawn with fishing boats ".repeat(30);
        let lines = wrap(&face, &text, 300.0, 4);
        assert_eq!(lines.len(), 4);
        assert!(lines[3].ends_with(ELLIPSIS));
        for line in &lines {
            assert!(face.measure(line) <= 300.0, "{line:?} too wide");
        }
    }

    #[test]
    fn short_text_is_one_line_and_untouched() {
        let face = Face::new(20.0);
        assert_eq!(
            wrap(&face, "  a cat \n on a\tmat ", 1000.0, 3),
            vec!["a cat on a mat"]
        );
        assert!(wrap(&face, "", 1000.0, 3).is_empty());
    }

    #[test]
    fn balanced_wrap_keeps_line_count_and_evens_lines() {
        let face = Face::new(20.0);
        let text = "A lighthouse on a rocky coast at dusk, waves crashing, slow dolly shot, light";
        let greedy = wrap(&face, text, 500.0, 6);
        let balanced = wrap_balanced(&face, text, 500.0, 6);
        assert_eq!(greedy.len(), balanced.len());
        assert_eq!(balanced.join(" "), sanitize(text));
        let spread = |lines: &[String]| {
            let widths: Vec<f32> = lines.iter().map(|l| face.measure(l)).collect();
            widths.iter().cloned().fold(0.0, f32::max)
                - widths.iter().cloned().fold(f32::MAX, f32::min)
        };
        assert!(spread(&balanced) < spread(&greedy));
    }

    #[test]
    fn long_words_and_unspaced_scripts_are_broken() {
        let face = Face::new(20.0);
        let lines = wrap(&face, &"x".repeat(200), 100.0, 10);
        assert!(lines.len() > 1);
        let cjk = wrap(&face, "日本語のテキストには空白がありません", 100.0, 10);
        assert!(cjk.len() > 1);
        for line in lines.iter().chain(&cjk) {
            assert!(face.measure(line) <= 100.0);
        }
    }

    #[test]
    fn draws_non_ascii_without_panicking() {
        let face = Face::new(24.0);
        let mut layer = Overlay::new(0, 0, 200, 40);
        face.draw_with_shadow(&mut layer, "Ünïcødé 日本 🎬", 2.0, 28.0, [255, 255, 255]);
        assert!(layer.rgba.chunks_exact(4).any(|p| p[3] > 0));
    }
}
