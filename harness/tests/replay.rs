//! `modem-harness replay`: every seed log block reproduced by the simulator (with its
//! normalised transcript pinned by an insta snapshot), a log written here passing in-process
//! and on --port, and failing with one line changed.

mod common;

use std::path::PathBuf;

use common::{harness, repo, FakeDevice, ReplayDir};
use modem_harness::device::Eol;
use modem_harness::replay::{replay, Log, Target};
use modem_harness::transcript::normalise;
use modem_sim::dialect::DialectKind;
use modem_sim::sim::{SimConfig, Simulator};

/// The dialect a seed block is replayed on: seed 002 is the Fibocom L610 guide, every other
/// seed an Air780E one (README, "Replay").
fn dialect_of(name: &str) -> DialectKind {
    if name.starts_with("002-") {
        DialectKind::L610
    } else {
        DialectKind::Air780e
    }
}

/// The model a seed block is replayed on: seed 003 drives an Air724UG
/// (`AirM2M_720U_V301836_LTE_AT`, `+CSQ: 29,99`), the others the dialect's default. The
/// clock is fixed (2024/08/23,06:52:50), so the pinned transcripts' `+NITZ` lines are too.
fn model_of(name: &str) -> modem_harness::model::SimModel {
    modem_harness::model::SimModel {
        model: name.starts_with("003-").then(|| "air724ug".to_string()),
        time: Some(1_724_395_970),
        ..Default::default()
    }
}

fn seed_logs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo().join("fixtures/seed-logs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

/// The file replayed for a seed block: its annotated companion if it has one.
fn replayed_file(name: &str) -> PathBuf {
    let companion = repo().join("fixtures/replay").join(name);
    if companion.exists() {
        companion
    } else {
        repo().join("fixtures/seed-logs").join(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_log_block_replays_green_and_its_transcript_is_pinned() {
    let mut failed = Vec::new();
    let mut prompt_blocks = 0;
    let names = seed_logs();
    assert!(names.len() >= 27, "{names:?}");
    for name in &names {
        let path = replayed_file(name);
        let text = std::fs::read_to_string(&path).unwrap();
        if path.starts_with(repo().join("fixtures/replay")) {
            let first = text.lines().next().unwrap_or("");
            assert!(
                first.starts_with(&format!("// Companion of fixtures/seed-logs/{name}")),
                "{name}: a companion names its verbatim block on its first line"
            );
            assert!(
                text.contains("// Substitutions:"),
                "{name}: lists its substitutions"
            );
        }
        let log = Log::parse(name, &text).unwrap();
        assert!(
            log.lines
                .iter()
                .any(|l| matches!(l.entry, modem_harness::replay::Entry::Expect(_))),
            "{name}: a replay that expects nothing checks nothing"
        );
        let target = Target {
            dialect: dialect_of(name),
            model: model_of(name),
            ..Target::default()
        };
        let report = replay(&log, &target, &mut |_| {}).await.unwrap();
        if let Some(d) = &report.divergence {
            failed.push(format!("{name}:\n{d}"));
            continue;
        }
        let rendered = normalise(&report.transcript.to_vendor_log(), &[]);
        insta::assert_snapshot!(name.trim_end_matches(".log"), rendered);
        // A block that sends a payload after a `>` prompt also replays with the host's lines
        // ending in each other line end, with the same transcript.
        if log
            .lines
            .iter()
            .any(|l| l.entry == modem_harness::replay::Entry::Prompt)
        {
            prompt_blocks += 1;
            for eol in [Eol::Cr, Eol::Lf] {
                let t = Target {
                    eol,
                    ..target.clone()
                };
                let r = replay(&log, &t, &mut |_| {}).await.unwrap();
                match &r.divergence {
                    Some(d) => failed.push(format!("{name} with line end {eol}:\n{d}")),
                    None => assert_eq!(
                        normalise(&r.transcript.to_vendor_log(), &[]),
                        rendered,
                        "{name} with line end {eol}"
                    ),
                }
            }
        }
    }
    // Seed 000's two TLS blocks (AT+FSWRITE) and seed 002's (the AT+MQTTPUB length form).
    assert!(prompt_blocks >= 3, "{prompt_blocks} blocks with a prompt");
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The time (µs into the transcript) of the module's first line equal to `line` after the
/// host sent a command starting with `cmd`.
fn rx_after(report: &modem_harness::replay::Report, cmd: &str, line: &str) -> Option<u64> {
    use modem_harness::transcript::Kind;
    let events = report.transcript.events();
    let sent = events
        .iter()
        .position(|e| matches!(&e.kind, Kind::UartTx { text } if text.starts_with(cmd)))?;
    events[sent..]
        .iter()
        .find(|e| matches!(&e.kind, Kind::UartRx { text } if text == line))
        .map(|e| e.t_us)
}

/// The seed flows end to end under `--timing realistic` (the binary's default): every block
/// still replays green with the module taking its real time. Outcomes are asserted; of
/// time, only lower bounds the profile guarantees (a slower machine only adds to them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_log_block_replays_green_under_realistic_timing() {
    let names = seed_logs();
    let runs = names.iter().enumerate().map(|(i, name)| async move {
        let text = std::fs::read_to_string(replayed_file(name)).unwrap();
        let log = Log::parse(name, &text).unwrap();
        let target = Target {
            dialect: dialect_of(name),
            model: model_of(name),
            timing: modem_sim::timing::Profile::realistic(),
            seed: i as u64,
            timeout: std::time::Duration::from_secs(20),
            ..Target::default()
        };
        (
            name.clone(),
            replay(&log, &target, &mut |_| {}).await.unwrap(),
        )
    });
    let reports = futures::future::join_all(runs).await;
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|(n, r)| r.divergence.as_ref().map(|d| format!("{n}:\n{d}")))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    let report = |n: &str| &reports.iter().find(|(name, _)| name == n).unwrap().1;
    // Seed 000 6.3: the TLS connect shows CONNECT OK at least 1.42 s after the OK
    // (dns + connect + handshake, all at their minimum).
    let r = report("000-6.3-ssl-one-way.log");
    let ok = rx_after(r, "AT+SSLMIPSTART", "OK").unwrap();
    let connect = rx_after(r, "AT+SSLMIPSTART", "CONNECT OK").unwrap();
    assert!(connect - ok >= 1_420_000, "{} us", connect - ok);
    // CONNACK OK at least 220 ms after its OK.
    let ok = rx_after(r, "AT+MCONNECT", "OK").unwrap();
    let connack = rx_after(r, "AT+MCONNECT", "CONNACK OK").unwrap();
    assert!(connack - ok >= 220_000, "{} us", connack - ok);
}

/// A vendor-style log that is not in the repository: comments, blank lines, quoted and bare
/// arguments, a QoS 1 publish, an MPUBEX prompt with its payload, the state query.
const MY_LOG: &str = r#"ATI                         //version
AirM2M_780E_V1169_LTE_AT
OK

AT+CGATT?
+CGATT: 1                   //attached
OK
AT+MCONFIG="my-device-42",root,luat123456
OK
AT+MIPSTART="broker.example.net",1883
OK
CONNECT OK
AT+MCONNECT=1,120
OK
CONNACK OK
AT+MQTTSTATU
+MQTTSTATU :1
OK
AT+MPUB="dev/42/up",1,0,"temperature 21.5"
OK
PUBACK
AT+MPUBEX="dev/42/raw",0,0,11
>
hello
world
OK
AT+MDISCONNECT
OK
AT+MIPCLOSE
OK
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_not_in_the_repository_passes_in_process_and_on_a_port() {
    let r = ReplayDir::new("my-session.log", MY_LOG);
    let (log, junit, tr) = (&r.log, &r.junit, &r.tr);
    let (code, out) = r.replay(&[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("REPRODUCED"), "{out}");
    assert!(
        out.contains("AT+MPUBEX=\"dev/42/raw\",0,0,11"),
        "progress: {out}"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.contains("tests=\"1\" failures=\"0\""), "{xml}");
    let jsonl = std::fs::read_to_string(tr.join("my-session.jsonl")).unwrap();
    assert!(
        jsonl.contains("\"kind\":\"uart_tx_data\",\"text\":\"hello\\\\nworld\",\"len\":11"),
        "{jsonl}"
    );
    let vendor = std::fs::read_to_string(tr.join("my-session.log")).unwrap();
    assert!(
        vendor.contains("AT+MQTTSTATU\n+MQTTSTATU :1\nOK\n"),
        "{vendor}"
    );

    // The same log against a simulator's tty given as an external device, with its broker
    // given as the external broker (hosts and credentials rewritten to it).
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let broker = format!("mqtt://{}", sim.mqtt_addr().unwrap());
    let (code, out) = harness(&[
        "replay",
        log.to_str().unwrap(),
        "--port",
        sim.tty().to_str().unwrap(),
        "--baud",
        "115200",
        "--broker",
        &broker,
        "--mqtt-user",
        "root",
        "--mqtt-password",
        "luat123456",
        "--transcripts",
        tr.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    let vendor = std::fs::read_to_string(tr.join("my-session.log")).unwrap();
    let port = sim.mqtt_addr().unwrap().port().to_string();
    assert!(
        vendor.contains(&format!("AT+MIPSTART=\"127.0.0.1\",{port}")),
        "the host was rewritten to the broker: {vendor}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_line_fails_showing_expected_and_actual() {
    let r = ReplayDir::new(
        "changed.log",
        &MY_LOG.replace("+MQTTSTATU :1", "+MQTTSTATU :2"),
    );
    let (log, junit) = (&r.log, &r.junit);
    let (code, out) = r.replay(&[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DIVERGED"), "{out}");
    assert!(out.contains(":17\n"), "the log line: {out}");
    assert!(out.contains("  expected: +MQTTSTATU :2\n"), "{out}");
    assert!(out.contains("  actual:   +MQTTSTATU :1\n"), "{out}");
    assert!(
        out.contains(">   17 | +MQTTSTATU :2"),
        "the log around it: {out}"
    );
    assert!(out.contains("  -> AT+MQTTSTATU"), "the transcript: {out}");
    assert!(out.contains("0 reproduced, 1 diverged"), "{out}");
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("+MQTTSTATU :2"),
        "{xml}"
    );

    // An extra line nobody expected is a divergence too.
    std::fs::write(log, "AT+CGATT?\nOK\n").unwrap();
    let (code, out) = r.replay(&[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("  expected: OK\n  actual:   +CGATT: 1\n"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let (code, out) = harness(&["replay", "/nonexistent/x.log"]).await;
    assert_eq!(code, 2, "{out}");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bad.log");
    std::fs::write(&log, "AT\nOK\n//@ pubish t x\n").unwrap();
    let (code, out) = harness(&["replay", log.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(":3: unknown harness action"), "{out}");
    // Broker-side actions against an external device need --broker.
    let dev = FakeDevice::start(|_| "\r\nOK\r\n".into());
    std::fs::write(&log, "AT\nOK\n//@ publish t x\n").unwrap();
    let (code, out) = harness(&[
        "replay",
        log.to_str().unwrap(),
        "--port",
        dev.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("need --broker"), "{out}");
    let (code, out) = harness(&[
        "replay",
        log.to_str().unwrap(),
        "--baud",
        "12345",
        "--port",
        dev.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("12345 baud"), "{out}");
}

/// A URC may race the answers around it (within the window); echo on or off is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urcs_out_of_order_within_the_window_and_echo_are_tolerated() {
    // Answers `OK` then a URC to AT+X, echoing the command; the log prints the URC first.
    let dev = FakeDevice::start(|cmd| match cmd {
        "AT" => "AT\r\r\nOK\r\n".into(),
        "AT+X" => "AT+X\r\r\nOK\r\n\r\n+URC: 1\r\n".into(),
        "AT+Y" => "\r\n+Y: 2\r\n\r\nOK\r\n".into(),
        _ => "\r\nERROR\r\n".into(),
    });
    let log = Log::parse("race.log", "AT+X\n+URC: 1\nOK\nAT+Y\n+Y: 2\nOK\n").unwrap();
    let target = Target {
        port: Some((dev.path(), 115_200)),
        ..Target::default()
    };
    let report = replay(&log, &target, &mut |_| {}).await.unwrap();
    assert!(report.ok(), "{}", report.divergence.unwrap());
    // A URC that never comes is reported as missing, even when the lines around it came.
    let log = Log::parse("missing.log", "AT+X\n+URC: 9\nOK\n+URC: 1\n").unwrap();
    let short = Target {
        timeout: std::time::Duration::from_millis(500),
        ..target
    };
    let report = replay(&log, &short, &mut |_| {}).await.unwrap();
    let d = report.divergence.expect("diverges");
    assert_eq!((d.line, d.expected.as_str()), (2, "+URC: 9"));
    assert!(d.actual.starts_with("nothing within"), "{}", d.actual);
}

/// `replay --timing-tolerance`: the vendor's stamped captures (fixtures/timed/) replay green,
/// and each of their gaps (TLS CONNECT OK, CONNACK OK, PUBACK, SUBACK) is measured in the
/// replay and compared; under `fast` the same check fails, naming the gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stamped_logs_are_replayed_with_their_timing_checked() {
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().to_str().unwrap().to_string();
    let a = repo().join("fixtures/timed/780ep-aliyun-a.log");
    let b = repo().join("fixtures/timed/780ep-aliyun-b.log");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    // Realistic (implied), seed 1: deterministic draws.
    let (code, out) = harness(&[
        "replay",
        a,
        b,
        "--timing-tolerance",
        "50",
        "--transcripts",
        &tr,
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 reproduced, 0 diverged"), "{out}");
    assert_eq!(out.matches("TIMING WITHIN 50%").count(), 2, "{out}");
    for (line, log_ms) in [
        ("CONNECT OK", "1415 ms"),
        ("CONNACK OK", "249 ms"),
        ("PUBACK", "297 ms"),
        ("SUBACK", "315 ms"),
        ("CONNECT OK", "2287 ms"),
        ("CONNACK OK", "215 ms"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(line) && l.contains(&format!(" {log_ms} "))),
            "{line} {log_ms}: {out}"
        );
    }
    // Under fast every gap is about 0 ms: -100%, and the replay fails on timing alone.
    let (code, out) = harness(&[
        "replay",
        a,
        "--timing",
        "fast",
        "--timing-tolerance",
        "50",
        "--transcripts",
        &tr,
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("REPRODUCED") && out.contains("TIMING OFF"),
        "{out}"
    );
    assert!(out.contains("4 of 4 gaps beyond 50%"), "{out}");
}

/// A log that begins with the module's power-on lines expects them (the in-process simulator
/// powers on as it starts); one that begins with a command is sent after them. `--model` and
/// `--firmware` pick the simulated module.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_starting_with_the_boot_expects_it_and_model_flags_pick_the_module() {
    let boot = "RDY\n^MODE: 17,17\n+E_UTRAN Service\n+CGEV: ME PDN ACT 1,0\n+NITZ: 2024/08/23,06:52:50+0,0\nAT\nOK\n";
    let log = Log::parse("boot.log", boot).unwrap();
    let target = Target {
        model: modem_harness::model::SimModel {
            time: Some(1_724_395_970),
            ..Default::default()
        },
        ..Target::default()
    };
    let report = replay(&log, &target, &mut |_| {}).await.unwrap();
    assert!(report.ok(), "{}", report.divergence.unwrap());
    // Without the power-on lines in the log, they are not expected: the replay waits them out.
    let log = Log::parse("ati.log", "ATI\nAirM2M_780E_V1169_LTE_AT\nOK\n").unwrap();
    let report = replay(&log, &target, &mut |_| {}).await.unwrap();
    assert!(report.ok(), "{}", report.divergence.unwrap());
    // A wrong power-on line fails.
    let log = Log::parse("boot.log", &boot.replace("1,0\n", "1\n")).unwrap();
    let report = replay(&log, &target, &mut |_| {}).await.unwrap();
    let d = report.divergence.expect("a wrong boot line diverges");
    assert_eq!(d.expected, "+CGEV: ME PDN ACT 1");

    // The model flags, through the binary.
    let r = ReplayDir::new(
        "ep.log",
        "ATI\nAirM2M_780EP_V1007_LTE_AT\nOK\nAT+CGMM\n+CGMM: \"Air780EP\"\nOK\nAT+CSQ\n+CSQ: 29,0\nOK\n",
    );
    let (file, tr) = (r.log.to_str().unwrap(), r.tr.to_str().unwrap());
    let args = |extra: &[&'static str]| {
        let mut v = vec!["replay", file, "--transcripts", tr];
        v.extend_from_slice(extra);
        v
    };
    let (code, out) = harness(&args(&["--model", "air780ep", "--firmware", "V1007"])).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = harness(&args(&[])).await;
    assert_eq!(
        code, 1,
        "the default model prints AirM2M_780E_V1169_LTE_AT: {out}"
    );
    let (code, out) = harness(&args(&["--model", "air999"])).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--model"), "{out}");
}

/// Aliyun IoT's MQTT client id holds commas inside its quotes
/// (`<id>|securemode=3,signmethod=hmacsha1|`). The replayer finds the account (which the
/// in-process broker then accepts) and the client id (which `//@ drop` kicks) with the
/// simulator's own argument splitter, so the commas do not split them.
const ALIYUN_LOG: &str = r#"AT+MCONFIG="a1b2|securemode=3,signmethod=hmacsha1|","dev&a1b2","0123abcd,ef"
OK
AT+MIPSTART="a1b2.iot-as-mqtt.cn-shanghai.aliyuncs.com",1883
OK
CONNECT OK
AT+MCONNECT=1,60
OK
CONNACK OK
//@ drop
CLOSED
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_with_quoted_commas_logs_in() {
    let log = Log::parse("aliyun.log", ALIYUN_LOG).unwrap();
    assert_eq!(
        log.accounts(),
        vec![("dev&a1b2".to_string(), "0123abcd,ef".to_string())]
    );
    let report = replay(&log, &Target::default(), &mut |_| {}).await.unwrap();
    assert!(report.ok(), "{}", report.divergence.unwrap());
    let vendor = report.transcript.to_vendor_log();
    assert!(vendor.contains("CONNACK OK"), "{vendor}");
    assert!(
        vendor.contains("broker drops client a1b2|securemode=3,signmethod=hmacsha1|"),
        "the whole id was kicked: {vendor}"
    );
}

/// A received message whose payload holds CR LF: the log gives the payload's lines after the
/// header, up to the declared length.
fn multi_line_log(published: &str) -> String {
    format!(
        r#"AT+MCONFIG="multi-line",root,luat123456
OK
AT+MIPSTART="broker.example.net",1883
OK
CONNECT OK
AT+MCONNECT=1,60
OK
CONNACK OK
AT+MSUB="raw/in",0
OK
SUBACK
//@ publish raw/in {published}
+MSUB: "raw/in",27 byte,line one
OK
+MSUB: 0
end
AT
OK
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_line_msub_payload_passes_and_one_changed_byte_fails() {
    let good = Log::parse(
        "multi.log",
        &multi_line_log(r"line one\r\nOK\r\n+MSUB: 0\r\nend"),
    )
    .unwrap();
    let report = replay(&good, &Target::default(), &mut |_| {})
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.divergence.unwrap());

    // The same length, one byte different: the message line diverges.
    let bad = Log::parse(
        "multi.log",
        &multi_line_log(r"line one\r\nOK\r\n+MSUB: 0\r\nenD"),
    )
    .unwrap();
    let report = replay(&bad, &Target::default(), &mut |_| {}).await.unwrap();
    let d = report.divergence.expect("one changed byte diverges");
    assert_eq!(d.line, 13, "{d}");
    assert_eq!(
        d.expected, r#"+MSUB: "raw/in",27 byte,line one\r\nOK\r\n+MSUB: 0\r\nend"#,
        "{d}"
    );
    assert_eq!(
        d.actual, r#"+MSUB: "raw/in",27 byte,line one\r\nOK\r\n+MSUB: 0\r\nenD"#,
        "{d}"
    );
}

/// The log written here (an `AT+MPUBEX` prompt and its payload, then more commands) replays
/// with the host's lines ending in CR LF, CR or LF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_with_a_prompt_replays_under_every_line_end() {
    let log = Log::parse("my-session.log", MY_LOG).unwrap();
    for eol in Eol::ALL {
        let target = Target {
            eol,
            ..Target::default()
        };
        let report = replay(&log, &target, &mut |_| {}).await.unwrap();
        assert!(
            report.ok(),
            "line end {eol}: {}",
            report.divergence.unwrap()
        );
    }
}
