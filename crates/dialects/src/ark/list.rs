//! The list call's query string: Ark's `filter.*` and paging parameters as a [`TaskQuery`].

use seedgate_core::error::ValidationError;
use seedgate_core::records::TaskQuery;
use seedgate_core::task::TaskStatus;
use seedgate_core::TaskId;

/// List paging bounds.
const PAGE_MAX: u64 = 500;

const PAGE_SIZE_DEFAULT: u64 = 10;

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn form_decode(raw: &str, name: &str) -> Result<String, ValidationError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ValidationError::invalid(name, "bad percent-encoding"))?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ValidationError::invalid(name, "must be UTF-8"))
}

fn page_param(value: &str, name: &str) -> Result<u64, ValidationError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=PAGE_MAX).contains(n))
        .ok_or_else(|| {
            ValidationError::invalid(name, &format!("must be an integer from 1 to {PAGE_MAX}"))
        })
}

/// The list query string as a [`TaskQuery`]; `None` when the filters can match nothing
/// (`filter.service_tier=flex`). `filter.task_ids` may repeat, which axum's `Query` does not
/// collect, so the query is parsed here.
pub fn parse_list_query(raw: &str) -> Result<Option<TaskQuery>, ValidationError> {
    let mut page_num = 1u64;
    let mut page_size = PAGE_SIZE_DEFAULT;
    let mut query = TaskQuery::default();
    let mut matches_nothing = false;
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = form_decode(key, "query")?;
        let value = form_decode(value, &key)?;
        match key.as_str() {
            "page_num" => page_num = page_param(&value, &key)?,
            "page_size" => page_size = page_param(&value, &key)?,
            "filter.status" => {
                let status = match value.trim() {
                    "expired" => {
                        return Err(ValidationError::invalid(
                            &key,
                            "expired cannot be filtered; use queued, running, cancelled, \
                             succeeded or failed",
                        ))
                    }
                    s => TaskStatus::parse(s).ok_or_else(|| {
                        ValidationError::invalid(
                            &key,
                            "must be queued, running, cancelled, succeeded or failed",
                        )
                    })?,
                };
                query.statuses = vec![status];
            }
            "filter.task_ids" => {
                let id = value.trim();
                if !id.is_empty() {
                    query.ids.push(TaskId::from_string(id));
                }
            }
            "filter.model" => {
                let model = value.trim();
                query.model = (!model.is_empty()).then(|| model.to_string());
            }
            "filter.service_tier" => match value.trim() {
                "default" => {}
                "flex" => matches_nothing = true,
                _ => return Err(ValidationError::invalid(&key, "must be default or flex")),
            },
            _ => return Err(ValidationError::UnknownField { field: key.into() }),
        }
    }
    query.offset = (page_num - 1) * page_size;
    // In range: at most 500.
    query.limit = page_size as u32;
    Ok((!matches_nothing).then_some(query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_parsing() {
        let q = parse_list_query("page_num=2&page_size=3&filter.task_ids=a&filter.task_ids=b&filter.status=queued&filter.model=doubao-seedance-2-0-mini-260615")
            .expect("ok")
            .expect("query");
        assert_eq!((q.offset, q.limit), (3, 3));
        assert_eq!(q.ids.len(), 2);
        assert_eq!(q.statuses, vec![TaskStatus::Queued]);
        assert!(q.model.is_some());
        assert!(parse_list_query("filter.service_tier=flex")
            .expect("ok")
            .is_none());
        for bad in [
            "page_num=0",
            "page_size=501",
            "filter.status=expired",
            "page_num=x",
            "nope=1",
            "filter.status=%ZZ",
        ] {
            assert!(parse_list_query(bad).is_err(), "{bad}");
        }
        assert_eq!(
            form_decode("a%2Bb+c", "k").expect("decode"),
            "a+b c".to_string()
        );
    }
}
