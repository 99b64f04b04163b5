//! Operator alerts, as the admin API lists them.

use super::{AdminResult, AdminService};
use seedgate_store::alerts::AlertRecord;

/// Most alerts one page lists.
pub const MAX_ALERTS_PAGE: u32 = 500;

impl AdminService {
    /// Alerts newest first, raised before `before_ms` when given (the previous page's last
    /// `created_at_ms`), at most `limit` (1 to [`MAX_ALERTS_PAGE`]).
    pub async fn alerts(
        &self,
        before_ms: Option<i64>,
        limit: u32,
    ) -> AdminResult<Vec<AlertRecord>> {
        Ok(self
            .store
            .list_alerts(before_ms, limit.clamp(1, MAX_ALERTS_PAGE))
            .await?)
    }
}
