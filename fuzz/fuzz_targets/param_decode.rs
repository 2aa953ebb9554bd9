//! OpenAPI parameter decoding: `contract::params::decode` (core/src/contract/params.rs) for every
//! location (path, query, header, cookie), every style (simple, label, matrix, form,
//! spaceDelimited, pipeDelimited, deepObject) and both values of `explode`, plus `parse_query`
//! and `cookie_pairs`.
//!
//! Input (text; invalid UTF-8 is replaced):
//!
//! ```text
//! <shape> <name>
//! <raw line 1>
//! <raw line 2>
//! ...
//! ```
//!
//! `<shape>` is `string`, `integer`, `number`, `boolean`, `any`, `array:<type>` or
//! `object:<prop>=<type>,...`. Every (location, style, explode) combination decodes the raw
//! lines: line 1 is the path segment and the query string, every line is a header line and a
//! Cookie header line. Checked: the value has the shape asked for, and text is coerced to a
//! number or boolean exactly when it spells one (so the schema validator sees every mismatch).
//!
//! With first line `roundtrip`, the following lines are values that the target serializes in
//! each style as a client would (percent-encoding as RFC 6570 / form encoding does) and checks
//! they decode back to the same strings, arrays and objects.

#![no_main]

use std::collections::BTreeMap;

use armature_core::contract::params::{
    cookie_pairs, decode, parse_query, ParamLocation, ParamSpec, ParamStyle, PrimitiveType, RawParams, Shape,
};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

const LOCATIONS: [ParamLocation; 4] =
    [ParamLocation::Path, ParamLocation::Query, ParamLocation::Header, ParamLocation::Cookie];
const STYLES: [ParamStyle; 7] = [
    ParamStyle::Simple,
    ParamStyle::Label,
    ParamStyle::Matrix,
    ParamStyle::Form,
    ParamStyle::SpaceDelimited,
    ParamStyle::PipeDelimited,
    ParamStyle::DeepObject,
];

fn primitive(name: &str) -> PrimitiveType {
    match name {
        "string" => PrimitiveType::String,
        "integer" => PrimitiveType::Integer,
        "number" => PrimitiveType::Number,
        "boolean" => PrimitiveType::Boolean,
        _ => PrimitiveType::Any,
    }
}

fn shape(text: &str) -> Shape {
    if let Some(items) = text.strip_prefix("array:") {
        return Shape::Array(primitive(items));
    }
    if let Some(props) = text.strip_prefix("object:") {
        let props = props
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((name, ty)) => (name.to_owned(), primitive(ty)),
                None => (p.to_owned(), PrimitiveType::String),
            })
            .collect();
        return Shape::Object(props);
    }
    Shape::Primitive(primitive(text))
}

/// Whether text is what `coerce` must turn into a JSON integer: `-?digits` fitting i64 or u64.
fn spells_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok())
}

/// Whether text is a plain finite decimal number (no `inf`, `NaN`, hex or spaces).
fn spells_number(text: &str) -> bool {
    spells_integer(text)
        || (text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
            && text.bytes().any(|b| b.is_ascii_digit())
            && text.parse::<f64>().is_ok_and(f64::is_finite))
}

/// A decoded scalar must be typed exactly when its text spells the type.
fn check_scalar(value: &Value, ty: PrimitiveType, what: &dyn std::fmt::Debug) {
    match (ty, value) {
        (_, Value::String(text)) => {
            let coercible = match ty {
                PrimitiveType::Integer => spells_integer(text),
                PrimitiveType::Number => spells_number(text),
                PrimitiveType::Boolean => text == "true" || text == "false",
                PrimitiveType::String | PrimitiveType::Any => false,
            };
            assert!(!coercible, "{text:?} left a string although it is a {ty:?}: {what:?}");
        }
        (PrimitiveType::Integer, Value::Number(n)) => {
            assert!(n.is_i64() || n.is_u64(), "integer decoded as {n}: {what:?}")
        }
        (PrimitiveType::Number, Value::Number(_)) | (PrimitiveType::Boolean, Value::Bool(_)) => {}
        _ => panic!("{value} is not a {ty:?}: {what:?}"),
    }
}

fn check_shape(value: &Value, shape: &Shape, what: &dyn std::fmt::Debug) {
    match (shape, value) {
        (Shape::Primitive(ty), value) => check_scalar(value, *ty, what),
        (Shape::Array(ty), Value::Array(items)) => items.iter().for_each(|item| check_scalar(item, *ty, what)),
        (Shape::Object(props), Value::Object(object)) => {
            for (key, item) in object {
                check_scalar(item, props.get(key).copied().unwrap_or(PrimitiveType::String), what);
            }
        }
        _ => panic!("{value} does not have the shape {shape:?}: {what:?}"),
    }
}

fn spec(name: &str, location: ParamLocation, style: ParamStyle, explode: bool, shape: Shape) -> ParamSpec {
    ParamSpec { name: name.to_owned(), location, style, explode, shape }
}

/// Decodes with one raw input per location; `lines` are header and Cookie lines.
fn run(spec: &ParamSpec, path: Option<&str>, query: Option<&str>, lines: &[&str]) -> Result<Option<Value>, String> {
    let path_pairs: Vec<(&str, &str)> = path.map(|p| (spec.name.as_str(), p)).into_iter().collect();
    let wanted = spec.name.to_ascii_lowercase();
    let header = |name: &str| -> Vec<&str> {
        if name == wanted {
            lines.to_vec()
        } else {
            Vec::new()
        }
    };
    let raw = RawParams { path: &path_pairs, query, header: &header, cookies: lines };
    decode(spec, &raw).map_err(|error| error.to_string())
}

fn all_combinations(shape_text: &str, name: &str, lines: &[&str]) {
    let shape = shape(shape_text);
    let first = lines.first().copied();
    for location in LOCATIONS {
        for style in STYLES {
            for explode in [false, true] {
                let spec = spec(name, location, style, explode, shape.clone());
                let result = run(&spec, first, first, lines);
                if let Ok(Some(value)) = &result {
                    check_shape(value, &shape, &(&spec, lines));
                }
                // Decoding is a function of its input.
                assert_eq!(result, run(&spec, first, first, lines));
            }
        }
    }
    if let Some(query) = first {
        for (name, value) in parse_query(query) {
            assert!(!name.contains('+') || query.contains("%2B") || query.contains("%2b"), "'+' kept in {name:?}");
            let _ = value;
        }
    }
    for (key, value) in cookie_pairs(lines) {
        assert!(!key.contains(';') && !value.contains(';'), "cookie pair across ';': {key:?}={value:?}");
        assert_eq!(key, key.trim());
    }
}

fn form(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn pct(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|item| json!(item)).collect())
}

/// Decodes `spec` from the given raw text of its location and requires `expected`.
fn expect(spec: &ParamSpec, raw: &str, lines: &[&str], expected: &Value) {
    let (path, query) = match spec.location {
        ParamLocation::Path => (Some(raw), None),
        ParamLocation::Query => (None, Some(raw)),
        _ => (None, None),
    };
    let got = run(spec, path, query, lines);
    assert_eq!(got.as_ref(), Ok(&Some(expected.clone())), "{spec:?} decoding {raw:?} / {lines:?}");
}

fn roundtrip(items: &[&str]) {
    use ParamLocation as L;
    use ParamStyle as S;
    let string = Shape::Primitive(PrimitiveType::String);
    let array = Shape::Array(PrimitiveType::String);
    let name = "p";
    let whole = items.first().copied().unwrap_or("");

    // Scalars, in every location.
    let scalar = json!(whole);
    expect(&spec(name, L::Query, S::Form, true, string.clone()), &format!("{name}={}", form(whole)), &[], &scalar);
    expect(&spec(name, L::Path, S::Simple, false, string.clone()), &pct(whole), &[], &scalar);
    expect(&spec(name, L::Path, S::Label, false, string.clone()), &format!(".{}", pct(whole)), &[], &scalar);
    expect(&spec(name, L::Path, S::Matrix, false, string.clone()), &format!(";{name}={}", pct(whole)), &[], &scalar);
    let cookie = format!("{name}={}", pct(whole));
    expect(&spec(name, L::Cookie, S::Form, true, string.clone()), "", &[cookie.as_str()], &scalar);
    if let Ok(n) = whole.parse::<i64>() {
        let integer = Shape::Primitive(PrimitiveType::Integer);
        expect(&spec(name, L::Query, S::Form, true, integer.clone()), &format!("{name}={n}"), &[], &json!(n));
        expect(&spec(name, L::Path, S::Simple, false, integer), &n.to_string(), &[], &json!(n));
    }

    // Arrays. A single empty item has no spelling of its own: it reads as the empty array.
    if items != [""] {
        let expected = strings(items);
        let join =
            |encode: fn(&str) -> String, sep: &str| items.iter().map(|i| encode(i)).collect::<Vec<_>>().join(sep);
        let exploded: Vec<String> = items.iter().map(|item| format!("{name}={}", form(item))).collect();
        if !items.is_empty() {
            // (No pair at all is an absent parameter, not an empty array.)
            expect(&spec(name, L::Query, S::Form, true, array.clone()), &exploded.join("&"), &[], &expected);
            expect(
                &spec(name, L::Query, S::Form, false, array.clone()),
                &format!("{name}={}", join(form, ",")),
                &[],
                &expected,
            );
            for (style, separator) in [(S::SpaceDelimited, ' '), (S::PipeDelimited, '|')] {
                if !items.iter().any(|item| item.contains(separator)) {
                    let encoded = join(form, if separator == ' ' { "%20" } else { "%7C" });
                    expect(
                        &spec(name, L::Query, style, false, array.clone()),
                        &format!("{name}={encoded}"),
                        &[],
                        &expected,
                    );
                }
            }
        }
        expect(&spec(name, L::Path, S::Simple, false, array.clone()), &join(pct, ","), &[], &expected);
        expect(&spec(name, L::Path, S::Label, false, array.clone()), &format!(".{}", join(pct, ",")), &[], &expected);
        expect(&spec(name, L::Path, S::Label, true, array.clone()), &format!(".{}", join(pct, ".")), &[], &expected);
        if !items.is_empty() {
            let matrix = items.iter().map(|item| format!(";{name}={}", pct(item))).collect::<String>();
            expect(&spec(name, L::Path, S::Matrix, true, array.clone()), &matrix, &[], &expected);
            expect(
                &spec(name, L::Path, S::Matrix, false, array.clone()),
                &format!(";{name}={}", join(pct, ",")),
                &[],
                &expected,
            );
        }
        let cookie = format!("{name}={}", join(pct, ","));
        expect(&spec(name, L::Cookie, S::Form, false, array.clone()), "", &[cookie.as_str()], &expected);
        // Header lists: items are trimmed and empty ones dropped (RFC 9110 5.6.1), so only
        // items that survive that unchanged and are valid field text round-trip.
        let header_safe = |item: &&str| {
            !item.is_empty()
                && item.trim_matches([' ', '\t']) == *item
                && !item.contains(',')
                && item.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        };
        if !items.is_empty() && items.iter().all(header_safe) {
            let line = items.join(", ");
            expect(&spec(name, L::Header, S::Simple, false, array.clone()), "", &[line.as_str()], &expected);
            // The same list spread over several lines.
            expect(&spec(name, L::Header, S::Simple, false, array.clone()), "", items, &expected);
        }
    }

    // Objects from pairs of lines: key, value, key, value; a repeated key keeps its first value.
    let mut object = serde_json::Map::new();
    let mut pairs = Vec::new();
    for pair in items.chunks_exact(2) {
        pairs.push((pair[0], pair[1]));
        object.entry(pair[0].to_owned()).or_insert_with(|| json!(pair[1]));
    }
    let props: BTreeMap<String, PrimitiveType> = object.keys().map(|k| (k.clone(), PrimitiveType::String)).collect();
    let shape = Shape::Object(props);
    let expected = Value::Object(object);
    if !pairs.is_empty() {
        let flat = pairs.iter().map(|(k, v)| format!("{},{}", pct(k), pct(v))).collect::<Vec<_>>().join(",");
        let assigned = pairs.iter().map(|(k, v)| format!("{}={}", pct(k), pct(v))).collect::<Vec<_>>().join(",");
        expect(&spec(name, L::Path, S::Simple, false, shape.clone()), &flat, &[], &expected);
        expect(&spec(name, L::Path, S::Simple, true, shape.clone()), &assigned, &[], &expected);
        expect(&spec(name, L::Path, S::Label, false, shape.clone()), &format!(".{flat}"), &[], &expected);
        let matrix = pairs.iter().map(|(k, v)| format!(";{}={}", pct(k), pct(v))).collect::<String>();
        expect(&spec(name, L::Path, S::Matrix, true, shape.clone()), &matrix, &[], &expected);
        let form_flat = pairs.iter().map(|(k, v)| format!("{},{}", form(k), form(v))).collect::<Vec<_>>().join(",");
        expect(&spec(name, L::Query, S::Form, false, shape.clone()), &format!("{name}={form_flat}"), &[], &expected);
        // Exploded form objects spread over top-level keys, one per declared property.
        let spread = pairs.iter().map(|(k, v)| format!("{}={}", form(k), form(v))).collect::<Vec<_>>().join("&");
        if pairs.iter().all(|(k, _)| !k.is_empty()) {
            expect(&spec(name, L::Query, S::Form, true, shape.clone()), &spread, &[], &expected);
        }
        if pairs.iter().all(|(k, _)| !k.is_empty() && !k.contains(['[', ']'])) {
            let deep = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", form(&format!("{name}[{k}]")), form(v)))
                .collect::<Vec<_>>()
                .join("&");
            expect(&spec(name, L::Query, S::DeepObject, true, shape.clone()), &deep, &[], &expected);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let head = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.collect();
    if head.trim_end() == "roundtrip" {
        roundtrip(&rest);
        return;
    }
    let (shape_text, name) = head.split_once(' ').unwrap_or((head, "p"));
    all_combinations(shape_text, name, &rest);
});
