//! Entry points for the fuzz targets in `fuzz/`, kept in the library so `cargo test` replays
//! the fuzz corpus through exactly the same code (see `sim/tests/fuzz_corpus.rs`).
//!
//! Each function takes arbitrary bytes and must neither panic nor hang; the asserts inside
//! are invariants that hold for any input.

use crate::at::{parse_line, render, split_args, Frame, Framer};
use crate::dialect::{make, DialectKind, Effect, Engine};
use crate::modem::{Fault, Identity};
use crate::net::{CloseReason, ConnectReturnCode, NetEvent, NetEventKind, NetRequest, QoS};

/// The AT line layer: framing, parsing, parameter splitting, escapes.
pub fn at_line(data: &[u8]) {
    let mut framer = Framer::new(true, 512);
    let mut input = data;
    let mut echo = Vec::new();
    while let Some(frame) = framer.next_frame(&mut input, &mut echo) {
        if let Frame::Line(line) = frame {
            assert!(line.len() <= 512);
            if let Ok(cmd) = parse_line(&line) {
                // Whatever parsed renders to a line that parses to the same command.
                assert_eq!(parse_line(&render(&cmd)).as_ref(), Ok(&cmd));
                if let crate::at::Form::Set(raw) = &cmd.form {
                    let _ = split_args(raw);
                }
            }
        }
    }
    assert!(echo.len() <= data.len());
    let _ = crate::at::escape::decode(data);
}

/// A whole modem session without a network: host bytes, with the network's answers and a
/// fault interleaved where the input says so. The first byte picks the dialect's echo.
pub fn session(data: &[u8]) {
    let Ok(dialect) = make(DialectKind::Air780e, Identity::default()) else {
        return;
    };
    let mut engine = Engine::new(dialect, data.first().is_some_and(|b| b & 1 == 1));
    let mut last_link = 0;
    let mut out_bytes = 0usize;
    // 0xF0..=0xF9 in the input stand for network events; everything else is host bytes.
    for chunk in data.split_inclusive(|b| (0xF0..=0xF9).contains(b)) {
        let (host, marker) = match chunk.split_last() {
            Some((&m, rest)) if (0xF0..=0xF9).contains(&m) => (rest, Some(m)),
            _ => (chunk, None),
        };
        let mut effects = engine.feed(host);
        if let Some(m) = marker {
            let kind = match m {
                0xF0 => NetEventKind::Connected,
                0xF1 => NetEventKind::ConnectFailed("fuzz".into()),
                0xF2 => NetEventKind::ConnAck(ConnectReturnCode::Success),
                0xF3 => NetEventKind::ConnAck(ConnectReturnCode::BadUserNamePassword),
                0xF4 => NetEventKind::SubAck(vec![Some(QoS::AtLeastOnce)]),
                0xF5 => NetEventKind::PubAck,
                0xF6 => NetEventKind::PubRec,
                0xF7 => NetEventKind::PubComp,
                0xF8 => NetEventKind::Message {
                    topic: "t".into(),
                    qos: QoS::AtMostOnce,
                    retain: false,
                    payload: host.to_vec().into(),
                },
                _ => NetEventKind::Closed(CloseReason::PeerClosed),
            };
            effects.extend(engine.net_event(NetEvent {
                link: last_link,
                kind,
            }));
            if m == 0xF9 {
                // Every fault the dialects see, chosen by the input's length.
                let fault = match (host.len() % 2, host.len() / 2 % 6) {
                    (1, _) => Fault::PDN_DEACT,
                    (_, 0) => Fault::Deregister,
                    (_, 1) => Fault::Register,
                    (_, 2) => Fault::SimRemoved,
                    (_, 3) => Fault::SimInserted,
                    (_, 4) => Fault::Signal(7),
                    _ => Fault::PdnDeact {
                        back_after: std::time::Duration::from_secs(1),
                    },
                };
                effects.extend(engine.fault(&fault));
            }
        }
        for e in effects {
            match e {
                Effect::Uart(b) => out_bytes += b.len(),
                Effect::Net(NetRequest::Open { link, .. }) => last_link = link,
                Effect::Net(_) | Effect::Baud(_) => {}
                // Timers fire at once here: a stalled prompt times out within the input.
                Effect::Timer { id, .. } => {
                    for e in engine.timer(id) {
                        if let Effect::Uart(b) = e {
                            out_bytes += b.len();
                        }
                    }
                }
            }
        }
    }
    // Output stays proportional to input: no runaway loop.
    assert!(
        out_bytes <= 64 * (data.len() + 1) + 8192,
        "{out_bytes} bytes out for {} in",
        data.len()
    );
}

/// Every corpus input and every saved crash replays through its target (no fuzzing in CI, just
/// the inputs the fuzzer kept).
#[cfg(test)]
mod tests {
    use std::path::Path;

    fn replay(target: &str, f: fn(&[u8])) -> usize {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut n = 0;
        for dir in [
            root.join("corpus").join(target),
            root.join("regressions").join(target),
        ] {
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    continue;
                }
                f(&std::fs::read(&path).unwrap());
                n += 1;
            }
        }
        n
    }

    #[test]
    fn at_line_corpus_replays() {
        assert!(replay("at_line", super::at_line) >= 100);
    }

    #[test]
    fn session_corpus_replays() {
        assert!(replay("session", super::session) >= 100);
    }
}
