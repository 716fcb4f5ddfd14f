//! `modem-harness check-driver` passes the reference drivers (on both dialects; one that
//! echoes late, one that pipelines, one that reads slowly) and fails the flawed one (which
//! never reconnects), naming the scenario: the check can fail.

mod common;

use common::{example, harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_driver_passes_and_the_flawed_one_fails_by_name() {
    let driver = example("echo_driver");
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("check.xml");
    let junit_arg = junit.to_str().unwrap().to_string();
    // The test helpers run `--timing fast` (the binary's default is realistic): these
    // check the echo contract, not time; `impatient_driver_*` below checks time.
    let ((code, out), (bad_code, bad_out), (l610_code, l610_out)) = tokio::join!(
        check(&["--timing", "fast", "--junit", &junit_arg], &driver, &[]),
        check(
            &["--timing", "fast", "--recovery-deadline", "3"],
            &driver,
            &["--never-reconnect"]
        ),
        check(
            &["--timing", "fast", "--dialect", "l610"],
            &driver,
            &["--l610"]
        )
    );
    // The same driver's L610 mode passes against the simulated L610.
    assert_eq!(l610_code, 0, "{l610_out}");
    assert!(l610_out.contains("8 passed, 0 failed"), "{l610_out}");
    assert_eq!(code, 0, "{out}");
    for name in [
        "plain echo",
        "binary payload with quote, comma, backslash and CR LF",
        "QoS 1",
        "resumes after closed",
        "resumes after pdn-deact",
        "resumes after kick-idle (767)",
        "resumes after a broker restart",
        "echo under uart-fragment",
    ] {
        assert!(out.contains(&format!("PASS  {name} (")), "{name}: {out}");
    }
    assert!(out.contains("8 passed, 0 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="8" failures="0""#) && xml.matches("<testcase").count() == 8,
        "{xml}"
    );

    assert_eq!(bad_code, 1, "{bad_out}");
    assert!(bad_out.contains("PASS  plain echo ("), "{bad_out}");
    assert!(
        bad_out.contains("FAIL  resumes after closed ("),
        "{bad_out}"
    );
    // Around the failure: the fault and what the module said.
    let failure = &bad_out[bad_out.find("FAIL  resumes after closed").unwrap()..];
    assert!(failure.contains("fault: closed"), "{failure}");
    assert!(failure.contains("<- CLOSED"), "{failure}");
}

/// A driver that waits only 100 ms for `CONNACK OK` passes under `--timing fast` and fails,
/// with a readable reason, under `--timing realistic` (the module takes 220-248 ms), on both
/// modules. Outcomes are asserted, not durations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impatient_driver_fails_under_realistic_timing_and_passes_under_fast() {
    let driver = example("echo_driver");
    let ((r_code, r_out), (f_code, f_out), (l_code, l_out)) = tokio::join!(
        check(
            &[
                "--timing",
                "realistic",
                "--first-deadline",
                "8",
                "--fail-fast",
            ],
            &driver,
            &["--impatient"]
        ),
        check(&["--timing", "fast"], &driver, &["--impatient"]),
        check(
            &["--dialect", "l610", "--first-deadline", "8", "--fail-fast"],
            &driver,
            &["--l610", "--impatient"]
        )
    );
    assert_eq!(f_code, 0, "{f_out}");
    assert!(f_out.contains("8 passed, 0 failed"), "{f_out}");

    assert_eq!(r_code, 1, "{r_out}");
    assert!(r_out.contains("timing: realistic"), "{r_out}");
    let failure = &r_out[r_out.find("FAIL  plain echo (").expect(&r_out)..];
    // Why, readably: no echo, the module's real time, and the driver's own complaint.
    assert!(failure.contains("no echo on"), "{failure}");
    assert!(failure.contains("under --timing realistic"), "{failure}");
    assert!(failure.contains("no CONNACK OK within 100 ms"), "{failure}");
    // The transcript shows CONNACK OK coming, late, with its time.
    assert!(failure.contains("s] <- CONNACK OK"), "{failure}");
    assert!(r_out.contains("0 passed, 1 failed"), "{r_out}");

    // The L610 (the default timing is realistic): +MQTTOPEN comes too late for it as well.
    assert_eq!(l_code, 1, "{l_out}");
    assert!(l_out.contains("no +MQTTOPEN: within 100 ms"), "{l_out}");
}

/// `modem-harness check-driver <opts> -- <driver> <driver_args>` (the future owns its
/// arguments, so that several can be joined).
fn check(
    opts: &[&str],
    driver: &str,
    driver_args: &[&str],
) -> impl std::future::Future<Output = (i32, String)> {
    let args: Vec<String> = ["check-driver"]
        .iter()
        .chain(opts)
        .chain(&["--", driver])
        .chain(driver_args)
        .map(|a| a.to_string())
        .collect();
    async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        harness(&args).await
    }
}

/// Every scenario passed, by name, and the driver's client id reached the broker.
fn assert_all_pass(code: i32, out: &str) {
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("8 passed, 0 failed"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

/// A correct driver that takes 1.5 s to echo: its late echoes of one scenario's republished
/// payloads arrive during the next scenarios, and must neither fail them nor pass for theirs
/// (each payload is tagged with its scenario). Before the tags, the first late echo failed
/// the second scenario with "the echo differs".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_that_echoes_late_passes_on_both_modules() {
    let driver = example("echo_driver");
    let ((code, out), (l610_code, l610_out)) = tokio::join!(
        check(&["--timing", "fast"], &driver, &["--echo-delay-ms", "1500"]),
        check(
            &["--timing", "fast", "--dialect", "l610"],
            &driver,
            &["--l610", "--echo-delay-ms", "1500"]
        )
    );
    assert_all_pass(code, &out);
    assert_all_pass(l610_code, &l610_out);
}

/// The pipelining driver: several commands per write, a command glued right behind an
/// `AT+MPUBEX` payload, `AT+MPUB` lines with `\XX` escapes for binary bytes. Its lines end
/// with a bare LF (the other drivers' tests cover CR LF and CR).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_that_pipelines_passes() {
    let driver = example("pipelining_driver");
    let (code, out) = check(&["--timing", "fast", "--eol", "lf"], &driver, &[]).await;
    assert_all_pass(code, &out);
}

/// The slow reader: 1-7 bytes per read, 20 ms apart, while the module keeps writing. Its
/// lines end with CR on the Air780E; on the L610 with the default CR LF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_that_reads_slowly_passes_on_both_modules() {
    let driver = example("slow_reader_driver");
    let ((code, out), (l610_code, l610_out)) = tokio::join!(
        check(&["--timing", "fast", "--eol", "cr"], &driver, &[]),
        check(
            &["--timing", "fast", "--dialect", "l610"],
            &driver,
            &["--l610"]
        )
    );
    assert_all_pass(code, &out);
    assert_all_pass(l610_code, &l610_out);
}
