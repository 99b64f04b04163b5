//! Lenient readers for wire fields that servers and clients send in more than one form.

use serde::de::Error;
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
