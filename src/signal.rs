//! What asks the process to end, as one ordinary event: the crate's only
//! `unsafe` code. The caller's callback, called once, starts the same
//! graceful end as the end of stdin; a second Ctrl+C ends the process at once.
//!
//! Owns, on Unix: SIGINT and SIGTERM handlers that only write the signal
//! number to a pipe (`write` is async-signal-safe, POSIX.1-2017 §2.4.3), a
//! thread that reads it, calls the callback and restores the default actions.
//! On Windows: a console control handler (`SetConsoleCtrlHandler`), which
//! Windows runs on a new thread for Ctrl+C, Ctrl+Break, the console window
//! closing, logoff and shutdown. It calls the callback; a later Ctrl+C goes
//! on to the default handler, which exits. Windows ends the process when the
//! handler returns from a close, logoff or shutdown (or ~5 s after a close),
//! so for those it waits, at most [`CLOSE_WAIT`], while the graceful end runs.
//! Refuses: other work in a Unix signal handler (no allocation, no locks, no
//! logging), and `unsafe` outside this module (denied in Cargo.toml).

#![allow(unsafe_code)]

use std::time::Duration;

/// An event that asks the process to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Terminate {
    /// SIGINT on Unix; Ctrl+C (`CTRL_C_EVENT`) on Windows.
    Interrupt,
    /// SIGTERM (Unix; what MCP clients send after closing stdin, or instead
    /// of it).
    Terminate,
    /// Ctrl+Break (`CTRL_BREAK_EVENT`, Windows): also what a service manager
    /// sends a console process group to stop it.
    Break,
    /// The console window was closed (`CTRL_CLOSE_EVENT`, Windows).
    ConsoleClosed,
    /// The user is logging off (`CTRL_LOGOFF_EVENT`, Windows; services only).
    Logoff,
    /// The system is shutting down (`CTRL_SHUTDOWN_EVENT`, Windows; services
    /// only).
    Shutdown,
}

impl std::fmt::Display for Terminate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Terminate::Interrupt if cfg!(windows) => "Ctrl+C",
            Terminate::Interrupt => "SIGINT",
            Terminate::Terminate => "SIGTERM",
            Terminate::Break => "Ctrl+Break",
            Terminate::ConsoleClosed => "console closed",
            Terminate::Logoff => "logoff",
            Terminate::Shutdown => "system shutdown",
        })
    }
}

/// What [`on_terminate`] catches on this platform, for messages ("cannot
/// catch …").
pub const CAUGHT: &str = if cfg!(windows) {
    "Ctrl+C, Ctrl+Break and the console closing"
} else {
    "SIGTERM and SIGINT"
};

/// On Windows, the longest the console control handler holds a close,
/// logoff or shutdown event (Windows ends the process when it returns) while
/// the graceful end runs: longer than Windows's own limits (5 s for a close,
/// 20 s at logoff and shutdown), so those decide in practice. The process's
/// exit ends the wait sooner.
/// <https://learn.microsoft.com/en-us/windows/console/handlerroutine#remarks>
pub const CLOSE_WAIT: Duration = Duration::from_secs(30);

/// Calls `callback` once, on a thread of its own, when the process is asked
/// to end: SIGINT or SIGTERM on Unix; on Windows a console control event
/// (Ctrl+C, Ctrl+Break, the console closing, logoff, shutdown; see
/// <https://learn.microsoft.com/en-us/windows/console/setconsolectrlhandler>).
/// Call it once, at start-up. A second Ctrl+C (or signal) ends the process at
/// once.
///
/// # Errors
/// The OS error when the pipe, the handlers or the thread (Unix), or the
/// console control handler (Windows) cannot be set up.
#[cfg(unix)]
pub fn on_terminate(callback: impl FnOnce(Terminate) + Send + 'static) -> std::io::Result<()> {
    unix::install(callback)
}

/// Calls `callback` once, on a thread of its own, when the process is asked
/// to end: SIGINT or SIGTERM on Unix; on Windows a console control event
/// (Ctrl+C, Ctrl+Break, the console closing, logoff, shutdown; see
/// <https://learn.microsoft.com/en-us/windows/console/setconsolectrlhandler>).
/// Call it once, at start-up. A second Ctrl+C (or signal) ends the process at
/// once.
///
/// # Errors
/// The OS error when the pipe, the handlers or the thread (Unix), or the
/// console control handler (Windows) cannot be set up.
#[cfg(windows)]
pub fn on_terminate(callback: impl FnOnce(Terminate) + Send + 'static) -> std::io::Result<()> {
    windows::install(Box::new(callback))
}

/// Does nothing on platforms with neither signals nor a console.
///
/// # Errors
/// None.
#[cfg(not(any(unix, windows)))]
pub fn on_terminate(_callback: impl FnOnce(Terminate) + Send + 'static) -> std::io::Result<()> {
    Ok(())
}

/// Windows's console control events and what the handler does with each:
/// plain data, tested on every platform.
#[cfg(any(windows, test))]
mod console {
    use super::Terminate;

    /// The `dwCtrlType` values of
    /// <https://learn.microsoft.com/en-us/windows/console/handlerroutine>.
    pub(super) const CTRL_C_EVENT: u32 = 0;
    pub(super) const CTRL_BREAK_EVENT: u32 = 1;
    pub(super) const CTRL_CLOSE_EVENT: u32 = 2;
    pub(super) const CTRL_LOGOFF_EVENT: u32 = 5;
    pub(super) const CTRL_SHUTDOWN_EVENT: u32 = 6;

    /// What the handler does with an event.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum Response {
        /// Return FALSE: the next handler, in the end the default one
        /// (`ExitProcess`), takes it.
        PassOn,
        /// Call the callback with this, return TRUE: the process goes on.
        End(Terminate),
        /// Call the callback with this if it was not called yet, then wait
        /// for the process to exit (bounded) before returning TRUE, after
        /// which Windows ends the process.
        EndAndHold(Terminate),
    }

    /// The response to `event` when the callback was (`called`) or was not
    /// called before.
    pub(super) fn respond(event: u32, called: bool) -> Response {
        match event {
            CTRL_C_EVENT | CTRL_BREAK_EVENT if called => Response::PassOn,
            CTRL_C_EVENT => Response::End(Terminate::Interrupt),
            CTRL_BREAK_EVENT => Response::End(Terminate::Break),
            CTRL_CLOSE_EVENT => Response::EndAndHold(Terminate::ConsoleClosed),
            CTRL_LOGOFF_EVENT => Response::EndAndHold(Terminate::Logoff),
            CTRL_SHUTDOWN_EVENT => Response::EndAndHold(Terminate::Shutdown),
            _ => Response::PassOn,
        }
    }
}

#[cfg(windows)]
mod windows {
    use std::io;
    use std::sync::Mutex;

    use super::console::{self, Response};
    use super::{CLOSE_WAIT, Terminate};

    type Callback = Box<dyn FnOnce(Terminate) + Send>;

    /// The caller's callback until the first event takes it.
    static CALLBACK: Mutex<Option<Callback>> = Mutex::new(None);

    /// `PHANDLER_ROUTINE`: takes the event, returns TRUE when handled.
    type HandlerRoutine = unsafe extern "system" fn(u32) -> i32;

    #[link(name = "kernel32")]
    unsafe extern "system" {
        /// <https://learn.microsoft.com/en-us/windows/console/setconsolectrlhandler>:
        /// nonzero on success.
        fn SetConsoleCtrlHandler(handler: Option<HandlerRoutine>, add: i32) -> i32;
    }

    /// The handler, run by Windows on a new thread for each event: takes
    /// the callback out under the lock, calls it outside, and holds the
    /// events after which Windows ends the process.
    unsafe extern "system" fn handler(event: u32) -> i32 {
        let (which, hold, callback) = {
            // A poisoned lock only means a callback panicked; the slot is
            // still sound to read.
            let mut slot = CALLBACK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match console::respond(event, slot.is_none()) {
                Response::PassOn => return 0,
                Response::End(which) => (which, false, slot.take()),
                Response::EndAndHold(which) => (which, true, slot.take()),
            }
        };
        if let Some(callback) = callback {
            callback(which);
        }
        if hold {
            // Returning lets Windows end the process; the process's own exit,
            // once the graceful end is done, ends this thread first.
            std::thread::sleep(CLOSE_WAIT);
        }
        1
    }

    pub(super) fn install(callback: Callback) -> io::Result<()> {
        *CALLBACK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(callback);
        let routine: HandlerRoutine = handler;
        // SAFETY: `routine` is a function of the signature HandlerRoutine
        // documents (DWORD in, BOOL out, the system calling convention) that
        // lives as long as the process; adding a handler has no other
        // precondition.
        if unsafe { SetConsoleCtrlHandler(Some(routine), 1) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::console::*;
    use super::*;

    #[test]
    fn console_events_map_to_terminate_and_a_second_ctrl_c_is_passed_on() {
        use Response::*;
        let cases = [
            (CTRL_C_EVENT, false, End(Terminate::Interrupt)),
            (CTRL_BREAK_EVENT, false, End(Terminate::Break)),
            (CTRL_C_EVENT, true, PassOn),
            (CTRL_BREAK_EVENT, true, PassOn),
            (
                CTRL_CLOSE_EVENT,
                false,
                EndAndHold(Terminate::ConsoleClosed),
            ),
            (CTRL_CLOSE_EVENT, true, EndAndHold(Terminate::ConsoleClosed)),
            (CTRL_LOGOFF_EVENT, false, EndAndHold(Terminate::Logoff)),
            (CTRL_SHUTDOWN_EVENT, true, EndAndHold(Terminate::Shutdown)),
            (3, false, PassOn),
            (7, false, PassOn),
        ];
        for (event, called, want) in cases {
            assert_eq!(
                respond(event, called),
                want,
                "event {event}, called {called}"
            );
        }
    }

    #[test]
    fn names_say_which_event() {
        let want = if cfg!(windows) { "Ctrl+C" } else { "SIGINT" };
        assert_eq!(Terminate::Interrupt.to_string(), want);
        assert_eq!(Terminate::Break.to_string(), "Ctrl+Break");
        assert_eq!(Terminate::ConsoleClosed.to_string(), "console closed");
    }

    #[cfg(unix)]
    #[test]
    fn sigterm_reaches_the_callback_once() {
        use std::sync::mpsc;
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
