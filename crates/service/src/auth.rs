//! API keys: generated here, shown once, stored only as their SHA-256.

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

/// The visible start of every key, so leaked keys are easy to scan for.
pub const KEY_PREFIX: &str = "sg_live_";

/// A new key and what is stored of it.
pub struct NewKey {
    pub plaintext: String,
    pub hash: String,
    /// Enough of the key to recognise it in listings, not enough to use it.
    pub display_prefix: String,
}

pub fn generate_key() -> NewKey {
    generate_secret(KEY_PREFIX)
}

/// A random secret starting with `prefix` (API keys, admin tokens).
pub fn generate_secret(prefix: &str) -> NewKey {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    NewKey {
        hash: hash_key(&format!("{prefix}{random}")),
        display_prefix: format!("{prefix}{}", random.chars().take(4).collect::<String>()),
        plaintext: format!("{prefix}{random}"),
    }
}

pub fn hash_key(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with(KEY_PREFIX));
        assert_eq!(a.hash, hash_key(&a.plaintext));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.plaintext));
        assert!(a.plaintext.starts_with(&a.display_prefix));
    }
}
