//! `modem-harness check-driver` passes the reference drivers (on both dialects; one that
//! echoes late, one that pipelines, one that reads slowly) and fails the flawed one (which
//! never reconnects), naming the scenario: the check can fail.

mod common;

use common::harness;

/// The example drivers, built by `cargo test --workspace` (examples are compiled with the
/// tests) into target/<profile>/examples.
fn example(name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p modem-harness --examples` (cargo test --workspace does)",
        path.display()
    );
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_driver_passes_and_the_flawed_one_fails_by_name() {
    let driver = example("echo_driver");
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("check.xml");
    let junit_arg = junit.to_str().unwrap().to_string();
    let good_args = ["check-driver", "--junit", &junit_arg, "--", &driver];
    let bad_args = [
        "check-driver",
        "--recovery-deadline",
        "3",
        "--",
        &driver,
        "--never-reconnect",
    ];
    let l610_args = ["check-driver", "--dialect", "l610", "--", &driver, "--l610"];
    let good = harness(&good_args);
    let bad = harness(&bad_args);
    let l610 = harness(&l610_args);
    let ((code, out), (bad_code, bad_out), (l610_code, l610_out)) = tokio::join!(good, bad, l610);
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
    let air_args = ["check-driver", "--", &driver, "--echo-delay-ms", "1500"];
    let l610_args = [
        "check-driver",
        "--dialect",
        "l610",
        "--",
        &driver,
        "--l610",
        "--echo-delay-ms",
        "1500",
    ];
    let ((code, out), (l610_code, l610_out)) =
        tokio::join!(harness(&air_args), harness(&l610_args));
    assert_all_pass(code, &out);
    assert_all_pass(l610_code, &l610_out);
}

/// The pipelining driver: several commands per write, a command glued right behind an
/// `AT+MPUBEX` payload, `AT+MPUB` lines with `\XX` escapes for binary bytes. Its lines end
/// with a bare LF (the other drivers' tests cover CR LF and CR).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_that_pipelines_passes() {
    let driver = example("pipelining_driver");
    let (code, out) = harness(&["check-driver", "--eol", "lf", "--", &driver]).await;
    assert_all_pass(code, &out);
}

/// The slow reader: 1-7 bytes per read, 20 ms apart, while the module keeps writing. Its
/// lines end with CR on the Air780E; on the L610 with the default CR LF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_that_reads_slowly_passes_on_both_modules() {
    let driver = example("slow_reader_driver");
    let air_args = ["check-driver", "--eol", "cr", "--", &driver];
    let l610_args = ["check-driver", "--dialect", "l610", "--", &driver, "--l610"];
    let ((code, out), (l610_code, l610_out)) =
        tokio::join!(harness(&air_args), harness(&l610_args));
    assert_all_pass(code, &out);
    assert_all_pass(l610_code, &l610_out);
}
