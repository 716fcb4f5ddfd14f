//! How long `modem-harness report` takes on a long run, and how long a browser takes to open
//! the page: a synthetic 10,000-line transcript shaped like a real one (commands with their
//! echo and answers, `+MSUB` messages, `>` payloads, broker-side publishes, a fault now and
//! then, silences, a failure near the end).
//!
//! `cargo bench -p modem-harness --bench report [-- --lines N --out FILE --no-browser]`
//! (`harness = false`; `cargo test` never runs it). With Chromium on PATH (or `$CHROMIUM`) it
//! also opens the page headless and reports the page's own time to ready (`performance.now()`
//! when its script has run: parsing, layout of the page on show, the script).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use modem_harness::report::{render, Meta};
use modem_harness::transcript::{parse_jsonl, to_hex, Event, Kind};

fn push(out: &mut Vec<Event>, t_us: u64, kind: Kind, raw: Option<&[u8]>) {
    out.push(Event {
        t_us,
        kind,
        hex: raw.map(to_hex),
    });
}

/// `lines` events (JSONL lines), the last one the failure.
fn synth(lines: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(lines + 16);
    let mut t = 0u64;
    let mut n = 0usize;
    while out.len() + 1 < lines {
        n += 1;
        let cmd = format!(
            "AT+MPUB=\"dev/{n}/up\",1,0,\"reading {n}: {}\"",
            n * 7 % 1000
        );
        t += 900 + (n as u64 % 7) * 150;
        push(
            &mut out,
            t,
            Kind::UartTx { text: cmd.clone() },
            Some(format!("{cmd}\r\n").as_bytes()),
        );
        t += 180;
        push(
            &mut out,
            t,
            Kind::UartRx { text: cmd.clone() },
            Some(format!("{cmd}\r\r\n").as_bytes()),
        );
        t += 40;
        push(
            &mut out,
            t,
            Kind::UartRx { text: "OK".into() },
            Some(b"\r\nOK\r\n"),
        );
        t += 2_000;
        push(
            &mut out,
            t,
            Kind::UartRx {
                text: "PUBACK".into(),
            },
            Some(b"\r\nPUBACK\r\n"),
        );
        push(
            &mut out,
            t + 5,
            Kind::Mqtt {
                client: "watcher".into(),
                event: format!("received \"dev/{n}/up\" \"reading {n}\""),
            },
            None,
        );
        t += 30_000;
        let msub = format!("+MSUB: \"dev/{n}/down\",5 byte,set {}", n % 10);
        push(
            &mut out,
            t,
            Kind::UartRx { text: msub.clone() },
            Some(format!("\r\n{msub}\r\n").as_bytes()),
        );
        t += 500;
        let payload: Vec<u8> = (0..24u8).map(|b| b.wrapping_mul(n as u8 | 1)).collect();
        push(
            &mut out,
            t,
            Kind::UartRx { text: ">".into() },
            Some(b"\r\n>"),
        );
        push(
            &mut out,
            t + 300,
            Kind::UartTxData {
                text: modem_harness::device::show(&payload),
                len: payload.len(),
            },
            Some(&payload),
        );
        if n % 97 == 96 {
            push(
                &mut out,
                t + 400,
                Kind::Fault {
                    fault: "pdn-deact".into(),
                },
                None,
            );
            push(
                &mut out,
                t + 600,
                Kind::UartRx {
                    text: "+CGEV: NW PDN DEACT 1".into(),
                },
                Some(b"\r\n+CGEV: NW PDN DEACT 1\r\n"),
            );
            // A silence: the driver waits before it reconnects.
            t += 5_000_000;
        }
    }
    out.truncate(lines.saturating_sub(1));
    push(
        &mut out,
        t + 1_000,
        Kind::Failure {
            step: "Then the modem says CONNACK OK (line 42)".into(),
            expected: Some("CONNACK OK".into()),
            actual: Some("OK".into()),
            detail: "expected the modem to say `CONNACK OK`, but it said `OK`".into(),
        },
        None,
    );
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let lines: usize = arg("--lines")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let browser = !args.iter().any(|a| a == "--no-browser");
    let events = synth(lines);
    let uart = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                Kind::UartTx { .. } | Kind::UartRx { .. } | Kind::UartTxData { .. }
            )
        })
        .count();
    let meta = Meta {
        title: format!("bench: {lines} lines"),
        source: "synthetic".into(),
    };
    // What `modem-harness report` does with the file: read the JSONL, render. Warm up, then
    // time several runs.
    let jsonl: String = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("an event serialises") + "\n")
        .collect();
    let html = render(&meta, &parse_jsonl(&jsonl).expect("the JSONL parses"));
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            let h = render(&meta, &parse_jsonl(&jsonl).expect("the JSONL parses"));
            let took = t0.elapsed();
            assert_eq!(h.len(), html.len());
            took
        })
        .collect();
    times.sort();
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    println!(
        "report: {} JSONL lines ({uart} UART lines, {:.1} MiB) -> {:.1} MiB of HTML in {:.1} ms median, {:.1} ms max, parse + render ({profile} build; target < 1000 ms: {})",
        events.len(),
        jsonl.len() as f64 / (1024.0 * 1024.0),
        html.len() as f64 / (1024.0 * 1024.0),
        times[2].as_secs_f64() * 1e3,
        times[4].as_secs_f64() * 1e3,
        if times[4] < Duration::from_secs(1) { "met" } else { "NOT met" }
    );
    let out = arg("--out").map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "modem-harness-report-bench-{}.html",
            std::process::id()
        ))
    });
    std::fs::write(&out, &html).expect("write the page");
    if !browser {
        return;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile_dir = std::env::temp_dir().join(format!(
        "modem-harness-bench-chromium-{}",
        std::process::id()
    ));
    let t0 = Instant::now();
    let res = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1200,900",
            &format!("--user-data-dir={}", profile_dir.display()),
            "--dump-dom",
        ])
        .arg(format!("file://{}", out.display()))
        .stderr(std::process::Stdio::null())
        .output();
    let wall = t0.elapsed();
    let _ = std::fs::remove_dir_all(&profile_dir);
    match res {
        Err(e) => println!("browser: `{chromium}` did not run ({e}); skipped"),
        Ok(o) => {
            let dom = String::from_utf8_lossy(&o.stdout);
            let ready = dom
                .split("data-ready-ms=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("?");
            let errors = dom.contains("data-script-error=");
            println!(
                "browser: page ready after {ready} ms (its performance.now() when the script ran), script errors: {}; chromium process {:.2} s in all",
                if errors { "YES" } else { "none" },
                wall.as_secs_f64()
            );
        }
    }
    if arg("--out").is_none() {
        let _ = std::fs::remove_file(&out);
    } else {
        println!("page: {}", out.display());
    }
}
