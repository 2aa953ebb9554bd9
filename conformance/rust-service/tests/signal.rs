//! SIGTERM on the real binary: the request in flight is answered, then the process exits 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn sigterm_drains_in_flight_requests_and_exits_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_armature-conformance-service"))
        .env("ARMATURE_SERVER__PORT", "0")
        .env("CONFORMANCE_JWT_SECRET", armature_conformance_service::conformance_jwt_secret().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    let address = banner.trim().rsplit("http://").next().unwrap().to_owned();

    let in_flight = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.write_all(b"GET /slow?ms=700 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    std::thread::sleep(Duration::from_millis(200));
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());

    let response = in_flight.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "in-flight request dropped: {response}");
    assert!(response.ends_with(r#"{"slept_ms":700}"#), "{response}");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}
