//! "Copy as code": one validated request as every dialect seedgate speaks would send it, as a
//! curl command and a Python (`requests`) script.
//!
//! Each dialect's body is built by the providers' upstream request builders
//! ([`UpstreamApi::create`]): the very code seedgate uses to send a request to an upstream of
//! that kind, whose bodies each dialect's round-trip tests read back. So a snippet is what the
//! dialect reads, not a second hand-written copy of its wire format. The key is always the
//! placeholder `$SEEDGATE_KEY`, never the member's own.

use seedgate_core::{GenerationRequest, ModelSpec};
use seedgate_providers::upstream::{
    apixo, ark, crun, hiapi, kie, openai, reapi, AuthStyle, CreateContext, UpstreamApi,
    UpstreamKind,
};
use serde::Serialize;
use serde_json::Value;

/// The environment variable the snippets read the key from.
pub const KEY_VARIABLE: &str = "SEEDGATE_KEY";

/// One dialect's rendition of a request.
#[derive(Debug, Clone, Serialize)]
pub struct Snippet {
    /// The dialect's name (`reapi`, `ark`, …).
    pub dialect: &'static str,
    /// A human label for the tab.
    pub label: &'static str,
    pub method: String,
    pub url: String,
    /// The header the key goes in (`Authorization` or `x-api-key`).
    pub auth_header: &'static str,
    pub body: Option<Value>,
    pub curl: String,
    pub python: String,
    /// Why this dialect cannot express the request, when it cannot (no snippet then).
    pub unavailable: Option<String>,
}

/// The translator of each kind. A new kind fails to compile here until it is given one.
fn api_of(kind: UpstreamKind) -> Box<dyn UpstreamApi> {
    match kind {
        UpstreamKind::Ark => Box::new(ark::Ark),
        UpstreamKind::Reapi => Box::new(reapi::Reapi),
        UpstreamKind::Hiapi => Box::new(hiapi::Hiapi),
        UpstreamKind::Apixo => Box::new(apixo::Apixo),
        UpstreamKind::Crun => Box::new(crun::Crun),
        UpstreamKind::Kie => Box::new(kie::Kie),
        UpstreamKind::Openai => Box::new(openai::OpenAi),
    }
}

fn label_of(kind: UpstreamKind) -> &'static str {
    match kind {
        UpstreamKind::Ark => "Ark",
        UpstreamKind::Reapi => "reAPI",
        UpstreamKind::Hiapi => "HiAPI",
        UpstreamKind::Apixo => "APIXO",
        UpstreamKind::Crun => "CRUN",
        UpstreamKind::Kie => "Kie",
        UpstreamKind::Openai => "OpenAI videos",
    }
}

/// The model name each dialect's clients send for a catalog model: Ark's name-version id, CRUN's
/// family (its builder appends the mode), the canonical id elsewhere (every dialect resolves it
/// through the catalog).
fn model_id_for(kind: UpstreamKind, spec: &ModelSpec) -> String {
    match kind {
        UpstreamKind::Ark => spec.ark_model_id.clone().unwrap_or_else(|| spec.id.clone()),
        UpstreamKind::Crun => format!(
            "bytedance/{}",
            spec.id
                .replacen("seedance-", "seedance", 1)
                .replace('.', "-")
        ),
        _ => spec.id.clone(),
    }
}

/// Every dialect's snippet for a validated request, against `base_url`.
pub fn snippets(request: &GenerationRequest, spec: &ModelSpec, base_url: &str) -> Vec<Snippet> {
    let base = base_url.trim_end_matches('/');
    UpstreamKind::ALL
        .iter()
        .map(|&kind| snippet(kind, request, spec, base))
        .collect()
}

fn snippet(
    kind: UpstreamKind,
    request: &GenerationRequest,
    spec: &ModelSpec,
    base: &str,
) -> Snippet {
    let api = api_of(kind);
    let auth_header = match api.auth() {
        AuthStyle::Bearer => "Authorization",
        AuthStyle::ApiKeyHeader => "x-api-key",
    };
    let mut out = Snippet {
        dialect: kind.as_str(),
        label: label_of(kind),
        method: "POST".into(),
        url: String::new(),
        auth_header,
        body: None,
        curl: String::new(),
        python: String::new(),
        unavailable: None,
    };
    if let Some(refusal) = api.inexpressible(request) {
        out.unavailable = Some(refusal.reason);
        return out;
    }
    let model_id = model_id_for(kind, spec);
    let call = match api.create(&CreateContext {
        request,
        model_id: &model_id,
        callback_url: None,
    }) {
        Ok(call) => call,
        Err(e) => {
            out.unavailable = Some(e.to_string());
            return out;
        }
    };
    let mut url = format!("{base}{}", call.path);
    if !call.query.is_empty() {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(call.query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        url.push('?');
        url.push_str(&query);
    }
    out.method = call.method.as_str().to_string();
    out.curl = curl(&out.method, &url, auth_header, call.body.as_ref());
    out.python = python(&out.method, &url, auth_header, call.body.as_ref());
    out.url = url;
    out.body = call.body;
    out
}

/// A string in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn curl(method: &str, url: &str, auth_header: &str, body: Option<&Value>) -> String {
    let auth = if auth_header == "Authorization" {
        format!("\"Authorization: Bearer ${KEY_VARIABLE}\"")
    } else {
        format!("\"{auth_header}: ${KEY_VARIABLE}\"")
    };
    let mut lines = vec![
        format!("curl -X {method} {}", shell_quote(url)),
        format!("  -H {auth}"),
    ];
    if let Some(body) = body {
        lines.push("  -H 'Content-Type: application/json'".into());
        let json = serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string());
        lines.push(format!("  -d {}", shell_quote(&json)));
    }
    lines.join(" \\\n")
}

fn python(method: &str, url: &str, auth_header: &str, body: Option<&Value>) -> String {
    let key = format!("os.environ[\"{KEY_VARIABLE}\"]");
    let auth = if auth_header == "Authorization" {
        format!("{{\"Authorization\": \"Bearer \" + {key}}}")
    } else {
        format!("{{\"{auth_header}\": {key}}}")
    };
    let mut out = String::from("import os\n\nimport requests\n\nresponse = requests.request(\n");
    out.push_str(&format!("    {},\n", py_string(method)));
    out.push_str(&format!("    {},\n", py_string(url)));
    out.push_str(&format!("    headers={auth},\n"));
    if let Some(body) = body {
        out.push_str("    json=");
        py_value(body, 1, &mut out);
        out.push_str(",\n");
    }
    out.push_str("    timeout=60,\n)\nresponse.raise_for_status()\nprint(response.json())\n");
    out
}

/// A JSON string literal is a valid Python string literal (same escapes, `\uXXXX` included).
fn py_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A JSON value as a Python literal (`True`, `False`, `None`), indented four spaces a level.
fn py_value(value: &Value, depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth + 1);
    let end = "    ".repeat(depth);
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&py_string(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                out.push_str(&pad);
                py_value(item, depth + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&end);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (k, v) in map {
                out.push_str(&pad);
                out.push_str(&py_string(k));
                out.push_str(": ");
                py_value(v, depth + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&end);
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::{Catalog, RequestDraft};

    fn request(draft: RequestDraft) -> (GenerationRequest, ModelSpec) {
        let catalog = Catalog::builtin();
        let r = GenerationRequest::from_draft(draft, &catalog).expect("valid");
        let spec = r.spec(&catalog).expect("spec").clone();
        (r, spec)
    }

    #[test]
    fn every_dialect_gets_a_snippet_with_the_placeholder_key() {
        let (r, spec) = request(RequestDraft {
            model: Some("seedance-2.0-mini".into()),
            prompt: Some("a fox's \"den\"".into()),
            duration: Some(4),
            resolution: Some("480p".into()),
            aspect_ratio: Some("16:9".into()),
            ..RequestDraft::default()
        });
        let all = snippets(&r, &spec, "https://gw.example/");
        assert_eq!(all.len(), UpstreamKind::ALL.len());
        let reapi = all.iter().find(|s| s.dialect == "reapi").expect("reapi");
        assert_eq!(reapi.url, "https://gw.example/api/v1/videos/generations");
        assert!(
            reapi.curl.contains("Bearer $SEEDGATE_KEY"),
            "{}",
            reapi.curl
        );
        // The apostrophe survives the shell's single quotes.
        assert!(reapi.curl.contains(r"fox'\''s"), "{}", reapi.curl);
        assert!(reapi.python.contains("os.environ[\"SEEDGATE_KEY\"]"));
        assert!(reapi.python.contains("False") || reapi.python.contains("True"));
        assert!(!reapi.python.contains("false"), "{}", reapi.python);
        let crun = all.iter().find(|s| s.dialect == "crun").expect("crun");
        assert_eq!(crun.auth_header, "x-api-key");
        assert!(
            crun.curl.contains("bytedance/seedance2-0-mini-t2v"),
            "{}",
            crun.curl
        );
        let ark = all.iter().find(|s| s.dialect == "ark").expect("ark");
        assert!(
            ark.curl.contains("dreamina-seedance-2-0-mini-260615"),
            "{}",
            ark.curl
        );
        for s in &all {
            assert!(s.unavailable.is_some() || !s.curl.is_empty(), "{s:?}");
        }
    }

    #[test]
    fn python_literals_nest() {
        let mut out = String::new();
        py_value(
            &serde_json::json!({"a": [1, null, {"b": true}], "c": {}}),
            0,
            &mut out,
        );
        assert_eq!(
            out,
            "{\n    \"a\": [\n        1,\n        None,\n        {\n            \"b\": True,\n        },\n    ],\n    \"c\": {},\n}"
        );
    }
}
