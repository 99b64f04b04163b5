//! The videos API's wire types. The bodies are the wire crate's (the `openai` upstream builds
//! and reads the same types); the query parameters are this dialect's own.

use crate::common;
use serde::Deserialize;

pub use seedgate_wire::openai::{
    ImageReference, InputReference, OpenAiCreateVideo, OpenAiCreateVideoForm, OpenAiVideo,
    OpenAiVideoDeleted, OpenAiVideoError, OpenAiVideoList,
};

/// The query parameters of a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub after: Option<String>,
    #[serde(default, deserialize_with = "common::de::int_or_string")]
    pub limit: Option<i64>,
    pub order: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContentParams {
    pub(super) variant: Option<String>,
}
