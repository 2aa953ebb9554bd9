//! The real OPA as the oracle: `opa run --server` with a policy set, asked over its REST API
//! (`POST /v1/data/<path>`) one input at a time, in OPA's default and strict builtin-error modes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// OPA's answer for one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The rule's value (`None`: undefined).
    Value(Option<Value>),
    /// An evaluation error (a conflict, a builtin error in strict mode): Armature refuses.
    Error(String),
}

/// A running `opa run --server`, stopped on drop.
pub struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts OPA with these policy and data files on a free port, waiting (10 s at most) until
    /// it answers its health check.
    pub fn start(opa: &Path, files: &[PathBuf]) -> Result<Server, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new(opa)
            .args(["run", "--server", "--log-level", "error", "--addr", &format!("127.0.0.1:{port}")])
            .args(files)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", opa.display()))?;
        let mut server = Server { child, port };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok((200, _)) = server.request("GET", "/health", None) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("opa exited at start ({status}): do the policies load in OPA?"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("opa did not become healthy within 10 s".to_owned())
    }

    /// The value of `rule` (`data.a.b.c`) for `input`, in strict builtin-error mode or not.
    pub fn evaluate(&mut self, rule: &str, input: &Value, strict: bool) -> Result<Answer, String> {
        let path = rule.strip_prefix("data.").unwrap_or(rule).replace('.', "/");
        let query = if strict { "?strict-builtin-errors=true" } else { "" };
        let body = serde_json::json!({ "input": input }).to_string();
        let (status, answer) = self.request("POST", &format!("/v1/data/{path}{query}"), Some(&body))?;
        let answer: Value =
            serde_json::from_str(&answer).map_err(|e| format!("opa answered no JSON ({e}): {answer}"))?;
        match status {
            200 => Ok(Answer::Value(answer.get("result").cloned())),
            _ => Ok(Answer::Error(answer.get("message").and_then(Value::as_str).unwrap_or("error").to_owned())),
        }
    }

    /// One HTTP/1.1 exchange on a new connection.
    fn request(&mut self, method: &str, target: &str, body: Option<&str>) -> Result<(u16, String), String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {target} HTTP/1.1\r\nHost: opa\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).map_err(|e| e.to_string())?;
        let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status line")?;
        let mut length = None;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let mut answer = Vec::new();
        match length {
            Some(length) => {
                answer.resize(length, 0);
                reader.read_exact(&mut answer).map_err(|e| e.to_string())?;
            }
            None => {
                reader.read_to_end(&mut answer).map_err(|e| e.to_string())?;
            }
        }
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
