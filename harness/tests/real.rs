//! The corpus of real transcripts (`fixtures/real/`, issue 11 item 7): every block replayed
//! green by `modem-harness replay`, and the `{}` wildcard (item 6) in the one matcher that
//! `replay`, `run` and the features share.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{harness, repo, FakeDevice};
use modem_harness::device::{Device, DeviceError};
use modem_harness::replay::{replay, Log, Target};

/// How many blocks must replay green: the corpus only grows.
const MIN_GREEN: usize = 12;

/// The `.log` files directly in `dir`, sorted.
fn logs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The dialect a block is replayed on: its file name says which module printed it.
fn dialect(name: &str) -> &'static str {
    if name.starts_with("l610-") {
        "l610"
    } else {
        assert!(name.starts_with("air780e-"), "{name}: air780e-* or l610-*");
        "air780e"
    }
}

/// The extra `modem-harness replay` flags a block asks for in its header
/// (`// Replay: --model air780ep --firmware V1007`).
fn flags(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| l.starts_with("//"))
        .find_map(|l| l.strip_prefix("// Replay:"))
        .map(|f| f.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// Every block cites its source, says which firmware printed it and lists what was
/// substituted, in its header (the comment lines it starts with).
fn check_header(name: &str, text: &str) {
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//")).collect();
    assert!(
        header.first().is_some_and(|l| l.starts_with("// Source: ")),
        "{name}: the first line cites the source"
    );
    for field in ["// What: ", "// Firmware: ", "// Substitutions:"] {
        assert!(
            header.iter().any(|l| l.starts_with(field)),
            "{name}: the header has `{field}`"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_block_replays_green() {
    let dir = repo().join("fixtures/real");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let green = logs_in(&dir);
    let pending = logs_in(&dir.join("pending"));
    for p in green.iter().chain(&pending) {
        let n = name(p);
        let text = std::fs::read_to_string(p).unwrap();
        check_header(&n, &text);
        dialect(&n);
        assert!(readme.contains(&n), "fixtures/real/README.md lists {n}");
        let log = Log::parse(&n, &text).unwrap();
        assert!(
            log.lines
                .iter()
                .any(|l| matches!(l.entry, modem_harness::replay::Entry::Expect(_))),
            "{n}: a block that expects nothing checks nothing"
        );
    }
    for p in &pending {
        let text = std::fs::read_to_string(p).unwrap();
        assert!(
            text.lines().any(|l| l.starts_with("// Pending: ")),
            "{}: a pending block says what it needs",
            name(p)
        );
    }
    assert!(
        green.len() >= MIN_GREEN,
        "{} green blocks, at least {MIN_GREEN}",
        green.len()
    );

    // One `modem-harness replay` per dialect and set of flags, with every block of the group.
    let mut groups: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    for p in &green {
        let n = name(p);
        let text = std::fs::read_to_string(p).unwrap();
        groups
            .entry((dialect(&n).to_string(), flags(&text)))
            .or_default()
            .push(p.to_string_lossy().into_owned());
    }
    let tr = tempfile::tempdir().unwrap();
    let mut failed = Vec::new();
    let mut reproduced = 0;
    for ((dialect, flags), files) in &groups {
        let mut args: Vec<&str> = vec!["replay", "--dialect", dialect];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["--transcripts", tr.path().to_str().unwrap()]);
        args.extend(files.iter().map(String::as_str));
        let (code, out) = harness(&args).await;
        let summary = format!("{} reproduced, 0 diverged", files.len());
        if code == 0 && out.contains(&summary) {
            reproduced += files.len();
        } else {
            failed.push(format!(
                "--dialect {dialect} {flags:?} (exit {code}):\n{out}"
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(reproduced, green.len());
}

/// A fake module that prints a network time and a bare address, as the vendor's captures do.
fn fake_module() -> FakeDevice {
    FakeDevice::start(|cmd| match cmd {
        "AT" => "\r\nOK\r\n".into(),
        "AT+CFUN=1" => {
            "\r\nOK\r\n\r\n^MODE: 17,17\r\n\r\n+NITZ: 2024/10/11,07:38:35+0,0\r\n".into()
        }
        "AT+CIFSR" => "\r\n10.104.48.68\r\n".into(),
        "AT+CGPADDR=1" => "\r\n+CGPADDR: 1,\"10.104.48.68\"\r\n\r\nOK\r\n".into(),
        _ => "\r\nERROR\r\n".into(),
    })
}

const WILDCARD_LOG: &str = "AT+CFUN=1\nOK\n^MODE: 17,17\n+NITZ: {}\nAT+CIFSR\n{}\n\
                            AT+CGPADDR=1\n+CGPADDR: 1,\"{}\"\nOK\n";

/// `modem-harness replay` of `text` on the fake module.
async fn replay_on(dev: &FakeDevice, dir: &Path, text: &str) -> (i32, String) {
    let log = dir.join("wild.log");
    std::fs::write(&log, text).unwrap();
    let tr = dir.join("tr");
    harness(&[
        "replay",
        log.to_str().unwrap(),
        "--port",
        dev.path().to_str().unwrap(),
        "--transcripts",
        tr.to_str().unwrap(),
        "--timeout",
        "3",
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_log_replays_green_and_a_wrong_literal_beside_the_braces_names_its_field() {
    let dev = fake_module();
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = replay_on(&dev, dir.path(), WILDCARD_LOG).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 reproduced, 0 diverged"), "{out}");

    // The daylight-saving field beside the braces is wrong: the report names it.
    let wrong_nitz = WILDCARD_LOG.replace("+NITZ: {}", "+NITZ: {},1");
    let (code, out) = replay_on(&dev, dir.path(), &wrong_nitz).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("  expected: +NITZ: {},1\n"), "{out}");
    assert!(
        out.contains("field 3 of `+NITZ:` differs: expected `1`, got `0`"),
        "{out}"
    );

    // The cid outside the quotes is wrong.
    let wrong_cid = WILDCARD_LOG.replace("+CGPADDR: 1,", "+CGPADDR: 2,");
    let (code, out) = replay_on(&dev, dir.path(), &wrong_cid).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("field 1 of `+CGPADDR:` differs: expected `2`, got `1`"),
        "{out}"
    );

    // A bare `{}` still needs a line: the address line cannot be an `OK`.
    let log = Log::parse(
        "bare.log",
        "AT+CFUN=1\nOK\n^MODE: 17,17\n+NITZ: {}\nAT+CIFSR\n{}\nOK\n",
    )
    .unwrap();
    let target = Target {
        port: Some((dev.path(), 115_200)),
        timeout: Duration::from_millis(500),
        ..Target::default()
    };
    let report = replay(&log, &target, &mut |_| {}).await.unwrap();
    let d = report.divergence.expect("no OK follows the address");
    assert_eq!((d.line, d.expected.as_str()), (7, "OK"));
}

/// `run` and the features expect lines through the device, with the same matcher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_steps_match_with_the_same_wildcards() {
    let dev = fake_module();
    let t = Duration::from_secs(3);
    let mut d = Device::open(&dev.path(), 115_200).unwrap();
    d.sync(t).await.unwrap();
    d.send_line("AT+CFUN=1").await.unwrap();
    d.expect_line("OK", t).await.unwrap();
    d.expect_line("^MODE: 17,17", t).await.unwrap();
    d.expect_line("+NITZ: {}", t).await.unwrap();
    d.send_line("AT+CGPADDR=1").await.unwrap();
    let err = d.expect_line("+CGPADDR: 3,\"{}\"", t).await.unwrap_err();
    assert!(matches!(err, DeviceError::Mismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("field 1 of `+CGPADDR:` differs: expected `3`, got `1`"),
        "{err}"
    );
}
