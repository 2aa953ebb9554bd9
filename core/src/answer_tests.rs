use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::*;

fn content_types(response: &HandlerResponse) -> Vec<&str> {
    response.headers.get_all(CONTENT_TYPE).iter().map(|v| v.to_str().unwrap()).collect()
}

#[test]
fn statuses() {
    assert_eq!(response_status(200).map(|s| s.as_u16()), Ok(200));
    assert_eq!(response_status(599).map(|s| s.as_u16()), Ok(599));
    for bad in [0, 100, 101, 199, 600, 999, 1000] {
        assert_eq!(response_status(bad), Err(InvalidAnswer::Status(bad)), "{bad}");
        assert_eq!(Answer::new(bad, Body::Nothing).build(), Err(InvalidAnswer::Status(bad)), "{bad}");
    }
    assert_eq!(refusal_status(404).map(|s| s.as_u16()), Ok(404));
    assert_eq!(refusal_status(503).map(|s| s.as_u16()), Ok(503));
    for bad in [200, 302, 399, 600] {
        assert_eq!(refusal_status(bad), Err(InvalidAnswer::RefusalStatus(bad)), "{bad}");
    }
}

#[test]
fn each_body_kind_has_its_content_type_unless_one_is_named() {
    let built = |body: Body| Answer::new(200, body).build().unwrap();
    assert_eq!(content_types(&built(Body::Text(Bytes::from_static(b"hi")))), ["text/plain; charset=utf-8"]);
    assert_eq!(content_types(&built(Body::Binary(Bytes::from_static(b"\x00")))), ["application/octet-stream"]);
    assert_eq!(content_types(&built(Body::Json(Bytes::from_static(b"{}")))), ["application/json"]);
    assert!(content_types(&built(Body::Exact(Bytes::from_static(b"raw")))).is_empty());
    let named = Answer::new(200, Body::Text(Bytes::from_static(b"a,b"))).content_type("text/csv").build().unwrap();
    assert_eq!(content_types(&named), ["text/csv"]);
    assert_eq!(named.body, Bytes::from_static(b"a,b"));
}

#[test]
fn a_content_type_header_wins_over_the_argument_in_any_case() {
    for name in ["Content-Type", "content-type", "content-TYPE", "CONTENT-TYPE"] {
        let response = Answer::new(200, Body::Text(Bytes::from_static(b"a,b")))
            .content_type("text/plain")
            .header(name, "text/csv")
            .header("X-Custom-HEADER", "yes")
            .build()
            .unwrap();
        assert_eq!(content_types(&response), ["text/csv"], "{name}");
        assert_eq!(response.headers["x-custom-header"], "yes");
    }
}

#[test]
fn two_content_type_headers_are_refused() {
    let answer = Answer::new(200, Body::Text(Bytes::from_static(b"x")))
        .header("Content-Type", "text/csv")
        .header("content-type", "text/plain");
    assert_eq!(answer.build(), Err(InvalidAnswer::ContentTypes(2)));
    let mut response = HandlerResponse::text(StatusCode::OK, "x");
    response.headers.append(CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    assert_eq!(check(&Ok(response)), Err(InvalidAnswer::ContentTypes(2)));
}

#[test]
fn nothing_returned_is_204_for_200_and_keeps_any_other_status() {
    let nothing = |status| Answer::new(status, Body::Nothing).build().unwrap();
    assert_eq!(nothing(200).status, StatusCode::NO_CONTENT);
    assert_eq!(nothing(201).status, StatusCode::CREATED);
    assert_eq!(nothing(202).status, StatusCode::ACCEPTED);
    assert!(nothing(200).body.is_empty() && nothing(200).headers.is_empty());
    assert_eq!((status_of_nothing(200), status_of_nothing(201)), (204, 201));
    // An explicit empty body is not "nothing": 200 stays 200.
    assert_eq!(Answer::new(200, Body::Exact(Bytes::new())).build().unwrap().status, StatusCode::OK);
}

#[test]
fn framing_headers_are_core_s_in_any_case() {
    for name in ["content-length", "Content-Length", "Transfer-Encoding", "connection", "UPGRADE"] {
        assert!(is_reserved_header(name), "{name}");
        let answer = Answer::new(200, Body::Nothing).header(name, "1");
        assert!(matches!(answer.build(), Err(InvalidAnswer::Header(_))), "{name}");
    }
    assert!(!is_reserved_header("content-type") && !is_reserved_header("x-request-id"));
    let mut response = HandlerResponse::text(StatusCode::OK, "hi");
    response.headers.insert("x-custom", HeaderValue::from_static("1"));
    assert_eq!(check(&Ok(response.clone())), Ok(()));
    response.headers.insert("content-length", HeaderValue::from_static("99"));
    assert!(matches!(check(&Ok(response)), Err(InvalidAnswer::Header(name)) if name == "content-length"));
    let refused = Err(HandlerError::Refused { status: StatusCode::OK, detail: String::new() });
    assert_eq!(check(&refused), Err(InvalidAnswer::RefusalStatus(200)));
}

#[test]
fn malformed_header_names_and_values_are_refused() {
    let bad_name = Answer::new(200, Body::Nothing).header("bad name", "x").build();
    assert_eq!(bad_name, Err(InvalidAnswer::HeaderName("bad name".into())));
    let bad_value = Answer::new(200, Body::Nothing).header("x-a", "line\nbreak").build();
    assert_eq!(bad_value, Err(InvalidAnswer::HeaderValue("x-a".into())));
    let bad_type = Answer::new(200, Body::Nothing).content_type("a\nb").build();
    assert_eq!(bad_type, Err(InvalidAnswer::HeaderValue("content-type".into())));
}

#[test]
fn a_broken_answer_becomes_a_failure_that_says_why() {
    let response = HandlerResponse { status: StatusCode::CONTINUE, headers: HeaderMap::new(), body: Bytes::new() };
    let (failure, invalid) = enforce(Ok(response));
    assert_eq!(invalid, Some(InvalidAnswer::Status(100)));
    assert!(matches!(failure, Err(HandlerError::Failed(message)) if message.contains("100")));
}
