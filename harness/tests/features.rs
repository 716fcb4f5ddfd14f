//! Runs every `.feature` under `features/` against the simulator.
//!
//! Output: cucumber's terminal report, a JUnit report in `target/cucumber-junit.xml`, and a
//! last line `N passed, N failed` (scenarios) for CI. Exits non-zero when a step failed or was
//! skipped, or a feature did not parse.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cucumber::event::{self, Cucumber, Feature, Rule, Scenario};
use cucumber::writer::{self, Coloring, Verbosity};
use cucumber::{parser, Event, World as _, Writer, WriterExt as _};
use futures::FutureExt as _;
use modem_harness::ModemWorld;

#[tokio::main]
async fn main() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let features = manifest.join("../features");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target"));
    let _ = std::fs::create_dir_all(&target);
    let junit_path = target.join("cucumber-junit.xml");
    let junit = match std::fs::File::create(&junit_path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot create {}: {e}", junit_path.display());
            std::process::exit(2);
        }
    };
    let counts = Arc::new(Mutex::new(Counts::default()));
    let out = writer::Basic::raw(std::io::stdout(), Coloring::Auto, Verbosity::Default)
        .tee::<ModemWorld, _>(writer::JUnit::for_tee(junit, Verbosity::Default))
        .tee::<ModemWorld, _>(
            Counter(counts.clone())
                .discard_stats_writes()
                .discard_arbitrary_writes(),
        )
        .normalized();
    let writer = ModemWorld::cucumber()
        .max_concurrent_scenarios(2)
        .with_writer(out)
        .fail_on_skipped()
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .after(|_, _, _, _, world| {
            async move {
                if let Some(w) = world {
                    w.shutdown().await;
                }
            }
            .boxed_local()
        })
        .run(features)
        .await;
    drop(writer);
    let c = counts.lock().map(|c| c.clone()).unwrap_or_default();
    println!("JUnit report: {}", junit_path.display());
    if c.parsing_errors > 0 {
        println!("{} feature file(s) did not parse", c.parsing_errors);
    }
    println!("{} passed, {} failed", c.passed, c.failed);
    if c.failed > 0 || c.parsing_errors > 0 || c.passed == 0 {
        std::process::exit(1);
    }
}

/// Scenario counts for the closing line (cucumber's own summary counts steps per kind and is
/// not reachable through a tee with the JUnit writer).
#[derive(Debug, Default, Clone)]
struct Counts {
    passed: usize,
    failed: usize,
    parsing_errors: usize,
    /// Scenarios in progress, by position: whether one of their steps or hooks failed.
    running: HashMap<(String, usize, usize), bool>,
}

#[derive(Debug)]
struct Counter(Arc<Mutex<Counts>>);

impl<W: cucumber::World> Writer<W> for Counter {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(&mut self, ev: parser::Result<Event<Cucumber<W>>>, _: &Self::Cli) {
        let Ok(mut c) = self.0.lock() else { return };
        let (feature, scenario, ev) = match ev.map(Event::into_inner) {
            Err(_) => {
                c.parsing_errors += 1;
                return;
            }
            Ok(Cucumber::Feature(f, Feature::Scenario(sc, ev))) => (f, sc, ev.event),
            Ok(Cucumber::Feature(f, Feature::Rule(_, Rule::Scenario(sc, ev)))) => (f, sc, ev.event),
            Ok(_) => return,
        };
        let key = (
            feature
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| feature.name.clone()),
            scenario.position.line,
            scenario.position.col,
        );
        let bad = match &ev {
            Scenario::Step(_, st) | Scenario::Background(_, st) => {
                matches!(st, event::Step::Failed(..) | event::Step::Skipped)
            }
            Scenario::Hook(_, event::Hook::Failed(..)) => true,
            Scenario::Finished => {
                let failed = c.running.remove(&key).unwrap_or(false);
                if failed {
                    c.failed += 1;
                } else {
                    c.passed += 1;
                }
                return;
            }
            _ => false,
        };
        *c.running.entry(key).or_insert(false) |= bad;
    }
}
