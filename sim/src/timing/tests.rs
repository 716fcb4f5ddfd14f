//! The profile logic on paused tokio time: every delay is exact virtual time, so nothing here
//! depends on the machine's speed.

use super::*;
use crate::dialect::{self, DialectKind, Engine};
use crate::modem::Identity;
use crate::net::QoS;
use crate::timing::Pacer;

#[test]
fn built_in_profiles_parse_and_every_delay_cites_a_source() {
    let fast = Profile::fast();
    assert_eq!(fast.name, "fast");
    assert!(fast.is_instant());
    let r = Profile::realistic();
    assert_eq!(r.name, "realistic");
    assert!(r.pace_uart);
    assert!(!r.is_instant());
    for step in Step::ALL {
        let d = r
            .delay(step)
            .unwrap_or_else(|| panic!("realistic has no `{step}`"));
        assert!(d.source.len() > 20, "{step}: {:?}", d.source);
    }
}

#[test]
fn realistic_ranges_are_the_captures_ranges() {
    let r = Profile::realistic();
    let range = |s| {
        let (lo, hi) = r.delay(s).unwrap().range();
        (lo.as_millis(), hi.as_millis())
    };
    // 780EP_AT_阿里云应用指南.md: CONNACK OK 215-252 ms after the OK / the send.
    let (lo, hi) = range(Step::Connack);
    assert!(lo >= 215 && hi <= 252, "{lo}..{hi}");
    // SUBACK about 320 ms, PUBACK about 300 ms.
    let (lo, hi) = range(Step::Suback);
    assert!(lo >= 290 && hi <= 340, "{lo}..{hi}");
    let (lo, hi) = range(Step::Puback);
    assert!(lo >= 280 && hi <= 320, "{lo}..{hi}");
    // TLS CONNECT OK 1.4-2.3 s: dns + connect + handshake.
    let (a, b, c) = (
        range(Step::Dns),
        range(Step::Connect),
        range(Step::TlsHandshake),
    );
    assert!(a.0 + b.0 + c.0 >= 1400, "{a:?} {b:?} {c:?}");
    assert!(a.1 + b.1 + c.1 <= 2300, "{a:?} {b:?} {c:?}");
    // A refused connect: 1.4-4.6 s (issue 12, a real L610 driver).
    let (lo, hi) = range(Step::ConnackRefused);
    assert!(lo >= 1400 && hi <= 4600, "{lo}..{hi}");
}

#[test]
fn json_of_the_same_shape_is_the_same_profile() {
    let r = Profile::realistic();
    let json = serde_json::to_string_pretty(&r).unwrap();
    assert_eq!(Profile::parse_json(&json, "x.json").unwrap(), r);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.json");
    std::fs::write(&path, &json).unwrap();
    assert_eq!(Profile::load(path.to_str().unwrap()).unwrap(), r);
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, REALISTIC_TOML).unwrap();
    assert_eq!(Profile::load(path.to_str().unwrap()).unwrap(), r);
}

#[test]
fn bad_profiles_are_refused_with_the_reason() {
    let toml = |text| Profile::parse_toml(text, "p.toml");
    for (refused, says) in [
        (
            toml("name = \"x\"\n[delays.conack]\nmedian_ms = 1\nsource = \"s\"\n"),
            &["p.toml", "conack", "connack"][..],
        ),
        (
            toml("name = \"x\"\n[delays.connack]\nmedian_ms = 1\nsource = \"\"\n"),
            &["source"],
        ),
        (
            toml("name = \"x\"\n[delays.connack]\nmedian_ms = 2500000\nsource = \"typo\"\n"),
            &["600000"],
        ),
        (toml("name = \"x\"\nspeed = 3\n"), &["speed"]),
        (
            Profile::load("/nonexistent/profile.toml"),
            &["--timing fast"],
        ),
        (Profile::parse_json("{\"name\": 3}", "p.json"), &["JSON"]),
    ] {
        let e = refused.unwrap_err().to_string();
        assert!(
            says.iter().all(|s| e.contains(s)),
            "{e} should say {says:?}"
        );
    }
}

#[test]
fn draws_stay_in_range_vary_and_repeat_for_a_seed() {
    let r = Profile::realistic();
    let mut a = Sampler::new(r.clone(), 42);
    let mut b = Sampler::new(r.clone(), 42);
    let mut c = Sampler::new(r.clone(), 43);
    let (lo, hi) = r.delay(Step::Connack).unwrap().range();
    let mut seen = std::collections::HashSet::new();
    let mut differs = false;
    for _ in 0..500 {
        let x = a.draw(Step::Connack);
        assert_eq!(x, b.draw(Step::Connack));
        differs |= x != c.draw(Step::Connack);
        assert!(x >= lo && x <= hi, "{x:?}");
        seen.insert(x.as_millis());
    }
    assert!(differs);
    assert!(seen.len() > 10, "{seen:?}");
    // Centred on the median.
    let mean: f64 = (0..2000)
        .map(|_| a.draw(Step::Connack).as_secs_f64() * 1000.0)
        .sum::<f64>()
        / 2000.0;
    assert!((mean - 234.0).abs() < 2.0, "{mean}");
    // A step the profile does not list takes no time.
    assert_eq!(
        Sampler::new(Profile::fast(), 1).draw(Step::Connack),
        Duration::ZERO
    );
}

#[test]
fn wire_time_is_ten_bits_a_byte() {
    assert_eq!(wire_time(2233, 460_800).as_micros(), 48_459);
    assert_eq!(wire_time(2233, 115_200).as_micros(), 193_836);
    assert_eq!(wire_time(1, 115_200).as_nanos(), 86_805);
}

fn ev(link: LinkId, kind: NetEventKind) -> NetEvent {
    NetEvent { link, kind }
}

/// An engine under `profile`, and the time a held item is due.
fn engine(kind: DialectKind, profile: Profile, seed: u64) -> Engine {
    let mut e = Engine::new(dialect::make(kind, Identity::default()).unwrap(), false);
    e.set_timing(Sampler::new(profile, seed));
    e
}

fn uart(fx: &[Effect]) -> String {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Uart(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

fn timers(fx: &[Effect]) -> Vec<Duration> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Timer { id, after } if Scheduler::owns(*id) => Some(*after),
            _ => None,
        })
        .collect()
}

/// Feeds `cmd` and runs held timers (paused time) until the request to open a link goes out:
/// the link and the virtual time that took (the `dns` delay for a host name).
async fn open_link(e: &mut Engine, cmd: &[u8]) -> (LinkId, Duration, String) {
    let start = tokio::time::Instant::now();
    let mut fx = e.feed(cmd);
    let shown = uart(&fx);
    for _ in 0..10 {
        if let Some(link) = link_of(&fx) {
            return (link, start.elapsed(), shown);
        }
        let (id, after) = held(&fx)[0];
        tokio::time::sleep(after).await;
        fx = e.timer(id);
    }
    panic!("no Open after {:?}", String::from_utf8_lossy(cmd));
}

fn link_of(fx: &[Effect]) -> Option<LinkId> {
    fx.iter().find_map(|e| match e {
        Effect::Net(NetRequest::Open { link, .. }) => Some(*link),
        _ => None,
    })
}

/// Runs the engine's held timers on paused time until `want` shows on the UART; returns the
/// virtual time it took and the output.
async fn wait_for(
    e: &mut Engine,
    mut pending: Vec<(u64, Duration)>,
    want: &str,
) -> (Duration, String) {
    let start = tokio::time::Instant::now();
    let mut shown = String::new();
    for _ in 0..100 {
        pending.sort_by_key(|(_, d)| *d);
        let Some((id, at)) = pending.first().copied() else {
            break;
        };
        pending.remove(0);
        tokio::time::sleep_until(start + at).await;
        let fx = e.timer(id);
        shown.push_str(&uart(&fx));
        for f in &fx {
            if let Effect::Timer { id, after } = f {
                pending.push((*id, start.elapsed() + *after));
            }
        }
        if shown.contains(want) {
            return (start.elapsed(), shown);
        }
    }
    panic!("{want:?} never shown; got {shown:?}");
}

fn held(fx: &[Effect]) -> Vec<(u64, Duration)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Timer { id, after } => Some((*id, *after)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn connack_ok_comes_the_profiles_delay_after_the_ok() {
    let mut e = engine(DialectKind::Air780e, Profile::realistic(), 7);
    let r = Profile::realistic();
    // A host name: the module resolves it first, so the connect itself starts `dns` later.
    let (link, dns, shown) =
        open_link(&mut e, b"AT+MIPSTART=\"airtest.openluat.com\",1883\r").await;
    assert!(shown.ends_with("\r\nOK\r\n"), "{shown:?}");
    let (lo, hi) = r.delay(Step::Dns).unwrap().range();
    assert!(dns >= lo && dns <= hi, "{dns:?}");
    // The network answers at once; the module shows it after the connect's round trip.
    let fx = e.net_event(ev(link, NetEventKind::Connected));
    assert_eq!(uart(&fx), "", "CONNECT OK must wait");
    let (took, shown) = wait_for(&mut e, held(&fx), "CONNECT OK").await;
    assert_eq!(shown, "\r\nCONNECT OK\r\n");
    let (lo, hi) = r.delay(Step::Connect).unwrap().range();
    assert!(took >= lo && took <= hi, "{took:?}");
    e.feed(b"AT+MCONFIG=868488076771714,root,luat123456\r");
    let fx = e.feed(b"AT+MCONNECT=1,60\r");
    assert!(uart(&fx).ends_with("\r\nOK\r\n"), "{:?}", uart(&fx));
    let fx = e.net_event(ev(link, NetEventKind::ConnAck(ConnectReturnCode::Success)));
    assert!(timers(&fx).len() == 1 && uart(&fx).is_empty());
    let (took, shown) = wait_for(&mut e, held(&fx), "CONNACK OK").await;
    assert_eq!(shown, "\r\nCONNACK OK\r\n");
    assert!(
        took >= Duration::from_millis(220) && took <= Duration::from_millis(248),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_ip_address_skips_dns_and_tls_adds_the_handshake() {
    let r = Profile::realistic();
    let (c_lo, c_hi) = r.delay(Step::Connect).unwrap().range();
    let (t_lo, t_hi) = r.delay(Step::TlsHandshake).unwrap().range();
    let mut e = engine(DialectKind::Air780e, r.clone(), 9);
    let fx = e.feed(b"AT+MIPSTART=\"127.0.0.1\",1883\r");
    let link = link_of(&fx).unwrap();
    let fx = e.net_event(ev(link, NetEventKind::Connected));
    let (took, _) = wait_for(&mut e, held(&fx), "CONNECT OK").await;
    assert!(took >= c_lo && took <= c_hi, "{took:?}");

    let mut e = engine(DialectKind::Air780e, r, 9);
    let fx = e.feed(b"AT+SSLMIPSTART=\"127.0.0.1\",8883\r");
    let link = link_of(&fx).unwrap();
    let fx = e.net_event(ev(link, NetEventKind::Connected));
    let (took, _) = wait_for(&mut e, held(&fx), "CONNECT OK").await;
    assert!(took >= c_lo + t_lo && took <= c_hi + t_hi, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn held_events_keep_their_order_and_the_state_waits_with_them() {
    let mut e = engine(DialectKind::Air780e, Profile::realistic(), 3);
    let fx = e.feed(b"AT+MIPSTART=\"127.0.0.1\",1883\r");
    let link = link_of(&fx).unwrap();
    let mut pending = held(&e.net_event(ev(link, NetEventKind::Connected)));
    // The network already said CONNACK and sent a message; the module has not shown them.
    e.feed(b"AT+MCONNECT=1,60\r");
    // Until CONNECT OK is shown the module is not connected: MCONNECT was refused (767).
    pending.extend(held(&e.net_event(ev(
        link,
        NetEventKind::Closed(crate::net::CloseReason::PeerClosed),
    ))));
    let (_, shown) = wait_for(&mut e, pending, "CLOSED").await;
    let connect = shown.find("CONNECT OK").expect(&shown);
    let closed = shown.find("CLOSED").expect(&shown);
    assert!(connect < closed, "{shown:?}");
}

#[tokio::test(start_paused = true)]
async fn pubcomp_counts_from_the_pubrec_line() {
    let r = Profile::realistic();
    let mut e = engine(DialectKind::Air780e, r.clone(), 5);
    let fx = e.feed(b"AT+MIPSTART=\"127.0.0.1\",1883\r");
    let link = link_of(&fx).unwrap();
    let fx = e.net_event(ev(link, NetEventKind::Connected));
    wait_for(&mut e, held(&fx), "CONNECT OK").await;
    e.feed(b"AT+MCONFIG=868488076771714,root,luat123456\r");
    e.feed(b"AT+MCONNECT=1,60\r");
    let fx = e.net_event(ev(link, NetEventKind::ConnAck(ConnectReturnCode::Success)));
    wait_for(&mut e, held(&fx), "CONNACK OK").await;
    let fx = e.feed(b"AT+MPUB=\"t\",2,0,\"x\"\r");
    assert!(uart(&fx).ends_with("OK\r\n"), "{:?}", uart(&fx));
    // PUBREC and PUBCOMP arrive together on loopback.
    let mut pending = held(&e.net_event(ev(link, NetEventKind::PubRec)));
    pending.extend(held(&e.net_event(ev(link, NetEventKind::PubComp))));
    let (took, shown) = wait_for(&mut e, pending, "PUBCOMP").await;
    assert!(shown.contains("PUBREC") && shown.find("PUBREC") < shown.find("PUBCOMP"));
    let min = r.delay(Step::Pubrec).unwrap().range().0 + r.delay(Step::Pubcomp).unwrap().range().0;
    assert!(took >= min, "{took:?} < {min:?}");
}

#[tokio::test(start_paused = true)]
async fn l610_refused_connect_is_ok_then_silence_then_the_urc_seconds_later() {
    let mut e = engine(DialectKind::L610, Profile::realistic(), 11);
    let fx = e.feed(b"AT+MIPCALL=1\r");
    wait_for(&mut e, held(&fx), "+MIPCALL:").await;
    e.feed(b"AT+MQTTUSER=1,\"u\",\"bad\"\r");
    let start = tokio::time::Instant::now();
    let (link, _, shown) =
        open_link(&mut e, b"AT+MQTTOPEN=1,\"broker.example.com\",1883,0,60\r").await;
    assert!(shown.ends_with("\r\nOK\r\n"), "{shown:?}");
    // TCP connects at once; the module takes dns + connect before it sends CONNECT.
    let fx = e.net_event(ev(link, NetEventKind::Connected));
    assert_eq!(uart(&fx), "");
    let mut shown = String::new();
    for (id, after) in held(&fx) {
        tokio::time::sleep(after).await;
        shown.push_str(&uart(&e.timer(id)));
    }
    assert_eq!(shown, "", "nothing shows before the broker answers");
    // The broker refuses at once: the URC still takes the profile's time.
    let fx = e.net_event(ev(
        link,
        NetEventKind::ConnAck(ConnectReturnCode::BadUserNamePassword),
    ));
    assert_eq!(uart(&fx), "", "silence after the OK");
    let (_, shown) = wait_for(&mut e, held(&fx), "+MQTTOPEN:").await;
    assert!(shown.contains("+MQTTOPEN: 1,0"), "{shown:?}");
    let took = start.elapsed();
    assert!(took > Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_millis(4600 + 250 + 250), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn mipcall_urc_waits_and_fast_changes_nothing() {
    let mut e = engine(DialectKind::L610, Profile::realistic(), 1);
    let fx = e.feed(b"AT+MIPCALL=1\r");
    assert_eq!(uart(&fx), "\r\nOK\r\n");
    let (took, shown) = wait_for(&mut e, held(&fx), "+MIPCALL:").await;
    assert!(shown.starts_with("\r\n+MIPCALL: "), "{shown:?}");
    assert!(took >= Duration::from_millis(400), "{took:?}");

    let mut e = engine(DialectKind::L610, Profile::fast(), 1);
    let fx = e.feed(b"AT+MIPCALL=1\r");
    assert!(
        uart(&fx).starts_with("\r\nOK\r\n\r\n+MIPCALL: "),
        "{:?}",
        uart(&fx)
    );
    assert!(held(&fx).is_empty());
    e.feed(b"AT+MQTTUSER=1,\"u\",\"p\"\r");
    let fx = e.feed(b"AT+MQTTOPEN=1,\"127.0.0.1\",1883,0,60\r");
    let link = link_of(&fx).unwrap();
    let fx = e.net_event(ev(link, NetEventKind::Connected));
    assert!(held(&fx).is_empty(), "{fx:?}");
    assert!(
        matches!(fx[..], [Effect::Net(NetRequest::Mqtt { .. })]),
        "{fx:?}"
    );
    let fx = e.net_event(ev(link, NetEventKind::ConnAck(ConnectReturnCode::Success)));
    assert_eq!(uart(&fx), "\r\n+MQTTOPEN: 1,1\r\n", "{fx:?}");
    let _ = QoS::AtMostOnce;
}

#[test]
fn ipr_changes_the_rate_after_its_ok() {
    let mut e = Engine::new(
        dialect::make(DialectKind::Air780e, Identity::default()).unwrap(),
        false,
    );
    let fx = e.feed(b"AT+IPR=460800\r");
    assert_eq!(
        fx,
        vec![Effect::Uart(b"\r\nOK\r\n".to_vec()), Effect::Baud(460_800)]
    );
    assert_eq!(
        e.feed(b"AT+IPR=12345\r"),
        vec![Effect::Uart(b"\r\nERROR\r\n".to_vec())]
    );
}

#[tokio::test(start_paused = true)]
async fn the_pacer_runs_back_to_back_pieces_on_and_restarts_after_a_pause() {
    let mut p = Pacer::new(115_200);
    let t0 = tokio::time::Instant::now();
    // 40 pieces of 64 bytes, written as fast as the pacer allows: exactly their wire time,
    // whatever the timer's granularity.
    for _ in 0..40 {
        let at = p.done_at(64);
        tokio::time::sleep_until(at).await;
    }
    let took = t0.elapsed();
    let wire = wire_time(40 * 64, 115_200);
    assert!(
        took >= wire && took <= wire + Duration::from_millis(1),
        "{took:?}"
    );
    // After a pause the line is idle: the next piece starts now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = tokio::time::Instant::now();
    assert_eq!(p.done_at(10) - now, wire_time(10, 115_200));
}

/// The host's end of a duplex UART (paused time: the durations are virtual and exact).
async fn until(io: &mut tokio::io::DuplexStream, seen: &mut Vec<u8>, needle: &[u8]) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    for _ in 0..100_000 {
        if seen.windows(needle.len()).any(|w| w == needle) {
            seen.clear();
            return;
        }
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    panic!("no {:?}", String::from_utf8_lossy(needle));
}

/// A 2,233-byte write into the module (`AT+FSWRITE`, no network involved) is accepted after
/// its wire time at the UART's rate under `realistic`: ~48.5 ms at 460,800 baud (after
/// `AT+IPR`), ~194 ms at 115,200, and at once under `fast`. Paused time: virtual, exact.
#[tokio::test(start_paused = true)]
async fn a_2233_byte_write_takes_its_wire_time_at_the_uarts_rate() {
    use crate::sim::{SimConfig, Simulator};
    use tokio::io::AsyncWriteExt;
    for (profile, ipr, rate) in [
        (Profile::realistic(), Some(460_800u32), 460_800u32),
        (Profile::realistic(), None, 115_200),
        (Profile::fast(), Some(460_800), 0),
    ] {
        let (mut host, module) = tokio::io::duplex(1 << 16);
        let cfg = SimConfig {
            timing: profile,
            ..SimConfig::default()
        };
        let sim = Simulator::start_on(cfg, module).await.unwrap();
        let mut seen = Vec::new();
        host.write_all(b"ATE0\r\n").await.unwrap();
        until(&mut host, &mut seen, b"OK\r\n").await;
        if let Some(r) = ipr {
            host.write_all(format!("AT+IPR={r}\r\n").as_bytes())
                .await
                .unwrap();
            until(&mut host, &mut seen, b"OK\r\n").await;
        }
        host.write_all(b"AT+FSCREATE=\"a.bin\"\r\n").await.unwrap();
        until(&mut host, &mut seen, b"OK\r\n").await;
        host.write_all(b"AT+FSWRITE=\"a.bin\",0,2233,15\r\n")
            .await
            .unwrap();
        until(&mut host, &mut seen, b">").await;
        let payload: Vec<u8> = (0..2233u32).map(|i| (i % 251) as u8).collect();
        let t0 = tokio::time::Instant::now();
        host.write_all(&payload).await.unwrap();
        until(&mut host, &mut seen, b"OK\r\n").await;
        let took = t0.elapsed();
        if rate == 0 {
            assert!(took < Duration::from_millis(1), "fast: {took:?}");
        } else {
            // The payload's wire time, plus `\r\nOK\r\n` back at the same rate, plus at most
            // a millisecond of timer granularity.
            let wire = wire_time(2233, rate);
            let most = wire + wire_time(6, rate) + Duration::from_millis(2);
            assert!(
                took >= wire && took <= most,
                "{rate}: {took:?} (wire {wire:?})"
            );
        }
        drop(host);
        sim.shutdown().await;
    }
}
