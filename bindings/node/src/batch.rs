//! The two byte layouts of the crossing: the batch of requests `take` hands to JavaScript, and
//! the batch of answers `respondBatch` brings back. One buffer each way per drain instead of a
//! native object and a call per attribute per request (docs/node.md has the measurements).
//! lib/batch.ts reads and writes the same layouts; the offsets it needs are exported from here.
//!
//! Every number is a little-endian u32. A request batch is `count, more` and then `count`
//! records; a record is a fixed header (`length, slot, generation, operation, flags`), a field
//! table of `(offset, length)` pairs (offset from the record's start; length [`ABSENT`] for a
//! null), then the fields' bytes. An answer batch is a sequence of `slot, generation, status,
//! kind, header count, (length, name, length, value)..., body length, body`.

use std::io::Write as _;

use armature_core::answer::{Answer, Body};
use armature_core::HandlerRequest;
use bytes::Bytes;
use napi_derive::napi;

use crate::taken::Ticket;

/// The length of a field that is null (a request without a query string, for instance).
#[napi]
pub const ABSENT: u32 = u32::MAX;
/// Bytes before the first record of a request batch: the record count and the "more waiting"
/// flag.
#[napi]
pub const BATCH_HEADER: u32 = 8;
/// Where a record's field table starts, after `length, slot, generation, operation, flags`.
#[napi]
pub const RECORD_FIELDS: u32 = 20;
/// The trace-flags byte is the flags word's low byte; this bit says the trace is sampled.
#[napi]
pub const FLAG_SAMPLED: u32 = 1 << 8;

/// The fields of a record, in the order of its field table.
#[napi]
pub enum Field {
    /// The method, upper case.
    Method,
    /// The path, percent-encoded, without the query.
    Path,
    /// The raw query string, or null.
    Query,
    /// The request id.
    RequestId,
    /// The trace id, 32 hex digits.
    TraceId,
    /// The server span's id, 16 hex digits.
    SpanId,
    /// The caller's span id, or null.
    ParentSpanId,
    /// The validated `tracestate`, or null.
    Tracestate,
    /// The caller's subject, or null when anonymous.
    Subject,
    /// The typed path parameters, as JSON.
    PathParams,
    /// The typed query parameters, as JSON.
    QueryParams,
    /// The typed header parameters, as JSON.
    HeaderParams,
    /// The typed cookie parameters, as JSON.
    CookieParams,
    /// Every header: `(length, name, length, value)...`, names lower case, repeated headers
    /// joined with ", ".
    Headers,
    /// The body.
    Body,
}

const FIELD_COUNT: usize = Field::Body as usize + 1;
const TABLE: usize = RECORD_FIELDS as usize;
const DATA: usize = TABLE + FIELD_COUNT * 8;

/// What an answer's `kind` says its body is: the plain value a handler returned (see
/// lib/dispatch.ts), for core's answer rule to give its content type.
#[napi]
pub const BODY_NOTHING: u32 = 0;
/// A string.
#[napi]
pub const BODY_TEXT: u32 = 1;
/// A Buffer or Uint8Array.
#[napi]
pub const BODY_BINARY: u32 = 2;
/// Any other value, as `JSON.stringify` wrote it.
#[napi]
pub const BODY_JSON: u32 = 3;
/// These bytes with only the content type a header names (a fetch `Response`'s body).
#[napi]
pub const BODY_EXACT: u32 = 4;

/// The body a `BODY_*` kind and its bytes make; None for an unknown kind.
pub(crate) fn body_of(kind: u32, bytes: Bytes) -> Option<Body> {
    Some(match kind {
        BODY_NOTHING => Body::Nothing,
        BODY_TEXT => Body::Text(bytes),
        BODY_BINARY => Body::Binary(bytes),
        BODY_JSON => Body::Json(bytes),
        BODY_EXACT => Body::Exact(bytes),
        _ => return None,
    })
}

/// An answer batch that does not follow the layout: a bug of lib/batch.ts, never a request's.
#[derive(Debug, thiserror::Error)]
#[error("malformed answer batch at byte {0}")]
pub struct MalformedAnswers(pub usize);

fn put(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// A length or count as the layout's u32.
pub fn length_of(bytes: usize) -> u32 {
    // Records are far below 4 GiB: the body limit is configured in bytes, as a u32-sized value.
    u32::try_from(bytes).unwrap_or(ABSENT - 1)
}

/// Appends one record to `out` (which holds the batch header already).
pub fn write_request(out: &mut Vec<u8>, ticket: Ticket, operation: u32, request: &HandlerRequest) {
    let start = out.len();
    out.resize(start + DATA, 0);
    put(out, start + 4, ticket.slot);
    put(out, start + 8, ticket.generation);
    put(out, start + 12, operation);
    let trace = &request.trace;
    let sampled = if trace.sampled() { FLAG_SAMPLED } else { 0 };
    put(out, start + 16, u32::from(trace.flags) | sampled);

    let mut record = Record { out, start };
    record.text(Field::Method, Some(request.method.as_str()));
    record.text(Field::Path, Some(&request.path));
    record.text(Field::Query, request.query.as_deref());
    record.text(Field::RequestId, Some(&request.request_id));
    record.display(Field::TraceId, Some(&trace.trace_id));
    record.display(Field::SpanId, Some(&trace.span_id));
    record.display(Field::ParentSpanId, trace.parent_span_id.as_ref());
    record.text(Field::Tracestate, trace.tracestate.as_deref());
    record.text(Field::Subject, request.identity.subject.as_deref());
    record.json(Field::PathParams, &request.params.path);
    record.json(Field::QueryParams, &request.params.query);
    record.json(Field::HeaderParams, &request.params.header);
    record.json(Field::CookieParams, &request.params.cookie);
    let from = record.begin();
    for name in request.headers.keys() {
        write_piece(record.out, name.as_str().as_bytes());
        let length_at = record.out.len();
        record.out.extend_from_slice(&[0; 4]);
        for (i, value) in request.headers.get_all(name).iter().enumerate() {
            if i > 0 {
                record.out.extend_from_slice(b", ");
            }
            record.out.extend_from_slice(value.as_bytes());
        }
        let size = length_of(record.out.len() - length_at - 4);
        put(record.out, length_at, size);
    }
    record.end(Field::Headers, from, true);
    let from = record.begin();
    record.out.extend_from_slice(&request.body);
    record.end(Field::Body, from, true);
    let size = length_of(record.out.len() - start);
    put(record.out, start, size);
}

/// One record being written: fields are appended and entered in its field table.
struct Record<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl Record<'_> {
    fn begin(&self) -> usize {
        self.out.len()
    }

    fn end(&mut self, which: Field, from: usize, present: bool) {
        let entry = self.start + TABLE + which as usize * 8;
        put(self.out, entry, length_of(from - self.start));
        let size = if present { length_of(self.out.len() - from) } else { ABSENT };
        put(self.out, entry + 4, size);
    }

    fn text(&mut self, which: Field, value: Option<&str>) {
        let from = self.begin();
        if let Some(value) = value {
            self.out.extend_from_slice(value.as_bytes());
        }
        self.end(which, from, value.is_some());
    }

    fn display<T: std::fmt::Display>(&mut self, which: Field, value: Option<&T>) {
        let from = self.begin();
        if let Some(value) = value {
            // Writing into a Vec cannot fail.
            let _ = write!(self.out, "{value}");
        }
        self.end(which, from, value.is_some());
    }

    fn json(&mut self, which: Field, map: &serde_json::Map<String, serde_json::Value>) {
        let from = self.begin();
        if map.is_empty() {
            self.out.extend_from_slice(b"{}");
        } else if serde_json::to_writer(&mut *self.out, map).is_err() {
            // A Map of JSON values always serializes; were it not to, an empty object is honest.
            self.out.truncate(from);
            self.out.extend_from_slice(b"{}");
        }
        self.end(which, from, true);
    }
}

fn write_piece(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&length_of(bytes.len()).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// One answer of an answer batch.
pub struct AnswerEntry {
    /// Which request it answers.
    pub ticket: Ticket,
    /// What the handler gave, for core's answer rule.
    pub answer: Answer,
}

/// Reads an answer batch.
pub struct AnswerReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> AnswerReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn number(&mut self) -> Result<u32, MalformedAnswers> {
        let end = self.at + 4;
        let bytes = self.bytes.get(self.at..end).ok_or(MalformedAnswers(self.at))?;
        self.at = end;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn piece(&mut self) -> Result<&'a [u8], MalformedAnswers> {
        let length = self.number()? as usize;
        let end = self.at.checked_add(length).ok_or(MalformedAnswers(self.at))?;
        let bytes = self.bytes.get(self.at..end).ok_or(MalformedAnswers(self.at))?;
        self.at = end;
        Ok(bytes)
    }

    fn text(&mut self) -> Result<String, MalformedAnswers> {
        let at = self.at;
        // JavaScript strings written as UTF-8 are always valid.
        String::from_utf8(self.piece()?.to_vec()).map_err(|_| MalformedAnswers(at))
    }

    /// The next answer; None at the end. `body_of` turns the kind and bytes into a body.
    pub fn next(
        &mut self,
        body_of: impl Fn(u32, Bytes) -> Option<Body>,
    ) -> Result<Option<AnswerEntry>, MalformedAnswers> {
        if self.at == self.bytes.len() {
            return Ok(None);
        }
        let ticket = Ticket { slot: self.number()?, generation: self.number()? };
        let status = self.number()?;
        let kind_at = self.at;
        let kind = self.number()?;
        let count = self.number()?;
        let mut headers = Vec::with_capacity((count as usize).min(64));
        for _ in 0..count {
            headers.push((self.text()?, self.text()?));
        }
        let body = Bytes::copy_from_slice(self.piece()?);
        let body = body_of(kind, body).ok_or(MalformedAnswers(kind_at))?;
        // A status past u16 is no status: 0 makes the answer rule refuse it, as before batching.
        let status = u16::try_from(status).unwrap_or(0);
        Ok(Some(AnswerEntry { ticket, answer: Answer { status, content_type: None, headers, body } }))
    }
}
