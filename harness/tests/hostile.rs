//! Hostile or careless arguments to `modem-harness` (issue 15 item 7), through the real binary:
//! one line on stderr and exit 2, at once.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::run_air780e_args;

fn harness(args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_modem-harness"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err, started.elapsed())
}

#[test]
fn a_port_that_is_not_a_serial_line_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "hello").unwrap();
    let dir_s = dir.path().display().to_string();
    let file_s = file.display().to_string();
    for (port, what) in [
        ("/dev/null", "not a serial line"),
        (dir_s.as_str(), "a directory"),
        (file_s.as_str(), "a regular file"),
        ("/dev/ptmx", "the PTY multiplexer"),
        ("/nonexistent/ttyUSB9", "cannot open it"),
    ] {
        let mut args = run_air780e_args(port, "mqtt://127.0.0.1:1883");
        args.push("features/");
        let (code, err, took) = harness(&args);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "--port {port}: {err}");
        assert!(
            lines[0].contains(&format!("--port {port}: {what}")),
            "--port {port}: {}",
            lines[0]
        );
        assert_eq!(code, 2, "--port {port}: {err}");
        // At once: refused before any scenario, not after a timeout per scenario.
        assert!(took < Duration::from_secs(8), "--port {port} took {took:?}");
    }
}

#[test]
fn a_log_ending_in_a_command_without_an_answer_is_refused_as_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bogus.log");
    std::fs::write(&log, "AT+BOGUS\n").unwrap();
    let (code, err, _) = harness(&["replay", log.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bogus.log:1:") && err.contains("AT+BOGUS") && err.contains("incomplete"),
        "{err}"
    );
    assert!(!err.contains("REPRODUCED"));
}

#[test]
fn the_completeness_check_needs_an_answer_after_the_last_command() {
    use modem_harness::replay::Log;
    let complete = |t: &str| Log::parse("x.log", t).unwrap().check_complete();
    let err = complete("AT\nOK\nAT+BOGUS\n").unwrap_err();
    assert_eq!(err.line, 3);
    assert!(
        err.message.contains("AT+BOGUS") && err.message.contains("incomplete"),
        "{}",
        err.message
    );
    // After a prompt and its payload too.
    assert!(complete("AT+MPUBEX=\"t\",0,0,2\n>\nhi\n").is_err());
    // A directive after the command is no answer.
    assert!(complete("AT\n//@ drop\n").is_err());
    assert!(complete("AT\nOK\n// the end\n").is_ok());
}
