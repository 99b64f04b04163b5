//! Opaque identifiers. Task ids look like reAPI's (`task_01k9s4…`): a prefix and a lowercase ULID,
//! so they sort by creation time and reveal nothing about other tenants.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A ULID greater than every one this process made before, even within one millisecond, so
/// ids made one after another sort in the order they were made (listings rely on it).
fn monotonic_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow needs 2^80 ids in one millisecond; a fresh random one is then as good.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

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
                    monotonic_ulid().to_string().to_ascii_lowercase()
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
prefixed_id!(AccountId, "acct_");
prefixed_id!(AdminTokenId, "adm_");

impl AccountId {
    /// The account a key created on its own gets (and each key had when accounts were
    /// introduced): the key's ULID under the account prefix, so the two are easy to match.
    pub fn for_key(key: &ApiKeyId) -> Self {
        let ulid = key
            .as_str()
            .strip_prefix(ApiKeyId::PREFIX)
            .unwrap_or(key.as_str());
        Self(format!("{}{ulid}", Self::PREFIX))
    }
}

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

#[cfg(test)]
mod monotonic_tests {
    use super::*;

    #[test]
    fn ids_made_one_after_another_sort_in_that_order() {
        let ids: Vec<TaskId> = (0..10_000).map(|_| TaskId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
