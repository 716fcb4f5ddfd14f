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

use crate::inject::Injector;
use crate::modem::Request;

/// Longest request line accepted; a fault is a few words.
const MAX_REQUEST: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot create the control socket {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} exists and is not a socket: refusing to replace it")]
    NotASocket { path: PathBuf },
    #[error("cannot reach the control socket {path}: {source} (is modem-sim running with --control {path}?)")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the control socket {0} closed without an answer")]
    NoAnswer(PathBuf),
    #[error("the simulator refused the fault: {0}")]
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
}

/// Binds the socket at `path` with mode 0600 from the start: it is bound under a temporary
/// name in the same directory, restricted, then renamed into place, so no other user can
/// connect in between. A stale socket at `path` (a previous run) is replaced.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
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
    let tmp = dir.join(format!(".modem-sim-control.{}.tmp", std::process::id()));
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

async fn session(stream: UnixStream, injector: Injector) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd.take(1 << 20)).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = if line.len() > MAX_REQUEST {
            Reply {
                ok: false,
                fault: None,
                error: Some(format!("request longer than {MAX_REQUEST} bytes")),
            }
        } else {
            match line.parse::<Request>() {
                Err(e) => Reply {
                    ok: false,
                    fault: None,
                    error: Some(e.to_string()),
                },
                Ok(fault) => {
                    info!(%fault, "fault requested on the control socket");
                    match injector.request(fault.clone()).await {
                        Ok(()) => Reply {
                            ok: true,
                            fault: Some(fault.to_string()),
                            error: None,
                        },
                        Err(e) => Reply {
                            ok: false,
                            fault: Some(fault.to_string()),
                            error: Some(e.to_string()),
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

/// The client side: sends one fault and waits until it is applied.
pub async fn request(path: &Path, fault: &Request) -> Result<(), ControlError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| ControlError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    let (rd, mut wr) = stream.into_split();
    wr.write_all(format!("{fault}\n").as_bytes()).await?;
    let mut line = String::new();
    BufReader::new(rd).read_line(&mut line).await?;
    if line.is_empty() {
        return Err(ControlError::NoAnswer(path.to_path_buf()));
    }
    let reply: Reply = serde_json::from_str(line.trim_end())
        .map_err(|e| ControlError::Refused(format!("unreadable answer `{}`: {e}", line.trim())))?;
    if reply.ok {
        Ok(())
    } else {
        Err(ControlError::Refused(reply.error.unwrap_or_default()))
    }
}
