//! The `/docs` page: the OpenAPI document rendered to one self-contained HTML page on the
//! server, so it works offline (no script, font or stylesheet from anywhere else).

use serde_json::Value;
use std::fmt::Write;

/// Renders the API reference.
pub fn render(api: &utoipa::openapi::OpenApi) -> String {
    let doc = serde_json::to_value(api).unwrap_or(Value::Null);
    let mut out = String::with_capacity(64 * 1024);
    let title = text(&doc["info"]["title"]);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} API reference</title><style>{STYLE}</style></head><body>\
         <nav><h1>{title}</h1><p><a href=\"/openapi.json\">openapi.json</a> (OpenAPI {})</p>",
        text(&doc["openapi"])
    );

    let operations = operations(&doc);
    let tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| (text(&t["name"]), text(&t["description"])))
                .collect()
        })
        .unwrap_or_default();
    out.push_str("<ul>");
    for (tag, _) in &tags {
        let _ = write!(
            out,
            "<li><a href=\"#tag-{}\">{}</a></li>",
            slug(tag),
            esc(tag)
        );
    }
    out.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav><main>");
    let _ = write!(out, "<p>{}</p>", esc(&text(&doc["info"]["description"])));

    for (tag, description) in &tags {
        let _ = write!(
            out,
            "<section id=\"tag-{}\"><h2>{}</h2><p>{}</p>",
            slug(tag),
            esc(tag),
            inline_code(&esc(description))
        );
        for op in operations.iter().filter(|op| &op.tag == tag) {
            render_operation(&mut out, op);
        }
        out.push_str("</section>");
    }

    out.push_str("<section id=\"schemas\"><h2>Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let _ = write!(
                out,
                "<div class=\"schema\" id=\"schema-{}\"><h3>{}</h3>",
                slug(name),
                esc(name)
            );
            render_schema(&mut out, schema);
            out.push_str("</div>");
        }
    }
    out.push_str("</section></main></body></html>");
    out
}

struct Operation<'a> {
    method: String,
    path: String,
    tag: String,
    op: &'a Value,
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut ops = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                ops.push(Operation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    tag: op["tags"][0].as_str().unwrap_or("other").to_string(),
                    op,
                });
            }
        }
    }
    ops
}

fn render_operation(out: &mut String, op: &Operation<'_>) {
    let _ = write!(
        out,
        "<div class=\"op\" id=\"op-{}-{}\"><h3><span class=\"m {}\">{}</span> <code>{}</code></h3>",
        op.method.to_lowercase(),
        slug(&op.path),
        op.method.to_lowercase(),
        op.method,
        esc(&op.path)
    );
    for key in ["summary", "description"] {
        if let Some(s) = op.op[key].as_str() {
            let _ = write!(out, "<p>{}</p>", inline_code(&esc(s)));
        }
    }
    if let Some(security) = op.op["security"].as_array() {
        let schemes: Vec<String> = security
            .iter()
            .filter_map(|s| s.as_object())
            .flat_map(|s| s.keys().cloned())
            .collect();
        if !schemes.is_empty() {
            let _ = write!(
                out,
                "<p class=\"auth\">Auth: {}</p>",
                esc(&schemes.join(", "))
            );
        }
    }
    if let Some(params) = op.op["parameters"].as_array() {
        out.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>",
        );
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&text(&p["name"])),
                if p["required"].as_bool() == Some(true) {
                    " <b>required</b>"
                } else {
                    ""
                },
                esc(&text(&p["in"])),
                type_of(&p["schema"]),
                inline_code(&esc(&text(&p["description"])))
            );
        }
        out.push_str("</table>");
    }
    if let Some(content) = op.op["requestBody"]["content"].as_object() {
        for (media_type, body) in content {
            let _ = write!(
                out,
                "<p>Request body (<code>{}</code>): {}</p>",
                esc(media_type),
                type_of(&body["schema"])
            );
        }
    }
    if let Some(responses) = op.op["responses"].as_object() {
        out.push_str("<table><tr><th>Status</th><th>Body</th><th>Description</th></tr>");
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(mt, b)| {
                            format!("{} <small>{}</small>", type_of(&b["schema"]), esc(mt))
                        })
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                body,
                esc(&text(&r["description"]))
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

fn render_schema(out: &mut String, schema: &Value) {
    if let Some(d) = schema["description"].as_str() {
        let _ = write!(out, "<p>{}</p>", inline_code(&esc(d)));
    }
    let Some(props) = schema["properties"].as_object() else {
        let _ = write!(out, "<p>{}</p>", type_of(schema));
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
    for (name, p) in props {
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            if required.contains(&name.as_str()) {
                " <b>required</b>"
            } else {
                ""
            },
            type_of(p),
            inline_code(&esc(&text(&p["description"])))
        );
    }
    out.push_str("</table>");
    if schema["additionalProperties"] == Value::Bool(false) {
        out.push_str("<p class=\"note\">Unknown fields are refused.</p>");
    }
}

/// A schema's type in a few words, linking referenced schemas.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{}\">{}</a>", slug(name), esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(items) = schema[key].as_array() {
            let parts: Vec<String> = items
                .iter()
                .filter(|s| s["type"] != "null")
                .map(type_of)
                .collect();
            let nullable = items.iter().any(|s| s["type"] == "null");
            return format!(
                "{}{}",
                parts.join(" | "),
                if nullable { " | null" } else { "" }
            );
        }
    }
    let kind = match &schema["type"] {
        Value::String(s) => s.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_string(),
    };
    let mut s = if kind.starts_with("array") {
        format!("array of {}", type_of(&schema["items"]))
    } else {
        esc(&kind)
    };
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| esc(&v.to_string())).collect();
        let _ = write!(s, " ({})", values.join(", "));
    }
    if let Some(format) = schema["format"].as_str() {
        let _ = write!(s, " <small>{}</small>", esc(format));
    }
    s
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown-style `code` spans in descriptions (already escaped).
fn inline_code(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1d232a}\
nav{width:250px;padding:1em;background:#f4f6f8;position:sticky;top:0;height:100vh;overflow:auto;flex:none}\
main{padding:1em 2em;max-width:1100px}h1{font-size:1.4em}h2{border-bottom:2px solid #dde3e9;margin-top:2em}\
.op{border:1px solid #dde3e9;border-radius:6px;padding:.2em 1em;margin:1em 0}\
.m{display:inline-block;min-width:4em;text-align:center;border-radius:4px;color:#fff;font-size:.8em;padding:.1em .4em}\
.get{background:#2b7bb9}.post{background:#2f9e44}.delete{background:#c92a2a}.put,.patch{background:#e67700}\
table{border-collapse:collapse;margin:.5em 0;width:100%}td,th{border:1px solid #dde3e9;padding:.25em .5em;text-align:left;vertical-align:top}\
code{background:#eef1f4;padding:0 .25em;border-radius:3px}.schema{margin:1.5em 0}.auth,.note{color:#555;font-size:.9em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats_code_spans() {
        assert_eq!(esc("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
        assert_eq!(
            inline_code("use `a` and `b`"),
            "use <code>a</code> and <code>b</code>"
        );
    }

    #[test]
    fn types_link_references_and_list_enums() {
        let t = type_of(&serde_json::json!({"$ref": "#/components/schemas/TaskObject"}));
        assert_eq!(t, "<a href=\"#schema-taskobject\">TaskObject</a>");
        let t = type_of(&serde_json::json!({"type": ["string", "null"], "enum": ["a", "b"]}));
        assert_eq!(t, "string | null (&quot;a&quot;, &quot;b&quot;)");
        let t = type_of(&serde_json::json!({"type": "array", "items": {"type": "integer"}}));
        assert_eq!(t, "array of integer");
    }
}
