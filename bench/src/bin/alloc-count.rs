//! Heap allocations per request through the whole pipeline: the Rust conformance service (the
//! conformance config: identity, Rego policy with its decision log, validation, access log,
//! metrics) served on a loopback socket by the core's own server with one worker, and a client
//! thread that sends each benchmark request `REQUESTS` times (default 20,000) on one keep-alive
//! connection. A counting global allocator counts every allocation of the process (the core's
//! worker and its log-writer thread; the client allocates nothing while it measures), so the
//! figure is allocations per request served, whatever thread made them.
//!
//! `alloc-count [requests]` prints one Markdown table row per endpoint. Access-log lines go to
//! stderr (`ci/bench` discards them). Run from the repository root.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use armature_conformance_service::{build_app, conformance_dir, conformance_jwt_secret, repository_root};
use armature_core::config::LogTarget;
use armature_core::Config;

/// The system allocator, counting calls and bytes. Counting is two relaxed atomic adds per call;
/// reallocations count as allocations (they usually move).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ENDPOINTS: [(&str, &str); 4] = [
    ("GET /plaintext", "GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n"),
    ("GET /json", "GET /json HTTP/1.1\r\nHost: bench\r\n\r\n"),
    ("GET /users/{id}", "GET /users/42 HTTP/1.1\r\nHost: bench\r\n\r\n"),
    (
        "POST /users",
        "POST /users HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 53\r\n\r\n\
         {\"name\":\"Alice\",\"email\":\"alice@example.com\",\"age\":30}",
    ),
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("alloc-count: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let requests: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    if std::env::var_os("CONFORMANCE_JWT_SECRET").is_none() {
        let secret = conformance_jwt_secret().map_err(|e| format!("reading the JWT secret: {e}"))?;
        std::env::set_var("CONFORMANCE_JWT_SECRET", secret.trim());
    }
    let mut config = Config::from_file(conformance_dir().join("config.yaml")).map_err(|e| e.to_string())?;
    config.resolve_relative_paths(&repository_root());
    config.server.port = 0;
    config.server.workers = 1;
    config.telemetry.access_log.target = LogTarget::Stderr;
    let app = build_app(config).map_err(|e| e.to_string())?;
    let server = armature_core::server::start(app).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::connect(server.local_addr()).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; 64 * 1024];

    println!("| endpoint | allocations/request | bytes allocated/request |");
    println!("|---|---|---|");
    for (label, request) in ENDPOINTS {
        let warm_up = requests / 10 + 1;
        for _ in 0..warm_up {
            exchange(&mut stream, request.as_bytes(), &mut buffer)?;
        }
        let (allocations, bytes) = (ALLOCATIONS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        for _ in 0..requests {
            exchange(&mut stream, request.as_bytes(), &mut buffer)?;
        }
        let allocations = ALLOCATIONS.load(Ordering::SeqCst) - allocations;
        let bytes = BYTES.load(Ordering::SeqCst) - bytes;
        println!("| {label} | {:.1} | {:.0} |", allocations as f64 / requests as f64, bytes as f64 / requests as f64);
    }
    drop(stream);
    server.shutdown();
    server.wait();
    Ok(())
}

/// Sends one request and reads its whole response (head, then `content-length` bytes of body),
/// allocating nothing: the buffer is reused and the head is scanned in place.
fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut [u8]) -> Result<(), String> {
    stream.write_all(request).map_err(|e| format!("sending: {e}"))?;
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buffer[filled..]).map_err(|e| format!("reading: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".to_owned());
        }
        filled += n;
        let Some(head_end) = find(&buffer[..filled], b"\r\n\r\n") else { continue };
        let head = &buffer[..head_end];
        if !(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.1 201")) {
            return Err(format!("unexpected answer: {}", String::from_utf8_lossy(head)));
        }
        let length = content_length(head).ok_or("a response without content-length")?;
        while filled < head_end + 4 + length {
            let n = stream.read(&mut buffer[filled..]).map_err(|e| format!("reading: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection mid-body".to_owned());
            }
            filled += n;
        }
        return Ok(());
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = line.split_at(colon);
        if !name.eq_ignore_ascii_case(b"content-length") {
            return None;
        }
        std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok()
    })
}
