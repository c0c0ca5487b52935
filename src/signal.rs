//! SIGINT and SIGTERM as an ordinary event: the crate's only `unsafe` code.
//!
//! Owns: installing handlers for SIGINT and SIGTERM on Unix that do one
//! async-signal-safe thing — write the signal number to a pipe (the
//! self-pipe trick; POSIX.1-2017 §2.4.3 lists `write` among the
//! async-signal-safe functions) — and a thread that reads the pipe and hands
//! the first signal to the caller's callback, which starts the same graceful
//! shutdown as the end of stdin. After the first signal the default actions
//! are restored, so a second Ctrl-C ends the process at once. On other
//! platforms [`on_terminate`] does nothing: Windows has no SIGTERM, and MCP
//! clients there close stdin.
//! Refuses: any other work inside a handler (no allocation, no locks, no
//! logging), and any `unsafe` outside this module (`unsafe_code` is denied in
//! Cargo.toml and allowed here only).

#![allow(unsafe_code)]

/// A signal that asks the process to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminate {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (what MCP clients send after closing stdin, or instead of it).
    Terminate,
}

impl std::fmt::Display for Terminate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Terminate::Interrupt => "SIGINT",
            Terminate::Terminate => "SIGTERM",
        })
    }
}

/// Calls `callback` once, on a thread of its own, when the process receives
/// SIGINT or SIGTERM. Call it once, at start-up.
///
/// # Errors
/// The OS error when the pipe, the handlers or the thread cannot be set up.
#[cfg(unix)]
pub fn on_terminate(callback: impl FnOnce(Terminate) + Send + 'static) -> std::io::Result<()> {
    unix::install(callback)
}

/// Does nothing on platforms without SIGTERM.
///
/// # Errors
/// None.
#[cfg(not(unix))]
pub fn on_terminate(_callback: impl FnOnce(Terminate) + Send + 'static) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io::{self, Read};
    use std::os::fd::FromRawFd;
    use std::sync::atomic::{AtomicI32, Ordering};

    use super::Terminate;

    /// The pipe's write end, for the handler (-1 before installation).
    static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

    /// The errno location of the calling thread, where the platform names it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn errno_location() -> *mut libc::c_int {
        // SAFETY: `__errno_location` has no preconditions and returns the
        // calling thread's errno slot; it is async-signal-safe.
        unsafe { libc::__errno_location() }
    }

    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    fn errno_location() -> *mut libc::c_int {
        // SAFETY: `__error` has no preconditions and returns the calling
        // thread's errno slot; it is async-signal-safe.
        unsafe { libc::__error() }
    }

    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    fn errno_location() -> *mut libc::c_int {
        std::ptr::null_mut()
    }

    /// The handler: writes one byte, the signal number, to the pipe and
    /// leaves errno as it found it (the interrupted thread may be about to
    /// read it).
    extern "C" fn handler(signal: libc::c_int) {
        let errno = errno_location();
        // SAFETY: `errno` is null or the calling thread's errno slot.
        let saved = if errno.is_null() {
            0
        } else {
            unsafe { *errno }
        };
        let fd = WRITE_FD.load(Ordering::Relaxed);
        let byte = signal as u8;
        if fd >= 0 {
            // SAFETY: `write` is async-signal-safe; `fd` is the pipe's write
            // end, non-blocking, kept open for the life of the process; the
            // buffer is one byte on this stack frame. A full pipe (EAGAIN)
            // loses nothing: one byte is already waiting to be read.
            unsafe {
                libc::write(fd, (&byte as *const u8).cast(), 1);
            }
        }
        if !errno.is_null() {
            // SAFETY: as above.
            unsafe { *errno = saved };
        }
    }

    fn check(result: libc::c_int) -> io::Result<()> {
        if result == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn set_flags(
        fd: libc::c_int,
        cmd_get: libc::c_int,
        cmd_set: libc::c_int,
        flag: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: `fcntl` with F_GETFD/F_GETFL on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd, cmd_get) };
        check(flags)?;
        // SAFETY: `fcntl` with F_SETFD/F_SETFL and the flags just read plus one.
        check(unsafe { libc::fcntl(fd, cmd_set, flags | flag) })
    }

    fn set_action(signal: libc::c_int, action: libc::sighandler_t) -> io::Result<()> {
        // SAFETY: an all-zero `sigaction` is a valid value to fill in (empty
        // mask, no flags) on every Unix libc defines it for.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = action;
        // Restart interrupted system calls in other threads (stdin reads,
        // sockets) instead of failing them with EINTR.
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: `sa.sa_mask` is a valid `sigset_t` to initialize.
        check(unsafe { libc::sigemptyset(&mut sa.sa_mask) })?;
        // SAFETY: `sa` is fully initialized; the handler only calls
        // async-signal-safe functions; the old action is not needed.
        check(unsafe { libc::sigaction(signal, &sa, std::ptr::null_mut()) })
    }

    pub(super) fn install(callback: impl FnOnce(Terminate) + Send + 'static) -> io::Result<()> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        let [read_fd, write_fd] = fds;
        for fd in fds {
            set_flags(fd, libc::F_GETFD, libc::F_SETFD, libc::FD_CLOEXEC)?;
        }
        // The handler must never block.
        set_flags(write_fd, libc::F_GETFL, libc::F_SETFL, libc::O_NONBLOCK)?;
        // SAFETY: `read_fd` is a descriptor we just created and own; the File
        // takes over closing it.
        let mut reader = unsafe { File::from_raw_fd(read_fd) };
        WRITE_FD.store(write_fd, Ordering::Relaxed);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut byte = [0u8; 1];
                loop {
                    match reader.read(&mut byte) {
                        Ok(1) => break,
                        Ok(_) => return,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return,
                    }
                }
                // A second signal ends the process at once.
                for s in [libc::SIGINT, libc::SIGTERM] {
                    let _ = set_action(s, libc::SIG_DFL);
                }
                let which = if libc::c_int::from(byte[0]) == libc::SIGINT {
                    Terminate::Interrupt
                } else {
                    Terminate::Terminate
                };
                callback(which);
            })?;
        let handler_fn: extern "C" fn(libc::c_int) = handler;
        for s in [libc::SIGINT, libc::SIGTERM] {
            set_action(s, handler_fn as libc::sighandler_t)?;
        }
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn sigterm_reaches_the_callback_once() {
        let (tx, rx) = mpsc::channel();
        on_terminate(move |s| tx.send(s).unwrap()).unwrap();
        // SAFETY: sending SIGTERM to our own process, whose handler is installed.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Terminate::Terminate
        );
    }
}
