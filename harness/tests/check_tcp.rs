//! `modem-harness check-driver --contract tcp-echo` (issue 16 item 6): the reference socket
//! driver (harness/examples/tcp_echo_driver.rs) passes every scenario, binary data and faults
//! included: as an L610 with each line end and under the realistic timing profile, and as an
//! Air780E (`--air780e`); the flawed one (it never reopens its socket) fails "resumes after
//! closed" by name: the check can fail.

mod common;

use common::{example, harness};

const SCENARIOS: [&str; 6] = [
    "plain echo",
    "every byte value, with CR LF, OK and Ctrl-Z",
    "4 KiB: more than one packet each way",
    "resumes after closed",
    "resumes after reset",
    "resumes after pdn-deact",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tcp_echo_driver_passes_and_the_flawed_one_fails_by_name() {
    let driver = example("tcp_echo_driver");
    let run_as = |dialect: &'static str, timing: &'static str, eol: &'static str, flawed: bool| {
        let driver = driver.clone();
        async move {
            let mut args = vec![
                "check-driver",
                "--contract",
                "tcp-echo",
                "--dialect",
                dialect,
                "--timing",
                timing,
                "--eol",
                eol,
                "--recovery-deadline",
                if flawed { "3" } else { "30" },
                "--",
            ];
            args.push(&driver);
            if flawed {
                args.push("--never-reopen");
            }
            if dialect == "air780e" {
                args.push("--air780e");
            }
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            harness(&args).await
        }
    };
    let run = |eol: &'static str, flawed: bool| run_as("l610", "fast", eol, flawed);
    let (crlf, cr, lf, bad, realistic, air) = tokio::join!(
        run("crlf", false),
        run("cr", false),
        run("lf", false),
        run("crlf", true),
        run_as("l610", "realistic", "crlf", false),
        run_as("air780e", "fast", "crlf", false)
    );
    for (eol, (code, out)) in [
        ("crlf", crlf),
        ("cr", cr),
        ("lf", lf),
        ("crlf, realistic timing", realistic),
        ("crlf, Air780E", air),
    ] {
        assert_eq!(code, 0, "--eol {eol}: {out}");
        for name in SCENARIOS {
            assert!(
                out.contains(&format!("PASS  {name} (")),
                "--eol {eol}, {name}: {out}"
            );
        }
        assert!(out.contains("6 passed, 0 failed"), "--eol {eol}: {out}");
    }
    let (code, out) = bad;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PASS  plain echo ("), "{out}");
    let failure = &out[out.find("FAIL  resumes after closed (").expect(&out)..];
    assert!(failure.contains("fault: closed"), "{failure}");
    assert!(failure.contains("<- +MIPSTAT: 1,2"), "{failure}");
}
