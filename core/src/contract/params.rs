//! Decoding of OpenAPI 3.x parameters (path, query, header, cookie).
//!
//! Raw HTTP strings are split according to the parameter's `style`/`explode` (OpenAPI 3.1 §4.8.12,
//! "Style Values" and "Style Examples") and coerced to typed JSON by the parameter's schema shape.
//! Validation is not done here: text that cannot be coerced stays a string, so that the schema
//! validator later reports a precise type error instead of this module inventing one.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use percent_encoding::percent_decode_str;
use serde_json::{Map, Number, Value};

/// Bound on `$ref`/`allOf` nesting, so a cyclic or absurdly deep contract cannot hang loading.
const MAX_SCHEMA_DEPTH: usize = 16;

const INVALID_PERCENT_ENCODING: &str = "invalid percent-encoding";

/// Where a parameter is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamLocation {
    /// A templated path segment, e.g. `/users/{id}`.
    Path,
    /// A query-string parameter.
    Query,
    /// A request header.
    Header,
    /// A cookie sent in the `Cookie` header.
    Cookie,
}

impl ParamLocation {
    /// The location as spelled in the OpenAPI `in` keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        }
    }
}

/// Serialization style (OpenAPI `style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamStyle {
    /// RFC 6570 simple expansion: `blue,black`.
    Simple,
    /// RFC 6570 label expansion: `.blue`.
    Label,
    /// RFC 6570 path-style expansion: `;color=blue`.
    Matrix,
    /// RFC 6570 form expansion: `color=blue`.
    Form,
    /// Space-separated values: `color=blue%20black`.
    SpaceDelimited,
    /// Pipe-separated values: `color=blue|black`.
    PipeDelimited,
    /// Bracketed object properties: `color[R]=100`.
    DeepObject,
}

impl ParamStyle {
    /// Parses the `style` keyword; None for an unknown value.
    ///
    /// The keyword is case-sensitive, as in the specification.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "simple" => ParamStyle::Simple,
            "label" => ParamStyle::Label,
            "matrix" => ParamStyle::Matrix,
            "form" => ParamStyle::Form,
            "spaceDelimited" => ParamStyle::SpaceDelimited,
            "pipeDelimited" => ParamStyle::PipeDelimited,
            "deepObject" => ParamStyle::DeepObject,
            _ => return None,
        })
    }

    /// The default style of a location: path/header -> Simple, query/cookie -> Form.
    pub fn default_for(location: ParamLocation) -> Self {
        match location {
            ParamLocation::Path | ParamLocation::Header => ParamStyle::Simple,
            ParamLocation::Query | ParamLocation::Cookie => ParamStyle::Form,
        }
    }

    /// Whether the style is allowed at the location (Simple: path, header; Label/Matrix: path;
    /// Form: query, cookie; SpaceDelimited/PipeDelimited/DeepObject: query).
    pub fn allowed_in(self, location: ParamLocation) -> bool {
        use ParamLocation as L;
        match self {
            ParamStyle::Simple => matches!(location, L::Path | L::Header),
            ParamStyle::Label | ParamStyle::Matrix => location == L::Path,
            ParamStyle::Form => matches!(location, L::Query | L::Cookie),
            ParamStyle::SpaceDelimited | ParamStyle::PipeDelimited | ParamStyle::DeepObject => location == L::Query,
        }
    }
}

/// The shape the parameter's schema asks for, which decides how a raw string is split and coerced.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A primitive of the given JSON type: "string" | "integer" | "number" | "boolean" | "null"
    /// (or unknown -> keep string).
    Primitive(PrimitiveType),
    /// An array whose items have the given primitive type.
    Array(PrimitiveType),
    /// An object; the map gives the primitive type of each known property (others stay strings).
    Object(BTreeMap<String, PrimitiveType>),
}

/// The JSON type a single decoded string is coerced to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimitiveType {
    /// Kept as a string.
    String,
    /// `-?digits`, converted to a JSON integer when it fits in i64/u64.
    Integer,
    /// A finite decimal number.
    Number,
    /// Exactly `true` or `false`.
    Boolean,
    /// No usable type (absent, `null`, nested array/object, unknown): kept as a string.
    Any,
}

impl PrimitiveType {
    fn from_type_name(name: Option<&str>) -> Self {
        match name {
            Some("string") => PrimitiveType::String,
            Some("integer") => PrimitiveType::Integer,
            Some("number") => PrimitiveType::Number,
            Some("boolean") => PrimitiveType::Boolean,
            _ => PrimitiveType::Any,
        }
    }
}

/// What `from_schema` needs from a schema once `$ref` and `allOf` are flattened.
#[derive(Default)]
struct SchemaFacts {
    ty: Option<String>,
    properties: BTreeMap<String, Value>,
    items: Option<Value>,
}

/// Walks `$ref`/`allOf` and merges what it finds; the first occurrence of each fact wins, so the
/// schema's own keywords take precedence over what it inherits.
struct FactCollector<'r> {
    resolve: &'r dyn Fn(&str) -> Option<Value>,
    // A `$ref` already merged adds nothing the second time; remembering it cuts cycles short and
    // keeps diamond-shaped `allOf` graphs linear.
    seen_refs: HashSet<String>,
    facts: SchemaFacts,
}

impl FactCollector<'_> {
    fn collect(&mut self, schema: &Value, depth: usize) {
        if depth > MAX_SCHEMA_DEPTH {
            return;
        }
        let Some(obj) = schema.as_object() else {
            return;
        };
        if self.facts.ty.is_none() {
            self.facts.ty = type_name(obj.get("type"));
        }
        if let Some(Value::Object(props)) = obj.get("properties") {
            for (name, prop) in props {
                self.facts.properties.entry(name.clone()).or_insert_with(|| prop.clone());
            }
        }
        if self.facts.items.is_none() {
            self.facts.items = obj.get("items").cloned();
        }
        if let Some(Value::String(reference)) = obj.get("$ref") {
            if reference.starts_with('#') && self.seen_refs.insert(reference.clone()) {
                if let Some(target) = (self.resolve)(reference) {
                    self.collect(&target, depth + 1);
                }
            }
        }
        if let Some(Value::Array(members)) = obj.get("allOf") {
            for member in members {
                self.collect(member, depth + 1);
            }
        }
    }
}

fn collect_facts(schema: &Value, resolve: &dyn Fn(&str) -> Option<Value>) -> SchemaFacts {
    let mut collector = FactCollector { resolve, seen_refs: HashSet::new(), facts: SchemaFacts::default() };
    collector.collect(schema, 0);
    collector.facts
}

/// Reads `type`, which 2020-12 allows to be a list; a nullable type like `["integer", "null"]`
/// decodes as its non-null member because an absent parameter is reported as None anyway.
fn type_name(ty: Option<&Value>) -> Option<String> {
    match ty? {
        Value::String(s) => Some(s.clone()),
        Value::Array(types) => {
            let names = types.iter().filter_map(Value::as_str);
            let mut first = None;
            for name in names {
                if name != "null" {
                    return Some(name.to_owned());
                }
                first.get_or_insert(name);
            }
            first.map(str::to_owned)
        }
        _ => None,
    }
}

fn primitive_of(schema: &Value, resolve: &dyn Fn(&str) -> Option<Value>) -> PrimitiveType {
    PrimitiveType::from_type_name(collect_facts(schema, resolve).ty.as_deref())
}

impl Shape {
    /// Derives the shape from a JSON Schema (already converted to draft 2020-12: `type` may be a
    /// string or an array like `["integer","null"]` -> take the first non-null). `resolve` looks
    /// up a local `$ref` (`"#/..."`) and returns the target schema, so `{"$ref": ...}` at the top,
    /// in `items` or in a property is followed (cycles are cut, nesting is limited to 16).
    /// No `type` but `properties` -> Object; `items` -> Array. `allOf` members contribute
    /// `type`/`properties`/`items` too.
    pub fn from_schema(schema: &Value, resolve: &dyn Fn(&str) -> Option<Value>) -> Shape {
        let facts = collect_facts(schema, resolve);
        let items =
            |facts: &SchemaFacts| facts.items.as_ref().map_or(PrimitiveType::Any, |items| primitive_of(items, resolve));
        let object = |facts: &SchemaFacts| {
            Shape::Object(
                facts.properties.iter().map(|(name, prop)| (name.clone(), primitive_of(prop, resolve))).collect(),
            )
        };
        match facts.ty.as_deref() {
            Some("array") => Shape::Array(items(&facts)),
            Some("object") => object(&facts),
            Some(other) => Shape::Primitive(PrimitiveType::from_type_name(Some(other))),
            None if !facts.properties.is_empty() => object(&facts),
            None if facts.items.is_some() => Shape::Array(items(&facts)),
            None => Shape::Primitive(PrimitiveType::Any),
        }
    }
}

/// A parameter as declared in the contract, with what decoding needs.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// The declared `name` (case-sensitive except for headers).
    pub name: String,
    /// The `in` location.
    pub location: ParamLocation,
    /// The effective style (the location's default when the contract omits it).
    pub style: ParamStyle,
    /// The effective `explode` (true for form style unless the contract says otherwise).
    pub explode: bool,
    /// The shape derived from the parameter's schema.
    pub shape: Shape,
}

/// The raw inputs of one request, already split by the caller.
pub struct RawParams<'a> {
    /// Path parameters by name, still percent-encoded, as the router captured them.
    pub path: &'a [(&'a str, &'a str)],
    /// The raw query string (without '?'), percent-encoded; None when the URL has no query.
    pub query: Option<&'a str>,
    /// Header lookup by lower-case name: all values of that header, in order.
    pub header: &'a dyn Fn(&str) -> Vec<&'a str>,
    /// The raw Cookie header values.
    pub cookies: &'a [&'a str],
}

/// Decodes one parameter. Returns Ok(None) when the parameter is absent (the caller decides
/// whether it is required or has a default), Ok(Some(value)) when present, Err(message) when the
/// raw text cannot be decoded at all (e.g. invalid percent-encoding yielding invalid UTF-8, a
/// matrix/label prefix missing, a deepObject key that is not `name[prop]`).
///
/// A style not allowed at the location is decoded as the location's default style; the contract
/// loader is expected to have rejected it already.
pub fn decode(spec: &ParamSpec, raw: &RawParams<'_>) -> Result<Option<Value>, String> {
    match spec.location {
        ParamLocation::Path => decode_path(spec, raw.path),
        ParamLocation::Query => match raw.query {
            Some(query) => decode_query(spec, query),
            None => Ok(None),
        },
        ParamLocation::Header => decode_header(spec, raw.header),
        ParamLocation::Cookie => decode_cookie(spec, raw.cookies),
    }
}

/// Parses a query string into decoded (name, value) pairs ('+' is a space, percent-decoding), in
/// order. Public because the pipeline also hands the parsed query to handlers and policies.
///
/// Invalid UTF-8 is replaced by U+FFFD here; declared parameters go through [`decode`], which
/// rejects it instead.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// How one raw piece of text becomes a decoded string, which differs per location.
type Decoder = fn(&str) -> Result<String, String>;

/// Percent-decoding for path segments and cookies, where '+' is a literal plus.
fn percent_decode(raw: &str) -> Result<String, String> {
    percent_decode_str(raw).decode_utf8().map(Cow::into_owned).map_err(|_| INVALID_PERCENT_ENCODING.to_owned())
}

/// `application/x-www-form-urlencoded` decoding for query values. `form_urlencoded::parse` is
/// lossy on invalid UTF-8, and a client must hear about a mangled value rather than have it
/// silently replaced, so the strict decoder is applied after the '+' substitution instead.
fn form_decode(raw: &str) -> Result<String, String> {
    if raw.contains('+') {
        percent_decode(&raw.replace('+', " "))
    } else {
        percent_decode(raw)
    }
}

/// Header values are not percent-encoded in HTTP; a literal '%' must survive. Items of a
/// comma-separated header list may carry optional whitespace around them (RFC 9110 §5.6.1).
fn header_text(raw: &str) -> Result<String, String> {
    Ok(raw.trim_matches([' ', '\t']).to_owned())
}

/// Converts decoded text to the requested JSON type, or keeps it as a string so the validator can
/// report the mismatch.
fn coerce(text: String, ty: PrimitiveType) -> Value {
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
fn split_list(raw: &str, separator: char) -> Vec<&str> {
    if raw.is_empty() {
        Vec::new()
    } else {
        raw.split(separator).collect()
    }
}

fn array_of(items: &[&str], ty: PrimitiveType, decoder: Decoder) -> Result<Value, String> {
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
fn object_from_pairs(
    parts: &[&str],
    props: &BTreeMap<String, PrimitiveType>,
    decoder: Decoder,
) -> Result<Value, String> {
    if parts.len() % 2 != 0 {
        return Err("invalid object: expected key,value pairs".to_owned());
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
) -> Result<Value, String> {
    let mut object = Map::new();
    for part in parts {
        let (key, value) = part.split_once('=').ok_or_else(|| "invalid object: expected key=value pairs".to_owned())?;
        insert_property(&mut object, props, decoder(key)?, decoder(value)?);
    }
    Ok(Value::Object(object))
}

/// Simple style (path and header). Items are split before decoding so `%2C` stays a literal comma.
fn decode_simple(raw: &str, spec: &ParamSpec, decoder: Decoder) -> Result<Value, String> {
    match &spec.shape {
        Shape::Primitive(ty) => Ok(coerce(decoder(raw)?, *ty)),
        Shape::Array(ty) => array_of(&split_list(raw, ','), *ty, decoder),
        Shape::Object(props) if spec.explode => object_from_assignments(&split_list(raw, ','), props, decoder),
        Shape::Object(props) => object_from_pairs(&split_list(raw, ','), props, decoder),
    }
}

fn decode_label(raw: &str, spec: &ParamSpec) -> Result<Value, String> {
    let rest = raw.strip_prefix('.').ok_or_else(|| "missing label prefix '.'".to_owned())?;
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

fn decode_matrix(raw: &str, spec: &ParamSpec) -> Result<Value, String> {
    let rest = raw.strip_prefix(';').ok_or_else(|| "missing matrix prefix ';'".to_owned())?;
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
        return Err(format!("missing matrix parameter ';{}='", spec.name));
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

fn decode_path(spec: &ParamSpec, path: &[(&str, &str)]) -> Result<Option<Value>, String> {
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

fn decode_query(spec: &ParamSpec, query: &str) -> Result<Option<Value>, String> {
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
) -> Result<Option<Value>, String> {
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
            .ok_or_else(|| "invalid deepObject key: expected name[property]".to_owned())?;
        insert_property(&mut object, props, prop.to_owned(), form_decode(raw)?);
    }
    Ok((!object.is_empty()).then_some(Value::Object(object)))
}

fn decode_header<'h>(spec: &ParamSpec, header: &dyn Fn(&str) -> Vec<&'h str>) -> Result<Option<Value>, String> {
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

/// Every `name=value` pair of the given Cookie header values, in order, with a value's wrapping
/// DQUOTEs removed (RFC 6265 allows them; they are not part of the value).
pub fn cookie_pairs<'c, 'h>(cookies: &'h [&'c str]) -> impl Iterator<Item = (&'c str, &'c str)> + 'h {
    cookies.iter().flat_map(|header| header.split(';')).filter_map(|pair| pair.trim().split_once('=')).map(
        |(key, value)| {
            let value = value.trim();
            (key.trim(), value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value))
        },
    )
}

/// Finds the first cookie with the given name across all Cookie header values.
pub(crate) fn find_cookie<'c>(cookies: &[&'c str], name: &str) -> Option<&'c str> {
    cookie_pairs(cookies).find(|(key, _)| *key == name).map(|(_, value)| value)
}

/// Every value of the cookies with the given name, across all Cookie header values, in order.
/// (How the identity stage reads an `apiKey` scheme `in: cookie`, where a second one is refused.)
pub(crate) fn cookies_named<'c: 'h, 'h>(cookies: &'h [&'c str], name: &'h str) -> impl Iterator<Item = &'c str> + 'h {
    cookie_pairs(cookies).filter(move |(key, _)| *key == name).map(|(_, value)| value)
}

/// Percent-decoding of a cookie value, or the value as sent when its escapes do not decode to
/// UTF-8: RFC 6265 allows `%` in a cookie value and does not define percent-encoding, so a
/// cookie such as `session=%FF` is a valid opaque value, not a malformed request.
fn cookie_decode(raw: &str) -> Result<String, String> {
    Ok(percent_decode(raw).unwrap_or_else(|_| raw.to_owned()))
}

/// Cookies carry one value per name, so arrays and objects are comma-separated as in
/// non-exploded form style whatever `explode` says.
fn decode_cookie(spec: &ParamSpec, cookies: &[&str]) -> Result<Option<Value>, String> {
    let Some(raw) = find_cookie(cookies, &spec.name) else {
        return Ok(None);
    };
    let value = match &spec.shape {
        Shape::Primitive(ty) => coerce(cookie_decode(raw)?, *ty),
        Shape::Array(ty) => array_of(&split_list(raw, ','), *ty, cookie_decode)?,
        Shape::Object(props) => object_from_pairs(&split_list(raw, ','), props, cookie_decode)?,
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use ParamLocation::{Cookie, Header, Path, Query};
    use ParamStyle::{DeepObject, Form, Label, Matrix, PipeDelimited, Simple, SpaceDelimited};
    use PrimitiveType as T;

    fn spec(location: ParamLocation, style: ParamStyle, explode: bool, shape: Shape) -> ParamSpec {
        ParamSpec { name: "color".to_owned(), location, style, explode, shape }
    }

    fn string() -> Shape {
        Shape::Primitive(T::String)
    }

    fn strings() -> Shape {
        Shape::Array(T::String)
    }

    /// The RGB object of the specification's examples, with integer channels.
    fn rgb() -> Shape {
        Shape::Object(
            [("R", T::Integer), ("G", T::Integer), ("B", T::Integer)]
                .into_iter()
                .map(|(k, t)| (k.to_owned(), t))
                .collect(),
        )
    }

    struct Req<'a> {
        path: &'a [(&'a str, &'a str)],
        query: Option<&'a str>,
        headers: &'a [(&'a str, &'a str)],
        cookies: &'a [&'a str],
    }

    const EMPTY: Req<'static> = Req { path: &[], query: None, headers: &[], cookies: &[] };

    fn run(spec: &ParamSpec, req: &Req<'_>) -> Result<Option<Value>, String> {
        let headers = req.headers;
        let lookup = |name: &str| headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v).collect::<Vec<_>>();
        let raw = RawParams { path: req.path, query: req.query, header: &lookup, cookies: req.cookies };
        decode(spec, &raw)
    }

    fn path(spec: &ParamSpec, value: &str) -> Result<Option<Value>, String> {
        run(spec, &Req { path: &[("other", "x"), ("color", value)], ..EMPTY })
    }

    fn query(spec: &ParamSpec, q: &str) -> Result<Option<Value>, String> {
        run(spec, &Req { query: Some(q), ..EMPTY })
    }

    fn headers(spec: &ParamSpec, hs: &[(&str, &str)]) -> Result<Option<Value>, String> {
        run(spec, &Req { headers: hs, ..EMPTY })
    }

    fn cookies(spec: &ParamSpec, cs: &[&str]) -> Result<Option<Value>, String> {
        run(spec, &Req { cookies: cs, ..EMPTY })
    }

    fn ok(v: Value) -> Result<Option<Value>, String> {
        Ok(Some(v))
    }

    fn no_refs(_: &str) -> Option<Value> {
        None
    }

    // --- style keyword and location rules ---

    #[test]
    fn style_parse_defaults_and_locations() {
        for (text, style) in [
            ("simple", Simple),
            ("label", Label),
            ("matrix", Matrix),
            ("form", Form),
            ("spaceDelimited", SpaceDelimited),
            ("pipeDelimited", PipeDelimited),
            ("deepObject", DeepObject),
        ] {
            assert_eq!(ParamStyle::parse(text), Some(style));
        }
        assert_eq!(ParamStyle::parse("Simple"), None);
        assert_eq!(ParamStyle::parse("csv"), None);
        assert_eq!(ParamStyle::default_for(Path), Simple);
        assert_eq!(ParamStyle::default_for(Header), Simple);
        assert_eq!(ParamStyle::default_for(Query), Form);
        assert_eq!(ParamStyle::default_for(Cookie), Form);
        assert_eq!([Path, Query, Header, Cookie].map(ParamLocation::as_str), ["path", "query", "header", "cookie"]);
    }

    #[test]
    fn style_allowed_in() {
        let allowed = |style: ParamStyle| {
            [Path, Query, Header, Cookie].into_iter().filter(|l| style.allowed_in(*l)).collect::<Vec<_>>()
        };
        assert_eq!(allowed(Simple), [Path, Header]);
        assert_eq!(allowed(Label), [Path]);
        assert_eq!(allowed(Matrix), [Path]);
        assert_eq!(allowed(Form), [Query, Cookie]);
        assert_eq!(allowed(SpaceDelimited), [Query]);
        assert_eq!(allowed(PipeDelimited), [Query]);
        assert_eq!(allowed(DeepObject), [Query]);
    }

    // --- path: simple ---

    #[test]
    fn path_simple_primitive_both_explode() {
        for explode in [false, true] {
            assert_eq!(path(&spec(Path, Simple, explode, string()), "blue"), ok(json!("blue")));
        }
    }

    #[test]
    fn path_simple_array_both_explode() {
        for explode in [false, true] {
            assert_eq!(
                path(&spec(Path, Simple, explode, strings()), "blue,black,brown"),
                ok(json!(["blue", "black", "brown"]))
            );
        }
    }

    #[test]
    fn path_simple_object() {
        assert_eq!(
            path(&spec(Path, Simple, false, rgb()), "R,100,G,200,B,150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
        assert_eq!(
            path(&spec(Path, Simple, true, rgb()), "R=100,G=200,B=150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
    }

    #[test]
    fn path_simple_object_malformed() {
        assert_eq!(
            path(&spec(Path, Simple, false, rgb()), "R,100,G"),
            Err("invalid object: expected key,value pairs".to_owned())
        );
        assert_eq!(
            path(&spec(Path, Simple, true, rgb()), "R=100,G"),
            Err("invalid object: expected key=value pairs".to_owned())
        );
    }

    // --- path: label ---

    #[test]
    fn path_label_primitive() {
        for explode in [false, true] {
            assert_eq!(path(&spec(Path, Label, explode, string()), ".blue"), ok(json!("blue")));
        }
        assert_eq!(path(&spec(Path, Label, false, Shape::Primitive(T::Number)), ".1.5"), ok(json!(1.5)));
    }

    #[test]
    fn path_label_array() {
        assert_eq!(
            path(&spec(Path, Label, false, strings()), ".blue,black,brown"),
            ok(json!(["blue", "black", "brown"]))
        );
        assert_eq!(
            path(&spec(Path, Label, true, strings()), ".blue.black.brown"),
            ok(json!(["blue", "black", "brown"]))
        );
    }

    #[test]
    fn path_label_object() {
        assert_eq!(
            path(&spec(Path, Label, false, rgb()), ".R,100,G,200,B,150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
        assert_eq!(
            path(&spec(Path, Label, true, rgb()), ".R=100.G=200.B=150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
    }

    #[test]
    fn path_label_missing_prefix_and_empty() {
        assert_eq!(path(&spec(Path, Label, false, string()), "blue"), Err("missing label prefix '.'".to_owned()));
        assert_eq!(path(&spec(Path, Label, true, strings()), "."), ok(json!([])));
        assert_eq!(path(&spec(Path, Label, false, string()), "."), ok(json!("")));
    }

    // --- path: matrix ---

    #[test]
    fn path_matrix_primitive() {
        for explode in [false, true] {
            assert_eq!(path(&spec(Path, Matrix, explode, string()), ";color=blue"), ok(json!("blue")));
        }
    }

    #[test]
    fn path_matrix_array() {
        assert_eq!(
            path(&spec(Path, Matrix, false, strings()), ";color=blue,black,brown"),
            ok(json!(["blue", "black", "brown"]))
        );
        assert_eq!(
            path(&spec(Path, Matrix, true, strings()), ";color=blue;color=black;color=brown"),
            ok(json!(["blue", "black", "brown"]))
        );
    }

    #[test]
    fn path_matrix_object() {
        assert_eq!(
            path(&spec(Path, Matrix, false, rgb()), ";color=R,100,G,200,B,150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
        assert_eq!(
            path(&spec(Path, Matrix, true, rgb()), ";R=100;G=200;B=150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
    }

    #[test]
    fn path_matrix_empty_values() {
        // The specification's "empty" column: `;color`.
        assert_eq!(path(&spec(Path, Matrix, false, string()), ";color"), ok(json!("")));
        assert_eq!(path(&spec(Path, Matrix, true, strings()), ";color"), ok(json!([])));
        assert_eq!(path(&spec(Path, Matrix, false, strings()), ";color="), ok(json!([])));
    }

    #[test]
    fn path_matrix_malformed() {
        assert_eq!(
            path(&spec(Path, Matrix, false, string()), "color=blue"),
            Err("missing matrix prefix ';'".to_owned())
        );
        assert_eq!(
            path(&spec(Path, Matrix, false, string()), ";colour=blue"),
            Err("missing matrix parameter ';color='".to_owned())
        );
    }

    // --- path: percent-encoding ---

    #[test]
    fn path_percent_encoding() {
        let s = spec(Path, Simple, false, string());
        assert_eq!(path(&s, "%E2%82%AC%20x"), ok(json!("€ x")));
        // '+' is only a space in form encoding, never in a path.
        assert_eq!(path(&s, "a+b"), ok(json!("a+b")));
        // Malformed escapes are not errors, they are literal text.
        assert_eq!(path(&s, "100%"), ok(json!("100%")));
        assert_eq!(path(&s, "%FF"), Err("invalid percent-encoding".to_owned()));
        assert_eq!(path(&spec(Path, Simple, false, strings()), "a,%C3%28"), Err("invalid percent-encoding".to_owned()));
    }

    #[test]
    fn path_encoded_separators_stay_in_items() {
        assert_eq!(path(&spec(Path, Simple, false, strings()), "a%2Cb,c"), ok(json!(["a,b", "c"])));
        assert_eq!(path(&spec(Path, Simple, true, rgb()), "R=1%3D2,G=3"), ok(json!({"R": "1=2", "G": 3})));
        assert_eq!(path(&spec(Path, Label, true, strings()), ".a%2Eb.c"), ok(json!(["a.b", "c"])));
    }

    #[test]
    fn path_missing_is_none() {
        assert_eq!(run(&spec(Path, Simple, false, string()), &EMPTY), Ok(None));
        let other = Req { path: &[("colour", "blue")], ..EMPTY };
        assert_eq!(run(&spec(Path, Simple, false, string()), &other), Ok(None));
    }

    // --- query: form ---

    #[test]
    fn query_form_primitive() {
        for explode in [false, true] {
            assert_eq!(query(&spec(Query, Form, explode, string()), "x=1&color=blue"), ok(json!("blue")));
        }
    }

    #[test]
    fn query_form_array() {
        assert_eq!(
            query(&spec(Query, Form, true, strings()), "color=blue&x=1&color=black&color=brown"),
            ok(json!(["blue", "black", "brown"]))
        );
        assert_eq!(
            query(&spec(Query, Form, false, strings()), "color=blue,black,brown"),
            ok(json!(["blue", "black", "brown"]))
        );
        // Exploded items are whole values; a comma is data.
        assert_eq!(query(&spec(Query, Form, true, strings()), "color=a,b&color=c"), ok(json!(["a,b", "c"])));
    }

    #[test]
    fn query_form_object() {
        assert_eq!(
            query(&spec(Query, Form, true, rgb()), "R=100&G=200&B=150&X=1"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
        assert_eq!(
            query(&spec(Query, Form, false, rgb()), "color=R,100,G,200,B,150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
        assert_eq!(query(&spec(Query, Form, true, rgb()), "color=R,100"), Ok(None));
        assert_eq!(
            query(&spec(Query, Form, false, rgb()), "color=R,100,G"),
            Err("invalid object: expected key,value pairs".to_owned())
        );
    }

    // --- query: spaceDelimited / pipeDelimited ---

    #[test]
    fn query_space_delimited() {
        let s = spec(Query, SpaceDelimited, false, strings());
        assert_eq!(query(&s, "color=blue%20black%20brown"), ok(json!(["blue", "black", "brown"])));
        assert_eq!(query(&s, "color=blue+black"), ok(json!(["blue", "black"])));
        assert_eq!(
            query(&spec(Query, SpaceDelimited, false, rgb()), "color=R%20100%20G%20200%20B%20150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
    }

    #[test]
    fn query_pipe_delimited() {
        let s = spec(Query, PipeDelimited, false, Shape::Array(T::Integer));
        assert_eq!(query(&s, "color=1|2|3"), ok(json!([1, 2, 3])));
        assert_eq!(query(&s, "color=1%7C2%7c3"), ok(json!([1, 2, 3])));
        assert_eq!(
            query(&spec(Query, PipeDelimited, false, rgb()), "color=R|100|G|200|B|150"),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
    }

    #[test]
    fn query_delimited_exploded_behaves_like_form() {
        for style in [SpaceDelimited, PipeDelimited] {
            assert_eq!(query(&spec(Query, style, true, strings()), "color=a|b&color=c d"), ok(json!(["a|b", "c d"])));
            assert_eq!(query(&spec(Query, style, true, rgb()), "R=100&G=200"), ok(json!({"R": 100, "G": 200})));
        }
    }

    // --- query: deepObject ---

    #[test]
    fn query_deep_object() {
        let s = spec(Query, DeepObject, true, rgb());
        assert_eq!(query(&s, "color[R]=100&color[G]=200&color[B]=150"), ok(json!({"R": 100, "G": 200, "B": 150})));
        // Clients usually encode the brackets.
        assert_eq!(query(&s, "color%5BR%5D=100&color%5BG%5D=2+0"), ok(json!({"R": 100, "G": "2 0"})));
        assert_eq!(query(&s, "color[R]=1&color[R]=2"), ok(json!({"R": 1})));
    }

    #[test]
    fn query_deep_object_unknown_and_unrelated_keys() {
        let s = spec(Query, DeepObject, true, rgb());
        assert_eq!(query(&s, "color[R]=1&color[alpha]=0.5&colorful=1&x[R]=9"), ok(json!({"R": 1, "alpha": "0.5"})));
        assert_eq!(query(&s, "colorful[R]=1"), Ok(None));
        assert_eq!(query(&s, ""), Ok(None));
    }

    #[test]
    fn query_deep_object_malformed_keys() {
        let s = spec(Query, DeepObject, true, rgb());
        for q in ["color=1", "color[]=1", "color[R=1", "color[R][x]=1", "color[R]x=1", "color[a[b]=1"] {
            assert_eq!(query(&s, q), Err("invalid deepObject key: expected name[property]".to_owned()), "{q}");
        }
    }

    // --- query: decoding, absence, empties ---

    #[test]
    fn query_plus_is_space() {
        assert_eq!(query(&spec(Query, Form, true, string()), "color=light+blue%2Bx"), ok(json!("light blue+x")));
        assert_eq!(query(&spec(Query, Form, true, string()), "col%6Fr=blue"), ok(json!("blue")));
    }

    #[test]
    fn query_encoded_comma_stays_in_item() {
        assert_eq!(query(&spec(Query, Form, false, strings()), "color=a%2Cb,c"), ok(json!(["a,b", "c"])));
    }

    #[test]
    fn query_invalid_utf8_is_error() {
        for (explode, shape) in [(true, string()), (false, strings()), (true, strings())] {
            assert_eq!(
                query(&spec(Query, Form, explode, shape), "color=%FF"),
                Err("invalid percent-encoding".to_owned())
            );
        }
        // Another parameter's bad value does not concern this one.
        assert_eq!(query(&spec(Query, Form, true, string()), "x=%FF&color=blue"), ok(json!("blue")));
    }

    #[test]
    fn query_missing_is_none() {
        for shape in [string(), strings(), rgb()] {
            for explode in [false, true] {
                let s = spec(Query, Form, explode, shape.clone());
                assert_eq!(run(&s, &EMPTY), Ok(None));
                assert_eq!(query(&s, ""), Ok(None));
                assert_eq!(query(&s, "colour=blue&x"), Ok(None));
            }
        }
    }

    #[test]
    fn query_empty_values() {
        for q in ["color=", "color", "x=1&color&y=2"] {
            assert_eq!(query(&spec(Query, Form, true, string()), q), ok(json!("")));
            let int = spec(Query, Form, true, Shape::Primitive(T::Integer));
            assert_eq!(query(&int, q), ok(json!("")));
            assert_eq!(query(&spec(Query, Form, true, strings()), q), ok(json!([])));
            assert_eq!(query(&spec(Query, Form, false, strings()), q), ok(json!([])));
            assert_eq!(query(&spec(Query, Form, false, rgb()), q), ok(json!({})));
        }
        // Only a lone empty occurrence means the empty array.
        assert_eq!(query(&spec(Query, Form, true, strings()), "color=a&color="), ok(json!(["a", ""])));
    }

    #[test]
    fn query_repeated_primitive_takes_first() {
        assert_eq!(query(&spec(Query, Form, true, Shape::Primitive(T::Integer)), "color=1&color=2"), ok(json!(1)));
        assert_eq!(query(&spec(Query, Form, false, strings()), "color=a,b&color=c"), ok(json!(["a", "b"])));
    }

    #[test]
    fn query_coerces_items() {
        assert_eq!(
            query(&spec(Query, Form, true, Shape::Array(T::Integer)), "color=1&color=x&color=-3"),
            ok(json!([1, "x", -3]))
        );
        assert_eq!(
            query(&spec(Query, Form, false, Shape::Array(T::Boolean)), "color=true,false,yes"),
            ok(json!([true, false, "yes"]))
        );
    }

    // --- header ---

    #[test]
    fn header_simple_primitive_case_insensitive_name() {
        let mut s = spec(Header, Simple, false, Shape::Primitive(T::Integer));
        s.name = "X-Rate-Limit".to_owned();
        assert_eq!(headers(&s, &[("x-rate-limit", "42")]), ok(json!(42)));
        // A scalar header sent twice: the first line wins.
        assert_eq!(headers(&s, &[("x-rate-limit", "1"), ("x-rate-limit", "2")]), ok(json!(1)));
    }

    #[test]
    fn header_array_multiple_lines() {
        let mut s = spec(Header, Simple, false, Shape::Array(T::Integer));
        s.name = "X-Ids".to_owned();
        assert_eq!(headers(&s, &[("x-ids", "1, 2"), ("x-other", "9"), ("x-ids", "3,,\t4 ")]), ok(json!([1, 2, 3, 4])));
        assert_eq!(headers(&s, &[("x-ids", "")]), ok(json!([])));
    }

    #[test]
    fn header_object() {
        assert_eq!(
            headers(&spec(Header, Simple, false, rgb()), &[("color", "R,100,G,200,B,150")]),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
        assert_eq!(
            headers(&spec(Header, Simple, true, rgb()), &[("color", "R=100, G=200"), ("color", "B=150")]),
            ok(json!({"R": 100, "G": 200, "B": 150}))
        );
    }

    #[test]
    fn header_is_not_percent_decoded_and_absent_is_none() {
        let s = spec(Header, Simple, false, string());
        assert_eq!(headers(&s, &[("color", "50%25 off %FF")]), ok(json!("50%25 off %FF")));
        assert_eq!(headers(&s, &[("colour", "blue")]), Ok(None));
    }

    // --- cookie ---

    #[test]
    fn cookie_several_pairs_and_spaces() {
        let s = spec(Cookie, Form, true, string());
        assert_eq!(cookies(&s, &["a=1; color=blue; b=2"]), ok(json!("blue")));
        assert_eq!(cookies(&s, &["a=1;color=blue"]), ok(json!("blue")));
        assert_eq!(cookies(&s, &["  color = blue ;a=1"]), ok(json!("blue")));
        assert_eq!(cookies(&s, &["a=1", "flag; color=red"]), ok(json!("red")));
        assert_eq!(cookies(&s, &["color=first; color=second"]), ok(json!("first")));
        assert_eq!(cookies(&s, &["color=\"quoted\""]), ok(json!("quoted")));
        assert_eq!(cookies(&s, &["colorful=1; Color=2"]), Ok(None));
        assert_eq!(cookies(&s, &[]), Ok(None));
    }

    #[test]
    fn cookie_array_and_object_are_comma_separated() {
        for explode in [false, true] {
            assert_eq!(
                cookies(&spec(Cookie, Form, explode, Shape::Array(T::Integer)), &["color=1,2,3"]),
                ok(json!([1, 2, 3]))
            );
            assert_eq!(
                cookies(&spec(Cookie, Form, explode, rgb()), &["x=y; color=R,100,G,200"]),
                ok(json!({"R": 100, "G": 200}))
            );
        }
    }

    #[test]
    fn cookie_percent_decoding() {
        assert_eq!(
            cookies(&spec(Cookie, Form, false, strings()), &["color=a%2Cb,c+d%20e"]),
            ok(json!(["a,b", "c+d e"]))
        );
        assert_eq!(cookies(&spec(Cookie, Form, false, string()), &["color=%C3%A9"]), ok(json!("é")));
        // Escapes that are not UTF-8 leave the value as sent (RFC 6265 allows `%` in a value).
        assert_eq!(cookies(&spec(Cookie, Form, false, string()), &["color=%C3"]), ok(json!("%C3")));
        assert_eq!(cookies(&spec(Cookie, Form, false, strings()), &["color=%FF,%41"]), ok(json!(["%FF", "A"])));
    }

    // --- coercion ---

    #[test]
    fn coerce_integer() {
        let c = |s: &str| coerce(s.to_owned(), T::Integer);
        assert_eq!(c("42"), json!(42));
        assert_eq!(c("-7"), json!(-7));
        assert_eq!(c("007"), json!(7));
        assert_eq!(c("18446744073709551615"), json!(u64::MAX));
        assert_eq!(c("-9223372036854775808"), json!(i64::MIN));
        for kept in ["18446744073709551616", "1.5", "1e3", "+1", "-", "", " 1", "abc", "0x10"] {
            assert_eq!(c(kept), json!(kept), "{kept}");
        }
    }

    #[test]
    fn coerce_number() {
        let c = |s: &str| coerce(s.to_owned(), T::Number);
        assert_eq!(c("1.5"), json!(1.5));
        assert_eq!(c("-0.25"), json!(-0.25));
        assert!(c("3").is_i64(), "integer-looking text stays an integer");
        assert_eq!(c("3"), json!(3));
        assert_eq!(c("1e3"), json!(1000.0));
        assert_eq!(c("99999999999999999999"), json!(1e20));
        for kept in ["NaN", "inf", "infinity", "1e999", "", ".", "-", "1.2.3", "abc", "1 "] {
            assert_eq!(c(kept), json!(kept), "{kept}");
        }
    }

    #[test]
    fn coerce_boolean_and_strings() {
        let b = |s: &str| coerce(s.to_owned(), T::Boolean);
        assert_eq!(b("true"), json!(true));
        assert_eq!(b("false"), json!(false));
        for kept in ["True", "1", "yes", ""] {
            assert_eq!(b(kept), json!(kept));
        }
        assert_eq!(coerce("1".to_owned(), T::String), json!("1"));
        assert_eq!(coerce("true".to_owned(), T::Any), json!("true"));
    }

    // --- Shape::from_schema ---

    #[test]
    fn shape_primitives() {
        let shape = |schema: Value| Shape::from_schema(&schema, &no_refs);
        assert_eq!(shape(json!({"type": "string"})), Shape::Primitive(T::String));
        assert_eq!(shape(json!({"type": "integer"})), Shape::Primitive(T::Integer));
        assert_eq!(shape(json!({"type": "number"})), Shape::Primitive(T::Number));
        assert_eq!(shape(json!({"type": "boolean"})), Shape::Primitive(T::Boolean));
        assert_eq!(shape(json!({"type": "null"})), Shape::Primitive(T::Any));
        assert_eq!(shape(json!({"type": "uuid"})), Shape::Primitive(T::Any));
        assert_eq!(shape(json!({})), Shape::Primitive(T::Any));
        assert_eq!(shape(json!(true)), Shape::Primitive(T::Any));
    }

    #[test]
    fn shape_arrays_and_objects() {
        let shape = |schema: Value| Shape::from_schema(&schema, &no_refs);
        assert_eq!(shape(json!({"type": "array", "items": {"type": "integer"}})), Shape::Array(T::Integer));
        assert_eq!(shape(json!({"type": "array"})), Shape::Array(T::Any));
        assert_eq!(shape(json!({"items": {"type": "boolean"}})), Shape::Array(T::Boolean));
        assert_eq!(shape(json!({"type": "array", "items": {"type": "array"}})), Shape::Array(T::Any));
        assert_eq!(shape(json!({"type": "object"})), Shape::Object(BTreeMap::new()));
        let expected = Shape::Object([("a".to_owned(), T::Integer), ("b".to_owned(), T::Any)].into_iter().collect());
        assert_eq!(shape(json!({"properties": {"a": {"type": "integer"}, "b": {"type": "object"}}})), expected);
    }

    #[test]
    fn shape_nullable_type_arrays() {
        let shape = |schema: Value| Shape::from_schema(&schema, &no_refs);
        assert_eq!(shape(json!({"type": ["integer", "null"]})), Shape::Primitive(T::Integer));
        assert_eq!(shape(json!({"type": ["null", "number"]})), Shape::Primitive(T::Number));
        assert_eq!(
            shape(json!({"type": ["null", "array"], "items": {"type": ["null", "boolean"]}})),
            Shape::Array(T::Boolean)
        );
        assert_eq!(shape(json!({"type": ["null"]})), Shape::Primitive(T::Any));
    }

    #[test]
    fn shape_follows_refs() {
        let defs = json!({
            "Id": {"type": "integer"},
            "Ids": {"type": "array", "items": {"$ref": "#/components/schemas/Id"}},
            "Point": {"type": "object", "properties": {
                "x": {"$ref": "#/components/schemas/Id"},
                "label": {"type": "string"}
            }}
        });
        let resolve = move |r: &str| -> Option<Value> { defs.get(r.strip_prefix("#/components/schemas/")?).cloned() };
        let shape = |schema: Value| Shape::from_schema(&schema, &resolve);
        assert_eq!(shape(json!({"$ref": "#/components/schemas/Id"})), Shape::Primitive(T::Integer));
        assert_eq!(shape(json!({"$ref": "#/components/schemas/Ids"})), Shape::Array(T::Integer));
        assert_eq!(
            shape(json!({"$ref": "#/components/schemas/Point"})),
            Shape::Object([("label".to_owned(), T::String), ("x".to_owned(), T::Integer)].into_iter().collect())
        );
        assert_eq!(shape(json!({"$ref": "#/components/schemas/Missing"})), Shape::Primitive(T::Any));
        assert_eq!(shape(json!({"$ref": "https://example.com/schema"})), Shape::Primitive(T::Any));
    }

    #[test]
    fn shape_ref_cycles_terminate() {
        let resolve = |r: &str| -> Option<Value> {
            match r {
                "#/a" => Some(json!({"$ref": "#/b"})),
                "#/b" => Some(json!({"allOf": [{"$ref": "#/a"}, {"$ref": "#/b"}]})),
                "#/node" => Some(json!({"type": "array", "items": {"$ref": "#/node"}})),
                _ => None,
            }
        };
        assert_eq!(Shape::from_schema(&json!({"$ref": "#/a"}), &resolve), Shape::Primitive(T::Any));
        assert_eq!(Shape::from_schema(&json!({"$ref": "#/node"}), &resolve), Shape::Array(T::Any));
        // A fresh resolver result on every call defeats the seen-set; the depth limit still stops it.
        let counter = std::cell::Cell::new(0u32);
        let endless = |_: &str| -> Option<Value> {
            counter.set(counter.get() + 1);
            Some(json!({"$ref": format!("#/n{}", counter.get())}))
        };
        assert_eq!(Shape::from_schema(&json!({"$ref": "#/n0"}), &endless), Shape::Primitive(T::Any));
        assert!(counter.get() <= 17);
    }

    #[test]
    fn shape_all_of() {
        let resolve = |r: &str| -> Option<Value> {
            (r == "#/Base").then(|| json!({"type": "object", "properties": {"id": {"type": "integer"}}}))
        };
        let schema = json!({
            "allOf": [
                {"$ref": "#/Base"},
                {"properties": {"name": {"type": "string"}, "id": {"type": "string"}}}
            ]
        });
        assert_eq!(
            Shape::from_schema(&schema, &resolve),
            Shape::Object([("id".to_owned(), T::Integer), ("name".to_owned(), T::String)].into_iter().collect())
        );
        assert_eq!(
            Shape::from_schema(&json!({"allOf": [{"minimum": 1}, {"type": "integer"}]}), &no_refs),
            Shape::Primitive(T::Integer)
        );
        assert_eq!(
            Shape::from_schema(&json!({"type": "array", "allOf": [{"items": {"type": "number"}}]}), &no_refs),
            Shape::Array(T::Number)
        );
        // The schema's own type wins over an allOf member's.
        assert_eq!(
            Shape::from_schema(&json!({"type": "string", "allOf": [{"type": "integer"}]}), &no_refs),
            Shape::Primitive(T::String)
        );
    }

    // --- parse_query ---

    #[test]
    fn parse_query_pairs() {
        assert_eq!(
            parse_query("a=1&b=x+y%21&&c&a=2&d=%FF"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y!".to_owned()),
                ("c".to_owned(), String::new()),
                ("a".to_owned(), "2".to_owned()),
                ("d".to_owned(), "\u{FFFD}".to_owned()),
            ]
        );
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn disallowed_style_falls_back_to_location_default() {
        assert_eq!(path(&spec(Path, Form, false, strings()), "a,b"), ok(json!(["a", "b"])));
        assert_eq!(query(&spec(Query, DeepObject, true, strings()), "color=a&color=b"), ok(json!(["a", "b"])));
    }
}
