//! A byte-stream device: the module's UART as the host sees it. The same [`Device`] opens the
//! simulator's pseudo-TTY and a real USB serial port, so one scenario runs against both.
//!
//! Reading is line-based with two exceptions the Air780E dialect needs: the data prompt `>`
//! of `AT+MPUBEX` arrives without a line end, and a received message
//! `+MSUB: "<topic>",<n> byte,<payload>` carries `n` raw bytes that may contain CR and LF, so it
//! is read by length (seed 000 section 6.2; fixtures/air780e-manual-notes.md section 14).
//! Received socket data framed by length (the dialect's [`DataFrame::Length`], e.g. `+IPD,<n>:`)
//! is read the same way once [`Device::set_frames`] names the frames.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::termios::{self, BaudRate, SetArg};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use modem_sim::dialect::host::DataFrame;

use crate::transcript::{Kind, Transcript};

/// How long any single wait lasts unless a step says otherwise. Generous: a slow CI machine
/// building in the background must not fail a scenario.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many transcript lines an error shows.
const TRANSCRIPT_LEN: usize = 40;

/// The line end the host puts after each command line (`--eol`). Drivers send all three:
/// nearly every public driver ends its lines with CR LF, terminal programs with CR, some
/// Linux drivers with a bare LF. The module takes each as the end of a command, and after a
/// command that opens a `>` prompt the rest of the line end is never payload (V1.6.7 manual,
/// fixtures/air780e-manual-notes.md item 13).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Eol {
    /// `\r` (what V.250 section 5.2.1 calls S3, and what terminal programs send).
    Cr,
    /// `\r\n`: what drivers send, and the default.
    #[default]
    Crlf,
    /// `\n` alone.
    Lf,
}

impl Eol {
    /// All three, in the order tests run them.
    pub const ALL: [Eol; 3] = [Eol::Crlf, Eol::Cr, Eol::Lf];

    /// The bytes sent after a command line.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Eol::Cr => b"\r",
            Eol::Crlf => b"\r\n",
            Eol::Lf => b"\n",
        }
    }

    /// The name `--eol` takes.
    pub fn name(self) -> &'static str {
        match self {
            Eol::Cr => "cr",
            Eol::Crlf => "crlf",
            Eol::Lf => "lf",
        }
    }
}

impl std::fmt::Display for Eol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Eol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cr" => Ok(Eol::Cr),
            "crlf" => Ok(Eol::Crlf),
            "lf" => Ok(Eol::Lf),
            other => Err(format!(
                "unknown line end `{other}`: give cr (\\r), crlf (\\r\\n) or lf (\\n)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{baud} baud is not a rate this harness can set: use one of {}", SUPPORTED_BAUD.map(|b| b.to_string()).join(", "))]
    Baud { baud: u32 },
    #[error("cannot configure {path} as a raw serial line: {source}")]
    Termios { path: PathBuf, source: nix::Error },
    #[error("I/O error on the device: {0}")]
    Io(#[from] io::Error),
    #[error("the device closed (end of file)")]
    Closed,
    #[error(
        "expected the modem to say `{expected}`, but it said `{actual}`{detail}\n{transcript}"
    )]
    Mismatch {
        expected: String,
        actual: String,
        /// Which field differed ([`crate::pattern::differing_field`]), on a line of its own.
        detail: String,
        transcript: String,
    },
    #[error("expected the modem to say `{expected}` within {waited:?}, but {got}\n{transcript}")]
    Timeout {
        expected: String,
        waited: Duration,
        got: String,
        transcript: String,
    },
    #[error("expected a received message (`+MSUB: \"<topic>\",<n> byte,<payload>`), but the modem said `{actual}`\n{transcript}")]
    NotAMessage { actual: String, transcript: String },
}

/// One unit of what the module printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A line without its CR/LF (possibly empty). A `+MSUB` message line includes its whole
    /// payload, even if the payload holds CR or LF.
    Line(Vec<u8>),
    /// The data prompt `>` (no line end follows it).
    Prompt,
}

/// How [`Device::expect_as`] compares a line with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The whole line, `{}` standing for any value.
    Whole,
    /// Only the line's start, byte for byte.
    Start,
}

impl Item {
    /// The item as transcripts and reports show it: the line (escaped), or `>`.
    pub fn show(&self) -> String {
        match self {
            Item::Line(l) => show(l),
            Item::Prompt => ">".to_string(),
        }
    }
}

/// A parsed `+MSUB: "<topic>",<n> byte,<payload>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msub {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// The header of a message line: topic, payload length, and where the payload starts.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    Complete {
        topic: String,
        len: usize,
        payload_at: usize,
    },
    /// More bytes are needed to tell.
    Incomplete,
    /// Not a message header.
    No,
}

const MSUB_PREFIX: &[u8] = b"+MSUB: \"";

/// Parses `+MSUB: "<topic>",<n> byte,` at the start of `buf`. Incomplete input is told apart
/// from input that is no header, so bytes still on their way are waited for.
fn msub_header(buf: &[u8]) -> Header {
    let common = buf.len().min(MSUB_PREFIX.len());
    if buf[..common] != MSUB_PREFIX[..common] {
        return Header::No;
    }
    if buf.len() < MSUB_PREFIX.len() {
        return Header::Incomplete;
    }
    let rest = &buf[MSUB_PREFIX.len()..];
    let Some(q) = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\r' || b == b'\n')
    else {
        return Header::Incomplete;
    };
    if rest[q] != b'"' {
        return Header::No;
    }
    let topic = String::from_utf8_lossy(&rest[..q]).into_owned();
    let mut i = MSUB_PREFIX.len() + q + 1;
    let expect = |i: usize, lit: &[u8]| -> Option<bool> {
        let have = &buf[i.min(buf.len())..];
        let n = have.len().min(lit.len());
        if have[..n] != lit[..n] {
            Some(false)
        } else if n < lit.len() {
            None
        } else {
            Some(true)
        }
    };
    match expect(i, b",") {
        Some(true) => i += 1,
        Some(false) => return Header::No,
        None => return Header::Incomplete,
    }
    let digits = buf[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if i + digits == buf.len() {
        return Header::Incomplete;
    }
    if digits == 0 {
        return Header::No;
    }
    let Ok(len) = std::str::from_utf8(&buf[i..i + digits])
        .unwrap_or("x")
        .parse::<usize>()
    else {
        return Header::No;
    };
    i += digits;
    match expect(i, b" byte,") {
        Some(true) => Header::Complete {
            topic,
            len,
            payload_at: i + 6,
        },
        Some(false) => Header::No,
        None => Header::Incomplete,
    }
}

/// Received socket data framed by length at the start of `buf` ([`DataFrame::Length`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// The link the header names (`None`: the single link), where the data starts and its
    /// length.
    Complete {
        id: Option<u32>,
        data_at: usize,
        len: usize,
    },
    /// More bytes are needed to tell.
    Incomplete,
    /// Not such a frame.
    No,
}

/// The longest header (between the prefix and the `:`) a frame may have.
const FRAME_HEADER_MAX: usize = 32;

/// Parses one of `frames`' headers, `<prefix><fields>:<gap>`, at the start of `buf`, and
/// tells whether its data is all there.
pub fn length_frame(frames: &[DataFrame], buf: &[u8]) -> Frame {
    for f in frames {
        let DataFrame::Length {
            prefix,
            id,
            len,
            gap,
        } = *f
        else {
            continue;
        };
        let p = prefix.as_bytes();
        let n = buf.len().min(p.len());
        if buf[..n] != p[..n] {
            continue;
        }
        let rest = &buf[n..];
        let Some(colon) = rest.iter().position(|&b| matches!(b, b':' | b'\r' | b'\n')) else {
            return if n < p.len() || rest.len() <= FRAME_HEADER_MAX {
                Frame::Incomplete
            } else {
                Frame::No
            };
        };
        let fields: Vec<&str> = match std::str::from_utf8(&rest[..colon]) {
            Ok(f) if rest[colon] == b':' && colon <= FRAME_HEADER_MAX => f.split(',').collect(),
            _ => return Frame::No,
        };
        let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u32>().ok());
        let (Some(size), link) = (num(len), id.map(num)) else {
            return Frame::No;
        };
        if link == Some(None) {
            return Frame::No;
        }
        let data_at = p.len() + colon + 1 + gap.len();
        let have = &buf[(data_at - gap.len()).min(buf.len())..data_at.min(buf.len())];
        if !gap.as_bytes().starts_with(have) {
            return Frame::No;
        }
        if buf.len() < data_at + size as usize {
            return Frame::Incomplete;
        }
        return Frame::Complete {
            id: link.flatten(),
            data_at,
            len: size as usize,
        };
    }
    Frame::No
}

/// Takes the next [`Item`] off the front of `buf`, or `None` if more bytes are needed.
/// Returns how many bytes it consumed. Pure, so it is tested byte by byte.
pub fn split_item(buf: &[u8]) -> Option<(Item, usize)> {
    split_item_with(buf, &[])
}

/// [`split_item`], where received socket data framed by one of `frames` is one line with its
/// header, read by length.
pub fn split_item_with(buf: &[u8], frames: &[DataFrame]) -> Option<(Item, usize)> {
    // Line ends left over from the previous item (or blank lines) are not items of their own;
    // a blank line is reported once as an empty line so callers can see it, but consecutive
    // terminators collapse.
    let start = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let rest = &buf[start..];
    if rest.is_empty() {
        return None;
    }
    if rest[0] == b'>' {
        return Some((Item::Prompt, start + 1));
    }
    match length_frame(frames, rest) {
        Frame::Complete { data_at, len, .. } => {
            let end = data_at + len;
            return Some((Item::Line(rest[..end].to_vec()), start + end));
        }
        Frame::Incomplete => return None,
        Frame::No => {}
    }
    match msub_header(rest) {
        Header::Complete {
            len, payload_at, ..
        } => {
            let end = payload_at + len;
            if rest.len() < end {
                return None;
            }
            return Some((Item::Line(rest[..end].to_vec()), start + end));
        }
        // Any CR or LF would have decided it: nothing complete yet.
        Header::Incomplete => return None,
        Header::No => {}
    }
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let mut line = &rest[..nl];
    while let [head @ .., b'\r'] = line {
        line = head;
    }
    Some((Item::Line(line.to_vec()), start + nl + 1))
}

/// The payload a `+MSUB: "<topic>",<n> byte,` line declares: `(n, where the payload starts)`,
/// or `None` when `line` does not start with a complete header. The same parse frames the
/// module's output ([`split_item`]) and the replay log's expected messages.
pub fn msub_declared(line: &[u8]) -> Option<(usize, usize)> {
    match msub_header(line) {
        Header::Complete {
            len, payload_at, ..
        } => Some((len, payload_at)),
        _ => None,
    }
}

/// Parses a whole message line as [`split_item`] returned it.
pub fn parse_msub(line: &[u8]) -> Option<Msub> {
    match msub_header(line) {
        Header::Complete {
            topic,
            len,
            payload_at,
        } if line.len() == payload_at + len => Some(Msub {
            topic,
            payload: line[payload_at..].to_vec(),
        }),
        _ => None,
    }
}

/// Shows bytes as readable text: printable ASCII and UTF-8 as is (quotes too, so a line reads
/// as the guides print it), control bytes escaped (`\r`, `\n`, `\u{0}`).
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for c in String::from_utf8_lossy(bytes).chars() {
        if c.is_control() {
            s.extend(c.escape_debug());
        } else {
            s.push(c);
        }
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Sent,
    Received,
}

/// How the device is reached.
enum Link {
    /// A tty (PTY slave or real port).
    Tty(AsyncFd<File>),
    /// `socket://HOST:PORT` (raw bytes) or `rfc2217://HOST:PORT` (with telnet).
    Tcp {
        stream: tokio::net::TcpStream,
        telnet: Option<Box<modem_sim::uart::rfc2217::Telnet>>,
    },
}

/// The module's UART, opened by path or URL.
pub struct Device {
    link: Link,
    path: PathBuf,
    rx: Vec<u8>,
    /// Commands sent whose echo has not been seen yet. Echo is on by default on these
    /// modules (`ATE1`), and a test must work with it on or off.
    pending_echo: VecDeque<Vec<u8>>,
    /// Lines received since the last command, for timeout messages.
    since_send: Vec<String>,
    transcript: VecDeque<(Dir, String)>,
    /// The whole session, both directions, for the transcript files.
    record: Transcript,
    /// The line end the host sends after each command line ([`Eol`]).
    pub eol: Eol,
    pub timeout: Duration,
    /// Received socket data read by length ([`Device::set_frames`]).
    frames: &'static [DataFrame],
}

/// Opens a tty raw at `baud`.
fn open_tty(path: &Path, baud: u32) -> Result<AsyncFd<File>, DeviceError> {
    let speed = baud_rate(baud).ok_or(DeviceError::Baud { baud })?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags((nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_NONBLOCK).bits())
        .open(path)
        .map_err(|source| DeviceError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let termios_err = |source| DeviceError::Termios {
        path: path.to_path_buf(),
        source,
    };
    let mut t = termios::tcgetattr(&file).map_err(termios_err)?;
    termios::cfmakeraw(&mut t);
    t.control_flags |= termios::ControlFlags::CLOCAL | termios::ControlFlags::CREAD;
    t.control_flags &= !termios::ControlFlags::CRTSCTS;
    termios::cfsetspeed(&mut t, speed).map_err(termios_err)?;
    termios::tcsetattr(&file, SetArg::TCSANOW, &t).map_err(termios_err)?;
    // SAFETY: the `File` owns its descriptor, which stays open and unchanged until the
    // `AsyncFd` (which owns the `File`) is dropped.
    unsafe { AsyncFd::register(file) }.map_err(|e| DeviceError::Open {
        path: path.to_path_buf(),
        source: e.into_parts().1,
    })
}

/// Connects to `HOST:PORT` of a `socket://` or `rfc2217://` URL (within the default timeout)
/// and sends `hello`.
fn connect(url: &Path, at: &str, hello: &[u8]) -> Result<tokio::net::TcpStream, DeviceError> {
    use std::net::ToSocketAddrs;
    let open_err = |source| DeviceError::Open {
        path: url.to_path_buf(),
        source,
    };
    let addr = at
        .to_socket_addrs()
        .map_err(open_err)?
        .next()
        .ok_or_else(|| open_err(io::Error::new(io::ErrorKind::NotFound, "no address")))?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, DEFAULT_TIMEOUT).map_err(open_err)?;
    stream.set_nodelay(true).map_err(open_err)?;
    stream.write_all(hello).map_err(open_err)?;
    stream.set_nonblocking(true).map_err(open_err)?;
    tokio::net::TcpStream::from_std(stream).map_err(open_err)
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("path", &self.path)
            .field("buffered", &self.rx.len())
            .finish()
    }
}

impl Device {
    /// Opens a serial device (a PTY slave or a real port) raw at `baud`: no echo by the kernel,
    /// no CR/LF translation, 8N1, no flow control. `socket://HOST:PORT` (pyserial's raw TCP
    /// URL: a simulator's `--serial tcp-listen`) and `rfc2217://HOST:PORT` (RFC 2217, e.g.
    /// ser2net in front of a real module, or `--serial rfc2217`; the server is asked for
    /// `baud` 8N1) are opened as TCP connections.
    pub fn open(path: &Path, baud: u32) -> Result<Device, DeviceError> {
        let link = match path.to_str().and_then(|p| p.split_once("://")) {
            Some(("socket", at)) => Link::Tcp {
                stream: connect(path, at, &[])?,
                telnet: None,
            },
            Some(("rfc2217", at)) => {
                let (telnet, hello) = modem_sim::uart::rfc2217::Telnet::client(baud);
                let stream = connect(path, at, &hello)?;
                Link::Tcp {
                    stream,
                    telnet: Some(Box::new(telnet)),
                }
            }
            _ => Link::Tty(open_tty(path, baud)?),
        };
        Ok(Device {
            link,
            path: path.to_path_buf(),
            rx: Vec::new(),
            pending_echo: VecDeque::new(),
            since_send: Vec::new(),
            transcript: VecDeque::new(),
            record: Transcript::new(),
            eol: Eol::default(),
            timeout: DEFAULT_TIMEOUT,
            frames: &[],
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ends command lines with `eol` from now on.
    pub fn with_eol(mut self, eol: Eol) -> Self {
        self.eol = eol;
        self
    }

    /// Reads received socket data framed by `frames` by its length from now on, so data that
    /// holds CR or LF stays one item.
    pub fn set_frames(&mut self, frames: &'static [DataFrame]) {
        self.frames = frames;
    }

    /// Records into `t` from now on (shared with the world's MQTT and fault events).
    pub fn with_transcript(mut self, t: Transcript) -> Self {
        self.record = t;
        self
    }

    /// The full recording of this session.
    pub fn recording(&self) -> &Transcript {
        &self.record
    }

    fn note(&mut self, dir: Dir, text: String) {
        if self.transcript.len() == TRANSCRIPT_LEN {
            self.transcript.pop_front();
        }
        self.transcript.push_back((dir, text));
    }

    /// The last lines sent and received, for error messages.
    pub fn transcript(&self) -> String {
        let mut s = String::from("recent transcript (-> host sent, <- modem said):");
        for (dir, text) in &self.transcript {
            let arrow = match dir {
                Dir::Sent => "->",
                Dir::Received => "<-",
            };
            let _ = write!(s, "\n  {arrow} {text}");
        }
        s
    }

    /// Writes raw bytes (payload after a prompt, or anything a fault test wants).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), DeviceError> {
        let fd = match &mut self.link {
            Link::Tty(fd) => fd,
            Link::Tcp { stream, telnet } => {
                use tokio::io::AsyncWriteExt;
                let bytes = match telnet {
                    Some(_) => modem_sim::uart::rfc2217::Telnet::encode(bytes),
                    None => bytes.to_vec(),
                };
                return Ok(stream.write_all(&bytes).await?);
            }
        };
        let mut written = 0;
        while written < bytes.len() {
            let mut guard = fd.writable().await?;
            match guard.try_io(|f| f.get_ref().write(&bytes[written..])) {
                Ok(Ok(n)) => written += n,
                Ok(Err(e)) => return Err(e.into()),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Sends a raw payload and records it in the transcript.
    pub async fn send_data(&mut self, bytes: &[u8]) -> Result<(), DeviceError> {
        self.record.record_raw(
            Kind::UartTxData {
                text: show(bytes),
                len: bytes.len(),
            },
            bytes,
        );
        self.note(
            Dir::Sent,
            format!("[{} raw bytes] {}", bytes.len(), show(bytes)),
        );
        self.send(bytes).await
    }

    /// Sends a command line followed by the terminator.
    pub async fn send_line(&mut self, line: &str) -> Result<(), DeviceError> {
        self.send_lines(&[line]).await
    }

    /// Sends several command lines in one write, so the module sees them in one read.
    pub async fn send_lines(&mut self, lines: &[&str]) -> Result<(), DeviceError> {
        let mut bytes = Vec::new();
        for line in lines {
            self.note(Dir::Sent, line.to_string());
            let from = bytes.len();
            self.pending_echo.push_back(line.as_bytes().to_vec());
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(self.eol.bytes());
            self.record.record_raw(
                Kind::UartTx {
                    text: line.to_string(),
                },
                &bytes[from..],
            );
        }
        // Echoes of commands long answered never come (echo off); keep the queue short.
        while self.pending_echo.len() > 8 {
            self.pending_echo.pop_front();
        }
        self.since_send.clear();
        self.send(&bytes).await
    }

    /// Reads what is available into the buffer, waiting until `deadline`. `Ok(false)` on
    /// timeout.
    async fn fill(&mut self, deadline: Instant) -> Result<bool, DeviceError> {
        let mut buf = [0u8; 4096];
        let fd = match &mut self.link {
            Link::Tty(fd) => fd,
            Link::Tcp { stream, telnet } => loop {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                    Ok(n) => n?,
                    Err(_) => return Ok(false),
                };
                if n == 0 {
                    return Err(DeviceError::Closed);
                }
                let data = match telnet {
                    Some(t) => {
                        let (data, reply) = t.decode(&buf[..n]);
                        stream.write_all(&reply).await?;
                        data
                    }
                    None => buf[..n].to_vec(),
                };
                if !data.is_empty() {
                    self.rx.extend_from_slice(&data);
                    return Ok(true);
                }
            },
        };
        loop {
            let mut guard = match tokio::time::timeout_at(deadline, fd.readable()).await {
                Ok(g) => g?,
                Err(_) => return Ok(false),
            };
            match guard.try_io(|f| f.get_ref().read(&mut buf)) {
                Ok(Ok(0)) => return Err(DeviceError::Closed),
                Ok(Ok(n)) => {
                    self.rx.extend_from_slice(&buf[..n]);
                    return Ok(true);
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_would_block) => continue,
            }
        }
    }

    /// The next item the module printed, or `None` when nothing complete came before
    /// `deadline`.
    pub async fn next_item(&mut self, deadline: Instant) -> Result<Option<Item>, DeviceError> {
        loop {
            if let Some((item, used)) = split_item_with(&self.rx, self.frames) {
                let raw: Vec<u8> = self.rx.drain(..used).collect();
                let text = item.show();
                self.note(Dir::Received, text.clone());
                self.record
                    .record_raw(Kind::UartRx { text: text.clone() }, &raw);
                self.since_send.push(text);
                return Ok(Some(item));
            }
            if !self.fill(deadline).await? {
                return Ok(None);
            }
        }
    }

    /// Waits until the module has printed `needle` (raw bytes, anywhere in what it printed
    /// since the last item read) and consumes everything up to its end. `Ok(Err(got))` when it
    /// did not come before `deadline`: `got` is what came instead (left unread).
    pub async fn expect_raw(
        &mut self,
        needle: &[u8],
        deadline: Instant,
    ) -> Result<Result<(), Vec<u8>>, DeviceError> {
        loop {
            if let Some(at) = self
                .rx
                .windows(needle.len().max(1))
                .position(|w| w == needle)
            {
                self.take_raw(at + needle.len());
                return Ok(Ok(()));
            }
            if !self.fill(deadline).await? {
                return Ok(Err(self.rx.clone()));
            }
        }
    }

    /// The next `n` bytes the module prints, raw (a transparent link's data), or `None` when
    /// fewer came before `deadline` (they stay unread).
    pub async fn read_raw(
        &mut self,
        n: usize,
        deadline: Instant,
    ) -> Result<Option<Vec<u8>>, DeviceError> {
        while self.rx.len() < n {
            if !self.fill(deadline).await? {
                return Ok(None);
            }
        }
        Ok(Some(self.take_raw(n)))
    }

    /// The first `n` bytes read, taken and recorded.
    fn take_raw(&mut self, n: usize) -> Vec<u8> {
        let taken: Vec<u8> = self.rx.drain(..n).collect();
        self.record.record(Kind::UartRx {
            text: format!("[{} raw bytes] {}", taken.len(), show(&taken)),
        });
        self.note(Dir::Received, format!("[{} raw bytes]", taken.len()));
        taken
    }

    /// Whether `line` is the echo of a command sent earlier; consumes that echo.
    fn take_echo(&mut self, line: &[u8]) -> bool {
        match self.pending_echo.iter().position(|c| c == line) {
            Some(i) => {
                self.pending_echo.drain(..=i);
                true
            }
            None => false,
        }
    }

    /// The next item that is not a blank line nor the echo of a command sent, or `None` when
    /// nothing came before `deadline`.
    pub async fn next_answer(&mut self, deadline: Instant) -> Result<Option<Item>, DeviceError> {
        loop {
            match self.next_item(deadline).await? {
                Some(Item::Line(l)) if l.iter().all(u8::is_ascii_whitespace) => continue,
                Some(Item::Line(l)) if self.take_echo(&l) => continue,
                other => return Ok(other),
            }
        }
    }

    /// What the module said since the last command, for "it said nothing" messages.
    pub fn said_since_send(&self) -> String {
        if self.since_send.iter().all(|l| l.trim().is_empty()) {
            "it said nothing more".to_string()
        } else {
            format!("since the last command it said only {:?}", self.since_send)
        }
    }

    /// The next meaningful item: blank lines and echoes of commands are skipped.
    async fn next_meaningful(
        &mut self,
        expected: &str,
        timeout: Duration,
    ) -> Result<Item, DeviceError> {
        let deadline = Instant::now() + timeout;
        match self.next_answer(deadline).await? {
            Some(item) => Ok(item),
            None => Err(DeviceError::Timeout {
                expected: expected.to_string(),
                waited: timeout,
                got: self.said_since_send(),
                transcript: self.transcript(),
            }),
        }
    }

    /// Waits for the module to print `expected` as its next line (blank lines and the echo of
    /// commands skipped). `>` waits for the data prompt.
    pub async fn expect_line(
        &mut self,
        expected: &str,
        timeout: Duration,
    ) -> Result<(), DeviceError> {
        self.expect_as(expected, Compare::Whole, timeout).await
    }

    /// Like [`Device::expect_line`], comparing the whole line (a `{}` in `expected` matches
    /// any value, see [`crate::pattern`]) or only its start.
    pub async fn expect_as(
        &mut self,
        expected: &str,
        compare: Compare,
        timeout: Duration,
    ) -> Result<(), DeviceError> {
        let item = self.next_meaningful(expected, timeout).await?;
        if compare == Compare::Start {
            return match item {
                Item::Line(l) if l.starts_with(expected.as_bytes()) => Ok(()),
                other => Err(self.mismatch(format!("{expected}..."), &other, String::new())),
            };
        }
        let ok = match &item {
            Item::Prompt => expected.trim() == ">",
            Item::Line(l) => crate::pattern::matches(expected, l),
        };
        if ok {
            return Ok(());
        }
        let detail = crate::pattern::differing_field(expected, &item.show())
            .map(|d| format!("\n  {d}"))
            .unwrap_or_default();
        Err(self.mismatch(expected.to_string(), &item, detail))
    }

    /// The module printed `item` where `expected` was due.
    fn mismatch(&self, expected: String, item: &Item, detail: String) -> DeviceError {
        DeviceError::Mismatch {
            expected,
            actual: item.show(),
            detail,
            transcript: self.transcript(),
        }
    }

    /// Waits for the next received message and returns it, payload read by length.
    pub async fn read_msub(&mut self, timeout: Duration) -> Result<Msub, DeviceError> {
        let item = self
            .next_meaningful("+MSUB: \"<topic>\",<n> byte,<payload>", timeout)
            .await?;
        match item {
            Item::Line(l) => match parse_msub(&l) {
                Some(m) => Ok(m),
                None => Err(DeviceError::NotAMessage {
                    actual: show(&l),
                    transcript: self.transcript(),
                }),
            },
            Item::Prompt => Err(DeviceError::NotAMessage {
                actual: ">".into(),
                transcript: self.transcript(),
            }),
        }
    }

    /// Waits for the module's power-on lines to end: a line starting with `last` (the model
    /// profile's last boot line, e.g. `+NITZ:` on the Air780E family, `+SIM READY` on the
    /// L610), skipping those before it. With `quiet` a module that says nothing for that long
    /// is taken as already on (a real module powered before the port was opened; a simulator
    /// whose lines an earlier host read); without it (the in-process simulator, which always
    /// boots) the lines must come within `timeout`. Returns whether the boot was seen.
    pub async fn wait_boot(
        &mut self,
        last: &str,
        quiet: Option<Duration>,
        timeout: Duration,
    ) -> Result<bool, DeviceError> {
        let end = Instant::now() + timeout;
        loop {
            let deadline = match quiet {
                Some(q) => (Instant::now() + q).min(end),
                None => end,
            };
            match self.next_item(deadline).await? {
                Some(Item::Line(l)) if l.starts_with(last.as_bytes()) => {
                    self.since_send.clear();
                    return Ok(true);
                }
                Some(_) => continue,
                // Silent: already on (nothing, or only part of a boot another reader took).
                None if quiet.is_some() => return Ok(false),
                None => {
                    return Err(DeviceError::Timeout {
                        expected: format!("the power-on lines, up to `{last}...`"),
                        waited: timeout,
                        got: format!("the module said only {:?}", self.since_send),
                        transcript: self.transcript(),
                    })
                }
            }
        }
    }

    /// Brings the line to a known state: sends `AT` and skips everything up to its `OK`
    /// (boot URCs, a half-read answer of an earlier run).
    pub async fn sync(&mut self, timeout: Duration) -> Result<(), DeviceError> {
        self.send_line("AT").await?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_item(deadline).await? {
                Some(Item::Line(l)) if l == b"OK" => {
                    self.pending_echo.clear();
                    return Ok(());
                }
                Some(_) => continue,
                None => {
                    return Err(DeviceError::Timeout {
                        expected: "OK".into(),
                        waited: timeout,
                        got: format!("the module said only {:?}", self.since_send),
                        transcript: self.transcript(),
                    })
                }
            }
        }
    }
}

/// The rates `--baud` takes: the standard termios rates from 1200 to 921600 (both modules
/// default to 115200).
pub const SUPPORTED_BAUD: [u32; 11] = [
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
];

fn baud_rate(baud: u32) -> Option<BaudRate> {
    Some(match baud {
        1200 => BaudRate::B1200,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        460800 => BaudRate::B460800,
        921600 => BaudRate::B921600,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a whole stream, as if it had arrived in one read.
    fn split_all(mut buf: &[u8]) -> (Vec<Item>, usize) {
        let mut items = vec![];
        while let Some((item, used)) = split_item(buf) {
            items.push(item);
            buf = &buf[used..];
        }
        (items, buf.len())
    }

    /// Feeds the stream one byte at a time, as a slow UART delivers it.
    fn split_bytewise(stream: &[u8]) -> Vec<Item> {
        let mut buf = Vec::new();
        let mut items = vec![];
        for &b in stream {
            buf.push(b);
            while let Some((item, used)) = split_item(&buf) {
                items.push(item);
                buf.drain(..used);
            }
        }
        items
    }

    fn line(s: &str) -> Item {
        Item::Line(s.as_bytes().to_vec())
    }

    /// `stream` splits into these lines, read whole and byte by byte.
    fn splits_into(stream: &[u8], lines: &[&str]) {
        let want: Vec<Item> = lines.iter().map(|l| line(l)).collect();
        assert_eq!(split_all(stream).0, want);
        assert_eq!(split_bytewise(stream), want);
    }

    #[test]
    fn answers_with_echo_and_urcs() {
        let stream = b"AT+MIPSTART=\"h\",1883\r\r\nOK\r\n\r\nCONNECT OK\r\n";
        splits_into(stream, &["AT+MIPSTART=\"h\",1883", "OK", "CONNECT OK"]);
    }

    #[test]
    fn a_message_is_read_by_length_even_with_crlf_inside() {
        let stream = b"\r\n+MSUB: \"t\",9 byte,a\r\nOK\r\n\"\0\r\n\r\nOK\r\n";
        let msub = "+MSUB: \"t\",9 byte,a\r\nOK\r\n\"\0";
        splits_into(stream, &[msub, "OK"]);
        assert_eq!(
            parse_msub(msub.as_bytes()),
            Some(Msub {
                topic: "t".into(),
                payload: b"a\r\nOK\r\n\"\0".to_vec()
            })
        );
    }

    #[test]
    fn the_prompt_has_no_line_end() {
        let stream = b"AT+MPUBEX=\"t\",0,0,3\r\r\n>";
        assert_eq!(
            split_bytewise(stream),
            vec![line("AT+MPUBEX=\"t\",0,0,3"), Item::Prompt]
        );
    }

    #[test]
    fn cached_slot_urcs_and_the_unquoted_form_are_plain_lines() {
        let stream = b"\r\n+MSUB: 0\r\n\r\n+MSUB:mqtt/sub_topic,6 byte,123456\r\n+MSUB: \"x\r\n";
        let lines = [
            "+MSUB: 0",
            "+MSUB:mqtt/sub_topic,6 byte,123456",
            "+MSUB: \"x",
        ];
        splits_into(stream, &lines);
        assert_eq!(parse_msub(b"+MSUB: 0"), None);
    }

    #[test]
    fn incomplete_input_waits() {
        assert_eq!(split_all(b"\r\nCONNECT O"), (vec![], 11));
        assert_eq!(split_all(b"\r\n+MSUB: \"t\",20 byte,data").0, vec![]);
        assert_eq!(split_all(b"\r\n+MSUB: \"t\",2"), (vec![], 14));
    }

    #[test]
    fn a_zero_length_message() {
        let stream = b"\r\n+MSUB: \"t\",0 byte,\r\n";
        assert_eq!(split_bytewise(stream), vec![line("+MSUB: \"t\",0 byte,")]);
    }

    #[test]
    fn every_supported_baud_maps_and_others_are_refused() {
        for b in SUPPORTED_BAUD {
            assert!(baud_rate(b).is_some(), "{b}");
        }
        assert!(baud_rate(115201).is_none());
        let err = Device::open(Path::new("/dev/null"), 12345).unwrap_err();
        assert!(err.to_string().contains("12345 baud"), "{err}");
    }

    #[test]
    fn header_states() {
        assert_eq!(msub_header(b"+MS"), Header::Incomplete);
        assert_eq!(msub_header(b"+MQ"), Header::No);
        assert_eq!(msub_header(b"+MSUB: 1"), Header::No);
        assert_eq!(msub_header(b"+MSUB: \"a\",12 by"), Header::Incomplete);
        assert_eq!(msub_header(b"+MSUB: \"a\",12 bytes"), Header::No);
        assert_eq!(
            msub_header(b"+MSUB: \"a\",12 byte,"),
            Header::Complete {
                topic: "a".into(),
                len: 12,
                payload_at: 19
            }
        );
    }
}
