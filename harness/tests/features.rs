//! Runs every `.feature` under `features/` against the simulator (`harness = false`), the host
//! ending its lines with the default line end, then the scenarios that open a `>` prompt or
//! send a payload ([`modem_harness::runner::uses_prompt`]) again under each other line end:
//! drivers send CR LF, CR and a bare LF, and each must reach the broker byte for byte.
//!
//! Output: cucumber's terminal report, JUnit XML in `target/cucumber-junit.xml` (the default
//! line end) and `target/cucumber-junit-<eol>.xml` (the others), and a last line
//! `N passed, N failed` (scenarios, all runs) for CI. Exits non-zero when a step failed or was
//! skipped, a feature did not parse, or a run ran nothing.

use std::path::PathBuf;

use modem_harness::device::Eol;
use modem_harness::runner::{report, run, RunOptions, Summary};

#[tokio::main]
async fn main() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target"));
    let mut total = Summary::default();
    let mut empty_runs = Vec::new();
    for eol in
        std::iter::once(Eol::default()).chain(Eol::ALL.into_iter().filter(|e| *e != Eol::default()))
    {
        let first = eol == Eol::default();
        let junit = if first {
            target.join("cucumber-junit.xml")
        } else {
            target.join(format!("cucumber-junit-{eol}.xml"))
        };
        let mut opts = RunOptions::new(manifest.join("../features"));
        opts.junit = Some(junit.clone());
        opts.transcripts = Some(if first {
            target.join("transcripts")
        } else {
            target.join("transcripts").join(eol.name())
        });
        // An HTML timeline per scenario, beside the JUnit file (modem-harness report).
        opts.html = Some(if first {
            target.join("reports")
        } else {
            target.join("reports").join(eol.name())
        });
        opts.eol = eol;
        opts.only_prompts = !first;
        println!(
            "==== line end {eol}: {} ====",
            if first {
                "every scenario"
            } else {
                "the scenarios with a > prompt or a payload"
            }
        );
        match run(opts).await {
            Ok(s) => {
                println!("line end {eol}: {} passed, {} failed", s.passed, s.failed);
                println!("JUnit report: {}", junit.display());
                if s.passed + s.failed == 0 {
                    empty_runs.push(eol);
                }
                total.passed += s.passed;
                total.failed += s.failed;
                total.parsing_errors += s.parsing_errors;
                total.skipped.extend(s.skipped);
                total.failures.extend(s.failures.into_iter().map(|mut f| {
                    f.scenario = format!("{} [line end {eol}]", f.scenario);
                    f
                }));
            }
            Err(e) => {
                eprintln!("features: {e}");
                std::process::exit(2);
            }
        }
    }
    let code = report(&total);
    if !empty_runs.is_empty() {
        eprintln!("features: no scenario ran under {empty_runs:?}");
        std::process::exit(1);
    }
    std::process::exit(code);
}
