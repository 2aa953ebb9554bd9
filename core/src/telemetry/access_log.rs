//! The access log: one JSON line per finished request, written off the request path.
//!
//! Writing to stdout can block (a slow log collector, a full pipe), and a request must never
//! wait on it. So lines go through a bounded queue to one background thread ([`LogWriter`]);
//! when the queue is full the line is dropped and counted instead ([`LogWriter::dropped`]),
//! trading completeness of the log for the latency of the service under a log backlog.
//!
//! A line looks like this (one line, keys always in this order):
//!
//! ```text
//! {"ts":"2025-01-02T03:04:05.123456Z","level":"info","event":"access","request_id":"0194…",
//!  "trace_id":"4bf9…","method":"GET","path":"/users/42","operation":"getUser","status":200,
//!  "duration_ms":1.234,"request_bytes":0,"response_bytes":57,"subject":"alice",
//!  "remote_addr":"10.0.0.7:53211"}
//! ```

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::Method;

use crate::config::telemetry::{AccessLogConfig, LogLevel, LogTarget};

/// Lines the queue holds before new ones are dropped: a few tens of milliseconds of traffic at
/// full speed, enough to ride out a collector hiccup without holding much memory.
pub const QUEUE_CAPACITY: usize = 8192;

/// How long [`LogWriter::shutdown`] waits for the queue to be written. If the output itself is
/// stuck (a reader that stopped reading the pipe), exiting the process matters more than the
/// last lines.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// How long the writer lets lines gather after writing a batch.
const COALESCE: Duration = Duration::from_millis(2);

/// Size of the write buffer in front of stdout/stderr: lines are written in batches, one system
/// call per burst rather than per request.
const WRITE_BUFFER: usize = 64 * 1024;

/// Where the background thread puts lines.
trait Sink: Send {
    /// Writes one line; `line` has no trailing newline.
    fn write_line(&mut self, line: &str) -> io::Result<()>;
    /// Called whenever the queue is momentarily empty.
    fn flush(&mut self) -> io::Result<()>;
}

/// stdout or stderr behind a write buffer.
struct StreamSink<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write + Send> Sink for StreamSink<W> {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        // Other code may print to the same stream (stdout is process-wide), and each flush of
        // the buffer is one locked write. A line and its newline must therefore never be split
        // across two flushes, or another thread's output could land in the middle of it.
        let needed = line.len() + 1;
        if self.out.capacity() - self.out.buffer().len() < needed {
            self.out.flush()?;
        }
        if needed > self.out.capacity() {
            let mut whole = Vec::with_capacity(needed);
            whole.extend_from_slice(line.as_bytes());
            whole.push(b'\n');
            return self.out.get_mut().write_all(&whole);
        }
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Lines kept in memory, shared between the writer thread and [`CapturedLines`].
#[derive(Debug, Default)]
struct Captured {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

struct CaptureSink {
    captured: Arc<Captured>,
}

impl Sink for CaptureSink {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.captured.lines.lock().unwrap_or_else(PoisonError::into_inner).push(line.to_owned());
        self.captured.changed.notify_all();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Read side of a [`LogWriter::capture`] writer: the lines written so far, in order.
#[derive(Debug, Clone)]
pub struct CapturedLines {
    captured: Arc<Captured>,
}

impl CapturedLines {
    /// A copy of every line written so far.
    pub fn lines(&self) -> Vec<String> {
        self.captured.lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many lines were written so far.
    pub fn len(&self) -> usize {
        self.captured.lines.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no line was written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until at least `count` lines were written or `timeout` passed; returns whether the
    /// count was reached. Writing is asynchronous, so a test that wrote lines waits here (or
    /// calls [`LogWriter::shutdown`]) before looking at them.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut lines = self.captured.lines.lock().unwrap_or_else(PoisonError::into_inner);
        while lines.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            lines = self.captured.changed.wait_timeout(lines, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }
}

/// The background thread and its "finished" signal, which makes a bounded join possible.
struct Worker {
    thread: JoinHandle<()>,
    finished: Receiver<()>,
}

/// A line writer that never blocks its callers: lines are queued to a background thread that
/// writes them out in batches. `Send + Sync`; share it (in an `Arc`) between the access log and
/// anything else that writes lines to the same place.
pub struct LogWriter {
    /// `None` once shut down. Dropping the only sender is what tells the thread to finish: it
    /// then receives everything still queued before it sees the disconnection, so nothing sent
    /// before shutdown is lost. The lock is only taken for writing by shutdown, so callers share
    /// it without waiting on each other.
    sender: RwLock<Option<SyncSender<String>>>,
    dropped: Arc<AtomicU64>,
    worker: Mutex<Option<Worker>>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter").field("dropped", &self.dropped()).finish_non_exhaustive()
    }
}

impl LogWriter {
    /// Starts the background thread writing to `target`.
    ///
    /// If the thread cannot be started (the OS refused a thread at startup), the writer still
    /// works as a value but drops and counts every line; the service keeps running without an
    /// access log rather than refusing to start over it. A file that cannot be opened for
    /// appending is an error: the configuration named it, and would silently log nowhere.
    pub fn start(target: &LogTarget) -> io::Result<LogWriter> {
        let sink: Box<dyn Sink> = match target {
            LogTarget::Stdout => Box::new(StreamSink { out: BufWriter::with_capacity(WRITE_BUFFER, io::stdout()) }),
            LogTarget::Stderr => Box::new(StreamSink { out: BufWriter::with_capacity(WRITE_BUFFER, io::stderr()) }),
            LogTarget::File(path) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                Box::new(StreamSink { out: BufWriter::with_capacity(WRITE_BUFFER, file) })
            }
        };
        Ok(LogWriter::spawn(QUEUE_CAPACITY, sink))
    }

    /// A writer that keeps its lines in memory, for tests; lines go through the same queue and
    /// thread as [`LogWriter::start`]'s.
    pub fn capture() -> (LogWriter, CapturedLines) {
        let captured = Arc::new(Captured::default());
        let writer = LogWriter::spawn(QUEUE_CAPACITY, Box::new(CaptureSink { captured: Arc::clone(&captured) }));
        (writer, CapturedLines { captured })
    }

    fn spawn(capacity: usize, mut sink: Box<dyn Sink>) -> LogWriter {
        let (sender, receiver) = mpsc::sync_channel::<String>(capacity);
        let (finished_tx, finished) = mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let thread_dropped = Arc::clone(&dropped);
        let spawned = std::thread::Builder::new().name("armature-log".to_owned()).spawn(move || {
            let write = |sink: &mut Box<dyn Sink>, line: String| {
                // A line the output refused is as lost as one the queue refused; counting it is
                // the only signal left when the log itself is the broken part.
                if sink.write_line(&line).is_err() {
                    thread_dropped.fetch_add(1, Ordering::Relaxed);
                }
            };
            while let Ok(line) = receiver.recv() {
                write(&mut sink, line);
                // Batch: write whatever else is already queued, and flush only when the queue
                // is momentarily empty, so a burst costs one write system call, not one per line.
                while let Ok(line) = receiver.try_recv() {
                    write(&mut sink, line);
                }
                // Nothing useful to do with a flush error but keep going: the next flush retries.
                let _ = sink.flush();
                // Let the next lines gather before waking again: a writer woken for every line
                // costs each request a thread switch and a write system call, which on a busy
                // core is more than formatting the line. A line waits at most this long.
                std::thread::sleep(COALESCE);
            }
            let _ = sink.flush();
            let _ = finished_tx.send(());
        });
        match spawned {
            Ok(thread) => LogWriter {
                sender: RwLock::new(Some(sender)),
                dropped,
                worker: Mutex::new(Some(Worker { thread, finished })),
            },
            Err(error) => {
                // The log writer is the thing that failed, so stderr is the only place left.
                eprintln!("armature: cannot start the log writer thread, log lines will be dropped: {error}");
                LogWriter { sender: RwLock::new(None), dropped, worker: Mutex::new(None) }
            }
        }
    }

    /// Queues `line` (without a trailing newline) for writing; never blocks. When the queue is
    /// full, or the writer was shut down, the line is dropped and counted in
    /// [`LogWriter::dropped`].
    pub fn write_line(&self, line: String) {
        let sender = self.sender.read().unwrap_or_else(PoisonError::into_inner);
        let queued = match sender.as_ref() {
            Some(sender) => match sender.try_send(line) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped so far: refused because the queue was full or the writer shut down, or
    /// refused by the output.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes out everything queued, flushes and stops the thread, waiting at most
    /// [`SHUTDOWN_WAIT`]. Lines written afterwards are dropped. Calling it again does nothing;
    /// dropping the writer calls it.
    pub fn shutdown(&self) {
        drop(self.sender.write().unwrap_or_else(PoisonError::into_inner).take());
        let worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(worker) = worker else { return };
        match worker.finished.recv_timeout(SHUTDOWN_WAIT) {
            // Disconnected without the signal means the thread panicked: it is over either way.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = worker.thread.join();
            }
            // Stuck in a write: leave it detached rather than hang the shutdown.
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What one finished request contributes to its access-log line.
#[derive(Debug, Clone, Copy)]
pub struct AccessRecord<'a> {
    /// The request id echoed in `X-Request-Id`.
    pub request_id: &'a str,
    /// The W3C trace id (32 hex digits) of the request's trace.
    pub trace_id: &'a str,
    /// The request method.
    pub method: &'a Method,
    /// The URI path only. Never the query string: queries carry tokens, API keys and personal
    /// data often enough that logging them turns the log into a secret store. Anything from a
    /// `?` on is cut off anyway, in case a caller passes a path-and-query.
    pub path: &'a str,
    /// The `operationId` the request matched, else what metrics call it: `_unmatched` (no
    /// operation, 404 or 405) or `_builtin` (`/health`, `/ready`, `/metrics`, `/openapi.json`):
    /// one vocabulary in logs and metrics.
    pub operation: &'a str,
    /// The status of the response sent.
    pub status: u16,
    /// Time from the request's arrival to its response.
    pub duration: Duration,
    /// Request body bytes read.
    pub request_bytes: u64,
    /// Response body bytes written.
    pub response_bytes: u64,
    /// The authenticated subject; `None` when anonymous.
    pub subject: Option<&'a str>,
    /// The peer address; `None` when unknown (e.g. a request not from a socket).
    pub remote_addr: Option<SocketAddr>,
}

/// The access log stage: turns finished requests at or above the configured level into lines
/// for a [`LogWriter`].
#[derive(Debug, Clone)]
pub struct AccessLog {
    writer: Arc<LogWriter>,
    level: LogLevel,
}

impl AccessLog {
    /// The access log as configured, writing through `writer`; `None` when disabled, so the
    /// request path pays nothing for a disabled log. `config.target` is not read here: it
    /// chooses the stream the caller started `writer` on, which other line producers share.
    pub fn new(config: &AccessLogConfig, writer: Arc<LogWriter>) -> Option<AccessLog> {
        config.enabled.then(|| AccessLog { writer, level: config.level })
    }

    /// Whether a request answered with `status` is recorded; lets a caller skip gathering a
    /// record that would be filtered out.
    pub fn records_status(&self, status: u16) -> bool {
        LogLevel::of_status(status) >= self.level
    }

    /// The writer lines go to.
    pub fn writer(&self) -> &Arc<LogWriter> {
        &self.writer
    }

    /// Writes `record`'s line, unless its status is below the configured level.
    pub fn record(&self, record: &AccessRecord<'_>) {
        if self.records_status(record.status) {
            self.writer.write_line(access_line(record, SystemTime::now()));
        }
    }
}

/// The last instant RFC 3339 can write (9999-12-31T23:59:59.999999Z), as time since the epoch.
const LAST_WRITABLE: Duration = Duration::new(253_402_300_799, 999_999_000);

/// `now` clamped to what `humantime` formats: it panics before the epoch and fails after
/// year 9999, and a wildly wrong clock must not take the request path down with it.
fn writable_time(now: SystemTime) -> SystemTime {
    match now.duration_since(UNIX_EPOCH) {
        Err(_) => UNIX_EPOCH,
        Ok(since) if since > LAST_WRITABLE => UNIX_EPOCH.checked_add(LAST_WRITABLE).unwrap_or(UNIX_EPOCH),
        Ok(_) => now,
    }
}

thread_local! {
    /// The second of the last line written on this thread, and its text up to the seconds
    /// (`2025-01-02T03:04:05`): at thousands of lines a second, the date is formatted once a
    /// second instead of once a line.
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
}

/// Appends `now` (clamped, see [`writable_time`]) as RFC 3339 UTC with microseconds, as
/// `humantime::format_rfc3339_micros` writes it.
fn push_timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let since = writable_time(now).duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let mut cached = SECOND.with(std::cell::Cell::get);
    if cached.0 != seconds {
        let whole = UNIX_EPOCH + Duration::from_secs(seconds);
        let text = humantime::format_rfc3339_seconds(whole).to_string();
        match text.as_bytes().get(..19) {
            Some(prefix) => cached.1.copy_from_slice(prefix),
            None => cached.1 = *b"1970-01-01T00:00:00",
        }
        cached.0 = seconds;
        SECOND.with(|cell| cell.set(cached));
    }
    out.extend_from_slice(&cached.1);
    out.push(b'.');
    let micros = since.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

/// Appends `addr` as `a.b.c.d:port`, as its `Display` writes it, without the formatting
/// machinery (a line per request).
fn push_ipv4(out: &mut Vec<u8>, addr: &std::net::SocketAddrV4) {
    for (index, octet) in addr.ip().octets().iter().enumerate() {
        if index > 0 {
            out.push(b'.');
        }
        push_decimal(out, u32::from(*octet));
    }
    out.push(b':');
    push_decimal(out, u32::from(addr.port()));
}

fn push_decimal(out: &mut Vec<u8>, value: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `value` as a JSON string. serde_json does the escaping, because ids and paths come
/// from the client and may hold quotes, backslashes and control characters.
fn push_json_str(out: &mut Vec<u8>, value: &str) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        // Serializing a str into a Vec cannot fail (Vec's io::Write never errors); were it ever
        // to, a partial string would break the line's JSON, so it is replaced by null.
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

fn push_opt_json_str(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => push_json_str(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

/// The access-log line of `record`, finished at `now`: one compact JSON object, keys in a fixed
/// order (`ts`, `level`, `event`, `request_id`, `trace_id`, `method`, `path`, `operation`,
/// `status`, `duration_ms`, `request_bytes`, `response_bytes`, `subject`, `remote_addr`), no
/// trailing newline.
pub fn access_line(record: &AccessRecord<'_>, now: SystemTime) -> String {
    // The `write!`s below go into a Vec, whose io::Write never fails, and format only integers,
    // a clamped timestamp and a socket address, none of which can fail either; their results
    // are ignored for that reason.
    let path = record.path.split_once('?').map_or(record.path, |(path, _query)| path);
    let mut out = Vec::with_capacity(320 + path.len());
    out.extend_from_slice(b"{\"ts\":\"");
    push_timestamp(&mut out, now);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(LogLevel::of_status(record.status).as_str().as_bytes());
    out.extend_from_slice(b"\",\"event\":\"access\",\"request_id\":");
    push_json_str(&mut out, record.request_id);
    out.extend_from_slice(b",\"trace_id\":");
    push_json_str(&mut out, record.trace_id);
    out.extend_from_slice(b",\"method\":");
    push_json_str(&mut out, record.method.as_str());
    out.extend_from_slice(b",\"path\":");
    push_json_str(&mut out, path);
    out.extend_from_slice(b",\"operation\":");
    push_json_str(&mut out, record.operation);
    // Milliseconds with three decimals from integer microseconds: exact, and cheaper than
    // formatting a float.
    let micros = (record.duration.as_nanos() + 500) / 1000;
    let _ = write!(
        out,
        ",\"status\":{},\"duration_ms\":{}.{:03},\"request_bytes\":{},\"response_bytes\":{},\"subject\":",
        record.status,
        micros / 1000,
        micros % 1000,
        record.request_bytes,
        record.response_bytes,
    );
    push_opt_json_str(&mut out, record.subject);
    out.extend_from_slice(b",\"remote_addr\":");
    match record.remote_addr {
        // A socket address prints as digits, dots, colons, brackets and `%`: nothing to escape.
        Some(SocketAddr::V4(addr)) => {
            out.push(b'"');
            push_ipv4(&mut out, &addr);
            out.push(b'"');
        }
        Some(addr) => {
            let _ = write!(out, "\"{addr}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    // Every byte above is either ASCII or came out of serde_json as UTF-8, so this conversion
    // succeeds; the lossy fallback only avoids a panic path.
    String::from_utf8(out).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 14] = [
        "ts",
        "level",
        "event",
        "request_id",
        "trace_id",
        "method",
        "path",
        "operation",
        "status",
        "duration_ms",
        "request_bytes",
        "response_bytes",
        "subject",
        "remote_addr",
    ];

    fn record(status: u16) -> AccessRecord<'static> {
        AccessRecord {
            request_id: "01940000-0000-7000-8000-000000000000",
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            method: &Method::GET,
            path: "/users/42",
            operation: "getUser",
            status,
            duration: Duration::from_micros(1234),
            request_bytes: 0,
            response_bytes: 57,
            subject: Some("alice"),
            remote_addr: Some("10.0.0.7:53211".parse().unwrap()),
        }
    }

    /// 2025-01-02T03:04:05.123456Z
    fn fixed_time() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_735_787_045, 123_456_789)
    }

    fn parse(line: &str) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::from_str::<serde_json::Value>(line).unwrap() {
            serde_json::Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// The top-level keys in the order they appear in the raw text.
    fn key_order(line: &str) -> Vec<String> {
        // serde_json's Map keeps insertion order only with `preserve_order`, so the order is
        // checked on the raw text: each key is followed by `":`, and values are scalars here.
        let mut keys = Vec::new();
        let mut rest = line.strip_prefix('{').unwrap();
        while !rest.is_empty() && rest != "}" {
            let key_end = rest[1..].find('"').unwrap() + 1;
            keys.push(rest[1..key_end].to_owned());
            rest = &rest[key_end + 2..];
            // Skip the value: a string (possibly with escapes) or a bare scalar.
            let value_len = if rest.starts_with('"') {
                let mut escaped = false;
                let mut end = 0;
                for (i, c) in rest.char_indices().skip(1) {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = i + 1;
                        break;
                    }
                }
                end
            } else {
                rest.find([',', '}']).unwrap()
            };
            rest = &rest[value_len..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
        keys
    }

    #[test]
    fn line_has_every_key_in_order() {
        let line = access_line(&record(200), fixed_time());
        assert_eq!(
            line,
            r#"{"ts":"2025-01-02T03:04:05.123456Z","level":"info","event":"access","request_id":"01940000-0000-7000-8000-000000000000","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","method":"GET","path":"/users/42","operation":"getUser","status":200,"duration_ms":1.234,"request_bytes":0,"response_bytes":57,"subject":"alice","remote_addr":"10.0.0.7:53211"}"#
        );
        assert_eq!(key_order(&line), KEYS);
        let map = parse(&line);
        assert_eq!(map.len(), KEYS.len());
        assert_eq!(map["ts"], "2025-01-02T03:04:05.123456Z");
        assert_eq!(map["level"], "info");
        assert_eq!(map["event"], "access");
        assert_eq!(map["request_id"], "01940000-0000-7000-8000-000000000000");
        assert_eq!(map["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(map["method"], "GET");
        assert_eq!(map["path"], "/users/42");
        assert_eq!(map["operation"], "getUser");
        assert_eq!(map["status"], 200);
        assert_eq!(map["duration_ms"].as_f64(), Some(1.234));
        assert_eq!(map["request_bytes"], 0);
        assert_eq!(map["response_bytes"], 57);
        assert_eq!(map["subject"], "alice");
        assert_eq!(map["remote_addr"], "10.0.0.7:53211");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn unknowns_are_null_and_levels_follow_the_status() {
        let mut unrouted = record(404);
        unrouted.operation = crate::telemetry::metrics::UNMATCHED;
        unrouted.subject = None;
        unrouted.remote_addr = None;
        unrouted.duration = Duration::from_nanos(1_500);
        let line = access_line(&unrouted, fixed_time());
        assert_eq!(key_order(&line), KEYS);
        let map = parse(&line);
        assert_eq!(map["operation"], "_unmatched", "as metrics label it");
        assert_eq!(map["subject"], serde_json::Value::Null);
        assert_eq!(map["remote_addr"], serde_json::Value::Null);
        assert_eq!(map["level"], "warn");
        assert!(line.contains(r#""duration_ms":0.002,"#), "{line}");

        let line = access_line(&record(503), fixed_time());
        assert_eq!(parse(&line)["level"], "error");

        let mut ipv6 = record(200);
        ipv6.remote_addr = Some("[::1]:8080".parse().unwrap());
        ipv6.duration = Duration::from_secs(2);
        let map = parse(&access_line(&ipv6, fixed_time()));
        assert_eq!(map["remote_addr"], "[::1]:8080");
        assert_eq!(map["duration_ms"].as_f64(), Some(2000.0));
    }

    #[test]
    fn client_strings_are_escaped() {
        let mut hostile = record(400);
        hostile.path = "/users/a\"b\nc\\d\u{1}\u{7f}é";
        hostile.request_id = "id\"with\rquote";
        hostile.subject = Some("bob\"}, {\"level\":\"error");
        let method = Method::from_bytes(b"PURGE").unwrap();
        hostile.method = &method;
        let line = access_line(&hostile, fixed_time());
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        assert_eq!(key_order(&line), KEYS);
        let map = parse(&line);
        assert_eq!(map["path"], "/users/a\"b\nc\\d\u{1}\u{7f}é");
        assert_eq!(map["request_id"], "id\"with\rquote");
        assert_eq!(map["subject"], "bob\"}, {\"level\":\"error");
        assert_eq!(map["method"], "PURGE");
        assert_eq!(map["level"], "warn");
    }

    #[test]
    fn query_strings_are_never_logged() {
        let mut with_query = record(200);
        with_query.path = "/users/42?api_key=secret";
        let line = access_line(&with_query, fixed_time());
        assert_eq!(parse(&line)["path"], "/users/42");
        assert!(!line.contains("secret"), "{line}");
    }

    #[test]
    fn timestamps_and_addresses_are_written_as_their_formatters_write_them() {
        for seconds in [0u64, 59, 86_399, 1_735_787_045, 1_735_787_046, 253_402_300_799] {
            for micros in [0u32, 7, 123_456, 999_999] {
                let at = UNIX_EPOCH + Duration::new(seconds, micros * 1000 + 999);
                let mut out = Vec::new();
                push_timestamp(&mut out, at);
                assert_eq!(String::from_utf8(out).unwrap(), humantime::format_rfc3339_micros(at).to_string());
            }
        }
        for addr in ["0.0.0.0:0", "10.0.0.7:53211", "255.255.255.255:65535", "127.0.0.1:8080"] {
            let addr: std::net::SocketAddrV4 = addr.parse().unwrap();
            let mut out = Vec::new();
            push_ipv4(&mut out, &addr);
            assert_eq!(String::from_utf8(out).unwrap(), addr.to_string());
        }
    }

    #[test]
    fn clock_out_of_range_does_not_panic() {
        let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(parse(&access_line(&record(200), before_epoch))["ts"], "1970-01-01T00:00:00.000000Z");
        let far_future = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(parse(&access_line(&record(200), far_future))["ts"], "9999-12-31T23:59:59.999999Z");
    }

    fn config(enabled: bool, level: LogLevel) -> AccessLogConfig {
        AccessLogConfig { enabled, level, target: LogTarget::Stdout }
    }

    fn statuses_logged(level: LogLevel) -> Vec<u64> {
        let (writer, captured) = LogWriter::capture();
        let writer = Arc::new(writer);
        let log = AccessLog::new(&config(true, level), Arc::clone(&writer)).unwrap();
        for status in [200, 204, 301, 404, 429, 500, 503] {
            log.record(&record(status));
        }
        writer.shutdown();
        captured.lines().iter().map(|line| parse(line)["status"].as_u64().unwrap()).collect()
    }

    #[test]
    fn level_filters_by_status() {
        assert_eq!(statuses_logged(LogLevel::Info), [200, 204, 301, 404, 429, 500, 503]);
        assert_eq!(statuses_logged(LogLevel::Warn), [404, 429, 500, 503]);
        assert_eq!(statuses_logged(LogLevel::Error), [500, 503]);
    }

    #[test]
    fn disabled_log_is_none() {
        let (writer, _captured) = LogWriter::capture();
        assert!(AccessLog::new(&config(false, LogLevel::Info), Arc::new(writer)).is_none());
    }

    #[test]
    fn capture_writer_receives_lines() {
        let (writer, captured) = LogWriter::capture();
        writer.write_line("one".to_owned());
        writer.write_line("two".to_owned());
        assert!(captured.wait_for(2, Duration::from_secs(10)));
        assert_eq!(captured.lines(), ["one", "two"]);
        assert_eq!(writer.dropped(), 0);
    }

    /// A sink that writes nothing until its gate opens, standing in for a stuck stdout.
    struct GatedSink {
        gate: Arc<(Mutex<bool>, Condvar)>,
        inner: CaptureSink,
    }

    impl Sink for GatedSink {
        fn write_line(&mut self, line: &str) -> io::Result<()> {
            let (open, changed) = &*self.gate;
            let mut open = open.lock().unwrap();
            while !*open {
                open = changed.wait(open).unwrap();
            }
            self.inner.write_line(line)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn gated(capacity: usize) -> (LogWriter, CapturedLines, impl Fn()) {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let captured = Arc::new(Captured::default());
        let sink = GatedSink { gate: Arc::clone(&gate), inner: CaptureSink { captured: Arc::clone(&captured) } };
        let writer = LogWriter::spawn(capacity, Box::new(sink));
        let open = move || {
            *gate.0.lock().unwrap() = true;
            gate.1.notify_all();
        };
        (writer, CapturedLines { captured }, open)
    }

    #[test]
    fn a_file_target_appends_and_a_file_that_cannot_be_opened_is_an_error() {
        let dir = std::env::temp_dir().join(format!("armature-log-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let writer = LogWriter::start(&LogTarget::File(path.clone())).unwrap();
        writer.write_line("one".to_owned());
        writer.write_line("two".to_owned());
        writer.shutdown();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\none\ntwo\n");
        assert!(LogWriter::start(&LogTarget::File(dir.join("missing-dir/access.log"))).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn shutdown_writes_everything_queued() {
        // The gate keeps every line in the queue until shutdown, so shutdown itself must drain it.
        let (writer, captured, open) = gated(QUEUE_CAPACITY * 2);
        for i in 0..10_000 {
            writer.write_line(format!("line {i}"));
        }
        assert_eq!(writer.dropped(), 0);
        open();
        writer.shutdown();
        let lines = captured.lines();
        assert_eq!(lines.len(), 10_000);
        assert!(lines.iter().enumerate().all(|(i, line)| *line == format!("line {i}")));

        // Idempotent, and later lines are dropped and counted rather than lost silently.
        writer.shutdown();
        writer.write_line("late".to_owned());
        assert_eq!(writer.dropped(), 1);
        assert_eq!(captured.len(), 10_000);
    }

    #[test]
    fn shutdown_through_the_public_capture_writer() {
        let (writer, captured) = LogWriter::capture();
        for i in 0..10_000 {
            writer.write_line(format!("line {i}"));
        }
        writer.shutdown();
        // Without a gate the thread may fall behind a tight loop; nothing is lost unaccounted.
        assert_eq!(captured.len() as u64 + writer.dropped(), 10_000);
    }

    #[test]
    fn full_queue_drops_instead_of_blocking() {
        let (writer, captured, open) = gated(2);
        let start = Instant::now();
        for i in 0..10 {
            writer.write_line(format!("line {i}"));
        }
        // These never wait for the stuck sink; this only fails if write_line blocked for good.
        assert!(start.elapsed() < Duration::from_secs(5));
        // Two lines fit the queue and the thread may hold one more, stuck in the sink.
        let dropped = writer.dropped();
        assert!((7..=8).contains(&dropped), "dropped {dropped}");
        open();
        writer.shutdown();
        assert_eq!(captured.len() as u64 + dropped, 10);
        assert_eq!(captured.lines()[0], "line 0");
    }

    #[test]
    fn writer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<LogWriter>();
        assert_send_sync::<AccessLog>();
        assert_send_sync::<CapturedLines>();
    }

    /// Timing only, never asserted: `cargo test -p armature-core --lib telemetry -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing report, run by hand"]
    fn time_access_line() {
        let record = record(200);
        let now = SystemTime::now();
        let iterations = 1_000_000u32;
        let start = Instant::now();
        let mut total = 0usize;
        for _ in 0..iterations {
            total += access_line(std::hint::black_box(&record), std::hint::black_box(now)).len();
        }
        let per_line = start.elapsed().as_nanos() as f64 / f64::from(iterations);

        let (writer, captured) = LogWriter::capture();
        let log = AccessLog::new(&config(true, LogLevel::Info), Arc::new(writer)).unwrap();
        let start = Instant::now();
        for _ in 0..iterations {
            log.record(std::hint::black_box(&record));
        }
        let per_record = start.elapsed().as_nanos() as f64 / f64::from(iterations);
        let dropped = log.writer().dropped();
        log.writer().shutdown();
        println!(
            "access_line: {per_line:.1} ns/call ({} bytes); AccessLog::record (line + SystemTime::now + enqueue): \
             {per_record:.1} ns/call, {} captured, {dropped} dropped",
            total / iterations as usize,
            captured.len(),
        );
    }
}
