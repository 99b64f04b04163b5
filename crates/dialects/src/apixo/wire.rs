//! APIXO's wire types, shared with the APIXO upstream in [`seedgate_wire::apixo`]; only the
//! `resultJson` document, which the dialect writes as text, is its own.

pub use seedgate_wire::apixo::*;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResultJson<'a> {
    pub(super) result_urls: &'a [String],
}
