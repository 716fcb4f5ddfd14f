//! `modem-harness`: runs the Gherkin scenarios written from the vendors' doc logs, against the
//! simulator or a real module, and replays vendor-style logs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use modem_harness::device::Eol;
use modem_harness::junit;
use modem_harness::replay::{self, Log, Report, Target};
use modem_harness::report;
use modem_harness::rewrite::BrokerTarget;
use modem_harness::runner::{report, run, RunOptions, Summary};
use modem_harness::transcript::Transcript;
use modem_harness::world::Hardware;
use modem_sim::dialect::DialectKind;
use modem_sim::net::HostPort;

const EXIT: &str = "Exit codes: 0 every scenario passed / every log was reproduced; 1 a scenario failed or was skipped (undefined step), a feature did not parse, or a log diverged; 2 bad arguments, a file or device that cannot be opened, or a log that cannot be replayed as given (e.g. it needs --broker).";

/// Gherkin scenarios and vendor logs, run against modem-sim or a real module.
///
/// `features` starts a simulated module per scenario. `run` drives an external device on a
/// serial port (a USB adapter on a real module, or a simulator's tty) with the scenarios tagged
/// @hardware. `replay` replays a log as printed in the vendor guides.
#[derive(Debug, Parser)]
#[command(name = "modem-harness", version, after_help = EXIT)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// The external broker the module connects to, and its account.
#[derive(Debug, Args, Clone)]
struct BrokerArgs {
    /// User name on the broker: replaces the one in AT+MCONFIG / AT+MQTTUSER, and broker-side
    /// clients log in with it (default for those: root).
    #[arg(long, value_name = "U", requires = "mqtt_password")]
    mqtt_user: Option<String>,
    /// Password on the broker (with --mqtt-user).
    #[arg(long, value_name = "P", requires = "mqtt_user")]
    mqtt_password: Option<String>,
}

/// The simulated module's model and firmware, as `modem-sim --model/--firmware` take them.
#[derive(Debug, Args, Clone)]
struct ModelArgs {
    /// The member of the family: air780e, air780eg, air780ep, air780epv, air724ug (Air780E
    /// dialect) or l610 (fixtures/profiles/). Its power-on lines are the ones waited for.
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// The firmware version it reports, e.g. V1007.
    #[arg(long, value_name = "VERSION")]
    firmware: Option<String>,
}

impl ModelArgs {
    fn sim_model(&self) -> modem_harness::model::SimModel {
        modem_harness::model::SimModel {
            model: self.model.clone(),
            firmware: self.firmware.clone(),
            time: None,
        }
    }
}

/// How the scenarios talk and what they write (features and run).
#[derive(Debug, Args, Clone)]
struct ScenarioOutput {
    /// The line end after each command line the host sends: crlf (\r\n, what drivers
    /// send), cr (\r) or lf (\n).
    #[arg(long, value_name = "cr|crlf|lf", default_value_t = Eol::default(), value_parser = parse_eol)]
    eol: Eol,
    /// Write an HTML timeline per scenario into DIR (see `modem-harness report`).
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run .feature files against the simulator (a fresh one per scenario).
    #[command(after_help = EXIT)]
    Features(FeaturesArgs),
    /// Run the @hardware scenarios against a device on a serial port, one at a time.
    ///
    /// Hosts in AT+MIPSTART / AT+MQTTOPEN are rewritten to --broker, and the credentials in
    /// AT+MCONFIG / AT+MQTTUSER to --mqtt-user / --mqtt-password. @sim scenarios (fault
    /// injection, the embedded broker's hooks) are left out with a printed reason. Before each
    /// scenario the module is taken offline (AT+MDISCONNECT, AT+MIPCLOSE, AT+MQTTMSGSET=0).
    #[command(after_help = EXIT)]
    Run(RunArgs),
    /// Replay vendor-style logs: AT lines are sent, other lines expected in order.
    ///
    /// Without --port each log runs against a fresh in-process simulator (whose broker also
    /// accepts the log's own AT+MCONFIG account). Lines `//@ publish|subscribe|received|drop|
    /// pdn-deact|connect-timeout|fault ...` are the harness's actions between the lines (see
    /// fixtures/replay/). In an expected line `{}` matches any value within the line (a time,
    /// an address, an IMEI): `+NITZ: {}`, `+CGPADDR: 1,"{}"`.
    #[command(after_help = EXIT)]
    Replay(ReplayArgs),
    /// Check a driver under test: start a simulator and a broker, run COMMAND with MODEM_TTY,
    /// MODEM_BROKER_HOST, MODEM_BROKER_PORT, MODEM_MQTT_USER, MODEM_MQTT_PASSWORD,
    /// MODEM_ECHO_IN and MODEM_ECHO_OUT set, and check that it echoes every payload from
    /// MODEM_ECHO_IN to MODEM_ECHO_OUT, unchanged, through faults.
    #[command(after_help = CHECK_HELP)]
    CheckDriver(CheckDriverArgs),
    /// Render a transcript (.jsonl, as --transcripts writes them) as one self-contained HTML
    /// page: a lane each for host, module, broker and faults on one time axis, the failure
    /// highlighted, every item expandable to its raw bytes.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
struct FeaturesArgs {
    /// A .feature file or a directory of them.
    #[arg(default_value = "features")]
    path: PathBuf,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Write each scenario's transcript (.jsonl and .log) into DIR.
    #[arg(long, value_name = "DIR")]
    transcripts: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    output: ScenarioOutput,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The device: /dev/ttyUSB0, /dev/ttyACM0, a simulator's /dev/pts/N, or a URL as
    /// pyserial takes it: socket://HOST:PORT (raw TCP, e.g. modem-sim --serial
    /// tcp-listen://HOST:PORT) or rfc2217://HOST:PORT (an RFC 2217 server such as ser2net
    /// in front of a real module, or modem-sim --serial rfc2217://HOST:PORT).
    #[arg(long, value_name = "PATH|URL")]
    port: PathBuf,
    /// Baud rate of the serial line (both modules default to 115200).
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// The module on the port.
    #[arg(long, value_parser = parse_dialect)]
    dialect: DialectKind,
    /// The broker the module reaches, e.g. mqtt://192.168.1.10:1883.
    #[arg(long, value_name = "URL", value_parser = parse_broker)]
    broker: HostPort,
    #[command(flatten)]
    account: BrokerArgs,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Where each scenario's transcript (.jsonl and .log) goes.
    #[arg(long, value_name = "DIR", default_value = "modem-harness-transcripts")]
    transcripts: PathBuf,
    #[command(flatten)]
    output: ScenarioOutput,
    /// .feature files or directories of them.
    #[arg(default_value = "features")]
    features: Vec<PathBuf>,
    /// The module's model (scenarios tagged @model-<other> are left out): air780e,
    /// air780eg, air780ep, air780epv, air724ug, l610. Default: the dialect's default.
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// Log files.
    #[arg(required = true)]
    logs: Vec<PathBuf>,
    /// An external device instead of the in-process simulator.
    #[arg(long, value_name = "PATH")]
    port: Option<PathBuf>,
    /// Baud rate of --port.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// The module.
    #[arg(long, default_value = "air780e", value_parser = parse_dialect)]
    dialect: DialectKind,
    /// The broker the module reaches (hosts and credentials are rewritten to it). Without
    /// it, the in-process simulator uses its embedded broker.
    #[arg(long, value_name = "URL", value_parser = parse_broker)]
    broker: Option<HostPort>,
    #[command(flatten)]
    account: BrokerArgs,
    /// Seconds to wait for each expected line.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// The in-process simulator's timing: `fast` (the default: the log's lines, at once;
    /// `realistic` with --timing-tolerance), `realistic` (the delays of real modules), or a
    /// profile file (TOML or JSON).
    #[arg(long, value_name = "fast|realistic|FILE", value_parser = parse_timing)]
    timing: Option<modem_sim::timing::Profile>,
    /// Seed for the timing profile's jitter.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Also compare the module's delays with a log that carries time stamps (a serial
    /// tool's `[hh:mm:ss.mmm]` chunks): each gap of 50 ms or more in the log is measured in
    /// the replay and must be within PCT percent of it. Implies `--timing realistic`
    /// unless --timing is given.
    #[arg(long, value_name = "PCT")]
    timing_tolerance: Option<f64>,
    /// Also write a JUnit XML report here (one test case per log).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Where each log's transcript (.jsonl and .log) goes.
    #[arg(long, value_name = "DIR", default_value = "modem-harness-transcripts")]
    transcripts: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// The line end after each command line the host sends: crlf (\r\n, what drivers
    /// send), cr (\r) or lf (\n).
    #[arg(long, value_name = "cr|crlf|lf", default_value_t = Eol::default(), value_parser = parse_eol)]
    eol: Eol,
    /// Write an HTML timeline per log into DIR (see `modem-harness report`).
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CheckDriverArgs {
    /// The module to simulate.
    #[arg(long, default_value = "air780e", value_parser = parse_dialect)]
    dialect: DialectKind,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Seconds the driver has for its first echo (boot and connect).
    #[arg(long, default_value_t = 30)]
    first_deadline: u64,
    /// Seconds echo may take to resume after a fault.
    #[arg(long, default_value_t = 30)]
    recovery_deadline: u64,
    /// How long the simulated module takes: `realistic` (the default: the delays of real
    /// modules from vendor captures, and UART bytes paced at the baud rate, so a driver
    /// whose timeouts are shorter than the module's fails here and not in the field),
    /// `fast` (answers at once), or a profile file (TOML or JSON, the shape of
    /// sim/profiles/realistic.toml).
    #[arg(long, value_name = "fast|realistic|FILE", default_value = "realistic",
          value_parser = parse_timing)]
    timing: modem_sim::timing::Profile,
    /// Seed for the profile's jitter (the same seed draws the same delays).
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Stop at the first failing scenario.
    #[arg(long)]
    fail_fast: bool,
    /// The line end the driver is asked to send, in MODEM_EOL (cr, crlf or lf; the
    /// reference drivers in harness/examples/ follow it, a driver of yours may ignore it).
    #[arg(long, value_name = "cr|crlf|lf", default_value_t = Eol::default(), value_parser = parse_eol)]
    eol: Eol,
    /// The driver and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
    /// Write an HTML timeline per scenario into DIR (see `modem-harness report`).
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The transcript.
    transcript: PathBuf,
    /// Where to write the page (default: beside the transcript, with .html).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

const CHECK_HELP: &str = "Scenarios, in order: plain echo; a payload with \", \\ and CR LF; QoS 1; echo resumes after `closed`, after `pdn-deact`, after `kick-idle` with its 767, and after a broker restart (each within --recovery-deadline); echo under `uart-fragment`.

The module takes its real time by default (--timing realistic): CONNACK OK about 235 ms after the OK, a TLS connect 1.4-2.3 s, a refused connect seconds later, bytes at 115200 baud. A driver that passes with --timing fast and fails with realistic has timeouts shorter than the module's.

Example: modem-harness check-driver --junit check.xml -- target/debug/examples/echo_driver

Exit codes: 0 every scenario passed; 1 a scenario failed; 2 bad arguments or the check could not start.";

fn parse_dialect(s: &str) -> Result<DialectKind, String> {
    s.parse()
}

fn parse_timing(s: &str) -> Result<modem_sim::timing::Profile, String> {
    modem_sim::timing::Profile::load(s).map_err(|e| e.to_string())
}

fn parse_eol(s: &str) -> Result<Eol, String> {
    s.parse()
}

fn parse_broker(s: &str) -> Result<HostPort, String> {
    HostPort::from_mqtt_url(s)
}

fn target(broker: Option<HostPort>, account: BrokerArgs) -> Option<BrokerTarget> {
    broker.map(|addr| BrokerTarget {
        addr,
        user: account.mqtt_user,
        password: account.mqtt_password,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Features(a) => a.run().await,
        Cmd::Run(a) => a.run().await,
        Cmd::CheckDriver(a) => a.run().await,
        Cmd::Report(a) => render_report(&a.transcript, a.output),
        Cmd::Replay(a) => a.run().await,
    }
}

impl FeaturesArgs {
    async fn run(self) -> ExitCode {
        let FeaturesArgs {
            path,
            junit,
            concurrency,
            transcripts,
            model,
            output: ScenarioOutput { eol, html },
        } = self;
        let mut opts = RunOptions::new(path);
        opts.eol = eol;
        opts.html = html;
        opts.model = model.sim_model();
        if let Some(m) = &opts.model.model {
            let dialect = modem_sim::modem::profile::dialect_of(m).unwrap_or_default();
            if let Err(e) = opts.model.profile(dialect) {
                eprintln!("modem-harness: {e}");
                return ExitCode::from(2);
            }
        }
        opts.junit = junit;
        opts.concurrency = concurrency;
        opts.transcripts = transcripts;
        run_features(vec![opts]).await
    }
}

impl RunArgs {
    async fn run(self) -> ExitCode {
        let RunArgs {
            port,
            baud,
            dialect,
            broker,
            account,
            junit,
            transcripts,
            output: ScenarioOutput { eol, html },
            features,
            model,
        } = self;
        if let Err((code, line)) = check_port(&port, baud).await {
            eprintln!("modem-harness: {line}");
            return ExitCode::from(code);
        }
        let hardware = Hardware {
            port,
            baud,
            dialect,
            model: modem_harness::model::SimModel {
                model,
                ..Default::default()
            },
            broker: target(Some(broker), account),
        };
        let n = features.len();
        let runs = features
            .into_iter()
            .enumerate()
            .map(|(i, path)| {
                let mut o = RunOptions::new(path);
                o.hardware = Some(hardware.clone());
                o.eol = eol;
                o.transcripts = Some(transcripts.clone());
                o.html = html.clone();
                // One JUnit file per feature path, merged below.
                o.junit = junit.as_ref().map(|j| {
                    if n == 1 {
                        j.clone()
                    } else {
                        j.with_extension(format!("part{i}.xml"))
                    }
                });
                o
            })
            .collect::<Vec<_>>();
        let parts: Vec<PathBuf> = runs.iter().filter_map(|o| o.junit.clone()).collect();
        let code = run_features(runs).await;
        if let (Some(j), true) = (&junit, n > 1) {
            if let Err(e) = modem_harness::junit::merge(&parts, j) {
                eprintln!("modem-harness: writing {}: {e}", j.display());
                return ExitCode::from(2);
            }
        }
        println!("transcripts: {}", transcripts.display());
        code
    }
}

impl CheckDriverArgs {
    async fn run(self) -> ExitCode {
        let CheckDriverArgs {
            dialect,
            junit,
            first_deadline,
            recovery_deadline,
            timing,
            seed,
            fail_fast,
            eol,
            command,
            html,
        } = self;
        let opts = modem_harness::check::CheckOptions {
            dialect,
            command,
            eol,
            first_deadline: Duration::from_secs(first_deadline.max(1)),
            recovery_deadline: Duration::from_secs(recovery_deadline.max(1)),
            timing,
            seed,
            fail_fast,
        };
        println!(
            "{}",
            modem_harness::check::timing_note(&opts.timing, opts.seed)
        );
        match modem_harness::check::check_driver(&opts).await {
            Err(e) => {
                eprintln!("modem-harness check-driver: {e:#}");
                ExitCode::from(2)
            }
            Ok(mut outcomes) => {
                if let Some(dir) = &html {
                    if let Err(e) = report::write_check_reports(dir, &mut outcomes) {
                        eprintln!("modem-harness check-driver: --html {}: {e}", dir.display());
                        return ExitCode::from(2);
                    }
                }
                print!("{}", modem_harness::check::report(&outcomes));
                if let Some(path) = &junit {
                    if let Err(e) = modem_harness::check::write_junit(path, &outcomes) {
                        eprintln!("modem-harness check-driver: {e:#}");
                        return ExitCode::from(2);
                    }
                }
                if outcomes.iter().all(|o| o.passed) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
        }
    }
}

impl ReplayArgs {
    async fn run(self) -> ExitCode {
        let ReplayArgs {
            logs,
            port,
            baud,
            dialect,
            broker,
            account,
            timeout,
            timing,
            seed,
            timing_tolerance,
            junit,
            transcripts,
            model,
            eol,
            html,
        } = self;
        let model = model.sim_model();
        // --model names its dialect: `--model l610` needs no `--dialect l610`.
        let dialect = match model
            .model
            .as_deref()
            .and_then(modem_sim::modem::profile::dialect_of)
        {
            Some(d) if dialect == DialectKind::Air780e => d,
            _ => dialect,
        };
        if let Err(e) = model.profile(dialect) {
            eprintln!("modem-harness: {e}");
            return ExitCode::from(2);
        }
        if let Some(port) = &port {
            if let Err((code, line)) = check_port(port, baud).await {
                eprintln!("modem-harness: {line}");
                return ExitCode::from(code);
            }
        }
        let target = Target {
            port: port.map(|p| (p, baud)),
            dialect,
            broker: target(broker, account),
            timeout: Duration::from_secs(timeout.max(1)),
            timing: timing.unwrap_or_else(|| match timing_tolerance {
                Some(_) => modem_sim::timing::Profile::realistic(),
                None => modem_sim::timing::Profile::fast(),
            }),
            seed,
            model,
            eol,
        };
        replay_logs(
            &logs,
            &target,
            junit.as_deref(),
            &transcripts,
            html.as_deref(),
            timing_tolerance,
        )
        .await
    }
}

/// `--port` is checked once, before any scenario or log: what is not a serial line (a regular
/// file, a directory, /dev/null, the PTY multiplexer) is a bad argument (exit 2, one line); a
/// line on which nothing answers `AT` is reported once (exit 1) instead of timing out in every
/// scenario.
/// What a path given as `--port` must not be: a directory, a regular file, the PTY multiplexer.
fn check_path(port: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.is_dir() {
        return Err("a directory".into());
    }
    if meta.is_file() {
        return Err("a regular file, not a serial line".into());
    }
    if port
        .canonicalize()
        .is_ok_and(|p| p == Path::new("/dev/ptmx"))
    {
        return Err("the PTY multiplexer: opening it makes a new PTY that nothing answers".into());
    }
    Ok(())
}

async fn check_port(port: &Path, baud: u32) -> Result<(), (u8, String)> {
    let shown = port.display();
    let bad = |what: String| {
        Err((
            2,
            format!("--port {shown}: {what}; give the module's serial port (e.g. /dev/ttyUSB0), a simulator's tty (/dev/pts/N) or a socket:// or rfc2217:// URL"),
        ))
    };
    let url = port
        .to_str()
        .is_some_and(|p| p.starts_with("socket://") || p.starts_with("rfc2217://"));
    let meta = match std::fs::metadata(port) {
        Ok(m) => Some(m),
        // A URL is checked by opening it, below.
        Err(_) if url => None,
        Err(e) => return bad(format!("cannot open it: {e}")),
    };
    if let Some(meta) = meta {
        check_path(port, &meta).or_else(&bad)?;
    }
    let mut device = match modem_harness::device::Device::open(port, baud) {
        Ok(d) => d,
        Err(modem_harness::device::DeviceError::Termios { source, .. }) => {
            return bad(format!("not a serial line ({source})"));
        }
        Err(e) => return bad(e.to_string()),
    };
    let wait = modem_harness::device::DEFAULT_TIMEOUT;
    if device.sync(wait).await.is_err() {
        return Err((
            1,
            format!("--port {shown}: nothing answered AT with OK within {wait:?}; check that the module is powered and --baud ({baud}) is its rate"),
        ));
    }
    Ok(())
}

/// `modem-harness report`: the transcript is read from disk in passes, never whole.
fn render_report(transcript: &Path, output: Option<PathBuf>) -> ExitCode {
    let source = report::JsonlFile(transcript);
    // A first read checks the file, so that a file that is no transcript writes no page.
    if let Err(e) = report::EventSource::each(&source, &mut |_| {}) {
        if e.kind() == std::io::ErrorKind::InvalidData {
            eprintln!(
                "modem-harness report: {} is not a JSONL transcript: {e}",
                transcript.display()
            );
        } else {
            eprintln!(
                "modem-harness report: cannot read {}: {e}",
                transcript.display()
            );
        }
        return ExitCode::from(2);
    }
    let out = output.unwrap_or_else(|| transcript.with_extension("html"));
    let meta = report::Meta {
        title: transcript
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source: transcript.display().to_string(),
    };
    let written = std::fs::File::create(&out).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        let n = report::render_to(&mut w, &meta, &source)?;
        std::io::Write::flush(&mut w)?;
        Ok(n)
    });
    match written {
        Ok(n) => {
            println!("{n} events -> {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modem-harness report: cannot write {}: {e}", out.display());
            ExitCode::from(2)
        }
    }
}

async fn run_features(runs: Vec<RunOptions>) -> ExitCode {
    let mut total = Summary::default();
    for opts in runs {
        if !opts.features.exists() {
            eprintln!(
                "modem-harness: {} does not exist (give a .feature file or a directory of them)",
                opts.features.display()
            );
            return ExitCode::from(2);
        }
        match run(opts).await {
            Ok(s) => {
                total.passed += s.passed;
                total.failed += s.failed;
                total.parsing_errors += s.parsing_errors;
                total.skipped.extend(s.skipped);
                total.failures.extend(s.failures);
            }
            Err(e) => {
                eprintln!("modem-harness: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::from(report(&total) as u8)
}

/// `replay`: each log is checked, then replayed from its file as it is read, its transcript
/// written as it happens (`--transcripts`); what is kept of a log once it is done is its JUnit
/// test case. So the memory of a replay does not grow with the log.
async fn replay_logs(
    logs: &[PathBuf],
    target: &Target,
    junit: Option<&Path>,
    transcripts: &Path,
    html: Option<&Path>,
    timing_tolerance: Option<f64>,
) -> ExitCode {
    let started = Instant::now();
    let mut cases = Vec::new();
    let mut timing_off = 0usize;
    let mut usage_error = false;
    for path in logs {
        let name = path.display().to_string();
        let log = match replay::LogFile::scan(path, &name) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("modem-harness: {e}");
                return ExitCode::from(2);
            }
        };
        let out = ReplayOut {
            transcripts,
            html,
            timing_tolerance,
        };
        match replay_one(&log, target, &out).await {
            Ok((case, off)) => {
                timing_off += usize::from(off);
                cases.push(case);
            }
            Err(e) => {
                eprintln!("modem-harness: {name}: {e}");
                usage_error = true;
                cases.push(junit::Case {
                    classname: "replay".into(),
                    name,
                    time: None,
                    verdict: junit::Verdict::Error { message: e },
                });
            }
        }
    }
    let reproduced = cases.iter().filter(|c| !c.failed()).count();
    println!(
        "{reproduced} reproduced, {} diverged",
        cases.len() - reproduced
    );
    if let Some(j) = junit {
        let took = Some(started.elapsed().as_secs_f64());
        if let Err(e) = junit::write(j, "modem-harness replay", &cases, took) {
            eprintln!("modem-harness: cannot write {}: {e}", j.display());
            return ExitCode::from(2);
        }
    }
    if usage_error {
        ExitCode::from(2)
    } else if reproduced == cases.len() && timing_off == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A progress line cut to about `max` bytes: a 4 kB payload on every line would bury the
/// progress (the transcript keeps it whole).
fn shorten(line: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if line.len() <= max {
        return line.into();
    }
    let mut cut = max - 40;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} … ({} bytes)", &line[..cut], line.len()).into()
}

/// Where `replay` writes what a log gives.
struct ReplayOut<'a> {
    transcripts: &'a Path,
    html: Option<&'a Path>,
    timing_tolerance: Option<f64>,
}

/// Replays one log: its verdict as a JUnit test case, and whether its timing was off. `Err`:
/// it could not run to a verdict (printed by the caller).
async fn replay_one(
    log: &replay::LogFile,
    target: &Target,
    out: &ReplayOut<'_>,
) -> Result<(junit::Case, bool), String> {
    let name = &log.name;
    let stem = log
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "log".into());
    let transcript = Transcript::streaming(out.transcripts, &stem).map_err(|e| {
        format!(
            "cannot write the transcript into {}: {e}",
            out.transcripts.display()
        )
    })?;
    println!("replay {name} ({} lines to replay)", log.entries);
    let started = Instant::now();
    let mut progress = |line: &str| println!("{}", shorten(line, 160));
    let mut rep = replay::replay_steps(log, target, transcript, &mut progress)
        .await
        .map_err(|e| e.to_string())?;
    report::record_divergence(&rep);
    if let Err(e) = rep.transcript.finish() {
        eprintln!("modem-harness: cannot write the transcript: {e}");
    }
    match &rep.divergence {
        None => println!("REPRODUCED {name}"),
        Some(d) => println!("DIVERGED {name}\n{d}"),
    }
    let off = match out.timing_tolerance {
        Some(pct) => timing_off(log, &rep, pct)?,
        None => false,
    };
    let (_, vendor_log) = rep.transcript.files().unwrap_or_default();
    println!("transcript: {}", vendor_log.display());
    if let Some(dir) = out.html {
        match report::write_replay_report(dir, &stem, name, &mut rep) {
            Ok(p) => println!("report: {}", p.display()),
            Err(e) => eprintln!("modem-harness: cannot write the report: {e}"),
        }
    }
    let verdict = match &rep.divergence {
        None => junit::Verdict::Passed,
        Some(d) => junit::Verdict::Failed {
            message: match &rep.html {
                Some(p) => format!("diverged (report: {})", p.display()),
                None => "diverged".into(),
            },
            body: d.to_string(),
            output: Some(junit::Output::File(vendor_log)),
        },
    };
    let case = junit::Case {
        classname: "replay".into(),
        name: name.clone(),
        time: Some(started.elapsed().as_secs_f64()),
        verdict,
    };
    Ok((case, off))
}

/// `--timing-tolerance`: prints the gaps of a stamped log against the replay's and whether
/// any is beyond `pct`. The log is parsed whole here (stamped captures are short), and the
/// transcript read back from disk.
fn timing_off(log: &replay::LogFile, rep: &Report, pct: f64) -> Result<bool, String> {
    let name = &log.name;
    let text = std::fs::read_to_string(&log.path).map_err(|e| format!("cannot read it: {e}"))?;
    let parsed = Log::parse(name, &text).map_err(|e| e.to_string())?;
    let gaps = replay::timing::compare(&parsed, &rep.transcript.events());
    print!("{}", replay::timing::render(name, &gaps, pct));
    let off = gaps.iter().filter(|g| !g.within(pct)).count();
    if gaps.is_empty() {
        println!("TIMING UNCHECKED {name}: no time stamps to compare");
    } else if off == 0 {
        println!("TIMING WITHIN {pct}% {name}");
    } else {
        println!(
            "TIMING OFF {name}: {off} of {} gaps beyond {pct}%",
            gaps.len()
        );
    }
    Ok(off > 0)
}
