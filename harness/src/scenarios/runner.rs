//! Runs `.feature` files against the simulator, or in device mode against an external device
//! (`modem-harness run`): cucumber's terminal report (a line per step), an optional JUnit
//! report, a transcript per scenario, a divergence report per failed scenario, and scenario
//! counts for the closing `N passed, N failed` line CI reads.
//!
//! Device mode runs only scenarios tagged `@hardware`; `@sim` scenarios (fault injection, the
//! embedded broker's hooks) and untagged ones are filtered out before the run, each with a
//! printed reason (the run fails on skipped steps, so they must not start).
//!
//! Used by `cargo test` (harness/tests/features.rs) and by `modem-harness features` / `run`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cucumber::event::{self, Cucumber, Feature, Rule, Scenario};
use cucumber::writer::{self, Coloring, Verbosity};
use cucumber::{parser, Event, World as _, Writer, WriterExt as _};
use futures::FutureExt as _;

use crate::device::Eol;
use crate::world::{Hardware, ScenarioSource};
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
    /// Device mode: the device and broker to use instead of a simulator per scenario.
    pub hardware: Option<Hardware>,
    /// Where to write each scenario's transcript (`.jsonl` and `.log`).
    pub transcripts: Option<PathBuf>,
    /// The simulated model and firmware (`--model`, `--firmware`).
    pub model: crate::model::SimModel,
    /// The line end the host sends after each command.
    pub eol: Eol,
    /// Run only the scenarios that open a `>` prompt or send a payload ([`uses_prompt`]):
    /// the ones whose outcome depends on the line end.
    pub only_prompts: bool,
    /// Where to write each scenario's HTML report (`crate::report`).
    pub html: Option<PathBuf>,
}

impl RunOptions {
    /// Simulator mode with defaults.
    pub fn new(features: PathBuf) -> Self {
        RunOptions {
            features,
            junit: None,
            concurrency: 2,
            hardware: None,
            transcripts: None,
            model: crate::model::SimModel::default(),
            eol: Eol::default(),
            only_prompts: false,
            html: None,
        }
    }
}

/// A failed scenario, for the divergence report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReport {
    pub feature: String,
    pub line: usize,
    pub scenario: String,
    pub tags: Vec<String>,
    /// `Keyword text (line N)` of the failed step.
    pub step: String,
    /// What went wrong: expected and actual lines and the transcript's last lines.
    pub error: String,
    /// The scenario's HTML report (`--html`).
    pub html: Option<PathBuf>,
}

/// Scenario counts of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Feature files that did not parse.
    pub parsing_errors: usize,
    /// Scenarios left out in device mode, each with its reason.
    pub skipped: Vec<String>,
    pub failures: Vec<FailureReport>,
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
    let junit = junit_sink(&opts)?;
    let counts = Arc::new(Mutex::new(Counts::default()));
    let skipped = Arc::new(Mutex::new(Vec::<String>::new()));
    let out = writer::Basic::raw(std::io::stdout(), Coloring::Auto, Verbosity::Default)
        .tee::<ModemWorld, _>(writer::JUnit::for_tee(junit, Verbosity::Default))
        .tee::<ModemWorld, _>(
            Counter(counts.clone())
                .discard_stats_writes()
                .discard_arbitrary_writes(),
        )
        .normalized();
    // One device cannot run two scenarios at once.
    let concurrency = if opts.hardware.is_some() {
        1
    } else {
        opts.concurrency.max(1)
    };
    let filter = scenario_filter(&opts, skipped.clone());
    let before = Before {
        hardware: opts.hardware.clone(),
        model: opts.model.clone(),
        eol: opts.eol,
    };
    let kept = Arc::new(Mutex::new(Vec::<crate::report::Kept>::new()));
    let after = After {
        transcripts: opts.transcripts.clone(),
        html: opts.html.is_some(),
        kept: kept.clone(),
    };
    let writer = ModemWorld::cucumber()
        .max_concurrent_scenarios(concurrency)
        .with_writer(out)
        .fail_on_skipped()
        // cucumber would parse the process's argv (and exit 2 on `cargo test FILTER`).
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .before(move |f, r, sc, world| {
            before.prepare(world, f, r, sc);
            async {}.boxed_local()
        })
        .after(move |f, _, sc, finished, world| {
            after.clone().finish(f, sc, finished, world).boxed_local()
        })
        .filter_run(opts.features.clone(), filter)
        .await;
    drop(writer);
    let mut c = counts.lock().map(|c| c.clone()).unwrap_or_default();
    let skipped = skipped.lock().map(|s| s.clone()).unwrap_or_default();
    let kept = kept.lock().map(|k| k.clone()).unwrap_or_default();
    crate::report::write_scenario_reports(&opts, &kept, &mut c.failures)?;
    Ok(Summary {
        passed: c.passed,
        failed: c.failed,
        parsing_errors: c.parsing_errors,
        skipped,
        failures: c.failures,
    })
}

/// Where cucumber's JUnit writer writes: `--junit`'s file (its directory made), or nowhere.
fn junit_sink(opts: &RunOptions) -> std::io::Result<Box<dyn Write>> {
    Ok(match &opts.junit {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Box::new(std::fs::File::create(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?)
        }
        None => Box::new(std::io::sink()),
    })
}

/// Which scenarios run: with `only_prompts` those that open a prompt; in device mode those
/// the device can run (the others are printed and kept in `skipped`, with their reason).
fn scenario_filter(
    opts: &RunOptions,
    skipped: Arc<Mutex<Vec<String>>>,
) -> impl Fn(
    &cucumber::gherkin::Feature,
    Option<&cucumber::gherkin::Rule>,
    &cucumber::gherkin::Scenario,
) -> bool {
    let hw_filter = opts.hardware.clone();
    let only_prompts = opts.only_prompts;
    move |f, r, sc| {
        if only_prompts && !uses_prompt(f, r, sc) {
            return false;
        }
        let Some(hw) = &hw_filter else { return true };
        let Some(reason) = device_mode_skip(hw, f, r, sc) else {
            return true;
        };
        let line = format!(
            "skip  {}:{}  {}  ({reason})",
            feature_path(f),
            sc.position.line,
            sc.name
        );
        println!("{line}");
        if let Ok(mut s) = skipped.lock() {
            s.push(line);
        }
        false
    }
}

/// What the world gets before each scenario.
struct Before {
    hardware: Option<Hardware>,
    model: crate::model::SimModel,
    eol: Eol,
}

impl Before {
    fn prepare(
        &self,
        world: &mut ModemWorld,
        f: &cucumber::gherkin::Feature,
        r: Option<&cucumber::gherkin::Rule>,
        sc: &cucumber::gherkin::Scenario,
    ) {
        world.hardware = self.hardware.clone();
        world.model = self.model.clone();
        let tags = all_tags(f, r, sc);
        // `@model-<name>`: the scenario's module (seed 003 is an Air724UG).
        if let Some(m) = tag_model(&tags) {
            world.model.model = Some(m);
        }
        world.eol = self.eol;
        world.source = Some(ScenarioSource {
            feature: feature_path(f),
            line: sc.position.line,
            name: sc.name.clone(),
            tags,
        });
    }
}

/// What happens after each scenario: its failure into its transcript, the transcript kept
/// for the reports and written out, the world shut down.
#[derive(Clone)]
struct After {
    transcripts: Option<PathBuf>,
    html: bool,
    kept: Arc<Mutex<Vec<crate::report::Kept>>>,
}

impl After {
    fn finish<'a>(
        self,
        f: &'a cucumber::gherkin::Feature,
        sc: &'a cucumber::gherkin::Scenario,
        finished: &'a event::ScenarioFinished,
        world: Option<&'a mut ModemWorld>,
    ) -> impl std::future::Future<Output = ()> + 'a {
        let failed = crate::report::failure_of(finished);
        let key = (feature_path(f), sc.position.line, sc.name.clone());
        let stem = format!(
            "{}-{}",
            f.path
                .as_ref()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "feature".into()),
            sc.position.line
        );
        async move {
            let Some(w) = world else { return };
            if let Some(err) = failed {
                crate::report::record_failure(&w.transcript, err);
            }
            if self.html || self.transcripts.is_some() {
                if let Ok(mut k) = self.kept.lock() {
                    k.push(crate::report::Kept::new(key, &stem, &w.transcript));
                }
            }
            if let Some(dir) = &self.transcripts {
                if let Err(e) = w.transcript.write(dir, &stem) {
                    eprintln!(
                        "cannot write the transcript {stem} in {}: {e}",
                        dir.display()
                    );
                }
            }
            w.shutdown().await;
        }
    }
}

/// Whether a scenario (with its backgrounds) opens a `>` data prompt or sends a payload:
/// `AT+MPUBEX`, `AT+FSWRITE`, `AT+GTSSLFILE`, the length forms of `AT+MQTTPUB` /
/// `AT+MQTTWILL`, raw data steps, or a `>` line in a log excerpt. These are the scenarios a
/// line end can break (issue 10: the LF of a CR LF taken as the first payload byte), so the
/// test suite runs them under every [`Eol`].
pub fn uses_prompt(
    f: &cucumber::gherkin::Feature,
    r: Option<&cucumber::gherkin::Rule>,
    sc: &cucumber::gherkin::Scenario,
) -> bool {
    let steps = all_steps(f, r, sc);
    let prompt_text = |t: &str| {
        let up = t.to_ascii_uppercase();
        up.contains("AT+MPUBEX")
            || up.contains("AT+FSWRITE")
            || up.contains("AT+GTSSLFILE")
            || t.lines().any(|l| {
                let l = crate::engine::log::strip_comment(l);
                l == ">" || l.starts_with("> ") || l == "\">\""
            })
    };
    let mut any = false;
    for st in steps {
        any |= prompt_text(&st.value)
            || st.value.starts_with("the host sends the data ")
            || st.value.starts_with("the host sends the bytes ")
            || st.value.contains("the modem says \">\"")
            || st.docstring.as_deref().is_some_and(prompt_text);
    }
    any
}

/// A scenario's steps with its backgrounds' (the feature's, then the rule's) first.
fn all_steps<'a>(
    f: &'a cucumber::gherkin::Feature,
    r: Option<&'a cucumber::gherkin::Rule>,
    sc: &'a cucumber::gherkin::Scenario,
) -> impl Iterator<Item = &'a cucumber::gherkin::Step> {
    f.background
        .iter()
        .flat_map(|b| b.steps.iter())
        .chain(
            r.into_iter()
                .flat_map(|r| r.background.iter().flat_map(|b| b.steps.iter())),
        )
        .chain(sc.steps.iter())
}

fn feature_path(f: &cucumber::gherkin::Feature) -> String {
    f.path
        .as_ref()
        .map(|p| {
            // Relative to the working directory when possible: `features/x.feature:12`.
            let cwd = std::env::current_dir().unwrap_or_default();
            p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
        })
        .unwrap_or_else(|| f.name.clone())
}

fn all_tags(
    f: &cucumber::gherkin::Feature,
    r: Option<&cucumber::gherkin::Rule>,
    sc: &cucumber::gherkin::Scenario,
) -> Vec<String> {
    f.tags
        .iter()
        .chain(r.map(|r| r.tags.iter()).into_iter().flatten())
        .chain(sc.tags.iter())
        .map(|t| t.trim_start_matches('@').to_string())
        .collect()
}

/// Why a scenario does not run in device mode, if it does not.
/// The model a scenario is written for: its `@model-<name>` tag.
pub fn tag_model(tags: &[String]) -> Option<String> {
    tags.iter()
        .find_map(|t| t.strip_prefix("model-"))
        .map(str::to_string)
}

fn device_mode_skip(
    hw: &Hardware,
    f: &cucumber::gherkin::Feature,
    r: Option<&cucumber::gherkin::Rule>,
    sc: &cucumber::gherkin::Scenario,
) -> Option<String> {
    let tags = all_tags(f, r, sc);
    if tags.iter().any(|t| t == "sim") {
        return Some(
            "@sim: needs the simulator (fault injection, the embedded broker's hooks or its test PKI), which a real module does not have"
                .into(),
        );
    }
    if !tags.iter().any(|t| t == "hardware") {
        return Some("not tagged @hardware".into());
    }
    if let Some(want) = tag_model(&tags) {
        let have = hw.model.model.clone().unwrap_or_else(|| {
            modem_sim::modem::Profile::lookup(hw.dialect, None, None)
                .map(|p| p.model)
                .unwrap_or_default()
        });
        if !want.eq_ignore_ascii_case(&have) {
            return Some(format!(
                "written for the {want} (@model-{want}), and the device is an {have} (give run --model)"
            ));
        }
    }
    // The module a scenario is written for, from its `Given a simulated <module>` step.
    for st in all_steps(f, r, sc) {
        if let Some(rest) = st.value.strip_prefix("a simulated ") {
            let module: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if !module.eq_ignore_ascii_case(&hw.dialect.to_string()) {
                return Some(format!(
                    "written for the {module}, and the device is an {}",
                    hw.dialect
                ));
            }
        }
    }
    None
}

/// Prints the closing lines and gives the process exit code (0 only when [`Summary::ok`]).
pub fn report(summary: &Summary) -> i32 {
    if !summary.failures.is_empty() {
        println!(
            "\n==== divergence report: {} failed scenario(s) ====",
            summary.failures.len()
        );
        for f in &summary.failures {
            let section: Vec<String> = f
                .tags
                .iter()
                .filter(|t| {
                    t.starts_with("seed-") || t.starts_with("section-") || t.starts_with("flow-")
                })
                .map(|t| format!("@{t}"))
                .collect();
            println!("\n--- {}:{}  Scenario: {}", f.feature, f.line, f.scenario);
            if !section.is_empty() {
                println!("    seed section: {}", section.join(" "));
            }
            println!("    failed step: {}", f.step);
            if let Some(p) = &f.html {
                println!("    report: {}", p.display());
            }
            for l in f.error.lines() {
                println!("    {l}");
            }
        }
        println!();
    }
    if !summary.skipped.is_empty() {
        println!(
            "{} scenario(s) left out (reasons above)",
            summary.skipped.len()
        );
    }
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
    failures: Vec<FailureReport>,
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
            Scenario::Step(step, st) | Scenario::Background(step, st) => {
                let failure = match st {
                    event::Step::Failed(_, _, _, err) => Some(err.to_string()),
                    event::Step::Skipped => Some("no step definition matches this step".into()),
                    _ => None,
                };
                if let Some(error) = &failure {
                    let tags = feature
                        .tags
                        .iter()
                        .chain(scenario.tags.iter())
                        .map(|t| t.trim_start_matches('@').to_string())
                        .collect();
                    c.failures.push(FailureReport {
                        feature: feature_path(&feature),
                        line: scenario.position.line,
                        scenario: scenario.name.clone(),
                        tags,
                        step: format!(
                            "{}{} (line {})",
                            step.keyword, step.value, step.position.line
                        ),
                        error: error
                            .strip_prefix("Step panicked. Captured output: ")
                            .unwrap_or(error)
                            .to_string(),
                        html: None,
                    });
                }
                failure.is_some()
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
