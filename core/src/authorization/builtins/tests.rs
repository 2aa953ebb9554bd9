//! Each expectation is what OPA v1.22.4 answers (`opa eval`), including its errors (`Err`: OPA's
//! builtin error, undefined in its default mode).

use regorus::Value;

use super::lookup;

fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let builtin = lookup(name, args.len()).expect("a known builtin");
    let span = regorus::unstable::Span {
        source: regorus::Source::from_contents("test".to_owned(), "x".to_owned()).expect("a source"),
        line: 1,
        col: 1,
        start: 0,
        end: 1,
    };
    let params: Vec<_> = args
        .iter()
        .map(|_| {
            regorus::unstable::Ref::new(regorus::unstable::Expr::Null {
                span: span.clone(),
                value: Value::Null,
                eidx: 0,
            })
        })
        .collect();
    builtin.call(&span, &params, args).map_err(|error| error.0)
}

fn json(text: &str) -> Value {
    Value::from_json_str(text).expect("valid JSON")
}

fn string(text: &str) -> Value {
    Value::from(text)
}

#[test]
fn to_number_takes_what_go_parse_float_takes() {
    for (text, expected) in [
        ("+7", "7"),
        ("007", "7"),
        ("1e3", "1000"),
        ("2.50", "2.5"),
        ("9007199254740993", "9007199254740993"),
        ("-0", "0"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1_000", "1000"),
    ] {
        assert_eq!(call("to_number", &[string(text)]), Ok(json(expected)), "to_number({text:?})");
    }
    for text in [" 7", "7 ", "1e400", "0x10", "Inf", "-infinity", "NaN", "", ".", "1__0", "_1", "12a", "+"] {
        assert!(call("to_number", &[string(text)]).is_err(), "to_number({text:?}) must fail");
    }
    assert_eq!(call("to_number", &[Value::Null]), Ok(json("0")));
    assert_eq!(call("to_number", &[Value::Bool(true)]), Ok(json("1")));
    assert!(call("to_number", &[json("[1]")]).is_err());
}

#[test]
fn sprintf_formats_as_go_does() {
    for (format, args, expected) in [
        ("%d", "[-1]", "-1"),
        ("%d", "[2.5]", "%!d(float64=2.5)"),
        ("%v", "[9007199254740993]", "9007199254740993"),
        ("%v %s", "[1]", "1 %!s(MISSING)"),
        ("%s", "[1, 2]", "%!s(int64=1)%!(EXTRA int64=2)"),
        ("%v", r#"[[1, "a", {"b": null}]]"#, r#"[1, "a", {"b": null}]"#),
        (
            "%5.2f|%-4d|%04d|%x|%q|%e|%g|%v",
            r#"[3.14159, 7, -7, 255, "a\"b", 1234.5678, 0.00001234, 1000000.5]"#,
            r#" 3.14|7   |-007|ff|"a\"b"|1.234568e+03|1.234e-05|1.0000005e+06"#,
        ),
        ("%v", "[1000000]", "1000000"),
        ("%v|%v|%v", "[0.0001, 0.00001, 123456.5]", "0.0001|1e-05|123456.5"),
        ("100%%", "[]", "100%"),
        ("%s and %v", r#"["x", true]"#, "x and true"),
    ] {
        assert_eq!(call("sprintf", &[string(format), json(args)]), Ok(string(expected)), "sprintf({format:?}, {args})");
    }
    let set = Value::from(vec![Value::from(3u64)].into_iter().collect::<std::collections::BTreeSet<_>>());
    let empty = Value::new_set();
    assert_eq!(call("sprintf", &[string("%v %v"), Value::from(vec![set, empty])]), Ok(string("{3} set()")));
}

#[test]
fn count_counts_code_points() {
    assert_eq!(call("count", &[string("café")]), Ok(json("4")));
    assert_eq!(call("count", &[string("\u{663}")]), Ok(json("1")));
    assert_eq!(call("count", &[json("[1, 2]")]), Ok(json("2")));
    assert!(call("count", &[json("7")]).is_err());
}

#[test]
fn glob_match_follows_gobwas() {
    let cases = [
        ("/me{,/**}", r#"["/"]"#, "/me", true),
        ("/me{,/**}", r#"["/"]"#, "/me/x/y", true),
        ("/me{,/**}", r#"["/"]"#, "/mex", false),
        ("*.com", "[]", "a.b.com", false),
        ("*.com", "null", "a.b.com", true),
        ("**.com", "[]", "a.b.com", true),
        ("{GET,HEAD}", "[]", "HEAD", true),
        ("[!a-c]at", "[]", "dat", true),
        ("[!a-c]at", "[]", "bat", false),
        ("[abc]at", "[]", "cat", true),
        ("?at", r#"["f"]"#, "fat", false),
        ("a}b", "[]", "a}b", true),
        ("a\\*b", "[]", "a*b", true),
        ("a\\*b", "[]", "axb", false),
        ("/users/*", r#"["/"]"#, "/users/7/x", false),
    ];
    for (pattern, delimiters, text, expected) in cases {
        assert_eq!(
            call("glob.match", &[string(pattern), json(delimiters), string(text)]),
            Ok(Value::Bool(expected)),
            "glob.match({pattern:?}, {delimiters}, {text:?})"
        );
    }
    for pattern in ["{a", "[a", "[]", "a\\"] {
        assert!(call("glob.match", &[string(pattern), json("[]"), string("a")]).is_err(), "{pattern:?} must fail");
    }
}

#[test]
fn regex_classes_are_ascii_as_in_re2() {
    let matches = |pattern: &str, text: &str| call("regex.match", &[string(pattern), string(text)]);
    assert_eq!(matches(r"^[\w-]{1,16}$", "acme-01"), Ok(Value::Bool(true)));
    assert_eq!(matches(r"\d", "\u{663}"), Ok(Value::Bool(false)));
    assert_eq!(matches(r"^\w+$", "café"), Ok(Value::Bool(false)));
    assert_eq!(matches(r"^\s$", "\u{b}"), Ok(Value::Bool(false)));
    assert_eq!(matches(r"^[^\d]$", "x"), Ok(Value::Bool(true)));
    assert_eq!(matches(r"^[\W]$", "é"), Ok(Value::Bool(true)));
    assert_eq!(matches(r"^[a&&b]$", "&"), Ok(Value::Bool(true)));
    assert!(matches("[", "a").is_err());
    assert_eq!(call("regex.find_n", &[string(r"\d"), string("a1b2c3"), json("-1")]), Ok(json(r#"["1", "2", "3"]"#)));
    assert_eq!(call("regex.find_n", &[string(r"\d"), string("a1b2c3"), json("2")]), Ok(json(r#"["1", "2"]"#)));
    assert_eq!(call("regex.is_valid", &[string("(")]), Ok(Value::Bool(false)));
    assert_eq!(call("regex.is_valid", &[json("1")]), Ok(Value::Bool(false)));
    assert_eq!(call("regex.split", &[string(","), string("a,b")]), Ok(json(r#"["a", "b"]"#)));
    assert_eq!(call("regex.replace", &[string("a1b2"), string(r"\d"), string("#")]), Ok(string("a#b#")));
}

#[test]
fn impure_and_unknown_functions_are_not_compiled() {
    for name in ["time.now_ns", "rand.intn", "http.send", "print", "uuid.rfc4122", "no.such.function"] {
        assert!(lookup(name, 1).is_err(), "{name}");
    }
    assert!(lookup("count", 2).is_err(), "a wrong number of arguments is refused");
    assert!(lookup("startswith", 2).is_ok(), "regorus' builtins are used for the rest");
}
