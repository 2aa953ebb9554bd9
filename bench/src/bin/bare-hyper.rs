//! The baseline of `ci/bench`: the benchmark's four endpoints written directly on hyper, with no
//! framework, no validation and no middleware, on the same runtime shape as Armature's server
//! (tokio multi-thread with `BARE_WORKERS` workers, default 1). Every ratio `ci/bench` prints is
//! to this server's requests per second in the same run.
//!
//! `PORT=8080 bare-hyper` listens on 127.0.0.1:$PORT (default 8080); the endpoints answer what the conformance
//! handlers answer: GET /plaintext, GET /json, GET /users/{id}, POST /users (JSON body parsed,
//! `id` added, `password` removed, 201). Anything else is 404. HTTP/1.1 only.

use std::convert::Infallible;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let workers = std::env::var("BARE_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("bare hyper listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(route)).await;
            });
        }
    })
}

async fn route(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    let response = match (request.method(), path) {
        (&Method::GET, "/plaintext") => answer(StatusCode::OK, "text/plain", Bytes::from_static(b"Hello, World!")),
        (&Method::GET, "/json") => json_answer(StatusCode::OK, &json!({"message": "Hello, World!"})),
        (&Method::GET, "/ready" | "/health") => json_answer(StatusCode::OK, &json!({"status": "ready"})),
        (&Method::GET, _) if path.starts_with("/users/") => match path["/users/".len()..].parse::<u64>() {
            Ok(id) => json_answer(
                StatusCode::OK,
                &json!({"id": id, "name": "Alice", "email": "alice@example.com", "age": 30}),
            ),
            Err(_) => answer(StatusCode::BAD_REQUEST, "text/plain", Bytes::from_static(b"bad id")),
        },
        (&Method::POST, "/users") => {
            let body = match request.into_body().collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => Bytes::new(),
            };
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(mut user)) => {
                    user.remove("password");
                    user.insert("id".to_owned(), json!(1));
                    json_answer(StatusCode::CREATED, &Value::Object(user))
                }
                _ => answer(StatusCode::BAD_REQUEST, "text/plain", Bytes::from_static(b"bad body")),
            }
        }
        _ => answer(StatusCode::NOT_FOUND, "text/plain", Bytes::from_static(b"not found")),
    };
    Ok(response)
}

fn json_answer(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    answer(status, "application/json", Bytes::from(serde_json::to_vec(value).unwrap_or_default()))
}

fn answer(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}
