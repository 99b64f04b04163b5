//! Kie's wire types: the bodies are the wire crate's (the `kie` upstream builds and reads the
//! same types); what `param` and `resultJson` report is written here.

use serde::Serialize;

pub use seedgate_wire::kie::{
    CreateResponse, CreateTaskRequest, CreatedTask, Input, Record, RecordInfoResponse,
};

/// The create body `param` reports.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct ParamBody<'a> {
    pub(super) model: &'a str,
    #[serde(rename = "callBackUrl", skip_serializing_if = "Option::is_none")]
    pub(super) call_back_url: Option<&'a str>,
    pub(super) input: ParamInput<'a>,
}

#[derive(Debug, Serialize, PartialEq)]
pub(super) struct ParamInput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) first_frame_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) last_frame_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reference_image_urls: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reference_video_urls: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reference_audio_urls: Vec<&'a str>,
    pub(super) generate_audio: bool,
    pub(super) resolution: &'static str,
    pub(super) aspect_ratio: &'static str,
    pub(super) duration: u32,
    pub(super) web_search: bool,
    pub(super) nsfw_checker: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct ResultJson<'a> {
    #[serde(rename = "resultUrls")]
    pub(super) result_urls: &'a [String],
}
