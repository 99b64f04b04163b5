//! Usage reports: a member's own account ([`GenerationService::usage_report`]) and any
//! account for operators ([`crate::admin::AdminService::usage_report`]), written as JSON or
//! CSV while the rows stream out of the database ([`UsageReport::into_body`]), so a year of
//! history never sits in memory. What each figure counts is defined in
//! [`seedgate_core::usage`].

use crate::{store_error, GenerationService, Principal};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use seedgate_core::error::{FieldPath, GatewayError, ValidationError};
use seedgate_core::usage::{rfc3339, UsageFigures, UsageParamError, UsageRow};
pub use seedgate_core::usage::{UsageFormat, UsageParams, UsageQuery};
use seedgate_store::usage::UsageRows;
use seedgate_store::StoreError;

/// Rows written into one chunk of the body: few enough to start answering at once, enough
/// not to send a packet per row.
const ROWS_PER_CHUNK: usize = 64;

/// A report about to be written: the query it answers and its rows, still in the database.
pub struct UsageReport {
    pub query: UsageQuery,
    pub rows: UsageRows,
}

/// The report's body, chunk by chunk; an error ends it (the answer is then cut short, never
/// silently complete).
pub type UsageBody = BoxStream<'static, Result<Bytes, StoreError>>;

impl UsageReport {
    /// The report written as `format`: JSON (`{"object":"usage_report", …, "data":[rows],
    /// "totals":{…}}`, the totals summed as rows pass) or CSV (a header row, then one row per
    /// group).
    pub fn into_body(self, format: UsageFormat) -> UsageBody {
        let columns = self.query.group_columns();
        let head = match format {
            UsageFormat::Json => json_head(&self.query),
            UsageFormat::Csv => csv_record(
                columns
                    .iter()
                    .copied()
                    .chain(UsageFigures::COLUMNS.iter().map(|(name, _)| *name))
                    .map(str::to_owned),
            ),
        };
        let state = Writer {
            rows: self.rows.ready_chunks(ROWS_PER_CHUNK).boxed(),
            columns,
            format,
            totals: UsageFigures::default(),
            written: 0,
            done: false,
        };
        let body = futures::stream::unfold(state, |mut w| async move {
            if w.done {
                return None;
            }
            let chunk = match w.rows.next().await {
                Some(rows) => w.write(rows),
                None => {
                    w.done = true;
                    Ok(w.tail())
                }
            };
            if chunk.is_err() {
                w.done = true;
            }
            Some((chunk, w))
        });
        futures::stream::once(async move { Ok(Bytes::from(head)) })
            .chain(body)
            .boxed()
    }
}

/// Where a body being written stands.
struct Writer {
    rows: BoxStream<'static, Vec<Result<UsageRow, StoreError>>>,
    columns: Vec<&'static str>,
    format: UsageFormat,
    totals: UsageFigures,
    written: u64,
    done: bool,
}

impl Writer {
    fn write(&mut self, rows: Vec<Result<UsageRow, StoreError>>) -> Result<Bytes, StoreError> {
        let mut out = Vec::new();
        for row in rows {
            let row = row?;
            self.totals.add(&row.figures);
            match self.format {
                UsageFormat::Json => {
                    if self.written > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(json_row(&self.columns, &row).as_bytes());
                }
                UsageFormat::Csv => out.extend(csv_record(
                    row.group
                        .iter()
                        .map(|v| v.clone().unwrap_or_default())
                        .chain(row.figures.values().iter().map(i64::to_string)),
                )),
            }
            self.written += 1;
        }
        Ok(Bytes::from(out))
    }

    /// What closes the body: the JSON's totals (CSV has no trailer: its totals are the sums
    /// of its columns).
    fn tail(&self) -> Bytes {
        match self.format {
            UsageFormat::Json => {
                Bytes::from(format!("],\"totals\":{}}}", figures_json(&self.totals)))
            }
            UsageFormat::Csv => Bytes::new(),
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn json_head(query: &UsageQuery) -> Vec<u8> {
    let group_by: Vec<String> = query
        .group_by
        .iter()
        .map(|d| json_string(d.as_str()))
        .collect();
    let filters = [
        ("account", &query.account),
        ("key", &query.key),
        ("model", &query.model),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "\"{name}\":{}",
            value.as_deref().map_or("null".to_string(), json_string)
        )
    })
    .collect::<Vec<_>>()
    .join(",");
    format!(
        "{{\"object\":\"usage_report\",\"from\":{},\"to\":{},\"from_ms\":{},\"to_ms\":{},\
         \"group_by\":[{}],\"filters\":{{{filters}}},\"data\":[",
        json_string(&rfc3339(query.from_ms)),
        json_string(&rfc3339(query.to_ms)),
        query.from_ms,
        query.to_ms,
        group_by.join(","),
    )
    .into_bytes()
}

fn figure_fields(figures: &UsageFigures) -> impl Iterator<Item = String> {
    UsageFigures::COLUMNS
        .iter()
        .zip(figures.values())
        .map(|((name, _), value)| format!("\"{name}\":{value}"))
}

fn figures_json(figures: &UsageFigures) -> String {
    format!(
        "{{{}}}",
        figure_fields(figures).collect::<Vec<_>>().join(",")
    )
}

fn json_row(columns: &[&str], row: &UsageRow) -> String {
    let mut fields: Vec<String> = columns
        .iter()
        .zip(&row.group)
        .map(|(name, value)| {
            format!(
                "\"{name}\":{}",
                value.as_deref().map_or("null".to_string(), json_string)
            )
        })
        .collect();
    fields.extend(figure_fields(&row.figures));
    format!("{{{}}}", fields.join(","))
}

/// One CSV record, quoted where it needs to be, ending in a newline.
fn csv_record(fields: impl Iterator<Item = String>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let fields: Vec<String> = fields.collect();
    // Writing into memory cannot fail; an empty record is the worst that can come of it.
    let _ = writer.write_record(&fields);
    writer.into_inner().unwrap_or_default()
}

/// A parameter error, in the member's dialect: a 400 naming the parameter.
pub(crate) fn invalid(e: UsageParamError) -> GatewayError {
    GatewayError::Validation(ValidationError::invalid(FieldPath::new(e.param), &e.reason))
}

impl GenerationService {
    /// The caller's own account's usage: `params` as the member route takes them (no account
    /// filter; the key filter is one of the account's keys, by id or name). Also returns the
    /// format the parameters asked for, if any.
    pub async fn usage_report(
        &self,
        principal: &Principal,
        params: &UsageParams,
    ) -> Result<(UsageReport, Option<UsageFormat>), GatewayError> {
        let (mut query, format) = params
            .parse(self.config.clock.now_ms(), false)
            .map_err(invalid)?;
        query.account = Some(principal.account_id.to_string());
        if let Some(wanted) = query.key.take() {
            let keys = self
                .store
                .list_api_keys(Some(&principal.account_id))
                .await
                .map_err(store_error)?;
            let key = keys
                .into_iter()
                .find(|k| k.id.as_str() == wanted || k.name == wanted)
                .ok_or_else(|| {
                    invalid(UsageParamError {
                        param: "key",
                        reason: format!("`{wanted}` is not a key of your account"),
                    })
                })?;
            query.key = Some(key.id.to_string());
        }
        let rows = self.store.usage_report(&query).await.map_err(store_error)?;
        Ok((UsageReport { query, rows }, format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::usage::Dimension;

    fn query() -> UsageQuery {
        UsageQuery {
            from_ms: 0,
            to_ms: 86_400_000,
            group_by: vec![Dimension::Account, Dimension::UpstreamAccount],
            account: None,
            key: None,
            model: Some("seedance \"2\"".into()),
        }
    }

    fn row(name: &str, tasks: i64) -> UsageRow {
        UsageRow {
            group: vec![Some("acct_1".into()), Some(name.into()), None],
            figures: UsageFigures {
                tasks,
                credits_held: 10 * tasks,
                credits_charged: 10 * tasks,
                ..Default::default()
            },
        }
    }

    async fn body(
        rows: Vec<Result<UsageRow, StoreError>>,
        format: UsageFormat,
    ) -> Vec<Result<Bytes, String>> {
        let report = UsageReport {
            query: query(),
            rows: futures::stream::iter(rows).boxed(),
        };
        report
            .into_body(format)
            .map(|chunk| chunk.map_err(|e| e.to_string()))
            .collect()
            .await
    }

    fn joined(chunks: Vec<Result<Bytes, String>>) -> String {
        let bytes: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.expect("chunk").to_vec())
            .collect();
        String::from_utf8(bytes).expect("utf-8")
    }

    // Names with commas, quotes and line breaks survive both formats.
    const AWKWARD: &str = "team \"a\", b\nc";

    #[tokio::test]
    async fn json_escapes_and_totals_the_rows() {
        let rows = (0..150).map(|i| Ok(row(AWKWARD, i))).collect();
        let json: serde_json::Value =
            serde_json::from_str(&joined(body(rows, UsageFormat::Json).await)).expect("JSON");
        assert_eq!(
            json["group_by"],
            serde_json::json!(["account", "upstream_account"])
        );
        assert_eq!(json["filters"]["model"], "seedance \"2\"");
        let data = json["data"].as_array().expect("data");
        assert_eq!(data.len(), 150);
        assert_eq!(data[3]["account_name"], AWKWARD);
        assert!(data[3]["upstream_account"].is_null());
        assert_eq!(data[3]["tasks"], 3);
        assert_eq!(json["totals"]["tasks"], (0..150).sum::<i64>());
        assert_eq!(
            json["totals"]["credits_charged"],
            10 * (0..150).sum::<i64>()
        );
    }

    #[tokio::test]
    async fn csv_quotes_what_it_must_and_reads_back() {
        let rows = vec![Ok(row(AWKWARD, 2)), Ok(row("plain", 5))];
        let text = joined(body(rows, UsageFormat::Csv).await);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().expect("headers").clone();
        let names: Vec<&str> = headers.iter().collect();
        assert_eq!(names[..3], ["account", "account_name", "upstream_account"]);
        assert_eq!(headers.len(), 3 + UsageFigures::COLUMNS.len());
        let records: Vec<csv::StringRecord> =
            reader.records().collect::<Result<_, _>>().expect("rows");
        assert_eq!(records.len(), 2);
        assert_eq!(&records[0][1], AWKWARD);
        assert_eq!(&records[0][2], "");
        assert_eq!(&records[1][3], "5");
    }

    #[tokio::test]
    async fn an_error_mid_stream_cuts_the_body_short() {
        let rows = vec![
            Ok(row("first", 1)),
            Err(StoreError::Corrupt("the disk went away".into())),
            Ok(row("never", 2)),
        ];
        let chunks = body(rows, UsageFormat::Json).await;
        let last = chunks.last().expect("chunks");
        assert!(
            last.as_ref()
                .is_err_and(|e| e.contains("the disk went away")),
            "{chunks:?}"
        );
        // Nothing after the error: no totals, so the JSON never looks complete.
        let text: String = chunks
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert!(
            !text.contains("totals") && !text.contains("never"),
            "{text}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    }
}
