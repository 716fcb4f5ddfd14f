//! Runs `.feature` files against the simulator: cucumber's terminal report, an optional JUnit
//! report, and scenario counts for the closing `N passed, N failed` line CI reads.
//!
//! Used by `cargo test` (harness/tests/features.rs) and by `modem-harness features`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cucumber::event::{self, Cucumber, Feature, Rule, Scenario};
use cucumber::writer::{self, Coloring, Verbosity};
use cucumber::{parser, Event, World as _, Writer, WriterExt as _};
use futures::FutureExt as _;

use crate::ModemWorld;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// A `.feature` file or a directory of them.
    pub features: PathBuf,
    /// Where to write JUnit XML, if anywhere.
    pub junit: Option<PathBuf>,
    /// Scenarios run at once (each has its own simulator and PTY).
    pub concurrency: usize,
}

/// Scenario counts of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Feature files that did not parse.
    pub parsing_errors: usize,
}

impl Summary {
    /// Green only when something ran and nothing failed, was skipped or did not parse.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.parsing_errors == 0 && self.passed > 0
    }
}

/// Runs the scenarios, printing cucumber's report to stdout. A skipped step (an undefined one,
/// for instance) counts as a failure.
pub async fn run(opts: RunOptions) -> std::io::Result<Summary> {
    let junit: Box<dyn Write> = match &opts.junit {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Box::new(std::fs::File::create(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?)
        }
        None => Box::new(std::io::sink()),
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
        .max_concurrent_scenarios(opts.concurrency.max(1))
        .with_writer(out)
        .fail_on_skipped()
        // cucumber would parse the process's argv (and exit 2 on `cargo test FILTER`).
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .after(|_, _, _, _, world| {
            async move {
                if let Some(w) = world {
                    w.shutdown().await;
                }
            }
            .boxed_local()
        })
        .run(opts.features)
        .await;
    drop(writer);
    let c = counts.lock().map(|c| c.clone()).unwrap_or_default();
    Ok(Summary {
        passed: c.passed,
        failed: c.failed,
        parsing_errors: c.parsing_errors,
    })
}

/// Prints the closing lines and gives the process exit code (0 only when [`Summary::ok`]).
pub fn report(summary: &Summary) -> i32 {
    if summary.parsing_errors > 0 {
        println!("{} feature file(s) did not parse", summary.parsing_errors);
    }
    println!("{} passed, {} failed", summary.passed, summary.failed);
    if summary.ok() {
        0
    } else {
        1
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
