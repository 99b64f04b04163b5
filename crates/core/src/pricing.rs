//! Per-second pricing. 1 credit = $0.001; credits = ceil(usd_per_second × billable_seconds × 1000).
//! Prices are converted to integer micro-dollars first so that the ceiling is exact (0.0475 × 5 ×
//! 1000 in floating point is 237.49999…, not 237.5).

use crate::accounts::PricePlan;
use crate::catalog::ModelSpec;
use crate::error::GatewayError;
use crate::request::GenerationRequest;
use serde::{Deserialize, Serialize};

/// Micro-dollars in one credit.
const MICRO_USD_PER_CREDIT: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub billable_seconds: u32,
    pub credits: u64,
    /// Unit price in micro-dollars per second, recorded for audit.
    pub micro_usd_per_second: u64,
}

/// Converts a configured dollar price to whole micro-dollars (six decimal places).
pub fn usd_to_micro(usd: f64) -> u64 {
    (usd * 1_000_000.0).round().max(0.0) as u64
}

/// Billable seconds by the reAPI formula: the output duration, plus the ceiling of the summed
/// reference-video seconds when reference videos are present.
pub fn billable_seconds(duration_seconds: u32, reference_video_seconds: &[f64]) -> u32 {
    if reference_video_seconds.is_empty() {
        return duration_seconds;
    }
    let sum: f64 = reference_video_seconds
        .iter()
        .copied()
        .filter(|s| s.is_finite() && *s > 0.0)
        .sum();
    // Tolerate float noise from container timescales (4.000000001 s is 4 s, not 5).
    let references = (sum - 1e-6).ceil().max(0.0) as u32;
    duration_seconds + references
}

/// Prices a validated request. `reference_video_seconds` holds one probed duration per reference
/// video; it must have exactly one entry per video, or pricing is unavailable.
pub fn price(
    request: &GenerationRequest,
    spec: &ModelSpec,
    reference_video_seconds: &[f64],
) -> Result<Price, GatewayError> {
    price_with_plan(request, spec, reference_video_seconds, None)
}

/// [`price`] under an account's price plan (its multiplier or its own table), when it has one.
pub fn price_with_plan(
    request: &GenerationRequest,
    spec: &ModelSpec,
    reference_video_seconds: &[f64],
    plan: Option<&PricePlan>,
) -> Result<Price, GatewayError> {
    if reference_video_seconds.len() != request.reference_video_urls.len() {
        return Err(GatewayError::pricing_unavailable(
            "the duration of every reference video must be known",
        ));
    }
    let tier =
        spec.prices
            .get(&request.resolution)
            .ok_or_else(|| GatewayError::PricingUnavailable {
                field: None,
                reason: format!(
                    "no price for {} at {}",
                    spec.id,
                    request.resolution.as_str()
                ),
            })?;
    let tier = &plan.map_or(*tier, |p| p.tier(&spec.id, request.resolution, tier));
    let usd = if request.has_reference_video() {
        tier.with_reference_video
    } else {
        tier.standard
    };
    let micro_usd_per_second = usd_to_micro(usd);
    let billable = billable_seconds(request.duration_seconds, reference_video_seconds);
    let micro_total = micro_usd_per_second * u64::from(billable);
    Ok(Price {
        billable_seconds: billable,
        credits: micro_total.div_ceil(MICRO_USD_PER_CREDIT),
        micro_usd_per_second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::request::RequestDraft;

    fn request(json_duration: i64, resolution: &str, videos: usize) -> GenerationRequest {
        let draft = RequestDraft {
            model: Some("seedance-2.0-mini".into()),
            prompt: Some("a cat".into()),
            resolution: Some(resolution.into()),
            duration: Some(json_duration),
            reference_image_urls: if videos > 0 {
                Some(vec!["https://e.com/a.jpg".into()])
            } else {
                None
            },
            reference_video_urls: Some(
                (0..videos)
                    .map(|i| format!("https://e.com/{i}.mp4"))
                    .collect(),
            ),
            ..Default::default()
        };
        GenerationRequest::from_draft(draft, &Catalog::builtin()).expect("valid")
    }

    #[test]
    fn an_accounts_plan_changes_the_unit_price_before_the_ceiling() {
        let c = Catalog::builtin();
        let spec = c.get("seedance-2.0-mini").expect("mini");
        let half = PricePlan::Multiplier(0.5);
        // $0.05125/s × 5 s = $0.25625 → 257 credits.
        let p = price_with_plan(&request(5, "720p", 0), spec, &[], Some(&half)).expect("price");
        assert_eq!((p.micro_usd_per_second, p.credits), (51_250, 257));
        let own: PricePlan = serde_json::from_str(
            r#"{"table":{"seedance-2.0-mini":{"720p":{"standard":0.01,"with_reference_video":0.02}}}}"#,
        )
        .expect("plan");
        let p = price_with_plan(&request(5, "720p", 0), spec, &[], Some(&own)).expect("price");
        assert_eq!(p.credits, 50);
        // What the table lacks is priced from the catalog.
        let p = price_with_plan(&request(5, "480p", 0), spec, &[], Some(&own)).expect("price");
        assert_eq!(p, price(&request(5, "480p", 0), spec, &[]).expect("price"));
    }

    #[test]
    fn apixo_table_prices() {
        let c = Catalog::builtin();
        let spec = c.get("seedance-2.0-mini").expect("mini");
        // $0.1025/s × 5 s = $0.5125 → 513 credits (ceil).
        let p = price(&request(5, "720p", 0), spec, &[]).expect("price");
        assert_eq!((p.billable_seconds, p.credits), (5, 513));
        // $0.0475/s × 5 s = $0.2375 → 238 credits; float math would give 237.49999.
        let p = price(&request(5, "480p", 0), spec, &[]).expect("price");
        assert_eq!(p.credits, 238);
        // $0.0475 × 4 = 0.19 exactly → 190 credits, no spurious rounding up.
        let p = price(&request(4, "480p", 0), spec, &[]).expect("price");
        assert_eq!(p.credits, 190);
    }

    #[test]
    fn reference_videos_add_their_seconds_at_the_cheaper_tier() {
        let c = Catalog::builtin();
        let spec = c.get("seedance-2.0-mini").expect("mini");
        // 5 s output + ceil(3.2 + 4.1) = 5 + 8 = 13 s at $0.0625 → 812.5 → 813 credits.
        let p = price(&request(5, "720p", 2), spec, &[3.2, 4.1]).expect("price");
        assert_eq!((p.billable_seconds, p.credits), (13, 813));
        // Unknown durations: no price.
        assert!(matches!(
            price(&request(5, "720p", 2), spec, &[3.2]),
            Err(GatewayError::PricingUnavailable { .. })
        ));
    }

    #[test]
    fn billable_seconds_tolerates_timescale_noise() {
        assert_eq!(billable_seconds(5, &[]), 5);
        assert_eq!(billable_seconds(5, &[4.0000000001]), 9);
        assert_eq!(billable_seconds(5, &[4.01]), 10);
    }
}
