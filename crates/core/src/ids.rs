//! Opaque identifiers. Task ids look like reAPI's (`task_01k9s4…`): a prefix and a lowercase ULID,
//! so they sort by creation time and reveal nothing about other tenants.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id: the prefix and a lowercase ULID.
            pub fn generate() -> Self {
                Self(format!(
                    "{}{}",
                    $prefix,
                    ulid::Ulid::new().to_string().to_ascii_lowercase()
                ))
            }

            /// Wraps an id read back from storage or a URL; lookups decide whether it exists.
            pub fn from_string(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(TaskId, "task_");
prefixed_id!(RequestId, "req_");
prefixed_id!(ApiKeyId, "key_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_are_unique() {
        let a = TaskId::generate();
        let b = TaskId::generate();
        assert!(a.as_str().starts_with("task_"));
        assert_eq!(a.as_str().len(), "task_".len() + 26);
        assert_ne!(a, b);
        assert!(RequestId::generate().as_str().starts_with("req_"));
    }
}
