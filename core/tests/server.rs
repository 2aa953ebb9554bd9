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
    // Tens of KiB past a small limit are still parsed, and answered with the problem.
    let long = request(&format!("x-long: {}\r\n", "a".repeat(40_000)));
    assert!(long.starts_with("HTTP/1.1 431") && long.contains("headers-too-large"), "{long}");
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

// --- HTTPS (server.tls) ----------------------------------------------------------------------

const CREDENTIALS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/credentials");

fn with_tls(config: &mut Config) {
    config.server.tls.cert_file = Some(format!("{CREDENTIALS}/tls-server.pem").into());
    config.server.tls.key_file = Some(format!("{CREDENTIALS}/tls-server.key.pem").into());
}

/// A TLS client trusting the test CA, offering `alpn`, optionally with the test client certificate.
fn tls_connector(alpn: &[&[u8]], client_certificate: bool) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(format!("{CREDENTIALS}/tls-ca.pem")).unwrap()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = if client_certificate {
        let chain = vec![CertificateDer::from_pem_file(format!("{CREDENTIALS}/tls-client.pem")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(format!("{CREDENTIALS}/tls-client.key.pem")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// GET /health over TLS: (the ALPN protocol agreed, the status), or the handshake's error.
async fn https_health(
    address: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> Result<(Option<Vec<u8>>, StatusCode), String> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let io = hyper_util::rt::TokioIo::new(tls);
    let request =
        http::Request::get("https://localhost/health").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
    let status = if alpn.as_deref() == Some(b"h2") {
        let (mut sender, connection) = hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        sender.send_request(request).await.map_err(|e| e.to_string())?.status()
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::get("/health")
            .header("host", "localhost")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        sender.send_request(request).await.map_err(|e| e.to_string())?.status()
    };
    Ok((alpn, status))
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

#[test]
fn https_serves_h2_and_http1_by_alpn_and_counts_failed_handshakes() {
    let server = start(with_tls);
    let address = server.local_addr();
    assert_eq!(server.tls_addr(), Some(address));
    let either = tls_connector(&[b"h2", b"http/1.1"], false);
    let http1 = tls_connector(&[b"http/1.1"], false);
    block_on(async {
        assert_eq!(https_health(address, &either).await.unwrap(), (Some(b"h2".to_vec()), StatusCode::OK));
        assert_eq!(https_health(address, &http1).await.unwrap(), (Some(b"http/1.1".to_vec()), StatusCode::OK));
    });
    // Plain HTTP to the HTTPS port is a failed handshake: closed (after a TLS alert at most),
    // never answered over HTTP, and counted.
    let plain = get(address, "/health");
    assert!(!plain.contains("HTTP/1.1"), "{plain}");
    let metrics = block_on(async {
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let tls = either.connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(tls);
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        let request =
            http::Request::get("https://localhost/metrics").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    });
    assert!(metrics.contains("armature_tls_handshake_failures_total 1"), "{metrics}");
}

#[test]
fn https_on_its_own_port_keeps_plain_http_and_can_require_client_certificates() {
    let server = start(|c| {
        with_tls(c);
        c.server.tls.port = Some(0);
        c.server.tls.client_ca_file = Some(format!("{CREDENTIALS}/tls-ca.pem").into());
        c.server.tls.client_auth = armature_core::config::ClientAuth::Required;
    });
    let tls_address = server.tls_addr().unwrap();
    assert_ne!(tls_address, server.local_addr());
    assert!(get(server.local_addr(), "/health").starts_with("HTTP/1.1 200"));
    block_on(async {
        let with_certificate = tls_connector(&[b"h2"], true);
        assert_eq!(https_health(tls_address, &with_certificate).await.unwrap().1, StatusCode::OK);
        // Without one the server refuses it: in TLS 1.3 the client learns when it next reads.
        let without = tls_connector(&[b"h2"], false);
        assert!(https_health(tls_address, &without).await.is_err());
    });
}

#[test]
fn tls_files_that_cannot_serve_fail_at_start_naming_the_key() {
    let mut config = Config::default();
    config.server.host = "127.0.0.1".into();
    config.server.port = 0;
    with_tls(&mut config);
    config.server.tls.key_file = Some(format!("{CREDENTIALS}/tls-client.key.pem").into());
    let app = App::builder(config).contract(Contract::from_text(CONTRACT).unwrap()).build().unwrap();
    let error = server::start(app).err().unwrap().to_string();
    assert!(error.starts_with("cannot serve HTTPS: server.tls: the key does not fit the certificate"), "{error}");
    let mut config = Config::default();
    config.server.port = 0;
    config.server.tls.cert_file = Some(format!("{CREDENTIALS}/hs.secret").into());
    config.server.tls.key_file = Some(format!("{CREDENTIALS}/tls-server.key.pem").into());
    let app = App::builder(config).contract(Contract::from_text(CONTRACT).unwrap()).build().unwrap();
    let error = server::start(app).err().unwrap().to_string();
    assert!(error.contains("server.tls.cert_file: no certificate in"), "{error}");
}

/// An app whose `GET /me` requires `scheme` (a security scheme object in YAML flow style) and
/// answers the identity the handler sees.
fn identity_echo_app(config: Config, scheme: &str) -> App {
    let contract = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
components: {{securitySchemes: {{creds: {scheme}}}}}
paths:
  /me:
    get:
      operationId: me
      security: [{{creds: []}}]
      responses:
        "200": {{description: ok, content: {{application/json: {{schema: {{}}}}}}}}
"#
    );
    App::builder(config)
        .contract(Contract::from_text(&contract).unwrap())
        .handler(
            "me",
            Handler::from_async(|request| async move {
                Ok(HandlerResponse::json(StatusCode::OK, &request.identity.to_json()))
            }),
        )
        .build()
        .unwrap()
}

#[test]
fn a_verified_client_certificate_is_the_mutual_tls_identity() {
    let mut config = Config::default();
    config.server.host = "127.0.0.1".into();
    config.server.port = 0;
    with_tls(&mut config);
    config.server.tls.client_ca_file = Some(format!("{CREDENTIALS}/tls-ca.pem").into());
    config.server.tls.client_auth = armature_core::config::ClientAuth::Optional;
    let server = server::start(identity_echo_app(config, "{type: mutualTLS}")).unwrap();
    let address = server.local_addr();
    let me = |client_certificate: bool| {
        block_on(async move {
            let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let tls = tls_connector(&[b"h2"], client_certificate).connect(name, tcp).await.unwrap();
            let io = hyper_util::rt::TokioIo::new(tls);
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
            tokio::spawn(connection);
            let request =
                http::Request::get("https://localhost/me").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
            let response = sender.send_request(request).await.unwrap();
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
            (status, serde_json::from_slice::<serde_json::Value>(&body).unwrap())
        })
    };
    let (status, identity) = me(true);
    assert_eq!(status, StatusCode::OK, "{identity}");
    assert_eq!(identity["kind"], "mtls");
    assert_eq!(identity["subject"], "spiffe://armature.test/orders");
    assert_eq!(identity["claims"]["subject"], "CN=orders-service");
    // `optional`: without a certificate the handshake succeeds and the operation answers 401.
    let (status, problem) = me(false);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
}

/// Serves `documents` by path over HTTPS with the test server certificate; returns the port.
/// Documents an HTTPS test server answers, by path (404 for any other); changed while it runs
/// to rotate keys.
type Documents = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

fn https_document_server(documents: Documents) -> u16 {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = vec![CertificateDer::from_pem_file(format!("{CREDENTIALS}/tls-server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(format!("{CREDENTIALS}/tls-server.key.pem")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (acceptor, documents) = (acceptor.clone(), documents.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                        let found = documents.lock().unwrap().get(request.uri().path()).cloned();
                        let mut response = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(
                            found.clone().unwrap_or_default(),
                        )));
                        if found.is_none() {
                            *response.status_mut() = StatusCode::NOT_FOUND;
                        }
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        })
    });
    port
}

#[test]
fn jwks_is_fetched_over_https_with_a_private_ca_and_fails_closed_when_unreachable() {
    let tokens: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{CREDENTIALS}/tokens.json")).unwrap()).unwrap();
    let token = tokens["dave_es384"].as_str().unwrap().to_owned(); // kid ec384: only in jwks.json
    let client = |url: String| {
        let mut config = Config::default();
        config.identity.jwt.issuer = Some("https://issuer.armature.test".into());
        config.identity.jwt.audience = vec!["armature-conformance".into()];
        config.identity.jwt.jwks = Some(armature_core::config::JwksConfig {
            url: Some(url),
            ca_file: Some(format!("{CREDENTIALS}/tls-ca.pem").into()),
            fetch_timeout_ms: 2_000,
            ..Default::default()
        });
        armature_core::testing::TestClient::new(identity_echo_app(config, "{type: http, scheme: bearer}")).unwrap()
    };
    let jwks = std::fs::read_to_string(format!("{CREDENTIALS}/jwks.json")).unwrap();
    let port = https_document_server(Documents::new(std::sync::Mutex::new(
        [("/.well-known/jwks.json".to_owned(), jwks)].into(),
    )));
    let served = client(format!("https://localhost:{port}/.well-known/jwks.json"));
    let answer = served.get("/me").header("authorization", &format!("Bearer {token}")).send().unwrap();
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["subject"], "dave");
    // Nothing listens there: no key was ever fetched, so the token is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("https://localhost:{}/jwks.json", closed.local_addr().unwrap().port());
    drop(closed);
    let refused = client(unreachable).get("/me").header("authorization", &format!("Bearer {token}")).send().unwrap();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.text().contains("key id is unknown"), "{}", refused.text());
}

#[test]
fn discovery_finds_the_jwks_follows_a_key_rotation_and_checks_the_issuer() {
    let tokens: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{CREDENTIALS}/tokens.json")).unwrap()).unwrap();
    let bearer = |name: &str| format!("Bearer {}", tokens[name].as_str().unwrap());
    let mut jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{CREDENTIALS}/jwks.json")).unwrap()).unwrap();
    let all_keys = jwks.to_string();
    // Before the rotation the provider publishes only the Ed25519 key (erin's), not ec384 (dave's).
    jwks["keys"].as_array_mut().unwrap().retain(|key| key["kid"] == "ed25519");
    let documents = Documents::default();
    documents.lock().unwrap().insert("/keys".into(), jwks.to_string());
    let port = https_document_server(documents.clone());
    let discovery = |issuer: &str| {
        let document = serde_json::json!({"issuer": issuer, "jwks_uri": format!("https://localhost:{port}/keys")});
        document.to_string()
    };
    documents
        .lock()
        .unwrap()
        .insert("/.well-known/openid-configuration".into(), discovery("https://issuer.armature.test"));
    documents
        .lock()
        .unwrap()
        .insert("/impostor/.well-known/openid-configuration".into(), discovery("https://impostor.test"));
    let client = |path: &str| {
        let mut config = Config::default();
        config.identity.jwt.issuer = Some("https://issuer.armature.test".into());
        config.identity.jwt.audience = vec!["armature-conformance".into()];
        config.identity.jwt.jwks = Some(armature_core::config::JwksConfig {
            discovery_url: Some(format!("https://localhost:{port}{path}")),
            ca_file: Some(format!("{CREDENTIALS}/tls-ca.pem").into()),
            min_refresh_interval_seconds: 0, // every unknown kid may fetch: the rotation is seen at once
            ..Default::default()
        });
        armature_core::testing::TestClient::new(identity_echo_app(config, "{type: http, scheme: bearer}")).unwrap()
    };
    let served = client("/.well-known/openid-configuration");
    let me = |client: &armature_core::testing::TestClient, token: &str| {
        client.get("/me").header("authorization", &bearer(token)).send().unwrap()
    };
    assert_eq!(me(&served, "erin_eddsa").status, StatusCode::OK);
    assert_eq!(me(&served, "dave_es384").status, StatusCode::UNAUTHORIZED, "not published yet");
    documents.lock().unwrap().insert("/keys".into(), all_keys);
    let rotated = me(&served, "dave_es384");
    assert_eq!(rotated.status, StatusCode::OK, "the unknown kid fetched the rotated set: {}", rotated.text());

    // A discovery document naming another issuer is refused: no key is taken from it, and the
    // failed fetch is counted.
    let impostor = client("/impostor/.well-known/openid-configuration");
    assert_eq!(me(&impostor, "erin_eddsa").status, StatusCode::UNAUTHORIZED);
    let metrics = impostor.get("/metrics").send().unwrap().text();
    assert!(metrics.contains("armature_jwks_fetch_failures_total 1"), "{metrics}");
}

/// A directory of its own under the system's temporary one, for files a test rewrites.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("armature-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_reload_swaps_policy_and_certificate_together_or_changes_nothing() {
    let dir = scratch_dir("reload");
    let (policy, cert, key) = (dir.join("policy.rego"), dir.join("server.pem"), dir.join("server.key.pem"));
    let write_policy = |allow: &str| {
        std::fs::write(&policy, format!("package t\nimport rego.v1\ndefault allow := {allow}\n")).unwrap()
    };
    let serve_certificate = |name: &str| {
        std::fs::copy(format!("{CREDENTIALS}/{name}.pem"), &cert).unwrap();
        std::fs::copy(format!("{CREDENTIALS}/{name}.key.pem"), &key).unwrap();
    };
    write_policy("true");
    serve_certificate("tls-server");
    let server = start(|c| {
        c.server.tls.cert_file = Some(cert.clone());
        c.server.tls.key_file = Some(key.clone());
        c.server.tls.port = Some(0);
        c.authorization.policies = vec![policy.clone()];
        c.authorization.decision = "data.t.allow".into();
    });
    let upload = || get_status(server.local_addr(), "POST /upload");
    let tls_address = server.tls_addr().unwrap();
    let connector = tls_connector(&[b"h2"], false);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // An HTTP/2 connection opened before the reloads: it keeps the certificate it was made with.
    let mut opened_before = runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(tls_address).await.unwrap();
        let tls = connector.connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(tls);
        let (sender, connection) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        sender
    });
    assert_eq!(upload(), 204);

    write_policy("false");
    server.reload().unwrap();
    assert_eq!(upload(), 403, "the new policy decides");

    // A policy that does not compile: refused, named, and the one in use stays.
    std::fs::write(&policy, "package t\nallow := \n").unwrap();
    let error = server.reload().unwrap_err().to_string();
    assert!(error.contains("policy.rego"), "{error}");
    assert_eq!(upload(), 403);

    // A good policy with a key that fits no certificate: nothing is swapped, not even the policy.
    write_policy("true");
    std::fs::copy(format!("{CREDENTIALS}/tls-client.key.pem"), &key).unwrap();
    let error = server.reload().unwrap_err().to_string();
    assert!(error.contains("server.tls"), "{error}");
    assert_eq!(upload(), 403, "a failed reload changes nothing");

    // The test client certificate (no serverAuth use): swapped in, and refused by new clients.
    serve_certificate("tls-client");
    server.reload().unwrap();
    assert_eq!(upload(), 204);
    runtime.block_on(async {
        let refused = https_health(tls_address, &connector).await;
        assert!(refused.is_err(), "new handshakes get the new certificate: {refused:?}");
        let request =
            http::Request::get("https://localhost/health").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
        let answered = opened_before.send_request(request).await.unwrap();
        assert_eq!(answered.status(), StatusCode::OK, "an open connection keeps its certificate");
    });
    serve_certificate("tls-server");
    server.reload().unwrap();
    runtime.block_on(async { assert_eq!(https_health(tls_address, &connector).await.unwrap().1, StatusCode::OK) });

    let metrics = get(server.local_addr(), "/metrics");
    assert!(metrics.contains(r#"armature_reloads_total{result="succeeded"} 3"#), "{metrics}");
    assert!(metrics.contains(r#"armature_reloads_total{result="failed"} 2"#), "{metrics}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The status of `method_and_path` (no body) on a fresh connection.
fn get_status(address: SocketAddr, method_and_path: &str) -> u16 {
    let response = exchange(
        address,
        format!("{method_and_path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
    );
    response.split(' ').nth(1).and_then(|status| status.parse().ok()).unwrap_or(0)
}
