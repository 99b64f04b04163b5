//! Every parser of strings a client sends, fed arbitrary Unicode in every string field: each
//! answers with a value or a validation error, never a panic. The strategies favour what broke
//! before: multibyte characters straddling the byte offsets of `data:` and `asset://`.

use proptest::prelude::*;
use seedgate_core::{Catalog, GenerationRequest, RequestDraft};
use serde_json::{json, Value};

/// Arbitrary Unicode, and near-misses of the prefixes parsers look for.
fn client_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(data:|DATA:|asset://|http://|https://|)[a-zé漢😀\u{301}/.:,;=?%]{0,12}",
        "[a-z]{0,9}[é漢😀][a-z./:]{0,9}",
    ]
}

fn catalog() -> Catalog {
    Catalog::builtin()
}

/// A draft that parsed must validate or be refused, without panicking.
fn validate(draft: RequestDraft, catalog: &Catalog) {
    let _ = GenerationRequest::from_draft(draft, catalog);
}

/// Sets every string-valued leaf of `template` (and string items of arrays) to `s`.
fn fill(template: &Value, s: &str) -> Value {
    match template {
        Value::String(_) => Value::String(s.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, s)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, s))).collect())
        }
        other => other.clone(),
    }
}

/// Bodies with every string field a client can send, per dialect.
fn templates() -> Vec<(&'static str, Value)> {
    vec![
        (
            "reapi",
            json!({"model": "m", "prompt": "p", "first_frame_url": "u", "last_frame_url": "u",
            "reference_image_urls": ["u"], "reference_video_urls": ["u"], "reference_audio_urls": ["u"],
            "resolution": "r", "aspect_ratio": "a", "callback_url": "c",
            "image_with_roles": [{"url": "u", "role": "r"}], "image_urls": ["u"], "size": "s"}),
        ),
        (
            "hiapi",
            json!({"model": "m", "input": {"prompt": "p", "first_frame_url": "u",
            "last_frame_url": "u", "reference_image_urls": ["u"], "reference_video_urls": ["u"],
            "reference_audio_urls": ["u"], "resolution": "r", "aspect_ratio": "a"},
            "callback": {"url": "c", "when": "w"}}),
        ),
        (
            "apixo",
            json!({"request_type": "r", "callback_url": "c", "input": {"mode": "m",
            "prompt": "p", "image_urls": ["u"], "video_urls": ["u"], "audio_urls": ["u"],
            "resolution": "r", "aspect_ratio": "a", "duration": "d"}}),
        ),
        (
            "crun",
            json!({"model": "m", "callback_url": "c", "input": {"prompt": "p",
            "img_urls": ["u"], "reference_images": ["u"], "reference_videos": ["u"],
            "reference_audios": ["u"], "resolution": "r", "aspect_ratio": "a"}}),
        ),
        (
            "kie",
            json!({"model": "m", "callBackUrl": "c", "input": {"prompt": "p",
            "first_frame_url": "u", "last_frame_url": "u", "reference_image_urls": ["u"],
            "reference_video_urls": ["u"], "reference_audio_urls": ["u"], "resolution": "r",
            "aspect_ratio": "a"}}),
        ),
        (
            "ark",
            json!({"model": "m", "callback_url": "c", "service_tier": "s",
            "safety_identifier": "i", "resolution": "r", "ratio": "a", "output_format": "o",
            "content": [{"type": "text", "text": "p"},
                {"type": "image_url", "image_url": {"url": "u"}, "role": "r"},
                {"type": "video_url", "video_url": {"url": "u"}},
                {"type": "audio_url", "audio_url": {"url": "u"}}]}),
        ),
    ]
}

/// The same body with the model and the structure kept valid, so the strings reach the deep
/// checks instead of stopping at "unknown model".
fn with_valid_model(dialect: &str, mut body: Value) -> Value {
    let model = match dialect {
        "crun" => "bytedance/seedance2-0-mini-r2v",
        "kie" => "bytedance/seedance-2-mini",
        "ark" => "dreamina-seedance-2-0-mini-260615",
        "apixo" => return body,
        _ => "seedance-2.0-mini",
    };
    body["model"] = json!(model);
    if dialect == "ark" {
        for (i, kind) in ["text", "image_url", "video_url", "audio_url"]
            .iter()
            .enumerate()
        {
            body["content"][i]["type"] = json!(kind);
        }
    }
    body
}

fn parse(dialect: &str, body: &[u8], catalog: &Catalog) {
    match dialect {
        "reapi" => {
            if let Ok((draft, _)) = seedgate_dialects::reapi::parse_submit(body, catalog) {
                validate(draft, catalog);
            }
        }
        "hiapi" => {
            if let Ok((draft, _)) = seedgate_dialects::hiapi::parse_create(body, catalog) {
                validate(draft, catalog);
            }
        }
        "apixo" => {
            if let Ok((draft, _)) =
                seedgate_dialects::apixo::parse_generate(body, "seedance-2-0-mini")
            {
                validate(draft, catalog);
            }
        }
        "crun" => {
            if let Ok((draft, _, _)) = seedgate_dialects::crun::parse_create(body, catalog) {
                validate(draft, catalog);
            }
        }
        "kie" => {
            if let Ok((draft, _)) = seedgate_dialects::kie::parse_create(body) {
                validate(draft, catalog);
            }
        }
        "ark" => {
            if let Ok(parsed) = seedgate_dialects::ark::parse_create(body, catalog) {
                validate(parsed.draft, catalog);
            }
        }
        other => panic!("no parser for {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_dialect_parses_any_string_in_any_field(s in client_string()) {
        let catalog = catalog();
        for (dialect, template) in templates() {
            let body = fill(&template, &s);
            parse(dialect, body.to_string().as_bytes(), &catalog);
            let body = with_valid_model(dialect, body);
            parse(dialect, body.to_string().as_bytes(), &catalog);
        }
    }

    #[test]
    fn an_openai_input_reference_may_be_any_string(s in client_string()) {
        let _ = seedgate_dialects::openai::parse_reference(Some(json!(s)));
        let _ = seedgate_dialects::openai::parse_reference(Some(json!({"image_url": s})));
        let _ = seedgate_dialects::openai::parse_reference(Some(json!({"file_id": s})));
    }

    #[test]
    fn list_queries_may_be_any_string(s in client_string()) {
        let _ = seedgate_dialects::ark::parse_list_query(&s);
        let _ = seedgate_dialects::ark::parse_list_query(&format!("filter.status={s}&page_num={s}"));
    }

    #[test]
    fn any_header_value_is_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        use axum::http::{HeaderMap, HeaderValue};
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", value.clone());
            headers.insert("idempotency-key", value.clone());
            headers.insert("x-stainless-retry-count", value);
            let _ = seedgate_dialects::common::bearer_credential(&headers);
            let _ = seedgate_dialects::common::idempotency_key(&headers);
            let _ = seedgate_dialects::common::marked_retry(&headers);
        }
    }

    #[test]
    fn any_body_bytes_are_refused_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let catalog = catalog();
        for (dialect, _) in templates() {
            parse(dialect, &bytes, &catalog);
        }
    }
}
