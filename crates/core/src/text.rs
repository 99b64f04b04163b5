//! Small string helpers for text clients send, which may hold any Unicode: nothing here slices
//! at a byte offset that could fall inside a character.

/// `s` without `prefix`, compared ASCII-case-insensitively (`DATA:` matches `data:`); `None`
/// when `s` does not start with it.
pub fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    s.get(prefix.len()..)
}

/// Whether `s` starts with `prefix`, ASCII-case-insensitively.
pub fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    strip_prefix_ignore_ascii_case(s, prefix).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_a_prefix_in_any_ascii_case() {
        assert_eq!(
            strip_prefix_ignore_ascii_case("DATA:abc", "data:"),
            Some("abc")
        );
        assert_eq!(strip_prefix_ignore_ascii_case("data:", "data:"), Some(""));
        assert_eq!(strip_prefix_ignore_ascii_case("http://x", "data:"), None);
        assert_eq!(strip_prefix_ignore_ascii_case("dat", "data:"), None);
    }

    #[test]
    fn a_multibyte_character_across_the_prefix_end_is_no_match_and_no_panic() {
        // `é` takes bytes 4 and 5: a byte slice at 5 would fall inside it.
        assert_eq!(strip_prefix_ignore_ascii_case("abcdé.png", "data:"), None);
        assert_eq!(
            strip_prefix_ignore_ascii_case("abcdefgé.png", "asset://"),
            None
        );
        assert!(!starts_with_ignore_ascii_case("ééééé", "asset://"));
    }
}
