//! Where the module's UART is: a PTY (the default) or a TCP socket (`--serial`). A TCP endpoint
//! is a task that carries bytes between whichever host is connected and one end of a
//! [`tokio::io::duplex`], whose other end is the modem task's UART: the modem never knows
//! whether a host is there, as on a real board.
//!
//! - `tcp-listen://HOST:PORT`: one host connection at a time; a new one replaces the current
//!   one (a UART cable re-plugged); what the module sends while nobody is connected is lost.
//! - `tcp-connect://HOST:PORT`: connects to an emulator's server socket (QEMU
//!   `-serial tcp::PORT,server`, Renode `CreateServerSocketTerminal`), retrying until it is up,
//!   and again whenever it goes away.
//! - `rfc2217://HOST:PORT`: like `tcp-listen`, speaking RFC 2217 (telnet COM-port control):
//!   the line settings the host sets are the UART's ([`Line`]), see [`super::rfc2217`].

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn, Instrument};

use super::rfc2217::Telnet;
use super::UartError;
use crate::net::HostPort;

/// A `--serial` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Serial {
    /// A pseudo-terminal (`--link` names a symlink to it).
    #[default]
    Pty,
    /// A TCP listener; the host connects (pyserial `socket://`, QEMU `-serial tcp:HOST:PORT`).
    TcpListen(HostPort),
    /// We connect to the host's listener (QEMU `-serial tcp::PORT,server`, Renode).
    TcpConnect(HostPort),
    /// A TCP listener speaking RFC 2217 (pyserial `rfc2217://`).
    Rfc2217(HostPort),
}

/// What `--help` says about `--serial`.
pub const SERIAL_HELP: &str =
    "pty (default), tcp-listen://HOST:PORT, tcp-connect://HOST:PORT or rfc2217://HOST:PORT";

impl FromStr for Serial {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "pty" {
            return Ok(Serial::Pty);
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(format!("`{s}` is not a serial endpoint: use {SERIAL_HELP}"));
        };
        let at = listen_addr(rest)
            .map_err(|e| format!("`{s}`: {e} (e.g. {scheme}://127.0.0.1:4444)"))?;
        match scheme {
            "tcp-listen" => Ok(Serial::TcpListen(at)),
            "tcp-connect" if at.port == 0 => Err(format!(
                "`{s}`: tcp-connect needs the port the host listens on, not 0"
            )),
            "tcp-connect" => Ok(Serial::TcpConnect(at)),
            "rfc2217" => Ok(Serial::Rfc2217(at)),
            _ => Err(format!(
                "`{s}`: unknown scheme `{scheme}`; use {SERIAL_HELP}"
            )),
        }
    }
}

/// `HOST:PORT`, where port 0 (any free port) is allowed.
fn listen_addr(s: &str) -> Result<HostPort, String> {
    s.parse::<HostPort>()
        .or_else(|e| match s.strip_suffix(":0") {
            Some(host) => {
                let mut at: HostPort = format!("{host}:1").parse().map_err(|_| e)?;
                at.port = 0;
                Ok(at)
            }
            None => Err(e),
        })
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Serial::Pty => f.write_str("pty"),
            Serial::TcpListen(a) => write!(f, "tcp-listen://{a}"),
            Serial::TcpConnect(a) => write!(f, "tcp-connect://{a}"),
            Serial::Rfc2217(a) => write!(f, "rfc2217://{a}"),
        }
    }
}

impl Serial {
    /// Modem `index`'s endpoint in a fleet: the port plus `index` (port 0 stays 0: any free
    /// port for each).
    pub fn for_index(&self, index: usize) -> Result<Serial, String> {
        let shift = |a: &HostPort| -> Result<HostPort, String> {
            if a.port == 0 {
                return Ok(a.clone());
            }
            u16::try_from(usize::from(a.port) + index)
                .map(|port| HostPort {
                    host: a.host.clone(),
                    port,
                })
                .map_err(|_| format!("{self}: modem {index} would need a port past 65535"))
        };
        Ok(match self {
            Serial::Pty => Serial::Pty,
            Serial::TcpListen(a) => Serial::TcpListen(shift(a)?),
            Serial::TcpConnect(a) => Serial::TcpConnect(shift(a)?),
            Serial::Rfc2217(a) => Serial::Rfc2217(shift(a)?),
        })
    }

    /// What a host opens to reach this endpoint with pyserial's `serial_for_url` (or
    /// `modem-harness run --port`); `None` for a PTY (its path) and `tcp-connect` (we dial).
    pub fn host_url(&self) -> Option<String> {
        match self {
            Serial::TcpListen(a) => Some(format!("socket://{a}")),
            Serial::Rfc2217(a) => Some(format!("rfc2217://{a}")),
            Serial::Pty | Serial::TcpConnect(_) => None,
        }
    }
}

/// The UART's line as the host set it over RFC 2217 (or as it is by default). Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Line(Arc<Mutex<LineSettings>>);

/// RFC 2217's serial-port settings and control lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSettings {
    /// The rate the host set (`SET-BAUDRATE`); `None` until a host sets one. This is the
    /// rate the module's UART runs at; `AT+IPR` may say otherwise, as on a real board whose
    /// host and module disagree.
    pub baud: Option<u32>,
    /// 5 to 8.
    pub data_bits: u8,
    /// RFC 2217 codes: 1 none, 2 odd, 3 even, 4 mark, 5 space.
    pub parity: u8,
    /// RFC 2217 codes: 1 one, 2 two, 3 one and a half.
    pub stop_bits: u8,
    pub dtr: bool,
    pub rts: bool,
    /// A host is connected.
    pub connected: bool,
    /// Bytes the module sent while no host was connected (lost, as on a real UART).
    pub lost: u64,
}

impl Default for LineSettings {
    fn default() -> Self {
        LineSettings {
            baud: None,
            data_bits: 8,
            parity: 1,
            stop_bits: 1,
            dtr: false,
            rts: false,
            connected: false,
            lost: 0,
        }
    }
}

impl Line {
    pub fn get(&self) -> LineSettings {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut LineSettings)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A TCP endpoint being served.
pub(crate) struct Opened {
    /// The endpoint with the port really bound.
    pub serial: Serial,
    /// The modem's end of the UART.
    pub uart: DuplexStream,
    pub task: JoinHandle<()>,
}

/// Room in the duplex between the endpoint task and the modem, each way.
const DUPLEX_BYTES: usize = 64 << 10;

/// Binds (or starts dialling) a TCP endpoint and spawns the task that serves it.
pub(crate) async fn open(serial: &Serial, line: Line) -> Result<Opened, UartError> {
    let (uart, host_end) = tokio::io::duplex(DUPLEX_BYTES);
    let bind = |a: &HostPort| {
        let a = a.clone();
        async move {
            // An address literal is bound at once; a name goes through the resolver (on
            // tokio's blocking pool, which a 10,000-modem fleet would queue on).
            let bound = match a.host.parse::<std::net::IpAddr>() {
                Ok(ip) => TcpListener::bind((ip, a.port)).await,
                Err(_) => TcpListener::bind((a.host.as_str(), a.port)).await,
            };
            bound.map_err(|source| UartError::Bind {
                endpoint: a.to_string(),
                source,
            })
        }
    };
    let (serial, task) = match serial {
        Serial::Pty => unreachable!("a PTY is not a TCP endpoint"),
        Serial::TcpListen(a) | Serial::Rfc2217(a) => {
            let listener = bind(a).await?;
            let local = listener.local_addr().map_err(|source| UartError::Bind {
                endpoint: a.to_string(),
                source,
            })?;
            let at = HostPort {
                host: local.ip().to_string(),
                port: local.port(),
            };
            let rfc2217 = matches!(serial, Serial::Rfc2217(_));
            let bound = if rfc2217 {
                Serial::Rfc2217(at)
            } else {
                Serial::TcpListen(at)
            };
            info!(serial = %bound, "UART listening");
            let span = tracing::info_span!("serial", endpoint = %bound);
            let task =
                tokio::spawn(serve_listen(listener, host_end, rfc2217, line).instrument(span));
            (bound, task)
        }
        Serial::TcpConnect(a) => {
            let span = tracing::info_span!("serial", endpoint = %serial);
            let task = tokio::spawn(serve_connect(a.clone(), host_end, line).instrument(span));
            (serial.clone(), task)
        }
    };
    Ok(Opened { serial, uart, task })
}

async fn serve_listen(listener: TcpListener, mut uart: DuplexStream, rfc2217: bool, line: Line) {
    let mut next: Option<TcpStream> = None;
    loop {
        let conn = match next.take() {
            Some(c) => c,
            None => match discard_until(&mut uart, &line, accept(&listener)).await {
                Some(c) => c,
                None => return,
            },
        };
        let telnet = rfc2217.then(|| Telnet::new(line.clone()));
        match carry(conn, &mut uart, telnet, &line, Some(&listener)).await {
            Carried::Replaced(c) => next = Some(c),
            Carried::HostGone => {}
            Carried::ModemGone => return,
        }
    }
}

async fn serve_connect(to: HostPort, mut uart: DuplexStream, line: Line) {
    loop {
        let Some(conn) = discard_until(&mut uart, &line, dial(&to)).await else {
            return;
        };
        if let Carried::ModemGone = carry(conn, &mut uart, None, &line, None).await {
            return;
        }
    }
}

async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((conn, peer)) => {
                info!(%peer, "host connected to the UART");
                return conn;
            }
            Err(e) => {
                // e.g. EMFILE: back off instead of spinning.
                warn!(error = %e, "UART accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Connects to `to`, retrying (100 ms, doubling to 2 s) until the host is up.
async fn dial(to: &HostPort) -> TcpStream {
    let mut wait = Duration::from_millis(100);
    let mut tries = 0u64;
    loop {
        match TcpStream::connect((to.host.as_str(), to.port)).await {
            Ok(conn) => {
                info!(host = %to, "UART connected to the host");
                return conn;
            }
            Err(e) => {
                if tries == 0 {
                    info!(host = %to, error = %e, "the host is not up yet; retrying");
                }
                tries += 1;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// With no host: the module's output is lost (and counted) until `host` yields one; `None`
/// when the modem has stopped.
async fn discard_until(
    uart: &mut DuplexStream,
    line: &Line,
    host: impl std::future::Future<Output = TcpStream>,
) -> Option<TcpStream> {
    line.update(|l| l.connected = false);
    tokio::pin!(host);
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            // Output first: what the module sent before a host came is lost, not delivered.
            biased;
            n = uart.read(&mut buf) => match n {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    debug!(lost = n, "no host on the UART: output lost");
                    line.update(|l| l.lost += n as u64);
                }
            },
            conn = &mut host => {
                let _ = conn.set_nodelay(true);
                line.update(|l| l.connected = true);
                return Some(conn);
            }
        }
    }
}

enum Carried {
    /// A new host connection took the UART over.
    Replaced(TcpStream),
    HostGone,
    ModemGone,
}

/// Carries bytes between one host connection and the modem until one of them goes.
async fn carry(
    conn: TcpStream,
    uart: &mut DuplexStream,
    mut telnet: Option<Telnet>,
    line: &Line,
    listener: Option<&TcpListener>,
) -> Carried {
    let (mut rd, mut wr) = conn.into_split();
    let mut from_host = vec![0u8; 4096];
    let mut from_modem = vec![0u8; 4096];
    if let Some(t) = &mut telnet {
        if wr.write_all(&t.greeting()).await.is_err() {
            return Carried::HostGone;
        }
    }
    loop {
        let paused = telnet.as_ref().is_some_and(Telnet::suspended);
        tokio::select! {
            conn = accept_opt(listener) => {
                info!("a new host connection replaces the current one");
                return Carried::Replaced(conn);
            }
            n = rd.read(&mut from_host) => {
                let n = match n {
                    Ok(0) | Err(_) => {
                        info!("host disconnected from the UART");
                        return Carried::HostGone;
                    }
                    Ok(n) => n,
                };
                let (data, reply) = match &mut telnet {
                    Some(t) => t.decode(&from_host[..n]),
                    None => (from_host[..n].to_vec(), Vec::new()),
                };
                if !reply.is_empty() && wr.write_all(&reply).await.is_err() {
                    return Carried::HostGone;
                }
                if uart.write_all(&data).await.is_err() {
                    return Carried::ModemGone;
                }
            }
            n = uart.read(&mut from_modem), if !paused => {
                let n = match n {
                    Ok(0) | Err(_) => return Carried::ModemGone,
                    Ok(n) => n,
                };
                let out = match &telnet {
                    Some(_) => Telnet::encode(&from_modem[..n]),
                    None => from_modem[..n].to_vec(),
                };
                if let Err(e) = wr.write_all(&out).await {
                    info!(error = %e, "host disconnected from the UART");
                    line.update(|l| l.lost += n as u64);
                    return Carried::HostGone;
                }
            }
        }
    }
}

/// The next connection on `listener`, or never.
async fn accept_opt(listener: Option<&TcpListener>) -> TcpStream {
    match listener {
        Some(l) => accept(l).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_print_and_shift_per_modem() {
        for s in [
            "pty",
            "tcp-listen://127.0.0.1:4444",
            "tcp-connect://localhost:4444",
            "rfc2217://0.0.0.0:2217",
        ] {
            assert_eq!(s.parse::<Serial>().unwrap().to_string(), s);
        }
        let e: Serial = "tcp-listen://127.0.0.1:40000".parse().unwrap();
        assert_eq!(
            e.for_index(7).unwrap().to_string(),
            "tcp-listen://127.0.0.1:40007"
        );
        assert!(e.for_index(30000).is_err());
        let any: Serial = "rfc2217://127.0.0.1:0".parse().unwrap();
        assert_eq!(any.for_index(3).unwrap(), any);
        for bad in [
            "tcp://1.2.3.4:5",
            "tcp-listen://nope",
            "/dev/ttyUSB0",
            "tcp-connect://127.0.0.1:0",
        ] {
            let e = bad.parse::<Serial>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    /// The host's bytes reach the modem; the modem's bytes sent with nobody connected are lost
    /// and counted; a second connection replaces the first.
    #[tokio::test]
    async fn tcp_listen_loses_output_without_a_host_and_takes_a_new_one() {
        let line = Line::default();
        let at = "tcp-listen://127.0.0.1:0".parse::<Serial>().unwrap();
        let mut opened = open(&at, line.clone()).await.unwrap();
        let Serial::TcpListen(a) = &opened.serial else {
            panic!()
        };
        let addr = (a.host.clone(), a.port);
        opened.uart.write_all(b"lost").await.unwrap();
        let mut host = TcpStream::connect(addr.clone()).await.unwrap();
        host.write_all(b"AT\r\n").await.unwrap();
        let mut got = [0u8; 4];
        opened.uart.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"AT\r\n");
        assert_eq!(line.get().lost, 4);
        assert!(line.get().connected);
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(b"X").await.unwrap();
        let mut one = [0u8; 1];
        opened.uart.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"X");
        opened.uart.write_all(b"OK").await.unwrap();
        let mut two = [0u8; 2];
        second.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"OK");
        // The first connection was closed when the second took over.
        let mut rest = Vec::new();
        let _ = host.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "{rest:?}");
        opened.task.abort();
    }
}
