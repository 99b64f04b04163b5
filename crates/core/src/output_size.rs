//! Output pixel sizes of the Seedance 2.x family (upstream-contracts §2.2). 24 fps fixed.

use crate::request::{AspectRatio, Resolution};

/// Seedance outputs are fixed at 24 frames per second.
pub const OUTPUT_FPS: u32 = 24;

/// Concrete ratios, i.e. every [`AspectRatio`] but `Adaptive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcreteRatio {
    R16x9,
    R4x3,
    R1x1,
    R3x4,
    R9x16,
    R21x9,
}

impl ConcreteRatio {
    pub const ALL: [ConcreteRatio; 6] = [
        ConcreteRatio::R16x9,
        ConcreteRatio::R4x3,
        ConcreteRatio::R1x1,
        ConcreteRatio::R3x4,
        ConcreteRatio::R9x16,
        ConcreteRatio::R21x9,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConcreteRatio::R16x9 => "16:9",
            ConcreteRatio::R4x3 => "4:3",
            ConcreteRatio::R1x1 => "1:1",
            ConcreteRatio::R3x4 => "3:4",
            ConcreteRatio::R9x16 => "9:16",
            ConcreteRatio::R21x9 => "21:9",
        }
    }

    fn value(self) -> f64 {
        match self {
            ConcreteRatio::R16x9 => 16.0 / 9.0,
            ConcreteRatio::R4x3 => 4.0 / 3.0,
            ConcreteRatio::R1x1 => 1.0,
            ConcreteRatio::R3x4 => 3.0 / 4.0,
            ConcreteRatio::R9x16 => 9.0 / 16.0,
            ConcreteRatio::R21x9 => 21.0 / 9.0,
        }
    }

    /// The supported ratio closest to a picture's shape (compared in log space, so 2:1 is as far
    /// from 1:1 as 1:2 is).
    pub fn nearest(width: u32, height: u32) -> ConcreteRatio {
        if width == 0 || height == 0 {
            return ConcreteRatio::R16x9;
        }
        let shape = (width as f64 / height as f64).ln();
        let mut best = ConcreteRatio::R16x9;
        let mut best_distance = f64::MAX;
        for ratio in Self::ALL {
            let distance = (ratio.value().ln() - shape).abs();
            if distance < best_distance {
                best = ratio;
                best_distance = distance;
            }
        }
        best
    }

    pub fn from_aspect(aspect: AspectRatio) -> Option<ConcreteRatio> {
        match aspect {
            AspectRatio::R16x9 => Some(ConcreteRatio::R16x9),
            AspectRatio::R4x3 => Some(ConcreteRatio::R4x3),
            AspectRatio::R1x1 => Some(ConcreteRatio::R1x1),
            AspectRatio::R3x4 => Some(ConcreteRatio::R3x4),
            AspectRatio::R9x16 => Some(ConcreteRatio::R9x16),
            AspectRatio::R21x9 => Some(ConcreteRatio::R21x9),
            AspectRatio::Adaptive => None,
        }
    }
}

/// Width × height in pixels of a Seedance 2.x output.
pub fn pixel_size(resolution: Resolution, ratio: ConcreteRatio) -> (u32, u32) {
    use ConcreteRatio::*;
    match (resolution, ratio) {
        (Resolution::P480, R16x9) => (864, 496),
        (Resolution::P480, R4x3) => (752, 560),
        (Resolution::P480, R1x1) => (640, 640),
        (Resolution::P480, R3x4) => (560, 752),
        (Resolution::P480, R9x16) => (496, 864),
        (Resolution::P480, R21x9) => (992, 432),
        (Resolution::P720, R16x9) => (1280, 720),
        (Resolution::P720, R4x3) => (1112, 834),
        (Resolution::P720, R1x1) => (960, 960),
        (Resolution::P720, R3x4) => (834, 1112),
        (Resolution::P720, R9x16) => (720, 1280),
        (Resolution::P720, R21x9) => (1470, 630),
        (Resolution::P1080, R16x9) => (1920, 1080),
        (Resolution::P1080, R4x3) => (1664, 1248),
        (Resolution::P1080, R1x1) => (1440, 1440),
        (Resolution::P1080, R3x4) => (1248, 1664),
        (Resolution::P1080, R9x16) => (1080, 1920),
        (Resolution::P1080, R21x9) => (2206, 946),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_reference() {
        assert_eq!(
            pixel_size(Resolution::P480, ConcreteRatio::R16x9),
            (864, 496)
        );
        assert_eq!(
            pixel_size(Resolution::P720, ConcreteRatio::R21x9),
            (1470, 630)
        );
        assert_eq!(
            pixel_size(Resolution::P720, ConcreteRatio::R3x4),
            (834, 1112)
        );
    }

    #[test]
    fn every_size_has_its_ratio_shape() {
        for res in [Resolution::P480, Resolution::P720, Resolution::P1080] {
            for ratio in ConcreteRatio::ALL {
                let (w, h) = pixel_size(res, ratio);
                assert_eq!(ConcreteRatio::nearest(w, h), ratio, "{res:?} {ratio:?}");
            }
        }
    }

    #[test]
    fn nearest_picks_closest_shape() {
        assert_eq!(ConcreteRatio::nearest(1000, 1000), ConcreteRatio::R1x1);
        assert_eq!(ConcreteRatio::nearest(1920, 1080), ConcreteRatio::R16x9);
        assert_eq!(ConcreteRatio::nearest(600, 1000), ConcreteRatio::R9x16);
        assert_eq!(ConcreteRatio::nearest(3000, 1000), ConcreteRatio::R21x9);
        assert_eq!(ConcreteRatio::nearest(0, 10), ConcreteRatio::R16x9);
    }
}
