//! The serde types of each API seedgate speaks, used in both directions: dialects parse and
//! render them, upstream providers build and read them. One module per API; no I/O, no
//! validation beyond what the wire itself says (a dialect's own checks stay in the dialect).
//!
//! Writers produce exactly what the API documents; readers are lenient where servers differ
//! from the documentation (unknown fields in responses are ignored, a number sent as a string
//! is read), so one type serves a strict server and a tolerant client alike.

pub mod apixo;
pub mod ark;
pub mod crun;
pub mod de;
pub mod hiapi;
pub mod kie;
pub mod openai;
pub mod reapi;

#[cfg(test)]
pub(crate) mod test_support {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// Serializes, reads back, and checks the two are equal; returns the JSON.
    pub fn round_trip<T>(value: &T) -> Value
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        let json = serde_json::to_value(value).expect("serializes");
        let back: T = serde_json::from_value(json.clone()).expect("reads back");
        assert_eq!(&back, value, "{json}");
        json
    }
}
