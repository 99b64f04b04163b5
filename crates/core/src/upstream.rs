//! The unguessable part of the URL an upstream calls back for one task: an HMAC of the task id
//! under a secret every replica shares. Nothing is stored per task, any replica can check it,
//! and knowing one task's URL tells nothing about another's.

use crate::webhook::{hmac_sha256, HmacSha256};
use hmac::Mac;

use crate::TaskId;

fn mac(secret: &[u8], task: &TaskId) -> HmacSha256 {
    let mut mac = hmac_sha256(secret);
    mac.update(b"seedgate upstream callback\0");
    mac.update(task.as_str().as_bytes());
    mac
}

/// The token in `/upstream/callbacks/{task}/{token}` (hex, 128 bits).
pub fn callback_token(secret: &[u8], task: &TaskId) -> String {
    let tag = mac(secret, task).finalize().into_bytes();
    hex::encode(&tag[..16])
}

/// Whether `token` is the task's callback token (compared in constant time).
pub fn verify_callback_token(secret: &[u8], task: &TaskId, token: &str) -> bool {
    let Ok(given) = hex::decode(token) else {
        return false;
    };
    given.len() == 16 && mac(secret, task).verify_truncated_left(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_task_and_secret() {
        let a = TaskId::from_string("task_a");
        let b = TaskId::from_string("task_b");
        let token = callback_token(b"secret", &a);
        assert_eq!(token.len(), 32);
        assert!(verify_callback_token(b"secret", &a, &token));
        assert!(
            !verify_callback_token(b"secret", &b, &token),
            "another task"
        );
        assert!(
            !verify_callback_token(b"other", &a, &token),
            "another secret"
        );
        assert!(
            !verify_callback_token(b"secret", &a, &token[..30]),
            "truncated"
        );
        assert!(!verify_callback_token(b"secret", &a, "zz"), "not hex");
        let mut flipped = token.into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert!(
            !verify_callback_token(b"secret", &a, &flipped),
            "one digit changed"
        );
    }
}
