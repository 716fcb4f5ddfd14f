//! The PTY transport: a pseudo-TTY in raw mode, with an optional symlink to its slave.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sys::termios;
use pty_process::{Pts, Pty};
use tracing::{info, warn};

/// Errors opening the UART's transport.
#[derive(Debug, thiserror::Error)]
pub enum UartError {
    #[error("cannot open a pseudo-terminal: {0} (is /dev/ptmx available? at most /proc/sys/kernel/pty/max PTYs exist)")]
    Open(#[from] pty_process::Error),
    #[error("cannot configure the pseudo-terminal: {0}")]
    Termios(#[from] nix::Error),
    #[error("cannot listen on {endpoint} for the UART: {source} (pick a free port in --serial)")]
    Bind { endpoint: String, source: io::Error },
    #[error("--link {}: cannot create the symlink: {source} ({})", path.display(), link_hint(source))]
    Link {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An open PTY pair: the master (`pty`), the module's side, is the byte stream the modem task
/// runs on; `slave` must live as long as that task.
pub struct Uart {
    pub pty: Pty,
    pub slave: Slave,
}

/// The PTY's slave side and the `--link` symlink to it. The slave (`Pts`) stays open for the
/// modem's whole life: with no slave fd open, reads on the master fail with EIO whenever the
/// driver closes its end. Dropping it removes the link.
pub struct Slave {
    _pts: Pts,
    path: PathBuf,
    link: Option<PathBuf>,
}

impl Uart {
    /// Opens a PTY, makes the slave raw (no echo, no CR/LF translation by the kernel: the module
    /// does its own echo), and optionally points `link` at it.
    pub fn open(link: Option<&Path>) -> Result<Uart, UartError> {
        let (pty, pts) = pty_process::open()?;
        let path = nix::unistd::ttyname(pts.as_fd())?;
        let mut t = termios::tcgetattr(pts.as_fd())?;
        termios::cfmakeraw(&mut t);
        termios::tcsetattr(pts.as_fd(), termios::SetArg::TCSANOW, &t)?;
        let link = match link {
            Some(l) => {
                make_link(&path, l).map_err(|source| UartError::Link {
                    path: l.to_path_buf(),
                    source,
                })?;
                Some(l.to_path_buf())
            }
            None => None,
        };
        info!(tty = %path.display(), link = ?link, "UART ready");
        let slave = Slave {
            _pts: pts,
            path,
            link,
        };
        Ok(Uart { pty, slave })
    }
}

impl Slave {
    /// The slave path a driver opens, e.g. `/dev/pts/3`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn link(&self) -> Option<&Path> {
        self.link.as_deref()
    }
}

/// What to do about a link that cannot be made.
fn link_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::AlreadyExists => "remove the file that is in the way, or pick another path",
        io::ErrorKind::NotFound => "its directory does not exist: create it, or pick another path",
        io::ErrorKind::PermissionDenied => "pick a directory you can write",
        _ => "pick another path",
    }
}

/// A stale symlink from an earlier run is replaced; any other file is left alone.
fn make_link(target: &Path, link: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(link)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a symlink exists there",
            ))
        }
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link)
}

impl Drop for Slave {
    fn drop(&mut self) {
        if let Some(l) = &self.link {
            if let Err(e) = std::fs::remove_file(l) {
                warn!(link = %l.display(), error = %e, "could not remove the link");
            }
        }
    }
}
