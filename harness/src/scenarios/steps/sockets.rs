//! Raw sockets through the module (issue 16 item 6): the host sends bytes on a socket the way
//! drivers do, and checks, byte for byte, what comes back from the server the socket goes to
//! (the embedded TCP/UDP echo service unless `--resolve` says otherwise).
//!
//! What differs between modules is the dialect's host profile's
//! ([`modem_sim::dialect::host::SocketProfile`]), never a dialect name here: the send command
//! (the L610's `AT+MIPSEND=<id>,<len>`, cut at 2048 bytes as the public L610 drivers cut them;
//! the Air780E's `AT+CIPSEND=[<n>,]<len>` of at most 1460 bytes, or its Ctrl-Z form), what the
//! module prints once the data went out, how it says the peer closed a link, and how received
//! data comes: the L610's hex lines `+MIPRTCP: <id>,<len>,<hex>` (fixtures/DIVERGENCES.md
//! L31), the Air780E's `+IPD,<len>:<data>` (`AT+CIPHEAD=1`) and `+RECEIVE,<n>,<len>:` with
//! raw data read by length ([`crate::device::Device::set_frames`]). While a step waits for
//! one answer, data for any socket is kept ([`SocketRx`]) for the step that checks it.
//!
//! A step that names no socket sends on the single link (the Air780E without `AT+CIPMUX=1`).
//! The transparent mode's data (after `CONNECT` or `ATO`) is raw both ways: the steps "in the
//! data mode" send and read it without framing, and `+++` leaves it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use cucumber::{then, when};
use modem_sim::dialect::host::{DataFrame, SocketProfile};

use super::params::Payload;
use super::payload::first_difference;
use super::payload::random_payload;
use super::{unescape, StepResult};
use crate::device::{length_frame, show, Frame, Item};
use crate::pattern::matches;
use crate::transcript::from_hex;
use crate::world::ModemWorld;

/// The key of the single link's data in [`SocketRx`] (its frames name no link).
pub const SINGLE_LINK: u32 = 0;

/// Ctrl-Z ends the data of a send without a length; ESC abandons it.
const CTRL_Z: u8 = 0x1a;
const ESC: u8 = 0x1b;

/// More silence than the module's escape guard asks (1 s before `+++`), so the scheduling of
/// its timer cannot make the escape data: 0.8 s, as a CI machine running the suite on two cores
/// can read the last data byte or fire the guard timer a few hundred milliseconds late.
const ESCAPE_MARGIN: Duration = Duration::from_millis(800);

/// Data the module printed for each socket id, not yet checked by a step.
#[derive(Debug, Default, Clone)]
pub struct SocketRx {
    pub data: BTreeMap<u32, Vec<u8>>,
}

/// `(socket id, data)` of a line (or a frame read by length) `frames` describe; `Err` for one
/// that does not add up (its length and its data differ).
pub fn socket_data(frames: &[DataFrame], line: &[u8]) -> Option<Result<(u32, Vec<u8>)>> {
    let bad = |what: &str| {
        Some(Err(anyhow!(
            "a data {what} whose length and data differ: {:?}",
            show(line)
        )))
    };
    for f in frames {
        match *f {
            DataFrame::HexLine { prefix, skip } => {
                let Some(rest) = line.strip_prefix(prefix.as_bytes()) else {
                    continue;
                };
                let rest = std::str::from_utf8(rest).ok()?;
                let fields: Vec<&str> = rest.splitn(3 + skip, ',').skip(skip).collect();
                let [id, len, hex] = fields.as_slice() else {
                    return Some(Err(anyhow!(
                        "a data line without its three fields: {:?}",
                        show(line)
                    )));
                };
                return match (id.parse::<u32>(), len.parse::<usize>(), from_hex(hex)) {
                    (Ok(id), Ok(len), Some(data)) if data.len() == len => Some(Ok((id, data))),
                    _ => bad("line"),
                };
            }
            DataFrame::Length { .. } => match length_frame(std::slice::from_ref(f), line) {
                Frame::No => continue,
                Frame::Complete { id, data_at, len } if data_at + len == line.len() => {
                    return Some(Ok((id.unwrap_or(SINGLE_LINK), line[data_at..].to_vec())))
                }
                _ => return bad("frame"),
            },
        }
    }
    None
}

/// One of the profile's lines for link `id` (`None`: the single link): `{id}` its number,
/// `{tag}` the `<n>, ` of a multi-link answer.
fn line_for(template: &str, id: Option<u32>) -> String {
    let (n, tag) = match id {
        Some(n) => (n.to_string(), format!("{n}, ")),
        None => (String::new(), String::new()),
    };
    template.replace("{id}", &n).replace("{tag}", &tag)
}

/// The profile's "the peer closed it" line, for any link.
fn broke(p: &SocketProfile, line: &str) -> bool {
    [("{}", ""), ("{}", "{}, ")].iter().any(|(id, tag)| {
        matches(
            &p.broken.replace("{id}", id).replace("{tag}", tag),
            line.as_bytes(),
        )
    })
}

/// The next line the module printed (or `>`); socket data is kept for later and seen as an
/// empty line. `None`: nothing before the scenario's timeout.
async fn next_line(w: &mut ModemWorld) -> Result<Option<String>> {
    let frames = w.socket_profile()?.data;
    let deadline = tokio::time::Instant::now() + w.timeout;
    let item = w.device()?.next_answer(deadline).await?;
    Ok(match item {
        None => None,
        Some(Item::Prompt) => Some(">".into()),
        Some(Item::Line(l)) => match socket_data(frames, &l) {
            Some(data) => {
                let (id, data) = data?;
                w.sockets.data.entry(id).or_default().extend(data);
                // Kept; the caller sees an empty line and looks again.
                Some(String::new())
            }
            None => Some(show(&l)),
        },
    })
}

/// Waits for a line `want` accepts. An error result, or a socket breaking, fails the step;
/// other lines (URCs of other things) pass.
async fn wait_for(w: &mut ModemWorld, what: &str, want: impl Fn(&str) -> bool) -> Result<()> {
    let p = w.socket_profile()?;
    loop {
        let Some(line) = next_line(w).await? else {
            let t = w.timeout;
            let said = w.device()?.said_since_send();
            bail!("waited {t:?} for {what}; the module said: {said}");
        };
        if want(&line) {
            return Ok(());
        }
        if line == "ERROR" || line.starts_with("+CME ERROR") || broke(p, &line) {
            bail!("waiting for {what}, the module said {line:?}");
        }
    }
}

/// How a step sends: `command` (the profile's, checked), on link `id` (`None`: the single
/// link), its length form or, with `ctrl_z`, the data ended by a Ctrl-Z.
struct Send {
    command: String,
    id: Option<u32>,
    ctrl_z: bool,
}

impl Send {
    /// From a step's captures: the command, the socket number (empty: none), " ended by Ctrl-Z".
    fn new(command: String, id: &str, ctrl_z: &str) -> Result<Send> {
        let id = match id {
            "" => None,
            n => Some(n.parse()?),
        };
        Ok(Send {
            command,
            id,
            ctrl_z: !ctrl_z.is_empty(),
        })
    }

    /// The command line for `len` bytes (`None`: the Ctrl-Z form).
    fn line(&self, len: Option<usize>) -> String {
        let args: Vec<String> = self
            .id
            .iter()
            .map(u32::to_string)
            .chain(len.map(|l| l.to_string()))
            .collect();
        if args.is_empty() {
            self.command.clone()
        } else {
            format!("{}={}", self.command, args.join(","))
        }
    }

    /// Whether the module can send this way at all.
    fn check(&self, p: &SocketProfile, data: &[u8]) -> Result<()> {
        if self.command != p.send {
            bail!(
                "this module sends on its sockets with {}, not {}",
                p.send,
                self.command
            );
        }
        if self.id.is_none() && !p.single_link {
            bail!("{} names the socket: say `on socket <n>`", p.send);
        }
        if self.ctrl_z && !p.ctrl_z {
            bail!("{} has no Ctrl-Z form", p.send);
        }
        if self.ctrl_z && data.iter().any(|&b| b == CTRL_Z || b == ESC) {
            bail!("data ended by Ctrl-Z cannot hold 0x1A or 0x1B");
        }
        Ok(())
    }
}

/// The send command, the `>`, the bytes (and a Ctrl-Z), then the lines the profile says the
/// module prints once they went out; in pieces of the most one send carries.
async fn send(w: &mut ModemWorld, how: &Send, data: &[u8]) -> Result<()> {
    let p = w.socket_profile()?;
    how.check(p, data)?;
    for chunk in data.chunks(p.send_max) {
        let line = how.line((!how.ctrl_z).then_some(chunk.len()));
        w.send_command(&line).await?;
        wait_for(w, "the > prompt", |l| l == ">").await?;
        let mut bytes = chunk.to_vec();
        if how.ctrl_z {
            bytes.push(CTRL_Z);
        }
        w.device()?.send_data(&bytes).await?;
        for sent in p.sent {
            let want = line_for(sent, how.id);
            wait_for(w, &want, |l| matches(&want, l.as_bytes())).await?;
        }
    }
    let on = how
        .id
        .map_or("the single link".into(), |id| format!("socket {id}"));
    w.transcript
        .mqtt("host", format!("sent {} bytes on {on}", data.len()));
    Ok(())
}

/// `n` random bytes of every value (see [`random_payload`]) sent on socket `id` (or the single
/// link) with the module's send command; kept for the step that checks them. Ended by Ctrl-Z,
/// the bytes that end or abandon that form (0x1A, 0x1B) are `.` instead.
#[when(
    regex = r"^the host sends (\d+) random bytes(?: on socket (\d))? with (AT\+[A-Z]+)( ended by Ctrl-Z)?$"
)]
async fn send_random(
    w: &mut ModemWorld,
    n: usize,
    id: String,
    command: String,
    ctrl_z: String,
) -> StepResult {
    let how = Send::new(command, &id, &ctrl_z)?;
    let mut payload = random_payload(n, w.eol);
    if how.ctrl_z {
        for b in payload.iter_mut().filter(|b| **b == CTRL_Z || **b == ESC) {
            *b = b'.';
        }
    }
    send(w, &how, &payload).await?;
    w.payload = payload;
    Ok(())
}

/// The quoted bytes (C escapes: `\r`, `\n`, `\0`, `\xNN`) sent on socket `id` (or the single
/// link).
#[when(
    regex = r#"^the host sends "((?:[^"\\]|\\.)*)"(?: on socket (\d))? with (AT\+[A-Z]+)( ended by Ctrl-Z)?$"#
)]
async fn send_bytes(
    w: &mut ModemWorld,
    data: String,
    id: String,
    command: String,
    ctrl_z: String,
) -> StepResult {
    let how = Send::new(command, &id, &ctrl_z)?;
    send(w, &how, &unescape(&data)?).await?;
    Ok(())
}

/// Waits until socket `id` (`None`: the single link) has received `want.len()` bytes; they
/// must be `want`, exactly.
async fn receive(w: &mut ModemWorld, id: Option<u32>, want: &[u8]) -> Result<()> {
    let key = id.unwrap_or(SINGLE_LINK);
    let on = id.map_or("the single link".into(), |id| format!("socket {id}"));
    let broken = line_for(w.socket_profile()?.broken, id);
    loop {
        let have = w.sockets.data.get(&key).map_or(0, Vec::len);
        if have >= want.len() {
            break;
        }
        match next_line(w).await? {
            Some(l) if matches(&broken, l.as_bytes()) => {
                bail!("{on} broke ({l}) after {have} of {} bytes", want.len())
            }
            Some(_) => {}
            None => bail!(
                "{on} received {have} of {} bytes in {:?}",
                want.len(),
                w.timeout
            ),
        }
    }
    let got = w.sockets.data.remove(&key).unwrap_or_default();
    if got != want {
        bail!("{on}: {}", first_difference(want, &got));
    }
    w.transcript
        .mqtt("host", format!("received {} bytes on {on}", got.len()));
    Ok(())
}

/// A step's socket capture: `Some(n)`, or `None` (the single link) when it named none.
fn socket(id: &str) -> Result<Option<u32>> {
    Ok(match id {
        "" => None,
        n => Some(n.parse()?),
    })
}

/// The random bytes the last step made, which must not be none.
fn sent_payload(w: &ModemWorld) -> Result<Vec<u8>> {
    if w.payload.is_empty() {
        bail!("no random payload was sent before this step");
    }
    Ok(w.payload.clone())
}

#[then(regex = r"^the host receives the random bytes back(?: on socket (\d))?$")]
async fn receive_random(w: &mut ModemWorld, id: String) -> StepResult {
    let payload = sent_payload(w)?;
    receive(w, socket(&id)?, &payload).await?;
    Ok(())
}

#[then(regex = r#"^(?:socket (\d)|the socket) receives "((?:[^"\\]|\\.)*)"$"#)]
async fn receive_bytes(w: &mut ModemWorld, id: String, data: String) -> StepResult {
    let data = unescape(&data)?;
    receive(w, socket(&id)?, &data).await?;
    Ok(())
}

/// The module prints `line` (a pattern: `{}` matches a field), data lines and other URCs
/// before it passing.
#[then(regex = r#"^the modem says "(.*)" after the socket data$"#)]
async fn says_after_data(w: &mut ModemWorld, line: String) -> StepResult {
    wait_for(w, &line, |l| matches(&line, l.as_bytes())).await?;
    Ok(())
}

/// `n` random bytes straight onto the UART of a link in the data mode (the transparent mode,
/// after `CONNECT` or `ATO`): no command, no framing.
#[when(regex = r"^the host sends (\d+) random bytes in the data mode$")]
async fn send_transparent(w: &mut ModemWorld, n: usize) -> StepResult {
    let payload = random_payload(n, w.eol);
    w.device()?.send_data(&payload).await?;
    w.payload = payload;
    Ok(())
}

/// The next bytes the module prints in the data mode must be `want`, exactly.
async fn receive_transparent(w: &mut ModemWorld, want: &[u8]) -> Result<()> {
    let t = w.timeout;
    let deadline = tokio::time::Instant::now() + t;
    let Some(got) = w.device()?.read_raw(want.len(), deadline).await? else {
        bail!(
            "fewer than the {} bytes sent came back in {t:?}",
            want.len()
        );
    };
    if got != want {
        bail!("in the data mode: {}", first_difference(want, &got));
    }
    w.transcript.mqtt(
        "host",
        format!("received {} bytes in the data mode", got.len()),
    );
    Ok(())
}

#[then(regex = r"^the host receives the random bytes back in the data mode$")]
async fn receive_random_transparent(w: &mut ModemWorld) -> StepResult {
    let payload = sent_payload(w)?;
    receive_transparent(w, &payload).await?;
    Ok(())
}

#[then(expr = "the host receives {payload} back in the data mode")]
async fn receive_bytes_transparent(w: &mut ModemWorld, data: Payload) -> StepResult {
    receive_transparent(w, &data.0).await?;
    Ok(())
}

/// The escape from the data mode (使用方法举例.md, 透明传输应用1): a second of silence
/// ([`modem_sim::dialect::ESCAPE_GUARD`], with a margin), `+++`, and the module answers `OK`
/// after the half second of silence that must follow. The silence is the protocol's, which
/// every driver keeps; it counts from the step's start, after the host read what it awaited.
#[when(regex = r#"^the host leaves the data mode with "\+\+\+"$"#)]
async fn escape(w: &mut ModemWorld) -> StepResult {
    tokio::time::sleep(modem_sim::dialect::ESCAPE_GUARD + ESCAPE_MARGIN).await;
    w.device()?.send_data(b"+++").await?;
    w.expect("OK").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use modem_sim::dialect::DialectKind;

    fn frames(d: DialectKind) -> &'static [DataFrame] {
        d.host_profile().sockets.data
    }

    #[test]
    fn data_lines_decode_and_check_their_length() {
        let l610 = frames(DialectKind::L610);
        assert_eq!(
            socket_data(l610, b"+MIPRTCP: 1,4,001A4F4B")
                .unwrap()
                .unwrap(),
            (1, vec![0, 0x1a, b'O', b'K'])
        );
        assert_eq!(
            socket_data(l610, b"+MIPRUDP: 127.0.0.1,9000,3,2,0D0A")
                .unwrap()
                .unwrap(),
            (3, b"\r\n".to_vec())
        );
        assert!(socket_data(l610, b"+MIPRTCP: 1,5,001A4F4B")
            .unwrap()
            .is_err());
        assert!(socket_data(l610, b"+MIPRTCP: 1,1,0").unwrap().is_err());
        assert!(socket_data(l610, b"+MIPOPEN: 1,1").is_none());
    }

    #[test]
    fn length_frames_decode_by_their_length() {
        let air = frames(DialectKind::Air780e);
        assert_eq!(
            socket_data(air, b"+IPD,4:\r\n\0>").unwrap().unwrap(),
            (SINGLE_LINK, b"\r\n\0>".to_vec())
        );
        assert_eq!(
            socket_data(air, b"+IPD,2,UDP:ok").unwrap().unwrap(),
            (SINGLE_LINK, b"ok".to_vec())
        );
        assert_eq!(
            socket_data(air, b"+RECEIVE,3,2:\r\n\n\r").unwrap().unwrap(),
            (3, b"\n\r".to_vec())
        );
        assert!(socket_data(air, b"+IPD,5:abc").unwrap().is_err());
        assert!(socket_data(air, b"SEND OK").is_none());
        assert!(socket_data(air, b"+IPDX").is_none());
    }

    #[test]
    fn the_device_reads_a_frame_whole_and_waits_for_the_rest() {
        use crate::device::split_item_with;
        let air = frames(DialectKind::Air780e);
        let stream = b"\r\n+IPD,4:a\r\nb\r\n+RECEIVE,1,3:\r\n\n\n\n\r\nSEND OK\r\n";
        let (first, used) = split_item_with(stream, air).unwrap();
        assert_eq!(first, Item::Line(b"+IPD,4:a\r\nb".to_vec()));
        let (second, more) = split_item_with(&stream[used..], air).unwrap();
        assert_eq!(second, Item::Line(b"+RECEIVE,1,3:\r\n\n\n\n".to_vec()));
        let (third, _) = split_item_with(&stream[used + more..], air).unwrap();
        assert_eq!(third, Item::Line(b"SEND OK".to_vec()));
        for cut in 1..used {
            assert!(split_item_with(&stream[..cut], air).is_none(), "{cut}");
        }
        // Without the frames, the same bytes are lines.
        let (line, _) = crate::device::split_item(stream).unwrap();
        assert_eq!(line, Item::Line(b"+IPD,4:a".to_vec()));
    }

    #[test]
    fn profile_lines_name_the_link() {
        assert_eq!(line_for("{tag}SEND OK", None), "SEND OK");
        assert_eq!(line_for("{tag}SEND OK", Some(2)), "2, SEND OK");
        assert_eq!(line_for("+MIPPUSH: {id},0", Some(1)), "+MIPPUSH: 1,0");
        let air = &DialectKind::Air780e.host_profile().sockets;
        assert!(broke(air, "CLOSED") && broke(air, "3, CLOSED") && !broke(air, "CLOSE OK"));
        let l610 = &DialectKind::L610.host_profile().sockets;
        assert!(broke(l610, "+MIPSTAT: 1,2") && !broke(l610, "+MIPSEND: 1,0,2048"));
    }
}
