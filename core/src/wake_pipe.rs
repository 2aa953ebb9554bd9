//! The pollable descriptor of `RequestQueue::readable_fd`: a non-blocking pipe that holds a byte while
//! requests may wait, so an event loop (epoll, libuv, asyncio, Go's netpoller) can watch it.
//!
//! Hand-written over `libc` because it is two system calls; a pipe rather than an eventfd so
//! it works on every Unix.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Both ends of the pipe; closed on drop.
#[derive(Debug)]
pub(crate) struct WakePipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl WakePipe {
    pub(crate) fn new() -> io::Result<Self> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe() succeeded, so both are fresh descriptors owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [read.as_raw_fd(), write.as_raw_fd()] {
            set_flags(fd)?;
        }
        Ok(Self { read, write })
    }

    /// The end the host polls for readability.
    pub(crate) fn readable_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Makes the descriptor readable. A full pipe is already readable, so EAGAIN is fine.
    pub(crate) fn signal(&self) {
        let byte = 1u8;
        // SAFETY: writes one byte from a live local to an fd this struct owns.
        let _ = unsafe { libc::write(self.write.as_raw_fd(), (&byte as *const u8).cast(), 1) };
    }

    /// Empties the pipe, so the descriptor is readable again only after the next `signal`.
    pub(crate) fn clear(&self) {
        let mut buffer = [0u8; 64];
        loop {
            // SAFETY: reads into a live local buffer of the given size from an fd this struct owns.
            let n = unsafe { libc::read(self.read.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
            if n < buffer.len() as isize {
                break;
            }
        }
    }
}

/// Non-blocking (a full pipe must not stall a core thread) and close-on-exec.
fn set_flags(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(pipe: &WakePipe) -> bool {
        let mut poll = libc::pollfd { fd: pipe.readable_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }

    #[test]
    fn signal_makes_readable_and_clear_resets() {
        let pipe = WakePipe::new().unwrap();
        assert!(!readable(&pipe));
        for _ in 0..100_000 {
            pipe.signal(); // past the pipe's capacity: must neither block nor fail
        }
        assert!(readable(&pipe));
        pipe.clear();
        assert!(!readable(&pipe));
    }
}
