//! The server over real sockets: limits, timeouts and graceful shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use armature_core::{server, App, Config, Contract, Handler, HandlerResponse, ServerHandle};
use http::StatusCode;

const CONTRACT: &str = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /slow:
    get:
      operationId: slow
      responses:
        "200": {description: ok, content: {text/plain: {schema: {type: string}}}}
  /upload:
    post:
      operationId: upload
      requestBody: {content: {application/octet-stream: {}}}
      responses:
        "204": {description: stored}
"#;

fn start(configure: impl FnOnce(&mut Config)) -> ServerHandle {
    let mut config = Config::default();
    config.server.host = "127.0.0.1".into();
    config.server.port = 0;
    config.server.workers = 2;
    configure(&mut config);
    let app = App::builder(config)
        .contract(Contract::from_text(CONTRACT).unwrap())
        .handler(
            "slow",
            Handler::from_async(|_| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                Ok(HandlerResponse::text(StatusCode::OK, "done"))
            }),
        )
        .handler("upload", Handler::from_async(|_| async { Ok(HandlerResponse::empty(StatusCode::NO_CONTENT)) }))
        .build()
        .unwrap();
    server::start(app).unwrap()
}

/// Sends raw bytes and reads until the server closes the connection.
fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn get(address: SocketAddr, path: &str) -> String {
    exchange(address, format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
}

#[test]
fn declared_body_over_the_limit_is_413_without_reading_it() {
    let server = start(|c| c.server.max_body_bytes = 10);
    let response = exchange(
        server.local_addr(),
        b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 11\r\nconnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload-too-large"), "{response}");
}

#[test]
fn chunked_body_over_the_limit_is_413() {
    let server = start(|c| c.server.max_body_bytes = 10);
    let response = exchange(
        server.local_addr(),
        b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
}

#[test]
fn slow_handler_is_answered_504() {
    let server = start(|c| c.server.request_timeout_ms = 100);
    let response = get(server.local_addr(), "/slow");
    assert!(response.starts_with("HTTP/1.1 504"), "{response}");
    assert!(response.contains("handler-timeout"), "{response}");
}

#[test]
fn incomplete_request_head_is_dropped_after_the_header_timeout() {
    let server = start(|c| c.server.header_read_timeout_ms = 200);
    // No blank line: the head never completes, so the server must give up and close.
    let response = exchange(server.local_addr(), b"GET /slow HTTP/1.1\r\nhost: x\r\n");
    assert!(!response.contains("200 OK"), "{response}");
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = start(|_| {});
    let response = exchange(
        server.local_addr(),
        b"GET /health HTTP/1.1\r\nhost: x\r\n\r\nGET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(response.matches("HTTP/1.1 200").count(), 2, "{response}");
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests_and_reports_not_ready() {
    let server = start(|c| {
        c.server.drain_delay_ms = 300;
        c.server.shutdown_grace_ms = 5_000;
    });
    let address = server.local_addr();
    assert!(get(address, "/ready").starts_with("HTTP/1.1 200"));
    let in_flight: Vec<_> = (0..4).map(|_| std::thread::spawn(move || get(address, "/slow"))).collect();
    std::thread::sleep(Duration::from_millis(100));
    server.shutdown();
    std::thread::sleep(Duration::from_millis(50));
    // During the drain delay the listener still accepts, and readiness already says no.
    let ready = get(address, "/ready");
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.contains("draining"), "{ready}");
    for request in in_flight {
        let response = request.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "in-flight request dropped: {response}");
        assert!(response.ends_with("done"), "{response}");
    }
    server.wait();
    assert!(TcpStream::connect(address).is_err(), "listener still open after shutdown");
}

#[test]
fn bind_error_names_the_address() {
    let first = start(|_| {});
    let port = first.local_addr().port();
    let mut config = Config::default();
    config.server.host = "127.0.0.1".into();
    config.server.port = port;
    let app = App::builder(config).contract(Contract::from_text(CONTRACT).unwrap()).build().unwrap();
    let error = server::start(app).err().unwrap().to_string();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}
