//! Runs cases against a tiny in-process echo server to check what goes over the wire.

use std::convert::Infallible;
use std::time::Duration;

use armature_conformance::{load_str, Outcome, Runner};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Answers every request with a JSON description of what it received.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let headers: Vec<(String, String)> =
        parts.headers.iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_string())).collect();
    let description = serde_json::json!({
        "method": parts.method.as_str(),
        "target": parts.uri.path_and_query().map(|p| p.as_str()),
        "headers": headers,
        "body_len": body.len(),
        "body_start": String::from_utf8_lossy(&body[..body.len().min(20)]),
    });
    let status = if parts.uri.path() == "/slow" {
        tokio::time::sleep(Duration::from_millis(500)).await;
        200
    } else {
        201
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-twice", "a")
        .header("x-twice", "b")
        .body(Full::new(Bytes::from(description.to_string())))
        .expect("response"))
}

async fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(echo))
                    .await;
            });
        }
    });
    format!("http://{address}/")
}

const CASES: &str = r#"
- name: path verbatim, repeated headers, json body
  request:
    method: POST
    path: /users/%31/a%2Fb?x=%20&y=1|2&filter[color]=red
    headers: {X-Request-Id: abc, tracestate: ["a=1", "b=2"]}
    json: {name: Bob}
  expect:
    status: 201
    headers: {content-type: application/json, x-twice: "a, b", x-missing: null, x-request-id: null}
    json_subset:
      method: POST
      target: /users/%31/a%2Fb?x=%20&y=1|2&filter[color]=red
      body_len: 14
      body_start: '{"name":"Bob"}'
    json_absent: [/nothing]
- name: generated body
  request: {method: PUT, path: /big, body_repeat: {text: "ab", times: 35000}}
  expect: {status: 201, json_subset: {body_len: 70000, body_start: "re:^(ab){10}$"}}
- name: custom method and raw body
  request: {method: PATCH, path: /x, headers: {Content-Type: text/plain}, body: "hi there"}
  expect: {status: 201, json_subset: {method: PATCH, body_len: 8, body_start: hi there}}
- name: expected to fail
  request: {method: GET, path: /nope}
  expect: {status: 404, headers: {x-request-id: "*"}, body_not_contains: ["GET"]}
- name: too slow
  request: {method: GET, path: /slow}
  expect: {status: 200}
"#;

#[tokio::test]
async fn runs_cases_over_http() {
    let base = start_server().await;
    let cases = load_str("wire.yaml", CASES).expect("cases load");
    let runner = Runner::new(&base, Duration::from_millis(300)).expect("runner");
    let results = runner.run_all(&cases).await;

    for result in &results[..3] {
        assert!(result.passed(), "{}", result.report());
    }

    let failed = &results[3];
    assert!(!failed.passed());
    let report = failed.report();
    assert!(report.starts_with("FAIL expected to fail (wire.yaml)\n"), "{report}");
    assert!(report.contains("status: expected 404, got 201"), "{report}");
    assert!(report.contains("header x-request-id: expected present, but it is absent"), "{report}");
    assert!(report.contains("body: must not contain \"GET\""), "{report}");
    assert!(report.contains("  got:\n    status: 201\n"), "{report}");
    assert!(report.contains("x-twice: a"), "{report}");

    let slow = &results[4];
    assert!(matches!(&slow.outcome, Outcome::Error(e) if e.contains("no complete response")), "{}", slow.report());
}

#[tokio::test]
async fn refused_connection_is_an_error_outcome() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let cases =
        load_str("c.yaml", "- {name: a, request: {method: GET, path: /}, expect: {status: 200}}").expect("cases load");
    let runner = Runner::new(&format!("http://{address}"), Duration::from_secs(5)).expect("runner");
    let result = runner.run(&cases[0]).await;
    assert!(matches!(result.outcome, Outcome::Error(ref e) if e.contains("request failed")), "{}", result.report());
}

#[test]
fn base_url_must_be_plain_http() {
    assert!(Runner::new("https://x", Duration::from_secs(1)).is_err());
    assert!(Runner::new("127.0.0.1:8080", Duration::from_secs(1)).is_err());
    assert!(Runner::new("http://x/?a=1", Duration::from_secs(1)).is_err());
    assert!(Runner::new("http://127.0.0.1:8080/prefix/", Duration::from_secs(1)).is_ok());
}
