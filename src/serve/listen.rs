//! Where `serve` listens: a TCP address or (on Unix) a socket file, and the
//! connections accepted there.
//!
//! Owns: reading `--listen` (`127.0.0.1:PORT`, `[::1]:PORT`, `localhost:PORT`,
//! any IP address, or `unix:/path`), whether it is loopback, binding (a Unix
//! socket file left by an earlier run is replaced, one a running process
//! accepts on is refused; the new one is mode 0600, removed at the end if the
//! file at the path is still this one),
//! and [`Stream`], one accepted connection of either kind.
//! Refuses: resolving host names (`localhost` is 127.0.0.1).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A `--listen` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket file.
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

impl Listen {
    /// Reads a `--listen` value.
    ///
    /// # Errors
    /// What was expected, with the value.
    pub fn parse(text: &str) -> Result<Listen, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            #[cfg(unix)]
            if !path.is_empty() {
                return Ok(Listen::Unix(path.into()));
            }
            #[cfg(not(unix))]
            let _ = path;
            return Err(format!(
                "--listen: expected unix:/path/to/socket (on Unix), found {text:?}"
            ));
        }
        if let Some(port) = text.strip_prefix("localhost:")
            && let Ok(port) = port.parse::<u16>()
        {
            return Ok(Listen::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, port))));
        }
        text.parse::<SocketAddr>().map(Listen::Tcp).map_err(|_| {
            format!(
                "--listen: expected an address and port such as 127.0.0.1:8080 or [::1]:8080, or unix:/path, found {text:?}"
            )
        })
    }

    /// True when only this machine can connect: a loopback address, or a
    /// Unix socket.
    pub fn is_loopback(&self) -> bool {
        match self {
            Listen::Tcp(a) => a.ip().is_loopback(),
            #[cfg(unix)]
            Listen::Unix(_) => true,
        }
    }
}

/// A bound listener.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix socket file, and its device and inode numbers (what is
    /// removed at the end is that file, not one another process made at the
    /// same path).
    #[cfg(unix)]
    Unix(
        std::os::unix::net::UnixListener,
        std::path::PathBuf,
        (u64, u64),
    ),
}

impl Listener {
    /// Binds `listen`.
    ///
    /// # Errors
    /// The operating system's.
    pub fn bind(listen: &Listen) -> io::Result<Listener> {
        match listen {
            Listen::Tcp(a) => TcpListener::bind(a).map(Listener::Tcp),
            #[cfg(unix)]
            Listen::Unix(path) => {
                use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
                // A socket file left by a run that ended without removing it:
                // nothing accepts on it. One that a running process accepts on
                // stays: replacing it would leave that process unreachable,
                // and unable to wake its own accept at shutdown.
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    match std::os::unix::net::UnixStream::connect(path) {
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                            std::fs::remove_file(path)?;
                        }
                        Err(e) => return Err(e),
                        Ok(_) => {
                            return Err(io::Error::new(
                                io::ErrorKind::AddrInUse,
                                format!(
                                    "{}: another process listens on this socket file (another serve?); stop it or choose another path",
                                    path.display()
                                ),
                            ));
                        }
                    }
                }
                let l = std::os::unix::net::UnixListener::bind(path)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                let file = std::fs::symlink_metadata(path).map(|m| (m.dev(), m.ino()))?;
                Ok(Listener::Unix(l, path.clone(), file))
            }
        }
    }

    /// What to print: `http://127.0.0.1:PORT/mcp` or `unix:/path`.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("http://{a}/mcp"),
                Err(_) => "a TCP port".into(),
            },
            #[cfg(unix)]
            Listener::Unix(_, path, _) => format!("unix:{} (path /mcp)", path.display()),
        }
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    /// The operating system's.
    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept()?;
                // Each SSE event goes out when written.
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            #[cfg(unix)]
            Listener::Unix(l, ..) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }

    /// Connects to this listener once, so that a thread blocked in
    /// [`accept`](Self::accept) returns (at shutdown).
    pub fn wake(&self) {
        match self {
            Listener::Tcp(l) => {
                if let Ok(mut a) = l.local_addr() {
                    if a.ip().is_unspecified() {
                        a.set_ip(if a.is_ipv4() {
                            Ipv4Addr::LOCALHOST.into()
                        } else {
                            std::net::Ipv6Addr::LOCALHOST.into()
                        });
                    }
                    let _ = TcpStream::connect_timeout(&a, Duration::from_secs(1));
                }
            }
            #[cfg(unix)]
            Listener::Unix(_, path, _) => {
                let _ = std::os::unix::net::UnixStream::connect(path);
            }
        }
    }
}

impl Listener {
    /// Removes the Unix socket file, if the file at its path is still the
    /// one bound here (at the end of a run; again at drop, harmlessly).
    pub fn remove_socket_file(&self) {
        #[cfg(unix)]
        if let Listener::Unix(_, path, file) = self {
            use std::os::unix::fs::MetadataExt;
            let ours = std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == *file);
            if ours {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.remove_socket_file();
    }
}

/// One accepted connection.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix socket.
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    /// Sets the longest wait of each read (`None`: no limit).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    /// Sets the longest wait of each write.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }

    /// Ends the writing half: the client reads the end of the answer (a FIN),
    /// and may still send.
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            #[cfg(unix)]
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_values() {
        assert_eq!(
            Listen::parse("127.0.0.1:0").unwrap(),
            Listen::Tcp("127.0.0.1:0".parse().unwrap())
        );
        assert!(Listen::parse("[::1]:80").unwrap().is_loopback());
        assert!(Listen::parse("localhost:80").unwrap().is_loopback());
        assert!(!Listen::parse("0.0.0.0:80").unwrap().is_loopback());
        assert!(!Listen::parse("192.0.2.1:80").unwrap().is_loopback());
        for bad in ["", "8080", "example.com:80", "127.0.0.1", "unix:"] {
            let e = Listen::parse(bad).unwrap_err();
            assert!(
                e.contains("--listen") && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
        #[cfg(unix)]
        assert!(Listen::parse("unix:/tmp/x.sock").unwrap().is_loopback());
    }
}
