use crate::Console;
use axum::Router;

pub fn routes() -> Router<Console> {
    Router::new()
}
