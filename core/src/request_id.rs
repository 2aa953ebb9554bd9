//! Request id: the value of `x-request-id` that ties a request's response, logs and problem body together.
//!
//! A caller's id is kept when it is safe to echo into headers, logs and JSON unchanged; anything else is
//! replaced by a fresh UUIDv7, whose time-ordered prefix keeps ids sortable by arrival in logs.

use uuid::Uuid;

/// Name of the header carrying the request id, in and out.
pub const HEADER: &str = "x-request-id";

/// Longest incoming id kept; long enough for any UUID, ULID or vendor id, short enough to bound log lines.
const MAX_LEN: usize = 128;

/// Returns the incoming id when it is acceptable (1..=128 chars, each of `[A-Za-z0-9._-]`), else a new
/// UUIDv7 (hyphenated, lower-case).
pub fn accept_or_generate(incoming: Option<&[u8]>) -> String {
    match incoming {
        // Acceptable ids are pure ASCII, so the lossy conversion never alters them.
        Some(candidate) if is_acceptable(candidate) => String::from_utf8_lossy(candidate).into_owned(),
        _ => Uuid::now_v7().hyphenated().to_string(),
    }
}

/// Whether a candidate id is acceptable: 1..=128 chars, each of `[A-Za-z0-9._-]`.
///
/// The set is narrow on purpose: it excludes everything that would need escaping in a header, a log line
/// or a JSON string, so an id supplied by a client can never inject into any of them.
pub fn is_acceptable(candidate: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&candidate.len())
        && candidate.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_generated(id: &str) {
        let uuid = Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 7, "{id}");
        assert_eq!(id, uuid.hyphenated().to_string(), "hyphenated lower-case form");
        assert_eq!(id.len(), 36);
    }

    #[test]
    fn header_name_is_lower_case() {
        assert_eq!(HEADER, "x-request-id");
        assert_eq!(HEADER, HEADER.to_ascii_lowercase());
    }

    #[test]
    fn empty_is_rejected() {
        assert!(!is_acceptable(b""));
        assert_generated(&accept_or_generate(Some(b"")));
    }

    #[test]
    fn one_char_is_accepted() {
        assert!(is_acceptable(b"a"));
        assert_eq!(accept_or_generate(Some(b"7")), "7");
    }

    #[test]
    fn max_length_is_accepted() {
        let id = "a".repeat(128);
        assert!(is_acceptable(id.as_bytes()));
        assert_eq!(accept_or_generate(Some(id.as_bytes())), id);
    }

    #[test]
    fn over_max_length_is_rejected() {
        let id = "a".repeat(129);
        assert!(!is_acceptable(id.as_bytes()));
        assert_generated(&accept_or_generate(Some(id.as_bytes())));
    }

    #[test]
    fn every_allowed_class_is_accepted() {
        let all = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
        assert!(is_acceptable(all.as_bytes()));
        assert_eq!(accept_or_generate(Some(all.as_bytes())), all);
        for id in ["lower", "UPPER", "0123", ".", "_", "-", "req-1.2_3"] {
            assert_eq!(accept_or_generate(Some(id.as_bytes())), id);
        }
    }

    #[test]
    fn existing_uuid_is_kept() {
        let id = "0190b4b6-4c1e-7d2a-9f3b-5a6c7d8e9f00";
        assert_eq!(accept_or_generate(Some(id.as_bytes())), id);
    }

    #[test]
    fn rejected_chars_are_replaced() {
        let bad: [&[u8]; 12] = [
            b"a b",
            b" a",
            b"a/b",
            b"a\tb",
            b"a\nb",
            b"a\r\nx-evil: 1",
            b"a\0b",
            b"a\x7fb",
            "caf\u{e9}".as_bytes(),
            b"a\xffb",
            b"a\"b",
            b"a,b",
        ];
        for candidate in bad {
            assert!(!is_acceptable(candidate), "{candidate:?}");
            assert_generated(&accept_or_generate(Some(candidate)));
        }
    }

    #[test]
    fn every_other_ascii_byte_is_rejected() {
        for b in 0u8..=255 {
            let allowed = b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-';
            assert_eq!(is_acceptable(&[b]), allowed, "byte {b:#04x}");
        }
    }

    #[test]
    fn absent_generates_v7() {
        assert_generated(&accept_or_generate(None));
    }

    #[test]
    fn two_generated_ids_differ() {
        assert_ne!(accept_or_generate(None), accept_or_generate(None));
    }
}
