//! The control channel: a Unix socket through which another process injects faults
//! (`modem-sim inject --control PATH <fault> [ARGS]`).
//!
//! Protocol: one request per line, the fault in its text form with an optional trigger
//! (`pdn-deact 2`, `closed on publish 3`; see [`Request`]'s `FromStr`); one reply line per request, JSON: `{"ok":true,"fault":"..."}` once
//! the fault's consequences are queued, or `{"ok":false,"error":"..."}`.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{info, warn};

use crate::fault::inject::{Injector, Status};
use crate::fault::Request;

/// Longest request line accepted; a fault is a few words.
const MAX_REQUEST: usize = 1024;

/// A control connection that sends nothing for this long is closed (a client waiting for a
/// fault to apply is not idle: the wait is bounded by the fault itself).
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The longest path a Unix socket can have (`sun_path` is 108 bytes with its NUL on Linux).
pub const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("--control {path}: cannot create the socket there: {source} (pick a path in a directory you can write)")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--control {}: {} bytes, longer than the {MAX_SOCKET_PATH} a Unix socket path can have (pick a shorter path)", path.display(), path.as_os_str().len())]
    TooLong { path: PathBuf },
    #[error("--control {}: the directory {} does not exist (create it, or pick another path)", path.display(), dir.display())]
    NoDir { path: PathBuf, dir: PathBuf },
    #[error("--control {}: exists and is not a socket (remove it, or pick another path)", path.display())]
    NotASocket { path: PathBuf },
    #[error("--control {path}: cannot connect: {source} (is a modem-sim running with this control socket? its banner and ready file name it)")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the control socket {0} closed without an answer")]
    NoAnswer(PathBuf),
    #[error("the simulator refused: {0}")]
    Refused(String),
    #[error("control socket I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// One reply line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The answer to `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// Checks a control socket path before anything starts: it must fit in a socket address, and
/// its directory must exist.
pub fn check_path(path: &Path) -> Result<(), ControlError> {
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(ControlError::TooLong {
            path: path.to_path_buf(),
        });
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(ControlError::NoDir {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => Err(ControlError::NotASocket {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Binds the socket at `path` with mode 0600 from the start: it is bound under a temporary
/// name in the same directory, restricted, then renamed into place, so no other user can
/// connect in between. A stale socket at `path` (a previous run) is replaced.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    check_path(path)?;
    let bind_err = |source| ControlError::Bind {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(bind_err)?,
        Ok(_) => {
            return Err(ControlError::NotASocket {
                path: path.to_path_buf(),
            })
        }
        Err(_) => {}
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Short, so that it fits wherever `path` fits.
    let tmp = dir.join(format!(".mc{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(bind_err)?;
    let restrict = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = restrict {
        let _ = std::fs::remove_file(&tmp);
        return Err(bind_err(e));
    }
    Ok(listener)
}

/// Serves requests until the task is aborted.
pub async fn serve(listener: UnixListener, injector: Injector) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let injector = injector.clone();
                tokio::spawn(async move {
                    if let Err(e) = session(stream, injector).await {
                        warn!(error = %e, "control connection failed");
                    }
                });
            }
            Err(e) => {
                warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn session<S>(stream: S, injector: Injector) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let (rd, mut wr) = tokio::io::split(stream);
    // At most 1 MiB per connection, however it is split into lines.
    let mut rd = BufReader::new(rd.take(1 << 20));
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match tokio::time::timeout(IDLE_TIMEOUT, rd.read_until(b'\n', &mut raw)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                info!("control connection idle for {IDLE_TIMEOUT:?}: closed");
                break;
            }
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\n', '\r']);
        let reply = if std::str::from_utf8(&raw).is_err() {
            Reply {
                ok: false,
                fault: None,
                error: Some("the request is not UTF-8 text".into()),
                status: None,
            }
        } else if line.len() > MAX_REQUEST {
            Reply {
                ok: false,
                fault: None,
                error: Some(format!("request longer than {MAX_REQUEST} bytes")),
                status: None,
            }
        } else if line.trim() == "status" {
            match injector.status().await {
                Ok(status) => Reply {
                    ok: true,
                    fault: None,
                    error: None,
                    status: Some(status),
                },
                Err(e) => Reply {
                    ok: false,
                    fault: None,
                    error: Some(e.to_string()),
                    status: None,
                },
            }
        } else {
            match line.parse::<Request>() {
                Err(e) => Reply {
                    ok: false,
                    fault: None,
                    error: Some(e.to_string()),
                    status: None,
                },
                Ok(fault) => {
                    info!(%fault, "fault requested on the control socket");
                    match injector.request(fault.clone()).await {
                        Ok(()) => Reply {
                            ok: true,
                            fault: Some(fault.to_string()),
                            error: None,
                            status: None,
                        },
                        Err(e) => Reply {
                            ok: false,
                            fault: Some(fault.to_string()),
                            error: Some(e.to_string()),
                            status: None,
                        },
                    }
                }
            }
        };
        let mut text = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
        text.push('\n');
        wr.write_all(text.as_bytes()).await?;
    }
    Ok(())
}

/// The client side of `status`: the simulator's counters.
pub async fn status(path: &Path) -> Result<Status, ControlError> {
    let reply = exchange(path, "status").await?;
    match (reply.ok, reply.status) {
        (true, Some(status)) => Ok(status),
        _ => Err(ControlError::Refused(
            reply
                .error
                .unwrap_or_else(|| "no status in the answer".into()),
        )),
    }
}

/// The client side: sends one fault and waits until it is applied.
pub async fn request(path: &Path, fault: &Request) -> Result<(), ControlError> {
    let reply = exchange(path, &fault.to_string()).await?;
    if reply.ok {
        Ok(())
    } else {
        Err(ControlError::Refused(reply.error.unwrap_or_default()))
    }
}

/// One request line, one reply line.
async fn exchange(path: &Path, request: &str) -> Result<Reply, ControlError> {
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(ControlError::TooLong {
            path: path.to_path_buf(),
        });
    }
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| ControlError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    let (rd, mut wr) = stream.into_split();
    wr.write_all(format!("{request}\n").as_bytes()).await?;
    let mut line = String::new();
    BufReader::new(rd).read_line(&mut line).await?;
    if line.is_empty() {
        return Err(ControlError::NoAnswer(path.to_path_buf()));
    }
    serde_json::from_str(line.trim_end())
        .map_err(|e| ControlError::Refused(format!("unreadable answer `{}`: {e}", line.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn injector() -> (
        Injector,
        tokio::sync::mpsc::UnboundedReceiver<crate::fault::inject::Control>,
    ) {
        let (control, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            Injector {
                control,
                broker: None,
            },
            rx,
        )
    }

    /// An idle connection is closed after IDLE_TIMEOUT (paused time); an active one is not.
    #[tokio::test(start_paused = true)]
    async fn idle_control_connections_time_out() {
        let (injector, _rx) = injector();
        let (mut idle, server_end) = tokio::io::duplex(4096);
        let idle_session = tokio::spawn(session(server_end, injector.clone()));
        let (mut active, server_end) = tokio::io::duplex(4096);
        let active_session = tokio::spawn(session(server_end, injector));
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            tokio::time::sleep(IDLE_TIMEOUT / 2).await;
            active.write_all(b"melt\n").await.unwrap();
            let mut reply = Vec::new();
            while !reply.ends_with(b"\n") {
                let mut chunk = [0u8; 256];
                let n = active.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed while active");
                reply.extend_from_slice(&chunk[..n]);
            }
            let reply = String::from_utf8_lossy(&reply).into_owned();
            assert!(reply.contains("\"ok\":false"), "{reply}");
        }
        let mut buf = [0u8; 16];
        assert_eq!(idle.read(&mut buf).await.unwrap(), 0, "closed");
        assert!(idle_session.is_finished());
        assert!(started.elapsed() >= IDLE_TIMEOUT);
        assert!(!active_session.is_finished());
    }

    #[test]
    fn paths_that_cannot_be_sockets_are_refused_up_front() {
        let long = PathBuf::from(format!("/tmp/{}/c.sock", "a".repeat(120)));
        let e = check_path(&long).unwrap_err().to_string();
        assert!(
            e.starts_with("--control /tmp/aaa") && e.contains("longer than the 107"),
            "{e}"
        );
        let e = check_path(Path::new("/nonexistent-dir/c.sock"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent-dir does not exist"), "{e}");
        assert!(check_path(Path::new("/tmp/c.sock")).is_ok());
    }
}
