//! Usage reports across every account, for the admin API and `seedgate usage`.

use super::{AdminError, AdminResult, AdminService};
use crate::usage::{UsageFormat, UsageParams, UsageReport};

impl AdminService {
    /// The usage report `params` ask for, over every account unless filtered: `account` and
    /// `key` by id or name (a key also by itself), `model` by canonical id. Also returns the
    /// format the parameters asked for, if any. Reads only: nothing is audited.
    pub async fn usage_report(
        &self,
        params: &UsageParams,
    ) -> AdminResult<(UsageReport, Option<UsageFormat>)> {
        let (mut query, format) = params
            .parse(self.clock.now_ms(), true)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        if let Some(account) = query.account.take() {
            query.account = Some(self.account(&account).await?.id.to_string());
        }
        if let Some(key) = query.key.take() {
            query.key = Some(self.key(&key).await?.id.to_string());
        }
        let rows = self.store.usage_report(&query).await?;
        Ok((UsageReport { query, rows }, format))
    }
}
