//! `modem-harness replay` in bounded memory (#15 item 7): a 50 MB vendor-style log replays
//! through the real binary, against the in-process simulator and its embedded broker, while
//! its peak RSS stays under a fixed bound; its transcript is written as it goes and holds
//! every line of the log.
//!
//! The log: the usual connect (`AT+MCONFIG`, `AT+MIPSTART`, `AT+MCONNECT`, `AT+MSUB`), then
//! about 12,000 exchanges of a 2,000-byte publish (`AT+MPUB="big/t",0,0,"<payload>"`, `OK`)
//! coming back to the subscribed modem (`+MSUB: "big/t",2000 byte,<payload>`): long lines, so
//! that 50 MB is few enough exchanges to replay in well under a minute (`--timing fast`, the
//! default). Before streaming, this log took 845 MB; a 5 MB one 98 MB.

mod common;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{harness_bin, repo};

/// The log's size, and the bound on the replaying process's peak RSS (it measures about
/// 16 MiB for 0.5, 5 and 50 MB logs alike).
const LOG_BYTES: usize = 50_000_000;
const RSS_BOUND_KIB: u64 = 64 * 1024;
const PAYLOAD: usize = 2000;

/// Writes the log; returns how many publish exchanges it holds.
fn write_log(path: &Path) -> usize {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    let head = "AT+MCONFIG=\"big\",root,luat123456\nOK\nAT+MIPSTART=\"broker.example.net\",1883\nOK\nCONNECT OK\nAT+MCONNECT=1,60\nOK\nCONNACK OK\nAT+MSUB=\"big/t\",0\nOK\nSUBACK\n";
    w.write_all(head.as_bytes()).unwrap();
    let filler = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(PAYLOAD / 36 + 1);
    let mut written = head.len();
    let mut n = 0;
    while written < LOG_BYTES {
        // Each payload differs (its number first), so a line out of place cannot match.
        let mut p = format!("{n:08}-{filler}");
        p.truncate(PAYLOAD);
        let block =
            format!("AT+MPUB=\"big/t\",0,0,\"{p}\"\nOK\n+MSUB: \"big/t\",{PAYLOAD} byte,{p}\n");
        w.write_all(block.as_bytes()).unwrap();
        written += block.len();
        n += 1;
    }
    w.flush().unwrap();
    n
}

/// `VmHWM` (peak RSS, KiB) of a running process; `None` once it has exited.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[test]
fn a_50_mb_log_replays_in_bounded_memory_and_its_transcript_holds_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    let exchanges = write_log(&log);
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size >= LOG_BYTES as u64, "{size} bytes");
    let tr = dir.path().join("tr");
    let junit = dir.path().join("junit.xml");
    let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
    let mut child = std::process::Command::new(harness_bin())
        .args(["replay", log.to_str().unwrap(), "--transcripts"])
        .arg(&tr)
        .arg("--junit")
        .arg(&junit)
        .current_dir(repo())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Peak RSS, read while it runs (VmHWM only grows; the last read is within 20 ms of the
    // end). Bounded: 10 minutes, far beyond the ~40 s it takes on a loaded machine.
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(600) {
            child.kill().unwrap();
            panic!("the replay did not finish in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let out = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
    let tail: String = out.lines().rev().take(4).collect::<Vec<_>>().join("\n");
    assert!(status.success(), "{status}: {err}\n{tail}");
    assert!(out.contains("1 reproduced, 0 diverged"), "{tail}");
    println!(
        "replayed {size} bytes ({exchanges} exchanges) in {:.1} s, peak RSS {} KiB",
        started.elapsed().as_secs_f64(),
        peak
    );
    assert!(peak > 0, "the peak RSS was read");
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB for a {size}-byte log: bound {RSS_BOUND_KIB} KiB"
    );

    // The transcript was written as the replay went, and is whole: its vendor-log rendering,
    // without the harness's `//` notes and the boot and sync before the log, is the log.
    let rendered = BufReader::new(std::fs::File::open(tr.join("big.log")).unwrap())
        .lines()
        .map(Result::unwrap)
        .filter(|l| !l.starts_with("//"))
        .skip_while(|l| !l.starts_with("AT+MCONFIG="));
    let source = BufReader::new(std::fs::File::open(&log).unwrap())
        .lines()
        .map(Result::unwrap);
    let mut compared = 0usize;
    for (i, (a, b)) in rendered.zip(source).enumerate() {
        assert!(a == b, "line {}: transcript {a:.80} vs log {b:.80}", i + 1);
        compared += 1;
    }
    assert_eq!(compared, 11 + 3 * exchanges, "every line of the log");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"1\" failures=\"0\""), "{xml}");
}
