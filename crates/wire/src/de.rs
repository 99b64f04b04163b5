//! Lenient readers for wire fields that servers and clients send in more than one form.

use serde::de::{DeserializeOwned, Error};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An optional integer; `5.0` is accepted as 5, `5.5` and strings are not.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => integral(&n)
            .map(Some)
            .ok_or_else(|| D::Error::custom("must be an integer")),
        Some(_) => Err(D::Error::custom("must be an integer")),
    }
}

/// An optional integer that may also be sent as a numeric string (`"10"`), as APIXO allows.
pub fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => integral(&n)
            .map(Some)
            .ok_or_else(|| D::Error::custom("must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| D::Error::custom("must be an integer or a numeric string")),
        Some(_) => Err(D::Error::custom("must be an integer")),
    }
}

/// An integer, or a float with no fraction (`5.0` is 5; `5.5` is not an integer).
pub fn integral(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// A non-empty string, or a number as its text (`12` → `"12"`); anything else is `None`.
pub fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An answer's text field, read as [`text_of`] reads it.
pub fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text_of(&Value::deserialize(d)?))
}

/// As [`optional_text`], `None` being empty (a `String` or a `Cow<str>` field).
pub fn text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String> + Default,
{
    Ok(optional_text(d)?.map(T::from).unwrap_or_default())
}

/// A string only (statuses and messages are words, never numbers); anything else is empty.
pub fn string<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String> + Default,
{
    Ok(match Value::deserialize(d)? {
        Value::String(s) => T::from(s),
        _ => T::default(),
    })
}

/// `T` if the value reads as one; its default if missing, null or of another shape.
pub fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(serde_json::from_value(Value::deserialize(d)?).unwrap_or_default())
}
