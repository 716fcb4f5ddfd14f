//! Entry points for the fuzz targets in `fuzz/`, kept in the library so `cargo test` replays
//! the fuzz corpus through exactly the same code (see `sim/tests/fuzz_corpus.rs`).
//!
//! Each function takes arbitrary bytes and must neither panic nor hang; the asserts inside
//! are invariants that hold for any input.

use crate::at::{parse_line, render, split_args, Frame, Framer};
use crate::dialect::{make, DialectKind, Effect, Engine};
use crate::fault::{self, Fault};
use crate::modem::Identity;
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
                    (_, 0) => Fault::Deregister(fault::Deregister),
                    (_, 1) => Fault::Register(fault::Register),
                    (_, 2) => Fault::SimRemoved(fault::SimRemoved),
                    (_, 3) => Fault::SimInserted(fault::SimInserted),
                    (_, 4) => Fault::Signal(fault::Signal(7)),
                    _ => Fault::PdnDeact(fault::PdnDeact {
                        back_after: std::time::Duration::from_secs(1),
                    }),
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

/// The embedded broker's inbound bytes: one connection per way of splitting the input (in one
/// write: several packets per read; and in two writes split at every position for inputs up to
/// 48 bytes, at a few positions for longer ones), each ended by EOF. The first input byte's
/// low bit puts a valid CONNECT (with a will) in front, so the connected path is reached. The
/// broker must answer only well-formed packets, CONNACK first, close every connection, stay
/// bounded in what it sends, and still serve a fresh client afterwards.
pub fn broker_conn(data: &[u8]) {
    use crate::broker::{Broker, BrokerConfig};
    use rumqttc::mqttbytes::v4::{Connect, LastWill, Login, Packet};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (mode, body) = data.split_first().unwrap_or((&0, &[]));
    let mut input = bytes::BytesMut::new();
    let connect = |id: &str| {
        let mut c = Connect::new(id);
        c.keep_alive = 30;
        c.login = Some(Login::new("root", "luat123456"));
        c.last_will = Some(LastWill::new("will", "gone", QoS::AtLeastOnce, false));
        Packet::Connect(c)
    };
    if mode & 1 == 1 {
        connect("fuzz").write(&mut input, usize::MAX).unwrap();
    }
    input.extend_from_slice(body);
    let input = input.freeze();
    let splits: Vec<Option<usize>> = if input.len() <= 48 {
        std::iter::once(None)
            .chain((1..input.len()).map(Some))
            .collect()
    } else {
        let n = input.len();
        vec![
            None,
            Some(1),
            Some(n / 2),
            Some(*mode as usize % n),
            Some(n - 1),
        ]
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let broker = Broker::start(BrokerConfig {
            max_queued: 64,
            max_inflight: 4,
            publisher_hold: std::time::Duration::from_millis(10),
            max_packet_size: 64 * 1024,
            ..Default::default()
        })
        .await
        .unwrap();
        let limit = std::time::Duration::from_secs(10);
        for split in splits {
            let (client, server) = tokio::io::duplex(1 << 16);
            broker.serve(server, "fuzz".into());
            let (first, second) = input.split_at(split.unwrap_or(input.len()));
            let (mut rd, mut wr) = tokio::io::split(client);
            let mut out = Vec::new();
            let write = async {
                wr.write_all(first).await?;
                wr.flush().await?;
                wr.write_all(second).await?;
                wr.shutdown().await
            };
            // Written and read at once; the broker must end the connection once the input has.
            let exchange = async {
                let (w, r) = tokio::join!(write, rd.read_to_end(&mut out));
                // The broker may close before all the input is in (a protocol error).
                r.map(|_| w)
            };
            let done = tokio::time::timeout(limit, exchange).await;
            assert!(
                done.is_ok(),
                "the broker did not close the connection (split {split:?})"
            );
            assert!(
                out.len() <= 64 * input.len() + 4096,
                "{} bytes out for {} in",
                out.len(),
                input.len()
            );
            let mut buf = bytes::BytesMut::from(&out[..]);
            let mut first_packet = true;
            while !buf.is_empty() {
                let p = Packet::read(&mut buf, usize::MAX)
                    .unwrap_or_else(|e| panic!("the broker sent a malformed packet: {e}"));
                assert!(
                    !first_packet || matches!(p, Packet::ConnAck(_)),
                    "the first packet is not CONNACK: {p:?}"
                );
                first_packet = false;
            }
        }
        // Still serving: a fresh client gets CONNACK and PINGRESP.
        let (mut client, server) = tokio::io::duplex(1 << 16);
        broker.serve(server, "alive".into());
        let mut hello = bytes::BytesMut::new();
        connect("alive").write(&mut hello, usize::MAX).unwrap();
        Packet::PingReq.write(&mut hello, usize::MAX).unwrap();
        client.write_all(&hello).await.unwrap();
        let mut got = bytes::BytesMut::new();
        let answered = tokio::time::timeout(limit, async {
            loop {
                if client.read_buf(&mut got).await.unwrap() == 0 {
                    return false;
                }
                let mut view = got.clone();
                if let (Ok(Packet::ConnAck(_)), Ok(Packet::PingResp)) = (
                    Packet::read(&mut view, usize::MAX),
                    Packet::read(&mut view, usize::MAX),
                ) {
                    return true;
                }
            }
        })
        .await;
        assert_eq!(answered, Ok(true), "the broker stopped serving new clients");
        broker.shutdown().await;
    });
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
    fn broker_conn_corpus_replays() {
        assert!(replay("broker_conn", super::broker_conn) >= 20);
    }

    #[test]
    fn session_corpus_replays() {
        assert!(replay("session", super::session) >= 100);
    }
}
