//! Submits in the metrics: accepted, answered from an earlier request, or refused and why.
//! Counted once per call of [`crate::GenerationService::submit`], so every dialect's submit is
//! counted the same way. (A body a dialect cannot read at all never reaches the service; the
//! HTTP metrics count it as a 400.)

use crate::SubmitOutcome;
use seedgate_core::accounts::LimitRefusal;
use seedgate_core::error::{Denial, GatewayError};

/// The `reason` label of a refused submit: a small fixed set, never the message.
pub fn refusal_reason(error: &GatewayError) -> &'static str {
    match error {
        GatewayError::Validation(_) => "validation",
        GatewayError::PricingUnavailable { .. } => "pricing",
        GatewayError::InsufficientCredits { .. } => "insufficient_credits",
        GatewayError::Limited { refusal, .. } => match refusal {
            LimitRefusal::SubmitRate { .. } => "limit_submit_rate",
            LimitRefusal::RequestRate { .. } => "limit_request_rate",
            LimitRefusal::InFlight { .. } => "limit_in_flight",
            LimitRefusal::Queued { .. } => "limit_queued",
            LimitRefusal::Budget { .. } => "limit_budget",
        },
        GatewayError::RateLimited { .. } => "limit_request_rate",
        GatewayError::Forbidden(Denial::ModelNotAllowed(_)) => "model_not_allowed",
        GatewayError::Forbidden(Denial::IpNotAllowed(_)) => "address_not_allowed",
        GatewayError::Unauthenticated(_) => "unauthenticated",
        GatewayError::IdempotencyInFlight
        | GatewayError::IdempotencyMismatch
        | GatewayError::IdempotencyKeyInvalid(_) => "idempotency",
        GatewayError::Unavailable(_) => "unavailable",
        GatewayError::Internal(_) => "internal",
        _ => "other",
    }
}

pub(crate) fn count_submit(dialect: &'static str, outcome: &Result<SubmitOutcome, GatewayError>) {
    match outcome {
        Ok(SubmitOutcome::Created { .. }) => {
            metrics::counter!("seedgate_submits_accepted_total", "dialect" => dialect).increment(1)
        }
        Ok(SubmitOutcome::Replayed(_)) => {
            metrics::counter!("seedgate_submits_replayed_total", "dialect" => dialect).increment(1)
        }
        Err(e) => metrics::counter!("seedgate_submits_refused_total",
            "dialect" => dialect, "reason" => refusal_reason(e))
        .increment(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::accounts::Scope;
    use seedgate_core::error::ValidationError;

    #[test]
    fn reasons_name_the_kind_of_refusal_not_its_details() {
        assert_eq!(
            refusal_reason(&ValidationError::NotAnObject.into()),
            "validation"
        );
        assert_eq!(
            refusal_reason(&GatewayError::Limited {
                refusal: LimitRefusal::InFlight {
                    scope: Scope::Account,
                    limit: 3
                },
                retry_after: std::time::Duration::from_secs(1),
            }),
            "limit_in_flight"
        );
        assert_eq!(
            refusal_reason(&GatewayError::InsufficientCredits {
                needed: 10,
                available: 1
            }),
            "insufficient_credits"
        );
    }
}
