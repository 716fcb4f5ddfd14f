//! Runs every `.feature` under `features/` against the simulator (`harness = false`).
//!
//! Output: cucumber's terminal report, JUnit XML in `target/cucumber-junit.xml`, and a last
//! line `N passed, N failed` (scenarios) for CI. Exits non-zero when a step failed or was
//! skipped, a feature did not parse, or nothing ran.

use std::path::PathBuf;

use modem_harness::runner::{report, run, RunOptions};

#[tokio::main]
async fn main() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target"));
    let junit = target.join("cucumber-junit.xml");
    let opts = RunOptions {
        features: manifest.join("../features"),
        junit: Some(junit.clone()),
        concurrency: 2,
        hardware: None,
        transcripts: Some(target.join("transcripts")),
        // An HTML timeline per scenario, beside the JUnit file (modem-harness report).
        html: Some(target.join("reports")),
    };
    match run(opts).await {
        Ok(summary) => {
            println!("JUnit report: {}", junit.display());
            std::process::exit(report(&summary));
        }
        Err(e) => {
            eprintln!("features: {e}");
            std::process::exit(2);
        }
    }
}
