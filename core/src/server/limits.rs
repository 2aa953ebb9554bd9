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

/// hyper's HTTP/1 read buffer: room for the largest head we answer with a problem. Its floor
/// is hyper's own minimum.
pub(super) fn http1_max_buf_size(server: &ServerConfig) -> usize {
    (server.max_header_bytes + HEADER_BYTES_MARGIN).max(8192)
}

/// hyper's HTTP/1 header line limit: twice ours, so a request a little past ours gets a problem.
pub(super) fn http1_max_headers(server: &ServerConfig) -> usize {
    server.max_header_count.saturating_mul(2)
}

/// HTTP/2's `SETTINGS_MAX_HEADER_LIST_SIZE` (which counts 32 bytes more per header than we do).
pub(super) fn http2_max_header_list_size(server: &ServerConfig) -> u32 {
    let bytes = server.max_header_bytes + HEADER_BYTES_MARGIN + 32 * server.max_header_count;
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
}
