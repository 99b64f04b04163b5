//! reAPI's wire types: the submit body, task and error objects are the wire crate's (shared
//! with the reAPI upstream); the estimate and asset objects are seedgate's own extensions, only
//! ever served, so they stay here.

pub use seedgate_wire::reapi::*;

use seedgate_core::media::MediaFacts;
use serde::Serialize;
use utoipa::ToSchema;

/// The estimate of a request: what submitting it would charge, and what was measured of its
/// media. Nothing is charged for an estimate.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiEstimateObject)]
pub struct EstimateObject {
    pub model: String,
    #[schema(value_type = String)]
    pub mode: &'static str,
    #[schema(value_type = String)]
    pub resolution: &'static str,
    #[schema(value_type = String)]
    pub aspect_ratio: &'static str,
    pub duration: u32,
    pub output: OutputSize,
    pub billable_seconds: u32,
    pub credits: u64,
    pub usd_per_second: f64,
    /// The account's price plan when it, not the catalog, priced the request.
    pub price_plan: Option<String>,
    pub media: Vec<MediumObject>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiOutputSize)]
pub struct OutputSize {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiMediumObject)]
pub struct MediumObject {
    pub field: String,
    pub url: String,
    /// What the probe measured: kind, format, width, height, duration, fps, bytes.
    #[schema(value_type = Object)]
    pub probe: MediaFacts,
}

/// An uploaded asset.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiAssetObject)]
pub struct AssetObject {
    pub id: String,
    /// Use this URL as reference media in a request.
    pub url: String,
    pub content_type: String,
    pub created_at: i64,
    #[schema(value_type = Object)]
    pub probe: MediaFacts,
}
