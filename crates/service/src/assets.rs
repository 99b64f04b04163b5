//! Uploaded files: probed, checked against the default model's media limits, stored.

use super::*;

impl GenerationService {
    /// Stores a file a client uploads for use as reference media, after probing it and checking
    /// it against the media limits (of the default model: an upload is not tied to a request).
    pub async fn upload_asset(
        &self,
        principal: &Principal,
        bytes: bytes::Bytes,
        name: Option<String>,
    ) -> Result<AssetRecord, GatewayError> {
        if bytes.is_empty() {
            return Err(ValidationError::invalid("file", "is empty").into());
        }
        let facts = seedgate_media::probe_any(&bytes).map_err(|e| {
            GatewayError::Validation(ValidationError::invalid("file", &e.to_string()))
        })?;
        let spec = self
            .catalog
            .default_model()
            .ok_or_else(|| GatewayError::Unavailable("no model is available".into()))?;
        spec.media
            .check(&FieldPath::new("file"), facts.kind, &facts)?;
        let id = format!(
            "asset_{}",
            TaskId::generate()
                .as_str()
                .trim_start_matches(TaskId::PREFIX)
        );
        let object_key = format!("assets/{id}.{}", extension(&facts.format));
        let asset = AssetRecord {
            id,
            account_id: principal.account_id.clone(),
            api_key_id: principal.api_key_id.clone(),
            object_key: object_key.clone(),
            content_type: content_type(&facts.format).to_string(),
            facts,
            created_at_ms: self.config.clock.now_ms(),
            name,
        };
        let blobs = self.media.blobs();
        blobs.put(&object_key, bytes).await.map_err(|e| {
            tracing::error!(error = %e, "storing an asset failed");
            crate::blob_write_error(&e)
        })?;
        if let Err(e) = self
            .store
            .create_asset(&asset, self.config.asset_quota_bytes)
            .await
        {
            // Nothing refers to the object yet: remove it so a refused upload leaves nothing.
            if let Err(del) = blobs.delete(&object_key).await {
                tracing::warn!(error = %del, key = object_key, "removing a refused asset failed");
            }
            return Err(match e {
                StoreError::QuotaExceeded { used, quota } => {
                    GatewayError::QuotaExceeded { used, quota }
                }
                other => store_error(other),
            });
        }
        Ok(asset)
    }

    /// Registers an asset from a URL (CRUN's asset-upload): fetched through the SSRF-safe
    /// fetcher as the given kind, then stored as [`GenerationService::upload_asset`] stores a file.
    pub async fn upload_asset_from_url(
        &self,
        principal: &Principal,
        url: &str,
        kind: MediaKind,
        name: Option<String>,
    ) -> Result<AssetRecord, GatewayError> {
        let url = MediaUrl::parse(url)
            .map_err(|e| ValidationError::invalid("asset_url", &e.to_string()))?;
        let account = principal.account_id.as_str();
        let inspecting = self.media.inspect_as(account, &url, kind);
        let inspected = inspecting.await.map_err(|e| match e {
            MediaError::Refused(e) => {
                GatewayError::Validation(ValidationError::invalid("asset_url", &e.to_string()))
            }
            MediaError::LinkRefused(reason) => {
                GatewayError::Validation(ValidationError::invalid("asset_url", reason))
            }
            MediaError::Unreadable(e) => {
                GatewayError::Validation(ValidationError::invalid("asset_url", &e.to_string()))
            }
            MediaError::Unavailable(e) => GatewayError::Validation(ValidationError::invalid(
                "asset_url",
                &format!("could not fetch: {e}"),
            )),
            MediaError::Storage => GatewayError::Unavailable("storage unavailable".into()),
            // This account's share of fetch slots stayed busy: retryable.
            MediaError::Busy(e) => GatewayError::Unavailable(e.to_string()),
        })?;
        self.upload_asset(principal, inspected.bytes, name).await
    }

    pub async fn get_asset(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<AssetRecord, GatewayError> {
        self.store
            .get_asset(id, &principal.account_id)
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::AssetNotFound)
    }
}
