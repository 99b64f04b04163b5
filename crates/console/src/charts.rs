//! Charts drawn on the server as SVG: no charting library in the browser, nothing fetched. A
//! chart is an image with a title for screen readers; pages put the same figures in a table
//! beside it.

use crate::layout::grouped;
use maud::{html, Markup};

/// One bar: its label (a day, an account) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 46.0;

/// The top of the y axis: four gridline steps, each a round number (1, 2, 2.5 or 5 × 10^k),
/// the smallest that reach `max`.
fn axis_top(max: i64) -> i64 {
    let need = max.max(1).saturating_add(3) / 4;
    let mut scale = 1i64;
    loop {
        let mut steps = vec![scale, scale.saturating_mul(2)];
        if scale >= 10 {
            steps.push(scale / 2 * 5);
        }
        steps.push(scale.saturating_mul(5));
        steps.sort_unstable();
        if let Some(step) = steps.into_iter().find(|s| *s >= need) {
            return step.saturating_mul(4);
        }
        if scale > i64::MAX / 10 {
            return max;
        }
        scale *= 10;
    }
}

/// A vertical bar chart of `bars` in order, its y axis in `unit`.
pub fn bar_chart(title: &str, unit: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(0);
    let top = axis_top(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = if bars.is_empty() {
        plot_w
    } else {
        plot_w / bars.len() as f64
    };
    let bar_w = (slot * 0.7).max(1.0);
    // Label every bar when they fit, else about twelve of them.
    let label_every = bars.len().div_ceil(12).max(1);
    let y_of = |v: i64| TOP + plot_h - (v.max(0) as f64 / top as f64) * plot_h;
    let summary = format!(
        "{title}: {} bars, highest {} {unit}",
        bars.len(),
        grouped(max)
    );
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
                role="img" aria-label=(summary) {
                title { (summary) }
                @for i in 0..=4i64 {
                    @let value = top / 4 * i;
                    @let y = y_of(value);
                    line.grid-line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y) y2=(y) {}
                    text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" { (grouped(value)) }
                }
                line.axis x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(TOP + plot_h) {}
                @for (i, bar) in bars.iter().enumerate() {
                    @let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
                    @let y = y_of(bar.value);
                    rect.bar x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{bar_w:.1}"))
                        height=(format!("{:.1}", (TOP + plot_h - y).max(0.0))) {
                        title { (bar.label) ": " (grouped(bar.value)) " " (unit) }
                    }
                    @if i % label_every == 0 {
                        // Every other label is `alt`: phones, where the text is larger, hide those.
                        text class=[((i / label_every) % 2 == 1).then_some("alt")]
                            x=(format!("{:.1}", x + bar_w / 2.0)) y=(TOP + plot_h + 16.0)
                            text-anchor="middle" { (bar.label) }
                    }
                }
                text x=(LEFT) y=(HEIGHT - 6.0) { (unit) }
            }
            figcaption.muted { (title) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_tops_out_at_a_round_number_above_the_highest_bar() {
        assert_eq!(axis_top(0), 4);
        assert_eq!(axis_top(3), 4);
        assert_eq!(axis_top(10), 20);
        assert_eq!(axis_top(37), 40);
        assert_eq!(axis_top(1_000), 1_000);
        assert_eq!(axis_top(1_001), 2_000);
        assert_eq!(axis_top(4_100), 8_000);
        assert!(axis_top(i64::MAX / 2) >= i64::MAX / 2);
    }

    #[test]
    fn each_bar_is_drawn_in_proportion_with_its_value_in_its_title() {
        let bars = vec![
            Bar {
                label: "12-01".into(),
                value: 500,
            },
            Bar {
                label: "12-02".into(),
                value: 1000,
            },
            Bar {
                label: "12-03".into(),
                value: 0,
            },
        ];
        let svg = bar_chart("Credits by day", "credits", &bars).into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("12-02: 1,000 credits"));
        // The 1,000 bar fills the plot (200 high), the 500 bar half of it, the 0 bar nothing.
        assert!(svg.contains("height=\"200.0\""), "{svg}");
        assert!(svg.contains("height=\"100.0\""), "{svg}");
        assert!(svg.contains("height=\"0.0\""), "{svg}");
    }

    #[test]
    fn labels_are_escaped() {
        let bars = vec![Bar {
            label: "<script>".into(),
            value: 1,
        }];
        let svg = bar_chart("t", "u", &bars).into_string();
        assert!(!svg.contains("<script>"));
    }
}
