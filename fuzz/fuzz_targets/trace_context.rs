//! W3C Trace Context: `parse_traceparent`, `parse_tracestate` and `TraceContext::from_headers`
//! (core/src/trace_context.rs) on fuzzed header lines.
//!
//! Input: header lines, `traceparent: <value>` or `tracestate: <value>` (any other line is a
//! traceparent value as a whole). Values are bytes, not necessarily UTF-8.
//!
//! Checked besides "no panic": what a parsed traceparent yields prints back to the same value
//! (version 00) and parses again to the same ids; the tracestate kept is at most 32 members and
//! 512 bytes, is made of members of the input in their order and is a fixed point of the
//! parser; `from_headers` keeps the caller's trace exactly when there is one valid traceparent
//! line (its sampled bit kept, undefined flag bits zeroed), and drops tracestate otherwise.

#![no_main]

use armature_core::trace_context::{parse_traceparent, parse_tracestate, SpanId, TraceContext, TraceId};
use libfuzzer_sys::fuzz_target;

fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |last| last + 1);
    &value[start..end]
}

fn check_traceparent(value: &[u8]) {
    let Some((version, trace_id, span_id, flags)) = parse_traceparent(value) else {
        return;
    };
    let trimmed = trim_ows(value);
    let printed = format!("{version:02x}-{trace_id}-{span_id}-{flags:02x}");
    if version == 0 {
        assert_eq!(printed.as_bytes(), trimmed, "version 00 traceparent does not print back to itself");
    } else {
        assert_ne!(version, 0xff, "version ff is invalid");
        assert!(trimmed.starts_with(printed.as_bytes()), "the first 55 chars must be what was parsed");
    }
    // The ids as the server sends them on.
    let again = parse_traceparent(format!("00-{trace_id}-{span_id}-{flags:02x}").as_bytes());
    assert_eq!(again, Some((0, trace_id, span_id, flags)));
    assert_eq!(TraceId::from_hex(trace_id.hex().as_str().as_bytes()), Some(trace_id));
    assert_eq!(SpanId::from_hex(span_id.hex().as_str().as_bytes()), Some(span_id));
    assert_ne!(trace_id.to_bytes(), [0; 16]);
    assert_ne!(span_id.to_bytes(), [0; 8]);
}

fn check_tracestate(values: &[&[u8]]) -> Option<String> {
    let kept = parse_tracestate(values)?;
    assert!(!kept.is_empty(), "an empty tracestate must be None");
    assert!(kept.len() <= 512, "tracestate over 512 chars: {}", kept.len());
    let members: Vec<&str> = kept.split(',').collect();
    assert!(members.len() <= 32, "more than 32 members");
    let input_members: Vec<&[u8]> = values.iter().flat_map(|value| value.split(|&b| b == b',')).map(trim_ows).collect();
    let mut rest = input_members.iter();
    for member in &members {
        assert!(!member.is_empty(), "empty member in {kept:?}");
        assert_eq!(trim_ows(member.as_bytes()), member.as_bytes(), "member {member:?} not trimmed");
        let (key, value) = member.split_once('=').unwrap_or_else(|| panic!("member {member:?} without '='"));
        assert!(!key.is_empty() && !value.is_empty(), "member {member:?} kept");
        // The members kept are the input's, in the input's order (a subsequence).
        assert!(rest.any(|m| *m == member.as_bytes()), "member {member:?} not in the input, or reordered: {kept:?}");
    }
    // What is propagated must be accepted as it is by the next hop.
    assert_eq!(parse_tracestate(&[kept.as_bytes()]).as_deref(), Some(kept.as_str()), "not a fixed point");
    Some(kept)
}

fuzz_target!(|data: &[u8]| {
    let mut traceparents: Vec<&[u8]> = Vec::new();
    let mut tracestates: Vec<&[u8]> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(value) = line.strip_prefix(b"traceparent:") {
            traceparents.push(value);
        } else if let Some(value) = line.strip_prefix(b"tracestate:") {
            tracestates.push(value);
        } else {
            traceparents.push(line);
        }
    }

    for value in &traceparents {
        check_traceparent(value);
    }
    let kept = check_tracestate(&tracestates);
    for value in &tracestates {
        // Each line alone, as from a peer that sends a single line.
        let _ = check_tracestate(&[value]);
    }

    let context = TraceContext::from_headers(&traceparents, &tracestates);
    let parent = match traceparents.as_slice() {
        [single] => parse_traceparent(single),
        _ => None,
    };
    match parent {
        Some((_, trace_id, parent_id, flags)) => {
            assert_eq!(context.trace_id, trace_id);
            assert_eq!(context.parent_span_id, Some(parent_id));
            assert_ne!(context.span_id, parent_id, "the server span must not be its own parent");
            // The sampled bit carries on; no bit is invented, and the bits no Trace Context level
            // defines (all but sampled 0x01 and Level 2's random-trace-id 0x02) are zeroed.
            assert_eq!(context.flags & 0x01, flags & 0x01, "sampled bit changed");
            assert_eq!(context.flags & !flags, 0, "flag bits invented: {:02x} from {flags:02x}", context.flags);
            assert_eq!(context.flags & !0x03, 0, "undefined flag bits propagated: {:02x}", context.flags);
            assert_eq!(context.tracestate, kept);
        }
        None => {
            assert_eq!(context.parent_span_id, None);
            assert_eq!(context.tracestate, None, "tracestate kept without a valid traceparent");
            assert!(context.sampled());
        }
    }
    let sent = context.traceparent();
    assert_eq!(
        parse_traceparent(sent.as_bytes()),
        Some((0, context.trace_id, context.span_id, context.flags)),
        "the traceparent sent on does not parse: {sent}"
    );
});
