//! Decoding of every style and location, on the specification's examples and their edge cases.

use super::styles::coerce;
use super::*;
use serde_json::json;
use std::collections::BTreeMap;

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
        [("R", T::Integer), ("G", T::Integer), ("B", T::Integer)].into_iter().map(|(k, t)| (k.to_owned(), t)).collect(),
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
    decode(spec, &raw).map_err(|error| error.to_string())
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
    assert_eq!(path(&spec(Path, Simple, false, rgb()), "R,100,G,200,B,150"), ok(json!({"R": 100, "G": 200, "B": 150})));
    assert_eq!(path(&spec(Path, Simple, true, rgb()), "R=100,G=200,B=150"), ok(json!({"R": 100, "G": 200, "B": 150})));
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
    assert_eq!(path(&spec(Path, Label, false, strings()), ".blue,black,brown"), ok(json!(["blue", "black", "brown"])));
    assert_eq!(path(&spec(Path, Label, true, strings()), ".blue.black.brown"), ok(json!(["blue", "black", "brown"])));
}

#[test]
fn path_label_object() {
    assert_eq!(path(&spec(Path, Label, false, rgb()), ".R,100,G,200,B,150"), ok(json!({"R": 100, "G": 200, "B": 150})));
    assert_eq!(path(&spec(Path, Label, true, rgb()), ".R=100.G=200.B=150"), ok(json!({"R": 100, "G": 200, "B": 150})));
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
    assert_eq!(path(&spec(Path, Matrix, true, rgb()), ";R=100;G=200;B=150"), ok(json!({"R": 100, "G": 200, "B": 150})));
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
    assert_eq!(path(&spec(Path, Matrix, false, string()), "color=blue"), Err("missing matrix prefix ';'".to_owned()));
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
        assert_eq!(query(&spec(Query, Form, explode, shape), "color=%FF"), Err("invalid percent-encoding".to_owned()));
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
    assert_eq!(cookies(&spec(Cookie, Form, false, strings()), &["color=a%2Cb,c+d%20e"]), ok(json!(["a,b", "c+d e"])));
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
