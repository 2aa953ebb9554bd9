//! What the contract says of a parameter: where it is, how it is serialized, and the shape its
//! schema gives its value (read once, when the contract is loaded).

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// Bound on `$ref`/`allOf` nesting, so a cyclic or absurdly deep contract cannot hang loading.
const MAX_SCHEMA_DEPTH: usize = 16;

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
