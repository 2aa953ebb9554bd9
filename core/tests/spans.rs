//! Exports request spans to a fake OTLP/HTTP collector and checks what arrives on the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use armature_core::config::telemetry::TracingConfig;
use armature_core::telemetry::spans::{AttributeValue, RequestSpan, SpanExporter, SpanRole, StageTiming};
use armature_core::trace_context::{SpanId, TraceId};
use armature_core::Config;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "53995c3f42cd8ad8";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// One request the fake collector received.
struct Received {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// A collector on 127.0.0.1 that answers every request 200 and hands it to the test.
fn fake_collector() -> (String, mpsc::Receiver<Received>) {
    fake_collector_over(None)
}

/// The test CA and server certificate of the conformance credentials.
const CREDENTIALS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/credentials");

/// As [`fake_collector`], over HTTPS with the test server certificate when `tls` is given.
fn fake_collector_over(tls: Option<Arc<rustls::ServerConfig>>) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake collector");
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = format!("{scheme}://{}/v1/traces", listener.local_addr().expect("collector address"));
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let sender = sender.clone();
            let tls = tls.clone();
            thread::spawn(move || match tls {
                None => serve(stream, &sender),
                Some(config) => {
                    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                    serve(rustls::StreamOwned::new(connection, stream), &sender);
                }
            });
        }
    });
    (endpoint, receiver)
}

/// Serves HTTP/1.1 requests on one connection (the client may keep it alive) until it closes.
fn serve(stream: impl Read + Write, sender: &mpsc::Sender<Received>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let (mut content_length, mut chunked, mut content_type) = (0usize, false, String::new());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "content-type" => content_type = value.to_owned(),
                _ => {}
            }
        }
        let body = if chunked { read_chunked(&mut reader) } else { read_exact(&mut reader, content_length) };
        let Some(body) = body else { return };
        let _ = sender.send(Received { path, content_type, body });
        let response = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        let writer = reader.get_mut();
        if writer.write_all(response.as_bytes()).and_then(|()| writer.flush()).is_err() {
            return;
        }
    }
}

fn read_exact(reader: &mut impl Read, len: usize) -> Option<Vec<u8>> {
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = read_exact(reader, size + 2)?;
        chunk.truncate(size);
        body.extend_from_slice(&chunk);
        if size == 0 {
            return Some(body);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).expect("time after 1970").as_nanos() as u64
}

fn config(endpoint: &str) -> TracingConfig {
    TracingConfig {
        enabled: true,
        endpoint: endpoint.to_owned(),
        sample_ratio: 1.0,
        service_name: "spans-test".to_owned(),
        export_timeout_ms: 3_000,
        ca_file: None,
    }
}

fn request_span(start: SystemTime) -> RequestSpan {
    RequestSpan {
        role: SpanRole::Server,
        trace_id: TraceId::from_hex(TRACE_ID.as_bytes()).expect("trace id"),
        span_id: SpanId::from_hex(SPAN_ID.as_bytes()).expect("span id"),
        parent_span_id: SpanId::from_hex(PARENT_ID.as_bytes()),
        name: "GET /users/{id}".to_owned(),
        start,
        end: start + Duration::from_millis(12),
        attributes: vec![
            ("http.request.method", AttributeValue::Str("GET".to_owned())),
            ("http.response.status_code", AttributeValue::Int(503)),
        ],
        stages: vec![
            StageTiming {
                name: "validation",
                start: start + Duration::from_micros(100),
                end: start + Duration::from_micros(350),
            },
            StageTiming {
                name: "handler",
                start: start + Duration::from_millis(1),
                end: start + Duration::from_millis(11),
            },
        ],
        error: true,
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes.iter().find(|attribute| attribute.key == key)?.value.as_ref()?.value.as_ref()
}

/// Waits for the collector's next request and decodes it.
fn next_export(received: &mpsc::Receiver<Received>) -> ExportTraceServiceRequest {
    let request = received.recv_timeout(Duration::from_secs(10)).expect("the collector got no export");
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(request.content_type, "application/x-protobuf");
    ExportTraceServiceRequest::decode(request.body.as_slice()).expect("body is an OTLP ExportTraceServiceRequest")
}

fn check_exported_span(export: &ExportTraceServiceRequest, start: SystemTime) {
    assert_eq!(export.resource_spans.len(), 1);
    let resource_spans = &export.resource_spans[0];
    let resource = resource_spans.resource.as_ref().expect("resource");
    assert_eq!(attribute(&resource.attributes, "service.name"), Some(&Value::StringValue("spans-test".to_owned())));
    let spans: Vec<_> = resource_spans.scope_spans.iter().flat_map(|scope| &scope.spans).collect();
    assert_eq!(spans.len(), 1);
    let span = spans[0];

    assert_eq!(hex(&span.trace_id), TRACE_ID);
    assert_eq!(hex(&span.span_id), SPAN_ID);
    assert_eq!(hex(&span.parent_span_id), PARENT_ID);
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(span.start_time_unix_nano, nanos(start));
    assert_eq!(span.end_time_unix_nano, nanos(start + Duration::from_millis(12)));
    assert_eq!(attribute(&span.attributes, "http.request.method"), Some(&Value::StringValue("GET".to_owned())));
    assert_eq!(attribute(&span.attributes, "http.response.status_code"), Some(&Value::IntValue(503)));
    assert_eq!(span.status.as_ref().map(|status| status.code), Some(StatusCode::Error as i32));

    let events: Vec<_> = span
        .events
        .iter()
        .map(|event| (event.name.as_str(), event.time_unix_nano, attribute(&event.attributes, "duration_us").cloned()))
        .collect();
    assert_eq!(
        events,
        vec![
            ("validation", nanos(start + Duration::from_micros(100)), Some(Value::IntValue(250))),
            ("handler", nanos(start + Duration::from_millis(1)), Some(Value::IntValue(10_000))),
        ]
    );
}

#[test]
fn exports_a_server_span_with_the_given_ids() {
    let (endpoint, received) = fake_collector();
    let exporter = SpanExporter::start(&config(&endpoint)).expect("exporter starts");
    let start = SystemTime::now();
    exporter.record(request_span(start));
    exporter.shutdown();
    check_exported_span(&next_export(&received), start);
}

/// The collector's TLS: the test server certificate (of the test CA).
fn collector_tls() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = vec![CertificateDer::from_pem_file(format!("{CREDENTIALS}/tls-server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(format!("{CREDENTIALS}/tls-server.key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

#[test]
fn exports_to_an_https_collector_trusting_a_private_ca() {
    let (endpoint, received) = fake_collector_over(Some(collector_tls()));
    let mut trusting = config(&endpoint);
    trusting.ca_file = Some(format!("{CREDENTIALS}/tls-ca.pem").into());
    let exporter = SpanExporter::start(&trusting).expect("exporter starts");
    let start = SystemTime::now();
    exporter.record(request_span(start));
    exporter.shutdown();
    check_exported_span(&next_export(&received), start);

    // Without the CA the collector's certificate is not trusted: nothing arrives.
    let (endpoint, received) = fake_collector_over(Some(collector_tls()));
    let exporter = SpanExporter::start(&config(&endpoint)).expect("exporter starts");
    exporter.record(request_span(SystemTime::now()));
    exporter.shutdown();
    assert!(received.recv_timeout(Duration::from_millis(500)).is_err(), "an untrusted collector got spans");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_tokio_runtime() {
    let (endpoint, received) = fake_collector();
    let exporter = SpanExporter::start(&config(&endpoint)).expect("exporter starts inside tokio");
    let start = SystemTime::now();
    exporter.record(request_span(start));
    exporter.shutdown();
    check_exported_span(&next_export(&received), start);
}

#[test]
fn root_span_without_parent_and_ok_status() {
    let (endpoint, received) = fake_collector();
    let exporter = SpanExporter::start(&config(&endpoint)).expect("exporter starts");
    let start = SystemTime::now();
    let span = RequestSpan { parent_span_id: None, error: false, stages: Vec::new(), ..request_span(start) };
    exporter.record(span);
    exporter.shutdown();
    let export = next_export(&received);
    let span = &export.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(hex(&span.trace_id), TRACE_ID);
    assert_eq!(hex(&span.span_id), SPAN_ID);
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.status.as_ref().map_or(0, |status| status.code), StatusCode::Unset as i32);
    assert!(span.events.is_empty());
}

#[test]
fn a_record_after_shutdown_is_dropped() {
    // Ids are typed (never zero, never malformed), so a span can only be dropped for this.
    let (endpoint, received) = fake_collector();
    let exporter = SpanExporter::start(&config(&endpoint)).expect("exporter starts");
    let start = SystemTime::now();
    exporter.shutdown();
    exporter.shutdown();
    exporter.record(request_span(start));
    exporter.shutdown();
    drop(exporter);
    assert!(received.recv_timeout(Duration::from_millis(500)).is_err(), "nothing should have been exported");
}

#[test]
fn record_never_blocks_and_shutdown_is_bounded_when_the_collector_is_down() {
    // A port that was just free: nothing listens, so every export fails.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("free port").port();
    let config = TracingConfig { export_timeout_ms: 300, ..config(&format!("http://127.0.0.1:{port}/v1/traces")) };
    let exporter = SpanExporter::start(&config).expect("exporter starts");
    let started = Instant::now();
    // Far more than the SDK's queue holds: the rest must be dropped, not waited for.
    for _ in 0..20_000 {
        exporter.record(request_span(SystemTime::now()));
    }
    assert!(started.elapsed() < Duration::from_secs(5), "record took {:?}", started.elapsed());
    let stopping = Instant::now();
    exporter.shutdown();
    assert!(stopping.elapsed() < Duration::from_secs(3), "shutdown took {:?}", stopping.elapsed());
}

/// Every span of the exports received until `count` spans have arrived.
fn spans_received(
    received: &mpsc::Receiver<Received>,
    count: usize,
) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    let mut spans = Vec::new();
    while spans.len() < count {
        let export = next_export(received);
        spans.extend(export.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans));
    }
    spans
}

#[test]
fn an_outgoing_call_of_a_recorded_request_is_exported_as_its_client_span() {
    use armature_core::testing::TestClient;
    use armature_core::{App, Contract, Handler, HandlerResponse};

    let contract = Contract::from_text(
        r#"{"openapi": "3.1.0", "info": {"title": "calls", "version": "1"}, "paths": {"/call": {"get": {
            "operationId": "call", "responses": {"200": {"description": "ok",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}}}}}"#,
    )
    .expect("contract");
    let (endpoint, received) = fake_collector();
    let mut app_config = Config::default();
    app_config.telemetry.tracing = config(&endpoint);
    app_config.telemetry.access_log.enabled = false;
    let app = App::builder(app_config)
        .contract(contract)
        .handler(
            "call",
            Handler::from_async(|request| async move {
                let call = request.begin_outgoing_call(
                    "GET",
                    Some("GET"),
                    Some("http://user:pw@inventory:8080/stock?token=secret"),
                );
                let call = call.expect("a named call begins");
                let traceparent = call.context().traceparent.clone();
                call.end(Some(503), None);
                Ok(HandlerResponse::text(http::StatusCode::OK, traceparent))
            }),
        )
        .build()
        .expect("app");
    let client = TestClient::new(app).expect("client");

    // Unsampled caller: the call still gets its headers (flags 00), and no span is built.
    let unsampled = client.get("/call").header("traceparent", &format!("00-{TRACE_ID}-{PARENT_ID}-00")).send();
    let unsampled = unsampled.expect("unsampled request").text();
    assert!(unsampled.starts_with(&format!("00-{TRACE_ID}-")) && unsampled.ends_with("-00"), "{unsampled}");

    let response = client.get("/call").header("traceparent", &format!("00-{TRACE_ID}-{PARENT_ID}-01")).send();
    let response = response.expect("sampled request");
    let sent = response.text();
    let server_span_id = response.header("traceparent").expect("traceparent").split('-').nth(2).expect("span id");
    let call_span_id = sent.split('-').nth(2).expect("call span id").to_owned();
    assert_ne!(call_span_id, server_span_id);
    client.app().telemetry().shutdown();

    let spans = spans_received(&received, 2);
    assert_eq!(spans.len(), 2, "one server and one client span, none for the unsampled request");
    let server = spans.iter().find(|span| span.kind == SpanKind::Server as i32).expect("server span");
    let call = spans.iter().find(|span| span.kind == SpanKind::Client as i32).expect("client span");
    assert_eq!(hex(&server.span_id), server_span_id);
    assert_eq!(hex(&server.parent_span_id), PARENT_ID);
    assert_eq!(hex(&call.trace_id), TRACE_ID);
    assert_eq!(hex(&call.span_id), call_span_id, "the exported span carries the id the call sent");
    assert_eq!(hex(&call.parent_span_id), server_span_id, "the call is a child of the server span");
    assert_eq!(call.name, "GET");
    assert!(server.start_time_unix_nano <= call.start_time_unix_nano);
    assert!(call.start_time_unix_nano <= call.end_time_unix_nano);
    assert!(call.end_time_unix_nano <= server.end_time_unix_nano);
    assert_eq!(attribute(&call.attributes, "http.request.method"), Some(&Value::StringValue("GET".to_owned())));
    assert_eq!(
        attribute(&call.attributes, "url.full"),
        Some(&Value::StringValue("http://inventory:8080/stock".to_owned())),
        "user info and query are never exported"
    );
    assert_eq!(attribute(&call.attributes, "http.response.status_code"), Some(&Value::IntValue(503)));
    assert_eq!(call.status.as_ref().map(|status| status.code), Some(StatusCode::Error as i32));
    assert!(received.recv_timeout(Duration::from_millis(300)).is_err(), "nothing more is exported");
}

#[test]
fn a_failed_or_abandoned_call_is_still_exported() {
    let (endpoint, received) = fake_collector();
    let mut app_config = Config::default();
    app_config.telemetry.tracing = config(&endpoint);
    app_config.telemetry.access_log.enabled = false;
    let telemetry = armature_core::telemetry::recorder::Telemetry::new(&app_config.telemetry).expect("telemetry");
    let trace = armature_core::trace_context::TraceContext::new_root();
    let spans = telemetry.client_spans(true);
    spans.begin(&trace, "POST", None, Some("not a url")).expect("named").end(None, Some("timeout"));
    let abandoned = spans.begin(&trace, "GET", None, None).expect("named");
    let abandoned_id = abandoned.context().span_id.to_string();
    drop(abandoned);
    assert!(!telemetry.client_spans(false).is_recording(), "an unrecorded request exports no calls");
    telemetry.shutdown();

    let spans = spans_received(&received, 2);
    let failed = spans.iter().find(|span| span.name == "POST").expect("failed call");
    assert_eq!(attribute(&failed.attributes, "error.type"), Some(&Value::StringValue("timeout".to_owned())));
    assert_eq!(attribute(&failed.attributes, "url.full"), None, "a URL that is not absolute is left out");
    assert_eq!(attribute(&failed.attributes, "http.response.status_code"), None);
    assert_eq!(failed.status.as_ref().map(|status| status.code), Some(StatusCode::Error as i32));
    let abandoned = spans.iter().find(|span| span.name == "GET").expect("abandoned call");
    assert_eq!(hex(&abandoned.span_id), abandoned_id);
    assert_eq!(hex(&abandoned.parent_span_id), trace.span_id.to_string());
    assert_eq!(abandoned.status.as_ref().map_or(0, |status| status.code), StatusCode::Unset as i32);
}
