//! The sizes the server hands hyper, derived from `server.*`.

use crate::config::ServerConfig;

/// Descriptors kept free for everything that is not a client connection: the listener, log
/// files, policy and key reloads, the span exporter's sockets, a host's own files.
const RESERVED_DESCRIPTORS: usize = 64;

/// Fewest connections the automatic limit allows, however low the file limit.
const MIN_AUTOMATIC_CONNECTIONS: usize = 16;

/// How far past `server.max_header_bytes` hyper's parser reads before it gives up (a bare 431):
/// a head between the two is parsed, and answered with a problem by the pipeline.
pub(super) const HEADER_BYTES_MARGIN: usize = 16 * 1024;

/// The least hyper's parser reads before it gives up, however low `server.max_header_bytes` is:
/// a service that sets a small limit (the conformance config's 4 KiB) still answers a head of a
/// few tens of KiB, which clients and schema-driven testers do send, with a problem, not a bare
/// 431. 200 connections holding this much cost 12.5 MiB.
pub(super) const MIN_PARSED_HEAD_BYTES: usize = 64 * 1024;

/// The most bytes of one request head hyper parses, so that the pipeline answers it.
fn parsed_head_bytes(server: &ServerConfig) -> usize {
    (server.max_header_bytes + HEADER_BYTES_MARGIN).max(MIN_PARSED_HEAD_BYTES)
}

/// hyper's HTTP/1 read buffer: room for the largest head we answer with a problem.
pub(super) fn http1_max_buf_size(server: &ServerConfig) -> usize {
    parsed_head_bytes(server)
}

/// hyper's HTTP/1 header line limit: twice ours, so a request a little past ours gets a problem.
pub(super) fn http1_max_headers(server: &ServerConfig) -> usize {
    server.max_header_count.saturating_mul(2)
}

/// HTTP/2's `SETTINGS_MAX_HEADER_LIST_SIZE` (which counts 32 bytes more per header than we do).
pub(super) fn http2_max_header_list_size(server: &ServerConfig) -> u32 {
    let bytes = parsed_head_bytes(server) + 32 * server.max_header_count;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// `server.max_connections`, or when 0, what the process's open-file limit leaves room for:
/// past that, `accept` fails with EMFILE and the service stops answering even `/health`.
pub(super) fn max_connections(server: &ServerConfig) -> usize {
    if server.max_connections > 0 {
        return server.max_connections;
    }
    open_file_limit().saturating_sub(RESERVED_DESCRIPTORS).max(MIN_AUTOMATIC_CONNECTIONS)
}

#[cfg(unix)]
fn open_file_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit through a valid pointer to a local.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if status != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return 65_536;
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

#[cfg(not(unix))]
fn open_file_limit() -> usize {
    65_536
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_connection_limit_leaves_descriptors_free() {
        let server = ServerConfig::default();
        let limit = max_connections(&server);
        assert!(limit >= MIN_AUTOMATIC_CONNECTIONS);
        assert!(limit <= open_file_limit().max(MIN_AUTOMATIC_CONNECTIONS + RESERVED_DESCRIPTORS));
        let fixed = ServerConfig { max_connections: 7, ..ServerConfig::default() };
        assert_eq!(max_connections(&fixed), 7);
    }

    #[test]
    fn hyper_limits_sit_above_ours() {
        let server = ServerConfig::default();
        assert!(http1_max_buf_size(&server) > server.max_header_bytes);
        assert!(http1_max_headers(&server) > server.max_header_count);
        assert!(http2_max_header_list_size(&server) as usize > server.max_header_bytes);
    }

    #[test]
    fn a_small_header_limit_still_leaves_tens_of_kib_to_the_pipeline() {
        let server = ServerConfig { max_header_bytes: 4096, ..ServerConfig::default() };
        assert_eq!(http1_max_buf_size(&server), MIN_PARSED_HEAD_BYTES);
        let large = ServerConfig { max_header_bytes: 1024 * 1024, ..ServerConfig::default() };
        assert_eq!(http1_max_buf_size(&large), 1024 * 1024 + HEADER_BYTES_MARGIN);
    }
}
