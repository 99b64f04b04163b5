//! The model catalog: which models exist, under which names, with which capabilities, limits and
//! prices. Data, not code: the built-in table is `catalog.toml`, and operators override prices
//! and availability from their config.

use crate::error::ValidationError;
use crate::request::{AspectRatio, Resolution};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const BUILTIN: &str = include_str!("../catalog.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub id: String,
    pub family: String,
    pub available: bool,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The name-version id Ark reads back for this model (`dreamina-seedance-2-0-mini-260615`);
    /// `None` reads back the canonical id.
    #[serde(default)]
    pub ark_model_id: Option<String>,
    pub resolutions: Vec<Resolution>,
    pub default_resolution: Resolution,
    pub aspect_ratios: Vec<AspectRatio>,
    pub default_aspect_ratio: AspectRatio,
    pub max_prompt_chars: usize,
    pub duration: DurationLimits,
    pub defaults: Defaults,
    pub limits: ReferenceLimits,
    /// Whether reAPI's Seedance 2.5 request fields (`size`, `image_urls`, `image_with_roles`,
    /// `video_urls`, `audio_urls`, `seed`, `return_last_frame`, `tools`) apply to this model.
    #[serde(default)]
    pub seedance_2_5_fields: bool,
    /// Limits on each reference medium; Seedance 2.0's by default.
    #[serde(default)]
    pub media: crate::media::MediaLimits,
    /// USD per second by resolution.
    pub prices: BTreeMap<Resolution, PriceTier>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationLimits {
    pub min: u32,
    pub max: u32,
    pub default: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    pub generate_audio: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceLimits {
    pub reference_images_max: usize,
    pub reference_videos_max: usize,
    pub reference_audios_max: usize,
    /// First frame + last frame + reference images.
    pub images_total_max: usize,
    pub first_frame_excludes_references: bool,
    pub audio_only_references_allowed: bool,
}

/// USD per output second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriceTier {
    pub standard: f64,
    pub with_reference_video: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    models: Vec<ModelSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("catalog: {0}")]
    Invalid(String),
}

/// Operator overrides for one model, from the config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOverride {
    pub available: Option<bool>,
    #[serde(default)]
    pub prices: BTreeMap<Resolution, PriceTier>,
}

impl Catalog {
    /// The catalog compiled into seedgate.
    pub fn builtin() -> Self {
        // The built-in table is part of the binary and covered by a test, so it always parses.
        Self::from_toml(BUILTIN).unwrap_or_else(|e| panic!("built-in catalog is broken: {e}"))
    }

    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        let catalog: Catalog = toml::from_str(text)?;
        catalog.check()?;
        Ok(catalog)
    }

    fn check(&self) -> Result<(), CatalogError> {
        let mut names = std::collections::HashSet::new();
        for m in &self.models {
            for name in std::iter::once(&m.id).chain(&m.aliases) {
                if !names.insert(name.to_ascii_lowercase()) {
                    return Err(CatalogError::Invalid(format!(
                        "name `{name}` is used twice"
                    )));
                }
            }
            for r in &m.resolutions {
                if !m.prices.contains_key(r) {
                    return Err(CatalogError::Invalid(format!(
                        "{} has no price for {}",
                        m.id,
                        r.as_str()
                    )));
                }
            }
            if !m.resolutions.contains(&m.default_resolution)
                || !m.aspect_ratios.contains(&m.default_aspect_ratio)
                || m.duration.min > m.duration.default
                || m.duration.default > m.duration.max
            {
                return Err(CatalogError::Invalid(format!(
                    "{} has inconsistent defaults",
                    m.id
                )));
            }
        }
        Ok(())
    }

    /// Applies operator overrides (availability, prices). Unknown model ids are an error, so a
    /// typo in the config cannot silently leave the default price in place.
    pub fn with_overrides(
        mut self,
        overrides: &BTreeMap<String, ModelOverride>,
    ) -> Result<Self, CatalogError> {
        for (id, o) in overrides {
            let model = self
                .models
                .iter_mut()
                .find(|m| &m.id == id)
                .ok_or_else(|| {
                    CatalogError::Invalid(format!("override names unknown model `{id}`"))
                })?;
            if let Some(a) = o.available {
                model.available = a;
            }
            for (res, tier) in &o.prices {
                model.prices.insert(*res, *tier);
            }
        }
        self.check()?;
        Ok(self)
    }

    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }

    /// Looks a model up by canonical id or alias (case-insensitive), available or not.
    pub fn lookup(&self, name: &str) -> Option<&ModelSpec> {
        let name = name.trim();
        self.models.iter().find(|m| {
            m.id.eq_ignore_ascii_case(name)
                || m.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// The first model served now: whose media limits apply to uploads not tied to a model.
    pub fn default_model(&self) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.available)
    }

    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Resolves a name to a model this gateway serves now.
    pub fn resolve_available(&self, name: &str) -> Result<&ModelSpec, ValidationError> {
        match self.lookup(name) {
            Some(spec) if spec.available => Ok(spec),
            Some(spec) => Err(ValidationError::ModelNotSupported {
                model: name.to_string(),
                reason: format!("{} is not yet available on this service", spec.id),
            }),
            None => Err(ValidationError::unknown_model(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_resolves_aliases() {
        let c = Catalog::builtin();
        assert_eq!(
            c.resolve_available("seedance-2.0-mini")
                .map(|m| m.id.as_str()),
            Ok("seedance-2.0-mini")
        );
        assert_eq!(
            c.resolve_available("Dreamina-Seedance-2-0-Mini-260615")
                .map(|m| m.id.as_str()),
            Ok("seedance-2.0-mini")
        );
    }

    #[test]
    fn seedance_25_family_is_known_but_unavailable() {
        let c = Catalog::builtin();
        for id in [
            "seedance-2.5",
            "seedance-2.5-fast",
            "seedance-2.5-face",
            "seedance-2.5-fast-face",
        ] {
            assert!(c.lookup(id).is_some(), "{id} should be in the catalog");
            match c.resolve_available(id) {
                Err(ValidationError::ModelNotSupported { reason, .. }) => {
                    assert!(reason.contains("not yet available"), "{reason}")
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        assert!(matches!(
            c.resolve_available("sora-2"),
            Err(ValidationError::ModelNotSupported { .. })
        ));
    }

    #[test]
    fn overrides_enable_models_and_change_prices() {
        let mut o = BTreeMap::new();
        let mut prices = BTreeMap::new();
        prices.insert(
            Resolution::P480,
            PriceTier {
                standard: 0.01,
                with_reference_video: 0.005,
            },
        );
        o.insert(
            "seedance-2.5".to_string(),
            ModelOverride {
                available: Some(true),
                prices,
            },
        );
        let c = Catalog::builtin()
            .with_overrides(&o)
            .expect("valid override");
        let m = c.resolve_available("seedance-2.5").expect("now available");
        assert_eq!(m.prices[&Resolution::P480].standard, 0.01);

        let mut bad = BTreeMap::new();
        bad.insert("nope".to_string(), ModelOverride::default());
        assert!(Catalog::builtin().with_overrides(&bad).is_err());
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let text = BUILTIN.replace("\"seedance-2-mini\"", "\"seedance-2.5\"");
        assert!(Catalog::from_toml(&text).is_err());
    }
}
