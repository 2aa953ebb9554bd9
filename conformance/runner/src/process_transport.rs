//! Sends cases to a child process instead of a socket: a binding's in-process transport (Node's
//! `app.inject`, for instance) runs the same cases, checked by the same matcher, without a
//! server. One JSON object per line each way, on the child's stdin and stdout (its stderr is
//! left to the terminal):
//!
//! ```text
//! -> {"method":"GET","target":"/users/1","headers":[["accept","*/*"]],"body":"<base64>"}
//! <- armature-response {"status":200,"headers":[["content-type","application/json"]],"body":"<base64>"}
//! ```
//!
//! Header lines go in order, one pair per line (a name may repeat). The child answers each
//! request before it reads the next. An answer line starts with [`ANSWER_PREFIX`]; other lines
//! on its stdout (the access log a service writes there) are passed on to stderr.

use std::process::Stdio;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::case::CaseRequest;
use crate::matcher::Observed;

/// What starts every answer line of the child.
pub const ANSWER_PREFIX: &str = "armature-response ";

/// A running transport process.
#[derive(Debug)]
pub struct ProcessTransport {
    // Kept so the child is killed when the transport is dropped.
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

#[derive(Serialize)]
struct WireRequest<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, String)>,
    body: String,
}

#[derive(Deserialize)]
struct WireResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl ProcessTransport {
    /// Starts `command` with `sh -c`, in the current directory.
    pub fn spawn(command: &str) -> std::io::Result<Self> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the transport process has no stdin or stdout"));
        };
        Ok(Self { _child: child, stdin, stdout: BufReader::new(stdout).lines() })
    }

    /// Sends one request and reads its answer.
    pub async fn send(&mut self, request: &CaseRequest) -> Result<Observed, String> {
        let wire = WireRequest {
            method: request.method.as_str(),
            target: &request.path,
            headers: request
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect(),
            body: BASE64.encode(&request.body),
        };
        let mut line = serde_json::to_string(&wire).map_err(|e| format!("cannot encode the request: {e}"))?;
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.map_err(|e| format!("the transport process: {e}"))?;
        self.stdin.flush().await.map_err(|e| format!("the transport process: {e}"))?;
        let answer = loop {
            let line = self
                .stdout
                .next_line()
                .await
                .map_err(|e| format!("the transport process: {e}"))?
                .ok_or("the transport process exited without answering")?;
            match line.strip_prefix(ANSWER_PREFIX) {
                Some(answer) => break answer.to_owned(),
                None => eprintln!("{line}"),
            }
        };
        let wire: WireResponse =
            serde_json::from_str(&answer).map_err(|e| format!("the transport process answered {answer:?}: {e}"))?;
        let status = StatusCode::from_u16(wire.status).map_err(|e| format!("status {}: {e}", wire.status))?;
        let mut headers = HeaderMap::new();
        for (name, value) in wire.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header {name:?}: {e}"))?;
            let value = HeaderValue::from_str(&value).map_err(|e| format!("header {name}: {e}"))?;
            headers.append(name, value);
        }
        let body = BASE64.decode(wire.body.as_bytes()).map_err(|e| format!("body: {e}"))?;
        Ok(Observed { status, headers, body: Bytes::from(body), version: None })
    }
}
