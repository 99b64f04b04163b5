//! The member's pages: what one API key's account may see and do.

pub mod account;
pub mod code;
pub mod playground;
pub mod tasks;

use crate::layout::Chrome;
use crate::session::{Member, Role};
use crate::Console;
use axum::Router;

pub fn routes() -> Router<Console> {
    Router::new()
        .merge(playground::routes())
        .merge(tasks::routes())
        .merge(account::routes())
}

/// The page shell's view of a member on the page at `current`.
pub fn chrome<'a>(member: &'a Member, current: &'a str) -> Chrome<'a> {
    Chrome {
        role: Role::Member,
        who: &member.principal.name,
        session: &member.session,
        current,
    }
}
