//! W3C Trace Context (<https://w3c.github.io/trace-context/>, the Level 2 editor's draft): the
//! `traceparent` and `tracestate` headers, and the headers a handler sends on an outgoing call.
//!
//! The server takes part in the caller's trace when the incoming `traceparent` is valid, starting its own
//! span as a child of the caller's; otherwise it restarts the trace, as the spec requires, and drops
//! `tracestate`, which only has meaning relative to the `traceparent` it came with.

use std::fmt;
use std::num::{NonZeroU128, NonZeroU64};

use serde::{Serialize, Serializer};

/// Name of the header carrying the trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";
/// Name of the header carrying vendor-specific trace data.
pub const TRACESTATE: &str = "tracestate";

/// Length of a version `00` traceparent; higher versions are at least this long.
const TRACEPARENT_LEN: usize = 55;
/// The `sampled` bit of trace-flags.
const SAMPLED: u8 = 0x01;
/// Level 2's `random-trace-id` bit: the trace id's right-most 7 bytes are random.
const RANDOM_TRACE_ID: u8 = 0x02;
/// The trace-flags bits this implementation knows and propagates; the others are zeroed.
const KNOWN_FLAGS: u8 = SAMPLED | RANDOM_TRACE_ID;
/// The spec's grammar allows at most 32 list-members in a tracestate.
const MAX_TRACESTATE_MEMBERS: usize = 32;
/// The combined tracestate length vendors should propagate at least; beyond it we truncate.
const MAX_TRACESTATE_LEN: usize = 512;
/// Members longer than this are the first to go when tracestate must be truncated.
const LARGE_MEMBER_LEN: usize = 128;

/// A W3C trace id: 16 bytes, never all zero. It is text only at the edges: `Display` (and
/// serde) give the 32 lower-case hex digits of `traceparent`, [`TraceId::hex`] the same on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(NonZeroU128);

/// A W3C span id: 8 bytes, never all zero; 16 lower-case hex digits as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(NonZeroU64);

impl TraceId {
    /// A random trace id.
    pub fn random() -> TraceId {
        // All zeros is reserved as invalid, so it is drawn again.
        loop {
            if let Some(id) = NonZeroU128::new(fastrand::u128(..)) {
                return TraceId(id);
            }
        }
    }

    /// Exactly 32 lower-case hex digits, not all zero; None otherwise.
    pub fn from_hex(text: &[u8]) -> Option<TraceId> {
        (text.len() == 32).then(|| parse_hex(text)).flatten().and_then(NonZeroU128::new).map(TraceId)
    }

    /// The id's 16 bytes, most significant first (OpenTelemetry's order).
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.get().to_be_bytes()
    }

    /// The 32 lower-case hex digits, on the stack.
    pub fn hex(self) -> HexId {
        HexId::new(self.0.get(), 32)
    }
}

impl SpanId {
    /// A random span id.
    pub fn random() -> SpanId {
        loop {
            if let Some(id) = NonZeroU64::new(fastrand::u64(..)) {
                return SpanId(id);
            }
        }
    }

    /// Exactly 16 lower-case hex digits, not all zero; None otherwise.
    pub fn from_hex(text: &[u8]) -> Option<SpanId> {
        let value = (text.len() == 16).then(|| parse_hex(text)).flatten()?;
        u64::try_from(value).ok().and_then(NonZeroU64::new).map(SpanId)
    }

    /// The id's 8 bytes, most significant first (OpenTelemetry's order).
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.get().to_be_bytes()
    }

    /// The 16 lower-case hex digits, on the stack.
    pub fn hex(self) -> HexId {
        HexId::new(u128::from(self.0.get()), 16)
    }
}

/// A trace or span id as lower-case hex, formatted without allocating.
#[derive(Clone, Copy)]
pub struct HexId {
    digits: [u8; 32],
    len: usize,
}

impl HexId {
    fn new(value: u128, len: usize) -> HexId {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 32];
        for (index, digit) in digits[..len].iter_mut().enumerate() {
            let shift = 4 * (len - 1 - index);
            *digit = DIGITS[((value >> shift) & 0xf) as usize];
        }
        HexId { digits, len }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or_default()
    }
}

macro_rules! id_text {
    ($id:ty) => {
        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.hex().as_str())
            }
        }

        impl Serialize for $id {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.hex().as_str())
            }
        }
    };
}
id_text!(TraceId);
id_text!(SpanId);

/// The trace a request belongs to and the span the server starts for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace this request belongs to.
    pub trace_id: TraceId,
    /// The span id of this server's span, newly generated per request.
    pub span_id: SpanId,
    /// The caller's span id when a valid traceparent came in.
    pub parent_span_id: Option<SpanId>,
    /// The trace-flags byte (bit 0 = sampled, bit 1 = random trace id). New traces: both (0x03).
    pub flags: u8,
    /// The tracestate to propagate, already validated and trimmed; None when absent/invalid or when
    /// traceparent was invalid.
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// Starts the server span from the incoming headers (all values of each header, in order; multiple
    /// tracestate header lines are combined as one list per spec). An invalid traceparent starts a new
    /// trace and drops tracestate.
    pub fn from_headers(traceparent: &[&[u8]], tracestate: &[&[u8]]) -> TraceContext {
        // Several traceparent fields cannot be combined into one valid value, so they count as invalid
        // even when they are identical.
        let parent = match traceparent {
            [single] => parse_traceparent(single),
            _ => None,
        };
        let Some((_version, trace_id, parent_id, flags)) = parent else {
            // The spec says not to parse tracestate when traceparent failed to parse.
            return TraceContext::new_root();
        };
        let mut span_id = SpanId::random();
        // A span id equal to its parent's would make the span look like its own parent in a trace view.
        while span_id == parent_id {
            span_id = SpanId::random();
        }
        TraceContext {
            trace_id,
            span_id,
            parent_span_id: Some(parent_id),
            // The caller's sampling decision and random-trace-id claim carry on; flag bits the
            // spec does not define are zeroed, as it requires of anyone propagating a traceparent.
            flags: flags & KNOWN_FLAGS,
            tracestate: parse_tracestate(tracestate),
        }
    }

    /// Starts a new trace (random ids, sampled, flagged as a random trace id).
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_span_id: None,
            flags: SAMPLED | RANDOM_TRACE_ID,
            tracestate: None,
        }
    }

    /// Whether the sampled bit of the trace-flags is set.
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED == SAMPLED
    }

    /// The headers of an outgoing call made while serving this request: a `traceparent` whose
    /// parent is this server's span and whose span id is new, so each call is its own child
    /// span, and this request's `tracestate`.
    pub fn outgoing(&self) -> OutgoingContext {
        let mut span_id = SpanId::random();
        while span_id == self.span_id {
            span_id = SpanId::random();
        }
        OutgoingContext {
            span_id,
            traceparent: format!("00-{}-{}-{:02x}", self.trace_id, span_id, self.flags),
            tracestate: self.tracestate.clone(),
        }
    }

    /// The traceparent to send on the response / to downstream calls: `00-{trace_id}-{span_id}-{flags:02x}`.
    ///
    /// Always version `00`: the spec has a vendor downgrade a higher incoming version to the highest it
    /// knows.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }
}

/// The trace headers of one outgoing call (see [`TraceContext::outgoing`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingContext {
    /// The call's own span id, a child of the server's span.
    pub span_id: SpanId,
    /// The `traceparent` to send.
    pub traceparent: String,
    /// The `tracestate` to send, when the request had one.
    pub tracestate: Option<String>,
}

/// Parses a traceparent header value; None when invalid. Returns (version, trace_id, parent_id, flags).
///
/// Surrounding spaces and tabs are ignored, as HTTP ignores them around any field value. Version `00`
/// must be exactly `00-<32 hex>-<16 hex>-<2 hex>` in lower-case hex with non-zero ids. A higher version
/// (`01`..`fe`) is parsed the same way over its first 55 chars, and anything after them must start with
/// `-`, so that future versions can add fields without breaking this parser.
pub fn parse_traceparent(value: &[u8]) -> Option<(u8, TraceId, SpanId, u8)> {
    let value = trim_ows(value);
    if value.len() < TRACEPARENT_LEN || value[2] != b'-' {
        return None;
    }
    let version = hex_byte(&value[0..2])?;
    let fits_version = match version {
        0xff => false,
        // Version 00 has no room for extra fields: anything longer is malformed, not a future extension.
        0x00 => value.len() == TRACEPARENT_LEN,
        _ => value.len() == TRACEPARENT_LEN || value[TRACEPARENT_LEN] == b'-',
    };
    if !fits_version || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let trace_id = TraceId::from_hex(&value[3..35])?;
    let parent_id = SpanId::from_hex(&value[36..52])?;
    let flags = hex_byte(&value[53..55])?;
    Some((version, trace_id, parent_id, flags))
}

/// Validates and normalizes tracestate values; None when the whole header must be discarded.
///
/// The values are the header's field lines in order, combined as one comma-separated list. Empty and
/// whitespace-only members are dropped, spaces and tabs around members are removed, and the members are
/// re-joined with `,` alone. Any invalid member or more than 32 members discards the whole header; a
/// result over 512 chars is truncated by whole members as the spec's limits section describes. Also
/// None when no member is left, since the spec asks not to send an empty tracestate.
///
/// A key that appears twice is kept twice: the spec makes unique keys the sender's duty and lets a
/// receiver drop duplicates, but asks vendors not to delete other vendors' entries, and none of these
/// keys is ours. Whoever reads the list takes the first entry of a key ([`tracestate_get`]), the
/// newest by the spec's rule that an updated entry moves to the front.
pub fn parse_tracestate(values: &[&[u8]]) -> Option<String> {
    let mut members: Vec<&[u8]> = Vec::new();
    // Splitting each line on its own equals splitting the lines joined with commas, which is how
    // RFC 9110 combines field lines.
    for member in values.iter().flat_map(|value| value.split(|&b| b == b',')).map(trim_ows) {
        if member.is_empty() {
            continue;
        }
        member_key(member)?;
        members.push(member);
        // More than 32 members is outside the spec's grammar, so the header is invalid as a whole. The
        // spec lets a vendor truncate instead, but that would keep the left-most members on the guess that
        // only the tail is wrong, and forward state no sender produced; dropping it is the conservative
        // reading, the same as for every other malformed member.
        if members.len() > MAX_TRACESTATE_MEMBERS {
            return None;
        }
    }
    truncate_tracestate(&mut members);
    if members.is_empty() {
        return None;
    }
    String::from_utf8(members.join(&b","[..])).ok()
}

/// The value of `key` in a tracestate [`parse_tracestate`] produced: its first entry.
pub fn tracestate_get<'t>(tracestate: &'t str, key: &str) -> Option<&'t str> {
    tracestate.split(',').find_map(|member| member.strip_prefix(key)?.strip_prefix('='))
}

/// Drops whole members until the joined list fits in 512 chars: first members over 128 chars, from the
/// end, then members from the end, the order the spec's tracestate limits section gives.
fn truncate_tracestate(members: &mut Vec<&[u8]>) {
    let mut index = members.len();
    while joined_len(members) > MAX_TRACESTATE_LEN && index > 0 {
        index -= 1;
        if members[index].len() > LARGE_MEMBER_LEN {
            members.remove(index);
        }
    }
    while joined_len(members) > MAX_TRACESTATE_LEN {
        members.pop();
    }
}

/// Length of the members joined with single commas.
fn joined_len(members: &[&[u8]]) -> usize {
    members.iter().map(|member| member.len()).sum::<usize>() + members.len().saturating_sub(1)
}

/// The key of a valid `key=value` list-member, or None when the member is invalid.
fn member_key(member: &[u8]) -> Option<&[u8]> {
    let eq = member.iter().position(|&b| b == b'=')?;
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    (is_valid_key(key) && is_valid_value(value)).then_some(key)
}

/// The current draft's key: `(lcalpha / DIGIT) 0*255(keychar)`, where a keychar is `[a-z0-9_\-*/@]`.
/// (Level 1 had a first letter only, and `@` once, between a tenant and a system of fixed lengths.)
fn is_valid_key(key: &[u8]) -> bool {
    key.len() <= 256
        && key.first().is_some_and(|&b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && key
            .iter()
            .skip(1)
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@'))
}

/// 1..=256 printable ASCII chars other than `,` and `=`, not ending in a space.
fn is_valid_value(value: &[u8]) -> bool {
    (1..=256).contains(&value.len())
        && value.iter().all(|&b| matches!(b, 0x20..=0x7e) && b != b',' && b != b'=')
        && value.last() != Some(&b' ')
}

/// The value without the spaces and tabs (HTTP's optional whitespace) around it.
fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ows(b)).map_or(start, |last| last + 1);
    &value[start..end]
}

/// Up to 32 lower-case hex digits as a number; None on any other character.
fn parse_hex(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |value, &digit| Some((value << 4) | u128::from(hex_digit(digit)?)))
}

/// Two lower-case hex digits as a byte.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [high, low] => Some((hex_digit(*high)? << 4) | hex_digit(*low)?),
        _ => None,
    }
}

/// A lower-case hex digit's value; upper-case is invalid in traceparent.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT_ID: &str = "00f067aa0ba902b7";
    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(value: &str) -> Option<(u8, String, String, u8)> {
        parse_traceparent(value.as_bytes())
            .map(|(version, trace, parent, flags)| (version, trace.to_string(), parent.to_string(), flags))
    }

    fn state(values: &[&str]) -> Option<String> {
        let values: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        parse_tracestate(&values)
    }

    fn is_lower_hex_id(id: impl ToString, len: usize) -> bool {
        let id = id.to_string();
        id.len() == len && id.bytes().all(|b| hex_digit(b).is_some()) && id.bytes().any(|b| b != b'0')
    }

    /// `n` distinct members `k0=v`, `k1=v`, ...
    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("k{i}=v")).collect()
    }

    // ---- traceparent ----

    #[test]
    fn parses_valid_version_00() {
        assert_eq!(parse(VALID), Some((0, TRACE_ID.to_owned(), PARENT_ID.to_owned(), 0x01)));
    }

    #[test]
    fn parses_flags_as_hex_byte() {
        let not_sampled = VALID.replace("-01", "-00");
        assert_eq!(parse(&not_sampled).map(|p| p.3), Some(0x00));
        let other = format!("{}-a9", &VALID[..52]);
        assert_eq!(parse(&other).map(|p| p.3), Some(0xa9));
    }

    #[test]
    fn trims_surrounding_spaces_and_tabs() {
        assert!(parse(&format!("  {VALID}\t")).is_some());
        assert!(parse(&format!("\t{VALID} ")).is_some());
    }

    #[test]
    fn version_00_needs_exact_length() {
        assert!(parse(&VALID[..54]).is_none());
        assert!(parse(&format!("{VALID}0")).is_none());
        // Extra fields are only for higher versions.
        assert!(parse(&format!("{VALID}-extra")).is_none());
        assert!(parse(&format!("{VALID}-")).is_none());
    }

    #[test]
    fn rejects_empty_and_short() {
        for value in ["", " ", "00", "00-", "00-4bf92f3577b34da6a3ce929d0e0e4736"] {
            assert!(parse(value).is_none(), "{value:?}");
        }
    }

    #[test]
    fn rejects_upper_case_hex() {
        let cases = [
            VALID.replace(TRACE_ID, &TRACE_ID.to_uppercase()),
            VALID.replace(PARENT_ID, &PARENT_ID.to_uppercase()),
            format!("{}-0A", &VALID[..52]),
            format!("0A{}", &VALID[2..]),
        ];
        for value in cases {
            assert!(parse(&value).is_none(), "{value}");
        }
    }

    #[test]
    fn rejects_version_ff() {
        assert!(parse(&format!("ff{}", &VALID[2..])).is_none());
        assert!(parse(&format!("ff{}-x", &VALID[2..])).is_none());
    }

    #[test]
    fn rejects_unparsable_version() {
        for version in ["0g", "-0", "zz", "  "] {
            assert!(parse(&format!("{version}{}", &VALID[2..])).is_none(), "{version}");
        }
        assert!(parse(&format!("000{}", &VALID[3..])).is_none(), "version not followed by '-'");
    }

    #[test]
    fn rejects_all_zero_trace_id() {
        assert!(parse(&VALID.replace(TRACE_ID, &"0".repeat(32))).is_none());
    }

    #[test]
    fn rejects_all_zero_parent_id() {
        assert!(parse(&VALID.replace(PARENT_ID, &"0".repeat(16))).is_none());
    }

    #[test]
    fn rejects_non_hex_chars() {
        let cases = [
            VALID.replace("4bf9", "4bg9"),
            VALID.replace("00f0", "00fz"),
            format!("{}-0x", &VALID[..52]),
            VALID.replace("4bf9", "4b 9"),
            format!("{}-\u{e9}", &VALID[..52]),
        ];
        for value in cases {
            assert!(parse(&value).is_none(), "{value}");
        }
    }

    #[test]
    fn rejects_wrong_delimiters() {
        for at in [2, 35, 52] {
            let mut bytes = VALID.as_bytes().to_vec();
            bytes[at] = b'_';
            assert!(parse_traceparent(&bytes).is_none(), "delimiter at {at}");
        }
    }

    #[test]
    fn rejects_non_utf8_bytes() {
        let mut bytes = VALID.as_bytes().to_vec();
        bytes[10] = 0xff;
        assert!(parse_traceparent(&bytes).is_none());
    }

    #[test]
    fn future_version_of_exact_length_parses() {
        let value = format!("cc{}", &VALID[2..]);
        assert_eq!(parse(&value), Some((0xcc, TRACE_ID.to_owned(), PARENT_ID.to_owned(), 0x01)));
    }

    #[test]
    fn future_version_longer_with_dash_ignores_the_rest() {
        let value = format!("01{}-what-the-future-holds", &VALID[2..]);
        assert_eq!(parse(&value), Some((0x01, TRACE_ID.to_owned(), PARENT_ID.to_owned(), 0x01)));
        assert!(parse(&format!("fe{}-", &VALID[2..])).is_some());
    }

    #[test]
    fn future_version_longer_without_dash_is_invalid() {
        assert!(parse(&format!("01{}0", &VALID[2..])).is_none());
        assert!(parse(&format!("01{},x", &VALID[2..])).is_none());
    }

    #[test]
    fn future_version_shorter_is_invalid() {
        assert!(parse(&format!("01{}", &VALID[2..54])).is_none());
    }

    #[test]
    fn future_version_keeps_field_rules() {
        let zero_trace = VALID.replace(TRACE_ID, &"0".repeat(32));
        assert!(parse(&format!("01{}-x", &zero_trace[2..])).is_none());
        let upper = VALID.replace(PARENT_ID, &PARENT_ID.to_uppercase());
        assert!(parse(&format!("01{}-x", &upper[2..])).is_none());
    }

    // ---- ids ----

    #[test]
    fn ids_round_trip_through_their_hex() {
        let trace = TraceId::from_hex(TRACE_ID.as_bytes()).expect("trace id");
        assert_eq!(trace.hex().as_str(), TRACE_ID);
        assert_eq!(trace.to_bytes()[0], 0x4b);
        let span = SpanId::from_hex(PARENT_ID.as_bytes()).expect("span id");
        assert_eq!(span.to_string(), PARENT_ID);
        assert_eq!(span.to_bytes(), [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
        assert_eq!(serde_json::to_value(span).ok(), Some(serde_json::json!(PARENT_ID)));
    }

    #[test]
    fn ids_refuse_zero_upper_case_and_wrong_lengths() {
        assert!(TraceId::from_hex("0".repeat(32).as_bytes()).is_none());
        assert!(TraceId::from_hex(TRACE_ID.to_uppercase().as_bytes()).is_none());
        assert!(TraceId::from_hex(&TRACE_ID.as_bytes()[..31]).is_none());
        assert!(SpanId::from_hex(b"+0f067aa0ba902b7").is_none());
        assert!(SpanId::from_hex(TRACE_ID.as_bytes()).is_none());
    }

    // ---- TraceContext ----

    #[test]
    fn valid_traceparent_continues_the_trace() {
        let tc = TraceContext::from_headers(&[VALID.as_bytes()], &[b"congo=t61rcWkgMzE"]);
        assert_eq!(tc.trace_id.to_string(), TRACE_ID);
        assert_eq!(tc.parent_span_id.map(|id| id.to_string()).as_deref(), Some(PARENT_ID));
        assert_eq!(tc.flags, 0x01);
        assert!(is_lower_hex_id(tc.span_id, 16));
        assert_eq!(tc.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
    }

    #[test]
    fn unsampled_caller_stays_unsampled() {
        let value = VALID.replace("-01", "-00");
        let tc = TraceContext::from_headers(&[value.as_bytes()], &[]);
        assert!(!tc.sampled());
        assert!(tc.traceparent().ends_with("-00"));
    }

    #[test]
    fn new_span_id_differs_from_parent() {
        for _ in 0..200 {
            let tc = TraceContext::from_headers(&[VALID.as_bytes()], &[]);
            assert_ne!(tc.span_id.to_string(), PARENT_ID);
        }
    }

    #[test]
    fn missing_traceparent_starts_a_root_and_ignores_tracestate() {
        let tc = TraceContext::from_headers(&[], &[b"congo=t61rcWkgMzE"]);
        assert_eq!(tc.parent_span_id, None);
        assert_eq!(tc.tracestate, None);
        assert_eq!(tc.flags, 0x03, "sampled, and a random trace id");
        assert!(is_lower_hex_id(tc.trace_id, 32));
    }

    #[test]
    fn invalid_traceparent_restarts_trace_and_drops_tracestate() {
        let bad = VALID.replace(PARENT_ID, &"0".repeat(16));
        let tc = TraceContext::from_headers(&[bad.as_bytes()], &[b"congo=t61rcWkgMzE"]);
        assert_ne!(tc.trace_id.to_string(), TRACE_ID);
        assert_eq!(tc.parent_span_id, None);
        assert_eq!(tc.tracestate, None);
        assert!(tc.sampled());
    }

    #[test]
    fn several_traceparent_values_are_invalid() {
        let tc = TraceContext::from_headers(&[VALID.as_bytes(), VALID.as_bytes()], &[b"congo=t61rcWkgMzE"]);
        assert_ne!(tc.trace_id.to_string(), TRACE_ID);
        assert_eq!(tc.parent_span_id, None);
        assert_eq!(tc.tracestate, None);
    }

    #[test]
    fn invalid_tracestate_keeps_the_trace() {
        let tc = TraceContext::from_headers(&[VALID.as_bytes()], &[b"Congo=t61rcWkgMzE"]);
        assert_eq!(tc.trace_id.to_string(), TRACE_ID);
        assert_eq!(tc.parent_span_id.map(|id| id.to_string()).as_deref(), Some(PARENT_ID));
        assert_eq!(tc.tracestate, None);
    }

    #[test]
    fn future_version_is_answered_as_version_00() {
        let value = format!("42{}-more", &VALID[2..]);
        let tc = TraceContext::from_headers(&[value.as_bytes()], &[]);
        assert_eq!(tc.trace_id.to_string(), TRACE_ID);
        let out = tc.traceparent();
        assert!(out.starts_with(&format!("00-{TRACE_ID}-")), "{out}");
        assert_eq!(parse(&out).map(|p| p.0), Some(0));
    }

    #[test]
    fn new_root_is_sampled_with_random_ids() {
        let a = TraceContext::new_root();
        let b = TraceContext::new_root();
        assert!(is_lower_hex_id(a.trace_id, 32));
        assert!(is_lower_hex_id(a.span_id, 16));
        assert!(a.sampled());
        assert_eq!((a.parent_span_id, a.tracestate.clone()), (None, None));
        assert_ne!(a.trace_id, b.trace_id);
        assert_ne!(a.span_id, b.span_id);
    }

    #[test]
    fn traceparent_format() {
        let mut tc = TraceContext {
            trace_id: TraceId::from_hex(TRACE_ID.as_bytes()).expect("trace id"),
            span_id: SpanId::from_hex(PARENT_ID.as_bytes()).expect("span id"),
            parent_span_id: None,
            flags: 0x01,
            tracestate: None,
        };
        assert_eq!(tc.traceparent(), VALID);
        tc.flags = 0x0a;
        assert!(tc.traceparent().ends_with("-0a"));
        let root = TraceContext::new_root().traceparent();
        assert_eq!(root.len(), 55);
        assert!(parse(&root).is_some(), "{root}");
    }

    #[test]
    fn sampled_reads_bit_zero_only() {
        let mut tc = TraceContext::new_root();
        for (flags, sampled) in [(0x00, false), (0x01, true), (0x02, false), (0x03, true), (0xfe, false)] {
            tc.flags = flags;
            assert_eq!(tc.sampled(), sampled, "{flags:#04x}");
        }
    }

    // ---- tracestate ----

    #[test]
    fn tracestate_valid_list_is_kept() {
        assert_eq!(
            state(&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
    }

    #[test]
    fn tracestate_ows_is_removed() {
        assert_eq!(state(&[" rojo=1 ,\tcongo=2\t,  a=b  "]).as_deref(), Some("rojo=1,congo=2,a=b"));
    }

    #[test]
    fn tracestate_empty_members_are_dropped() {
        assert_eq!(state(&[",rojo=1,, \t ,congo=2,"]).as_deref(), Some("rojo=1,congo=2"));
        assert_eq!(state(&[" , ,"]), None);
        assert_eq!(state(&[""]), None);
        assert_eq!(state(&[]), None);
    }

    #[test]
    fn tracestate_member_limit() {
        let at_limit = members(32).join(",");
        assert_eq!(state(&[&at_limit]), Some(at_limit.clone()));
        assert_eq!(state(&[&format!("{at_limit},,")]), Some(at_limit.clone()), "empty members do not count");
        assert_eq!(state(&[&members(33).join(",")]), None);
    }

    #[test]
    fn tracestate_multi_tenant_keys() {
        for key in ["tenant@system", "0tenant@s", "t_-*/9@s_-*/9", "a@b"] {
            let member = format!("{key}=v");
            assert_eq!(state(&[&member]), Some(member.clone()));
        }
        let longest = format!("{}@{}", "t".repeat(241), "s".repeat(14));
        assert!(state(&[&format!("{longest}=v")]).is_some());
    }

    #[test]
    fn tracestate_simple_key_limits() {
        assert!(state(&["a=v"]).is_some());
        assert!(state(&["a0_-*/=v"]).is_some());
        assert!(state(&[&format!("{}=v", "k".repeat(256))]).is_some());
        assert!(state(&[&format!("{}=v", "k".repeat(257))]).is_none());
    }

    #[test]
    fn tracestate_keys_follow_the_current_draft() {
        // Level 2: a digit may lead, `@` may appear anywhere after the first char, any number of times.
        for key in [
            "0rojo",
            "9",
            "ro@",
            "t@0sys",
            "t@s@x",
            &format!("{}@s", "t".repeat(242)),
            &format!("t@{}", "s".repeat(15)),
        ] {
            assert!(state(&[&format!("good=1,{key}=v")]).is_some(), "{key:?}");
        }
    }

    #[test]
    fn tracestate_bad_keys_discard_everything() {
        let bad_keys = ["", "Rojo", "rOjo", "_rojo", "ro.jo", "ro jo", "rojo ", "@sys", "t@Sys", "_t@s", "t@s.x"];
        for key in bad_keys {
            assert_eq!(state(&[&format!("good=1,{key}=v")]), None, "{key:?}");
        }
    }

    #[test]
    fn tracestate_value_limits() {
        assert_eq!(state(&[&format!("k={}", "v".repeat(256))]).map(|s| s.len()), Some(258));
        assert!(state(&[&format!("k={}", "v".repeat(257))]).is_none());
        // Every printable char but ',' and '=' is allowed.
        let printable: String = (0x21u8..=0x7e).filter(|b| *b != b',' && *b != b'=').map(char::from).collect();
        assert!(state(&[&format!("k={printable}")]).is_some());
        // Leading spaces belong to the value; trailing ones are OWS.
        assert_eq!(state(&["k=  v  "]).as_deref(), Some("k=  v"));
        assert_eq!(state(&["k= a b"]).as_deref(), Some("k= a b"));
    }

    #[test]
    fn tracestate_bad_values_discard_everything() {
        for member in ["k=", "k=   ", "k", "k=a=b", "k=a\tb", "k=a\x01b", "k=a\x7fb", "k=caf\u{e9}", "k =v", "k= "] {
            assert_eq!(state(&["good=1", member]), None, "{member:?}");
        }
        assert_eq!(parse_tracestate(&[b"k=a\xffb"]), None);
    }

    #[test]
    fn tracestate_duplicate_keys_are_kept_and_the_first_wins() {
        assert_eq!(state(&["a=1,b=2,a=3"]).as_deref(), Some("a=1,b=2,a=3"));
        assert_eq!(state(&["a=1,b=2", "a=1"]).as_deref(), Some("a=1,b=2,a=1"), "duplicates across header lines");
        assert_eq!(tracestate_get("a=1,b=2,a=3", "a"), Some("1"));
        assert_eq!(tracestate_get("ab=0,a=1", "a"), Some("1"), "a key is matched whole");
        assert_eq!(tracestate_get("a=1", "b"), None);
    }

    #[test]
    fn tracestate_header_lines_are_combined_in_order() {
        assert_eq!(state(&["rojo=1", " congo=2 , ", "", "x@y=3"]).as_deref(), Some("rojo=1,congo=2,x@y=3"));
        let first = members(20).join(",");
        let second: Vec<String> = (20..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(state(&[&first, &second.join(",")]), None, "33 members across lines");
    }

    #[test]
    fn tracestate_at_512_is_untouched() {
        // 3 members of 128 chars, one of 125 and 3 commas: exactly the 512 chars the spec says to propagate.
        let filler = |key: &str, len: usize| format!("{key}={}", "v".repeat(len - key.len() - 1));
        let list = [filler("a", 128), filler("b", 128), filler("c", 128), filler("d", 125)].join(",");
        assert_eq!(list.len(), 512);
        assert_eq!(state(&[&list]), Some(list));
    }

    #[test]
    fn tracestate_over_512_drops_large_members_from_the_end_first() {
        let filler = |key: &str, len: usize| format!("{key}={}", "v".repeat(len - key.len() - 1));
        let (big1, big2, big3) = (filler("big1", 200), filler("big2", 200), filler("big3", 200));
        let small = filler("small", 100);
        let list =
            [big1.as_str(), small.as_str(), big2.as_str(), small.replace("small", "tiny").as_str(), big3.as_str()]
                .join(",");
        // Dropping big3 leaves 603 chars, dropping big2 as well leaves 402: big1 stays though it is large.
        let expected = [big1.as_str(), small.as_str(), small.replace("small", "tiny").as_str()].join(",");
        assert_eq!(state(&[&list]), Some(expected));
    }

    #[test]
    fn tracestate_over_512_then_drops_from_the_end() {
        let filler = |key: &str, len: usize| format!("{key}={}", "v".repeat(len - key.len() - 1));
        let small: Vec<String> = (0..6).map(|i| filler(&format!("s{i}"), 100)).collect();
        // Six members of 100 chars: 605 joined; the large-member pass has nothing to drop.
        let expected = small[..5].join(",");
        assert_eq!(state(&[&small.join(",")]), Some(expected));
        // A single member over 512 chars cannot be kept at all.
        let huge = format!("{}={}", "k".repeat(256), "v".repeat(256));
        assert_eq!(state(&[&huge]), None);
    }

    #[test]
    fn undefined_flag_bits_are_zeroed_on_propagation() {
        let tc = TraceContext::from_headers(&[b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-07"], &[]);
        assert_eq!(tc.flags, 0x03, "sampled and random kept, 0x04 zeroed");
        let tc = TraceContext::from_headers(&[b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-fe"], &[]);
        assert_eq!(tc.flags, 0x02);
        let tc = TraceContext::from_headers(&[b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"], &[]);
        assert_eq!(tc.flags, 0x01, "a caller's trace id is not claimed random");
    }

    #[test]
    fn outgoing_calls_are_children_of_the_server_span_with_new_ids() {
        let tc = TraceContext::from_headers(&[VALID.as_bytes()], &[b"congo=t61rcWkgMzE"]);
        let first = tc.outgoing();
        let second = tc.outgoing();
        assert_ne!(first.span_id, second.span_id);
        assert_ne!(first.span_id, tc.span_id);
        let (_, trace_id, parent, flags) = parse_traceparent(first.traceparent.as_bytes()).unwrap();
        assert_eq!((trace_id, parent, flags), (tc.trace_id, first.span_id, tc.flags));
        assert_eq!(first.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
    }
}
