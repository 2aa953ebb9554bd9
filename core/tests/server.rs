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

/// Connects and waits for the server to close the connection without answering; returns what it
/// sent (nothing, for a connection cut by a timer). Fails if it stays open past `limit`.
fn closed_without_answer(address: SocketAddr, sent: &[u8], limit: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.write_all(sent).unwrap();
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => received,
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => received,
        Err(error) => panic!("the connection stayed open ({error}) after sending {:?}", String::from_utf8_lossy(sent)),
    }
}

#[test]
fn connections_that_send_no_request_are_closed_after_the_header_timeout() {
    let server = start(|c| c.server.header_read_timeout_ms = 200);
    let address = server.local_addr();
    // Nothing at all, part of the HTTP/2 preface, the whole preface and a SETTINGS frame: none
    // gets past protocol detection or to a first request, and each must be closed.
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let settings = [0u8, 0, 0, 4, 0, 0, 0, 0, 0];
    let whole: Vec<u8> = preface.iter().chain(settings.iter()).copied().collect();
    for sent in [&b""[..], &preface[..10], &whole[..]] {
        let received = closed_without_answer(address, sent, Duration::from_secs(5));
        assert!(!String::from_utf8_lossy(&received).contains("HTTP/1.1"), "{received:?}");
    }
    let metrics = get(address, "/metrics");
    assert!(metrics.contains(r#"armature_connections_timed_out_total{phase="first_request"} 3"#), "{metrics}");
}

#[test]
fn http11_without_exactly_one_host_is_400() {
    let server = start(|_| {});
    let address = server.local_addr();
    for head in ["GET /health HTTP/1.1\r\n", "GET /health HTTP/1.1\r\nhost: a\r\nhost: b\r\n"] {
        let response = exchange(address, format!("{head}connection: close\r\n\r\n").as_bytes());
        assert!(response.starts_with("HTTP/1.1 400"), "{response}");
        assert!(response.contains("malformed-request"), "{response}");
        assert!(response.contains("exactly one Host header"), "{response}");
    }
    // HTTP/1.0 had no Host rule.
    let response = exchange(address, b"GET /health HTTP/1.0\r\n\r\n");
    assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn request_heads_past_the_limits_are_431() {
    let server = start(|c| {
        c.server.max_header_bytes = 4096;
        c.server.max_header_count = 20;
    });
    let address = server.local_addr();
    let request = |headers: &str| {
        exchange(address, format!("GET /health HTTP/1.1\r\nhost: x\r\n{headers}connection: close\r\n\r\n").as_bytes())
    };
    assert!(request(&format!("x-big: {}\r\n", "a".repeat(3900))).starts_with("HTTP/1.1 200"));
    let big = request(&format!("x-big: {}\r\n", "a".repeat(5000)));
    assert!(big.starts_with("HTTP/1.1 431"), "{big}");
    assert!(big.contains("headers-too-large"), "{big}");
    let many = request(&(0..25).map(|i| format!("x-h{i}: v\r\n")).collect::<String>());
    assert!(many.starts_with("HTTP/1.1 431"), "{many}");
    assert!(many.contains("at most 20 are accepted"), "{many}");
    // Far past the limit the parser stops reading: 431 still, without a problem body.
    let huge = request(&format!("x-huge: {}\r\n", "a".repeat(100_000)));
    assert!(huge.starts_with("HTTP/1.1 431"), "{huge}");
}

#[test]
fn a_stalled_body_is_answered_408_and_the_connection_closed() {
    let server = start(|c| c.server.body_read_timeout_ms = 300);
    let response = closed_without_answer(
        server.local_addr(),
        b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 100\r\n\r\n0123456789",
        Duration::from_secs(5),
    );
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("body-timeout"), "{response}");
    assert!(response.contains("connection: close"), "{response}");
}

#[test]
fn connections_past_the_limit_are_closed_and_counted() {
    let server = start(|c| c.server.max_connections = 2);
    let address = server.local_addr();
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(address).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let refused = closed_without_answer(address, b"", Duration::from_secs(5));
    assert!(refused.is_empty(), "{refused:?}");
    drop(held);
    // Once the held ones are gone, connections are served again.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = get(address, "/metrics");
        if metrics.starts_with("HTTP/1.1 200") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The refused one, and any of the attempts above made before the server saw the held ones go.
    let rejected = metrics
        .lines()
        .find_map(|line| line.strip_prefix("armature_connections_rejected_total "))
        .and_then(|count| count.parse::<u64>().ok());
    assert!(rejected.is_some_and(|count| count >= 1), "{metrics}");
}

#[test]
fn an_idle_http2_connection_gets_a_goaway_after_the_idle_timeout() {
    let server = start(|c| c.server.idle_timeout_ms = 300);
    let address = server.local_addr();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        let connection = tokio::spawn(connection);
        let request = http::Request::get(format!("http://{address}/health"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        // Idle from here on: the server must end the connection by itself.
        let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;
        assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
    });
    let metrics = get(address, "/metrics");
    assert!(metrics.contains(r#"armature_connections_timed_out_total{phase="idle"} 1"#), "{metrics}");
}

#[test]
fn while_draining_http1_responses_say_connection_close() {
    let server = start(|c| c.server.drain_delay_ms = 2_000);
    let address = server.local_addr();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut buffer = [0u8; 4096];
    let n = stream.read(&mut buffer).unwrap();
    assert!(!String::from_utf8_lossy(&buffer[..n]).contains("connection: close"));
    server.shutdown();
    std::thread::sleep(Duration::from_millis(100));
    // The same keep-alive connection, during the drain delay: answered, and told to go away.
    stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("connection: close"), "{response}");
}

#[test]
fn a_refusal_before_the_body_is_read_says_connection_close() {
    let server = start(|_| {});
    // 405 comes before the body is read; hyper will not reuse the connection, and must say so.
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"PUT /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello").unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    assert!(response.contains("connection: close"), "{response}");
}
