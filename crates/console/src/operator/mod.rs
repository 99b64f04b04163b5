//! The operators' pages: every account, on the admin services. A `viewer` token sees them all
//! and changes nothing (its forms are not shown, and the services refuse them anyway).

pub mod accounts;
pub mod audit;
pub mod tasks;
pub mod upstreams;
pub mod usage;

use crate::layout::Chrome;
use crate::session::{Operator, Role};
use crate::Console;
use axum::Router;

pub fn routes() -> Router<Console> {
    Router::new()
        .merge(accounts::routes())
        .merge(usage::routes())
        .merge(tasks::routes())
        .merge(upstreams::routes())
        .merge(audit::routes())
}

/// The page shell's view of an operator on the page at `current`.
pub fn chrome<'a>(operator: &'a Operator, current: &'a str) -> Chrome<'a> {
    Chrome {
        role: Role::Operator,
        who: &operator.actor.0,
        session: &operator.session,
        current,
    }
}
