//! Decoding by serialization style (OpenAPI 3.1 §4.8.12, "Style Values" and "Style Examples"):
//! path (simple, label, matrix), query (form, spaceDelimited, pipeDelimited, deepObject) and
//! header (simple) text split and coerced to typed JSON by the parameter's shape.

use std::borrow::Cow;
use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Number, Value};

use super::error::ParamError;
use super::facts::{ParamSpec, ParamStyle, PrimitiveType, Shape};

/// How one raw piece of text becomes a decoded string, which differs per location.
type Decoder = fn(&str) -> Result<String, ParamError>;

/// Percent-decoding for path segments and cookies, where '+' is a literal plus.
pub(super) fn percent_decode(raw: &str) -> Result<String, ParamError> {
    percent_decode_str(raw).decode_utf8().map(Cow::into_owned).map_err(|_| ParamError::PercentEncoding)
}

/// `application/x-www-form-urlencoded` decoding for query values. `form_urlencoded::parse` is
/// lossy on invalid UTF-8, and a client must hear about a mangled value rather than have it
/// silently replaced, so the strict decoder is applied after the '+' substitution instead.
fn form_decode(raw: &str) -> Result<String, ParamError> {
    if raw.contains('+') {
        percent_decode(&raw.replace('+', " "))
    } else {
        percent_decode(raw)
    }
}

/// Header values are not percent-encoded in HTTP; a literal '%' must survive. Items of a
/// comma-separated header list may carry optional whitespace around them (RFC 9110 §5.6.1).
fn header_text(raw: &str) -> Result<String, ParamError> {
    Ok(raw.trim_matches([' ', '\t']).to_owned())
}

/// Converts decoded text to the requested JSON type, or keeps it as a string so the validator can
/// report the mismatch.
pub(super) fn coerce(text: String, ty: PrimitiveType) -> Value {
    let converted = match ty {
        PrimitiveType::Integer => parse_integer(&text).map(Value::Number),
        PrimitiveType::Number => parse_integer(&text).or_else(|| parse_float(&text)).map(Value::Number),
        PrimitiveType::Boolean => match text.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        PrimitiveType::String | PrimitiveType::Any => None,
    };
    converted.unwrap_or(Value::String(text))
}

fn parse_integer(text: &str) -> Option<Number> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    // `str::parse` accepts a leading '+', which is not JSON and not what the contract promises.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match text.parse::<i64>() {
        Ok(n) => Some(n.into()),
        Err(_) => text.parse::<u64>().ok().map(Number::from),
    }
}

fn parse_float(text: &str) -> Option<Number> {
    // `f64::from_str` also accepts "inf", "NaN" and "infinity"; only plain decimal notation is a
    // number for an API client.
    let numeric = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !numeric || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = text.parse::<f64>().ok().filter(|v| v.is_finite())?;
    Number::from_f64(value)
}

/// Splits a list, treating the empty string as the empty list rather than one empty item.
pub(super) fn split_list(raw: &str, separator: char) -> Vec<&str> {
    if raw.is_empty() {
        Vec::new()
    } else {
        raw.split(separator).collect()
    }
}

pub(super) fn array_of(items: &[&str], ty: PrimitiveType, decoder: Decoder) -> Result<Value, ParamError> {
    items.iter().map(|item| decoder(item).map(|text| coerce(text, ty))).collect::<Result<Vec<_>, _>>().map(Value::Array)
}

fn insert_property(
    object: &mut Map<String, Value>,
    props: &BTreeMap<String, PrimitiveType>,
    key: String,
    text: String,
) {
    let ty = props.get(&key).copied().unwrap_or(PrimitiveType::String);
    // A repeated property keeps its first value, like a repeated query key.
    object.entry(key).or_insert_with(|| coerce(text, ty));
}

/// Objects serialized without explode alternate keys and values: `R,100,G,200`.
pub(super) fn object_from_pairs(
    parts: &[&str],
    props: &BTreeMap<String, PrimitiveType>,
    decoder: Decoder,
) -> Result<Value, ParamError> {
    if parts.len() % 2 != 0 {
        return Err(ParamError::ObjectPairs);
    }
    let mut object = Map::new();
    for pair in parts.chunks_exact(2) {
        insert_property(&mut object, props, decoder(pair[0])?, decoder(pair[1])?);
    }
    Ok(Value::Object(object))
}

/// Objects serialized with explode carry `key=value` items: `R=100,G=200`. Splitting happens
/// before decoding so that an encoded '=' (`%3D`) stays part of the value.
fn object_from_assignments(
    parts: &[&str],
    props: &BTreeMap<String, PrimitiveType>,
    decoder: Decoder,
) -> Result<Value, ParamError> {
    let mut object = Map::new();
    for part in parts {
        let (key, value) = part.split_once('=').ok_or(ParamError::ObjectAssignments)?;
        insert_property(&mut object, props, decoder(key)?, decoder(value)?);
    }
    Ok(Value::Object(object))
}

/// Simple style (path and header). Items are split before decoding so `%2C` stays a literal comma.
fn decode_simple(raw: &str, spec: &ParamSpec, decoder: Decoder) -> Result<Value, ParamError> {
    match &spec.shape {
        Shape::Primitive(ty) => Ok(coerce(decoder(raw)?, *ty)),
        Shape::Array(ty) => array_of(&split_list(raw, ','), *ty, decoder),
        Shape::Object(props) if spec.explode => object_from_assignments(&split_list(raw, ','), props, decoder),
        Shape::Object(props) => object_from_pairs(&split_list(raw, ','), props, decoder),
    }
}

fn decode_label(raw: &str, spec: &ParamSpec) -> Result<Value, ParamError> {
    let rest = raw.strip_prefix('.').ok_or(ParamError::LabelPrefix)?;
    // OpenAPI 3.1 separates non-exploded label items with ',' (3.0's table showed '.'); exploded
    // items use '.'.
    let separator = if spec.explode { '.' } else { ',' };
    match &spec.shape {
        Shape::Primitive(ty) => Ok(coerce(percent_decode(rest)?, *ty)),
        Shape::Array(ty) => array_of(&split_list(rest, separator), *ty, percent_decode),
        Shape::Object(props) if spec.explode => object_from_assignments(&split_list(rest, '.'), props, percent_decode),
        Shape::Object(props) => object_from_pairs(&split_list(rest, ','), props, percent_decode),
    }
}

fn decode_matrix(raw: &str, spec: &ParamSpec) -> Result<Value, ParamError> {
    let rest = raw.strip_prefix(';').ok_or(ParamError::MatrixPrefix)?;
    // RFC 6570 writes an empty value as a bare `;name`, hence the optional '='.
    let segments: Vec<(&str, &str)> = rest
        .split(';')
        .filter(|segment| !segment.is_empty())
        .map(|segment| segment.split_once('=').unwrap_or((segment, "")))
        .collect();

    if let (Shape::Object(props), true) = (&spec.shape, spec.explode) {
        let mut object = Map::new();
        for (key, value) in &segments {
            insert_property(&mut object, props, percent_decode(key)?, percent_decode(value)?);
        }
        return Ok(Value::Object(object));
    }

    let values: Vec<&str> = segments
        .iter()
        .filter(|(name, _)| percent_decode_str(name).decode_utf8_lossy() == spec.name.as_str())
        .map(|(_, value)| *value)
        .collect();
    let Some(first) = values.first().copied() else {
        return Err(ParamError::MatrixParameter(spec.name.clone()));
    };
    match &spec.shape {
        Shape::Primitive(ty) => Ok(coerce(percent_decode(first)?, *ty)),
        Shape::Array(ty) if spec.explode => array_of(&exploded_items(&values), *ty, percent_decode),
        Shape::Array(ty) => array_of(&split_list(first, ','), *ty, percent_decode),
        Shape::Object(props) => object_from_pairs(&split_list(first, ','), props, percent_decode),
    }
}

/// A single empty occurrence of an exploded array (`?color=`, `;color`) is the empty array, not an
/// array holding one empty string.
fn exploded_items<'v>(values: &[&'v str]) -> Vec<&'v str> {
    match values {
        [""] => Vec::new(),
        _ => values.to_vec(),
    }
}

pub(super) fn decode_path(spec: &ParamSpec, path: &[(&str, &str)]) -> Result<Option<Value>, ParamError> {
    let Some((_, raw)) = path.iter().find(|(name, _)| *name == spec.name) else {
        return Ok(None);
    };
    let value = match spec.style {
        ParamStyle::Label => decode_label(raw, spec)?,
        ParamStyle::Matrix => decode_matrix(raw, spec)?,
        _ => decode_simple(raw, spec, percent_decode)?,
    };
    Ok(Some(value))
}

/// Splits the raw query into (decoded name, raw value) pairs. Values stay encoded because some
/// styles must split them before decoding; names are decoded leniently since a name that is not
/// valid UTF-8 cannot match a declared parameter anyway.
fn raw_query_pairs(query: &str) -> Vec<(Cow<'_, str>, &str)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = if name.contains('+') {
                Cow::Owned(percent_decode_str(&name.replace('+', " ")).decode_utf8_lossy().into_owned())
            } else {
                percent_decode_str(name).decode_utf8_lossy()
            };
            (name, value)
        })
        .collect()
}

pub(super) fn decode_query(spec: &ParamSpec, query: &str) -> Result<Option<Value>, ParamError> {
    let pairs = raw_query_pairs(query);
    let values_of =
        |name: &str| -> Vec<&str> { pairs.iter().filter(|(key, _)| key == name).map(|(_, value)| *value).collect() };

    if let (ParamStyle::DeepObject, Shape::Object(props)) = (spec.style, &spec.shape) {
        return decode_deep_object(spec, props, &pairs);
    }

    if let Shape::Object(props) = &spec.shape {
        if spec.explode {
            // Exploded form objects spread their properties over top-level keys, so only the
            // declared properties can be recognised.
            let mut object = Map::new();
            for (prop, ty) in props {
                if let Some(raw) = values_of(prop).first() {
                    object.insert(prop.clone(), coerce(form_decode(raw)?, *ty));
                }
            }
            return Ok((!object.is_empty()).then_some(Value::Object(object)));
        }
    }

    let values = values_of(&spec.name);
    let Some(first) = values.first().copied() else {
        return Ok(None);
    };
    let delimiter = match spec.style {
        ParamStyle::SpaceDelimited => Some(' '),
        ParamStyle::PipeDelimited => Some('|'),
        _ => None,
    };
    let value = match (&spec.shape, delimiter) {
        (Shape::Primitive(ty), _) => coerce(form_decode(first)?, *ty),
        (Shape::Array(ty), _) if spec.explode => array_of(&exploded_items(&values), *ty, form_decode)?,
        // Space and pipe may arrive encoded (`%20`, `+`, `%7C`), so these split after decoding.
        (Shape::Array(ty), Some(delimiter)) => {
            let decoded = form_decode(first)?;
            Value::Array(split_list(&decoded, delimiter).into_iter().map(|item| coerce(item.to_owned(), *ty)).collect())
        }
        (Shape::Array(ty), None) => array_of(&split_list(first, ','), *ty, form_decode)?,
        (Shape::Object(props), Some(delimiter)) => {
            let decoded = form_decode(first)?;
            object_from_pairs(&split_list(&decoded, delimiter), props, |s| Ok(s.to_owned()))?
        }
        (Shape::Object(props), None) => object_from_pairs(&split_list(first, ','), props, form_decode)?,
    };
    Ok(Some(value))
}

fn decode_deep_object(
    spec: &ParamSpec,
    props: &BTreeMap<String, PrimitiveType>,
    pairs: &[(Cow<'_, str>, &str)],
) -> Result<Option<Value>, ParamError> {
    let mut object = Map::new();
    for (key, raw) in pairs {
        let Some(rest) = key.strip_prefix(spec.name.as_str()) else {
            continue;
        };
        // `colorful=1` belongs to another parameter; only `color` and `color[...]` are ours.
        if !rest.is_empty() && !rest.starts_with('[') {
            continue;
        }
        let prop = rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .filter(|p| !p.is_empty() && !p.contains(['[', ']']))
            .ok_or(ParamError::DeepObjectKey)?;
        insert_property(&mut object, props, prop.to_owned(), form_decode(raw)?);
    }
    Ok((!object.is_empty()).then_some(Value::Object(object)))
}

pub(super) fn decode_header<'h>(
    spec: &ParamSpec,
    header: &dyn Fn(&str) -> Vec<&'h str>,
) -> Result<Option<Value>, ParamError> {
    let lines = header(&spec.name.to_ascii_lowercase());
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let value = match &spec.shape {
        // A scalar header is not a list; like a repeated query key, the first line wins.
        Shape::Primitive(ty) => coerce(header_text(first)?, *ty),
        // RFC 9110 §5.6.1: empty list elements are ignored, whichever line they came from.
        Shape::Array(ty) => {
            let items: Vec<&str> = lines
                .iter()
                .flat_map(|line| line.split(','))
                .filter(|item| !item.trim_matches([' ', '\t']).is_empty())
                .collect();
            array_of(&items, *ty, header_text)?
        }
        Shape::Object(_) => decode_simple(&lines.join(","), spec, header_text)?,
    };
    Ok(Some(value))
}
