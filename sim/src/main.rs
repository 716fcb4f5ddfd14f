//! `modem-sim`: a simulated Air780E on a pseudo-TTY, with real MQTT behind it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use modem_sim::broker::BrokerConfig;
use modem_sim::dialect::DialectKind;
use modem_sim::fleet::{Fleet, MAX_TCP_COUNT};
use modem_sim::modem::Identity;
use modem_sim::net::HostPort;
use modem_sim::sim::{BrokerSetup, ReadyInfo, SimConfig, TlsServer};
use modem_sim::timing::Profile;
use modem_sim::tls::pki::{Pki, PkiOptions};
use modem_sim::uart::Serial;
use tracing_subscriber::EnvFilter;

/// A software cellular modem for testing drivers without hardware.
///
/// Opens a pseudo-TTY (or a TCP endpoint, --serial) that speaks the module's AT dialect byte for byte. Its MQTT commands
/// (AT+MIPSTART, AT+MCONNECT, ...) open real MQTT 3.1.1 sessions: by default to a broker
/// embedded in this process, or to the broker named with --broker.
///
/// Open the printed tty with your driver, or by hand: picocom -b 115200 /dev/pts/N
#[derive(Debug, Parser)]
#[command(
    name = "modem-sim",
    version,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,

    /// Which module to be.
    #[arg(long, default_value = "air780e", value_parser = parse_dialect)]
    dialect: DialectKind,

    /// Also make a symlink to the tty at PATH (removed on exit), e.g. /tmp/ttyMODEM.
    /// With --count N > 1 the links are PATH-0 .. PATH-(N-1).
    #[arg(long, value_name = "PATH")]
    link: Option<PathBuf>,

    /// Where the module's UART is. pty (default): a pseudo-terminal. tcp-listen://HOST:PORT:
    /// a TCP port the host connects to (pyserial socket://, QEMU -serial tcp:HOST:PORT),
    /// one connection at a time, a new one replacing the old; output while nobody is
    /// connected is lost, as on a real UART. tcp-connect://HOST:PORT: dial the host's
    /// listener (QEMU -serial tcp::PORT,server; Renode CreateServerSocketTerminal), retrying
    /// until it is up. rfc2217://HOST:PORT: like tcp-listen, speaking RFC 2217 (pyserial
    /// rfc2217://, ser2net clients): the baud rate, framing and DTR/RTS the host sets are the
    /// UART's. Given once with --count N, modem i gets PORT+i; or give one per modem.
    #[arg(long, value_name = "ENDPOINT", value_parser = parse_serial)]
    serial: Vec<Serial>,

    /// Simulate N modems in this one process (a fleet), each with its own UART and MQTT
    /// sessions, all sharing one broker. IMEIs count up from --imei. At most 4000 on PTYs;
    /// over TCP (--serial tcp-listen://...) memory and open files are the limit.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TCP_COUNT as u64))]
    count: u64,

    /// Send every plain MQTT connection to this broker instead of the embedded one,
    /// e.g. mqtt://127.0.0.1:1883. No embedded broker is started.
    #[arg(long, value_name = "URL", value_parser = parse_broker)]
    broker: Option<HostPort>,

    /// Route one host name (as written in AT+MIPSTART) to HOST:PORT; repeatable.
    /// Wins over --broker, e.g. --resolve airtest.openluat.com=127.0.0.1:1883.
    #[arg(long, value_name = "NAME=HOST:PORT", value_parser = parse_resolve)]
    resolve: Vec<(String, HostPort)>,

    /// Let sockets (AT+CIPSTART) go to the host and port the AT command names, looking names
    /// up in DNS. Without it, a name or address not given with --resolve goes to the embedded
    /// TCP/UDP echo service on loopback, so nothing leaves the machine by accident.
    #[arg(long)]
    direct: bool,

    /// Once the UART takes commands, write a JSON object here (atomically): tty, serial, link,
    /// dialect, mqtt (embedded broker host:port), mqtts, control, tcp_echo, udp_echo, pid, and every modem's ttys,
    /// serials and links.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,

    /// Address of the embedded broker (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    broker_bind: std::net::SocketAddr,

    /// Address of the embedded HTTP test server, started with the embedded broker (port 0
    /// picks a free port; its HTTPS listener takes another free port on the same address).
    /// AT+HTTPACTION / AT+HTTPACT go there unless --resolve names the URL's host.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    http_bind: std::net::SocketAddr,

    /// User name the embedded broker accepts (the vendor test server's, seed 000 section 4.3).
    #[arg(long, default_value = "root")]
    mqtt_user: String,

    /// Password the embedded broker accepts.
    #[arg(long, default_value = "luat123456")]
    mqtt_password: String,

    /// The embedded broker also accepts clients without a user name: for drivers that never
    /// send AT+MCONFIG (the Air780E then connects as its IMEI with no credentials).
    #[arg(long)]
    allow_anonymous: bool,

    /// Send every TLS connection (AT+SSLMIPSTART) to this broker instead of the embedded
    /// broker's TLS listener, e.g. mqtts://127.0.0.1:8883. --resolve still wins.
    #[arg(long, value_name = "URL", value_parser = parse_tls_broker)]
    tls_broker: Option<HostPort>,

    /// Address of the embedded broker's TLS listener (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    tls_bind: std::net::SocketAddr,

    /// The TLS listener's certificate (PEM). Default: the test PKI's server.crt, compiled in.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The TLS listener's private key (PEM). Default: the test PKI's server.key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// The CA that signs the listener's certificate and, with --tls-client-auth, the client
    /// certificates it accepts. Default: the test PKI's ca.crt.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,

    /// Mutual TLS: the TLS listener refuses clients without a certificate signed by the CA.
    #[arg(long)]
    tls_client_auth: bool,

    /// The embedded broker keeps up to N QoS 1/2 messages per client above those in flight
    /// (more are dropped and counted), and drops (and counts) QoS 0 messages for a client with
    /// N packets waiting: Mosquitto's max_queued_messages, same default.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    broker_max_queued_messages: u64,

    /// The same limit in payload bytes per client: messages are queued until the first of the
    /// two limits is reached (one larger than N still goes alone). 0: no maximum.
    /// Mosquitto's max_queued_bytes, same default.
    #[arg(long, value_name = "N", default_value_t = 0)]
    broker_max_queued_bytes: u64,

    /// Also queue QoS 0 messages for a persistent session (clean session 0) whose client is
    /// offline, within the limits above (MQTT 3.1.1 keeps only QoS 1 and 2 for it).
    /// Mosquitto's queue_qos0_messages, off by default there too.
    #[arg(long)]
    broker_queue_qos0_messages: bool,

    /// QoS 1/2 messages the embedded broker has in flight to one client at a time:
    /// Mosquitto's max_inflight_messages, same default.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=65535))]
    broker_max_inflight_messages: u64,

    /// Back-pressure: a publisher whose messages fill a subscriber's queue past half is not
    /// read until it drains, as long as that subscriber keeps taking messages; one that takes
    /// nothing for SECS holds nobody (its messages are dropped and counted). 0: never hold a
    /// publisher (Mosquitto's behaviour).
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_secs)]
    broker_publisher_hold: f64,

    /// Serve the fault-injection control socket here (mode 0600; `modem-sim inject --control
    /// PATH <fault>`). Default: a private temporary directory, named in the banner and the
    /// ready file.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,

    /// How long the module takes. `realistic` (the default, to find a driver's timing bugs):
    /// the delays real modules show in the vendors' timestamped captures (CONNACK OK about
    /// 235 ms after the OK, a TLS CONNECT OK 1.4-2.3 s, a refused connect seconds later),
    /// added to the real network's time, and bytes paced at the UART's baud rate (AT+IPR).
    /// `fast`: everything as soon as the network answers (microseconds). Or FILE: your own
    /// profile, TOML or JSON in the shape of sim/profiles/realistic.toml.
    #[arg(long, value_name = "fast|realistic|FILE", default_value = "realistic",
          value_parser = parse_timing)]
    timing: Profile,

    /// Seed for the timing profile's jitter: the same seed draws the same delays.
    /// Default: a fresh seed, printed in the banner so a run can be repeated.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// The IMEI the module reports (AT+CGSN).
    #[arg(long, default_value = "868488076771714")]
    imei: String,

    /// The SIM's IMSI (AT+CIMI), 15 digits.
    #[arg(long, default_value = "460046616008063", value_parser = parse_imsi)]
    imsi: String,

    /// The SIM's ICCID (AT+ICCID, AT+CCID), 19 or 20 characters (digits, and a final F or
    /// check letter as real cards print).
    #[arg(long, default_value = "89860117831003134201", value_parser = parse_iccid)]
    iccid: String,

    /// Which member of the family to be (ATI/AT+CGMR strings, power-on lines, the <ber> of
    /// AT+CSQ): air780e, air780eg, air780ep, air780epv, air724ug; l610 with --dialect l610.
    /// The table: fixtures/profiles/<dialect>.tsv.
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,

    /// The firmware version the model reports, e.g. V1007 (ATI then prints
    /// AirM2M_780EP_V1007_LTE_AT with --model air780ep). A version the table has picks its
    /// row (its power-on lines); another takes the model's default row.
    #[arg(long, value_name = "VERSION")]
    firmware: Option<String>,

    /// The time the module's clock shows at power-on (UTC; +NITZ, AT+CCLK?), e.g.
    /// 2024/08/23,06:52:50 or 2024-08-23T06:52:50Z. Default: the host's clock.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    time: Option<i64>,

    /// More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Write a fresh test PKI (ca.crt, server.crt, server.key, client.crt, client.key) into DIR.
    /// Test-only: the keys are not secret. The server certificate is valid for localhost,
    /// 127.0.0.1 and the host names of the vendor guides.
    Certs {
        /// Where to write the files.
        #[arg(long, value_name = "DIR", default_value = "certs")]
        out: PathBuf,
    },
    /// Inject a fault into a running simulator through its control socket; exits 0 once the
    /// fault is applied (its URCs are on the tty).
    #[command(after_help = inject_help())]
    Inject {
        /// The simulator's control socket (its banner and ready file name it).
        #[arg(long, value_name = "PATH")]
        control: PathBuf,
        /// The fault (see the list below).
        fault: String,
        /// The fault's arguments.
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print a running simulator's counters as JSON: output lost because the host was not
    /// reading, messages the embedded broker dropped or held.
    #[command(after_help = status_help())]
    Status {
        /// The simulator's control socket (its banner and ready file name it).
        #[arg(long, value_name = "PATH")]
        control: PathBuf,
    },
}

fn status_help() -> &'static str {
    "Prints one JSON object:\n  uart.dropped_writes, uart.dropped_bytes: module output lost because the host was not reading (a module has no flow control)\n  uart.stalls: times the host stopped reading; uart.host_stalled: it is not reading now; uart.queued_bytes: output waiting\n  broker (null with --broker): dropped_qos0, dropped_queued (Mosquitto's max_queued_messages and max_queued_bytes rules), publisher_holds, stalled_subscribers (back-pressure), retained\n\nExit: 0 with the status, 1 when the simulator cannot be reached."
}

fn inject_help() -> String {
    format!(
        "Faults:\n{}\n\nExamples:\n  modem-sim inject --control /tmp/air.sock closed\n  modem-sim inject --control /tmp/air.sock pdn-deact 3\n  modem-sim inject --control /tmp/air.sock kick-idle 5\n  modem-sim inject --control /tmp/air.sock reset on publish 3\n  modem-sim inject --control /tmp/air.sock closed after 10\n\nExit: 0 once applied (armed, with a trigger), 1 when the simulator cannot be reached or refuses, 2 on an unknown fault or bad arguments.",
        modem_sim::fault::fault_list()
    )
}

const EXAMPLES: &str = "Examples:
  modem-sim                                   # Air780E + embedded broker; prints the tty
  modem-sim --link /tmp/ttyAIR --ready-file /tmp/air.json
  modem-sim --count 100 --link /tmp/ttyAIR    # 100 modems: /tmp/ttyAIR-0 .. /tmp/ttyAIR-99
  modem-sim --serial tcp-listen://127.0.0.1:4444   # the UART on TCP: pyserial socket://127.0.0.1:4444
  modem-sim --serial rfc2217://127.0.0.1:2217      # pyserial rfc2217://127.0.0.1:2217 (baud, DTR, RTS)
  modem-sim --serial tcp-connect://127.0.0.1:4444  # QEMU -serial tcp::4444,server / Renode server terminal
  modem-sim --count 1000 --serial tcp-listen://127.0.0.1:40000   # modem i on port 40000+i, no PTYs
  modem-sim --broker mqtt://127.0.0.1:1883    # use your own broker (e.g. Mosquitto)
  modem-sim --resolve airtest.openluat.com=127.0.0.1:1883
  modem-sim --resolve tcplab.openluat.com=127.0.0.1:7000   # AT+CIPSTART to your TCP server
  modem-sim --direct                          # AT+CIPSTART goes where the command says (DNS too)
  modem-sim --tls-client-auth                 # the TLS listener requires client certificates
  modem-sim --tls-broker mqtts://127.0.0.1:8883   # AT+SSLMIPSTART goes to your TLS broker
  modem-sim certs --out certs/                # write a fresh test PKI
  modem-sim --control /tmp/air.sock           # then: modem-sim inject --control /tmp/air.sock closed
  modem-sim --timing fast                     # answer at once (no delays, no baud pacing)
  modem-sim --timing my-network.toml --seed 7 # your own timing profile, repeatable jitter

Exit: 0 after SIGINT/SIGTERM, 1 when startup fails, 2 on bad arguments.";

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds from 0 to 3600")),
    }
}

fn parse_dialect(s: &str) -> Result<DialectKind, String> {
    s.parse()
}

fn parse_timing(s: &str) -> Result<Profile, String> {
    Profile::load(s).map_err(|e| e.to_string())
}

fn parse_imsi(s: &str) -> Result<String, String> {
    if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not an IMSI: 15 digits, e.g. 460046616008063"
        ))
    }
}

fn parse_iccid(s: &str) -> Result<String, String> {
    let ok = (19..=20).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
        && s.starts_with("89");
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not an ICCID: 19 or 20 characters starting 89, e.g. 89860117831003134201"
        ))
    }
}

fn parse_time(s: &str) -> Result<i64, String> {
    modem_sim::modem::Civil::parse(s)
        .map(|c| c.to_unix())
        .ok_or_else(|| {
            format!("`{s}` is not a time: use 2024/08/23,06:52:50 or 2024-08-23T06:52:50Z (UTC, 1970-2099)")
        })
}

/// The dialect (`--model` names one) and the profile, or what is wrong with the flags.
fn profile(cli: &Cli) -> Result<(DialectKind, modem_sim::modem::Profile), String> {
    let mut dialect = cli.dialect;
    if let Some(m) = &cli.model {
        match modem_sim::modem::profile::dialect_of(m) {
            Some(d) if d == dialect => {}
            Some(d) if dialect == DialectKind::Air780e => dialect = d,
            Some(d) => {
                return Err(format!(
                    "--model {m} is a {d} model, not a {dialect} one: drop --dialect {dialect}"
                ))
            }
            None => {}
        }
    }
    let p =
        modem_sim::modem::Profile::lookup(dialect, cli.model.as_deref(), cli.firmware.as_deref())
            .map_err(|e| e.to_string())?;
    Ok((dialect, p))
}

fn parse_serial(s: &str) -> Result<Serial, String> {
    s.parse()
}

fn parse_broker(s: &str) -> Result<HostPort, String> {
    HostPort::from_mqtt_url(s)
}

fn parse_tls_broker(s: &str) -> Result<HostPort, String> {
    HostPort::from_mqtts_url(s)
}

fn parse_resolve(s: &str) -> Result<(String, HostPort), String> {
    let (name, target) = s.split_once('=').ok_or_else(|| {
        format!("`{s}` is not NAME=HOST:PORT (e.g. airtest.openluat.com=127.0.0.1:1883)")
    })?;
    if name.is_empty() {
        return Err(format!("`{s}` has no NAME before `=`"));
    }
    Ok((name.to_string(), target.parse()?))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    check_counts(&cli);
    if let Some(Cmd::Inject {
        control,
        fault,
        args,
    }) = &cli.command
    {
        return inject(control, fault, args).await;
    }
    if let Some(Cmd::Status { control }) = &cli.command {
        return status(control).await;
    }
    init_logging(cli.verbose);
    let (dialect, profile) = match profile(&cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("modem-sim: {e}");
            return ExitCode::from(2);
        }
    };
    match run(cli, dialect, profile).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modem-sim: {}", one_line(&e));
            if e.downcast_ref::<ArgError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `--count`, `--serial` and `--link` that cannot go together: clap's usage error, exit 2.
fn check_counts(cli: &Cli) {
    let ptys = if cli.serial.is_empty() || cli.serial == [Serial::Pty] {
        cli.count as usize
    } else {
        cli.serial.iter().filter(|s| **s == Serial::Pty).count()
    };
    if cli.link.is_some() && cli.serial.iter().any(|s| *s != Serial::Pty) {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--link names a symlink to a PTY; with --serial tcp-listen/tcp-connect/rfc2217 there is none (drop --link)",
            )
            .exit();
    }
    if ptys > modem_sim::fleet::MAX_COUNT {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "--count {}: at most {} modems on PTYs (/proc/sys/kernel/pty/max); use --serial tcp-listen://HOST:PORT for more",
                    cli.count,
                    modem_sim::fleet::MAX_COUNT
                ),
            )
            .exit();
    }
}

/// `modem-sim status`: the counters of a running simulator, as JSON.
async fn status(control: &Path) -> ExitCode {
    match modem_sim::control::status(control).await {
        Ok(status) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&status).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modem-sim status: {e}");
            control_exit(&e)
        }
    }
}

/// Logs go to stderr: info, debug with `-v`, trace with `-vv` (`RUST_LOG` wins). Each line
/// about a modem carries its span: `fleet{modem=1}:modem{uart=/dev/pts/4}:link{id=1 ...}`.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(format!("modem_sim={level},warn"))),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// A flag whose value cannot be used: exit 2, one line naming the flag, the value and what to
/// do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ArgError(String);

fn arg_error(
    flag: &str,
    value: &Path,
    problem: impl std::fmt::Display,
    todo: &str,
) -> anyhow::Error {
    ArgError(format!("{flag} {}: {problem}; {todo}", value.display())).into()
}

/// The error and its causes on one line, each cause only if the text so far does not already
/// say it (our errors often carry their cause's text).
fn one_line(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text = format!("{text}: {c}");
        }
    }
    text.replace('\n', " ")
}

/// `modem-sim inject`: the fault is checked here first, so a typo gets the list of faults
/// without a simulator running.
async fn inject(control: &Path, fault: &str, args: &[String]) -> ExitCode {
    let text = std::iter::once(fault)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let fault: modem_sim::Request = match text.parse() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("modem-sim inject: {e}");
            return ExitCode::from(2);
        }
    };
    match modem_sim::control::request(control, &fault).await {
        Ok(()) => {
            println!("applied: {fault}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modem-sim inject: {e}");
            control_exit(&e)
        }
    }
}

/// 2 when the --control path itself is unusable, 1 when the simulator cannot be reached.
fn control_exit(e: &modem_sim::control::ControlError) -> ExitCode {
    match e {
        modem_sim::control::ControlError::TooLong { .. } => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

fn write_certs(dir: &Path) -> anyhow::Result<()> {
    let pki = Pki::generate(&PkiOptions::default())?;
    let written = pki
        .write(dir)
        .map_err(|e| arg_error("certs --out", dir, e, "pick a directory you can write"))?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// A PEM file is a few KB; this is far more than any certificate chain.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Reads a PEM file given with `flag`: a regular file (not a FIFO that would block, nor a
/// device like /dev/zero that never ends), at most [`MAX_PEM_BYTES`], holding PEM text.
fn read_pem(flag: &'static str, path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    const TODO: &str = "give the path of a PEM file";
    let meta = std::fs::metadata(path).map_err(|e| arg_error(flag, path, e, TODO))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err(arg_error(flag, path, what, TODO));
    }
    if meta.len() > MAX_PEM_BYTES {
        return Err(arg_error(
            flag,
            path,
            format!(
                "{} bytes, more than a PEM file has (at most {MAX_PEM_BYTES})",
                meta.len()
            ),
            TODO,
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| arg_error(flag, path, e, TODO))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(arg_error(flag, path, "larger than a PEM file", TODO));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| arg_error(flag, path, "not text (PEM is text)", TODO))?;
    if !text.contains("-----BEGIN ") {
        return Err(arg_error(flag, path, "no -----BEGIN line: not PEM", TODO));
    }
    Ok(text)
}

fn tls_server(cli: &Cli) -> anyhow::Result<TlsServer> {
    let mut ts = TlsServer::default();
    if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
        ts.cert_pem = read_pem("--tls-cert", cert)?;
        ts.key_pem = read_pem("--tls-key", key)?;
        if cli.tls_ca.is_none() {
            // The compiled-in CA did not sign this certificate: do not advertise it.
            ts.ca_path = None;
        }
    }
    if let Some(ca) = &cli.tls_ca {
        ts.ca_pem = read_pem("--tls-ca", ca)?;
        ts.ca_path = Some(ca.canonicalize().unwrap_or_else(|_| ca.clone()));
    }
    ts.require_client_cert = cli.tls_client_auth;
    if let Err(e) = modem_sim::tls::server_config(
        ts.cert_pem.as_bytes(),
        ts.key_pem.as_bytes(),
        ts.require_client_cert.then_some(ts.ca_pem.as_bytes()),
    ) {
        let (flag, path) = match (&cli.tls_cert, &cli.tls_ca) {
            (Some(cert), _) => ("--tls-cert", cert.clone()),
            (None, Some(ca)) => ("--tls-ca", ca.clone()),
            (None, None) => ("--tls-cert", PathBuf::from("(compiled in)")),
        };
        return Err(arg_error(
            flag,
            &path,
            e,
            "give a certificate (with --tls-key its key, with --tls-ca its CA) in PEM",
        ));
    }
    Ok(ts)
}

/// Paths given on the command line that would only fail after the banner: checked first.
fn check_paths(cli: &Cli) -> anyhow::Result<()> {
    let dir_of = |p: &Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    let dir_exists = |flag, path: &Path| {
        let dir = dir_of(path);
        match dir.is_dir() {
            true => Ok(()),
            false => Err(arg_error(
                flag,
                path,
                format!("the directory {} does not exist", dir.display()),
                "create it, or pick another path",
            )),
        }
    };
    if let Some(path) = &cli.ready_file {
        dir_exists("--ready-file", path)?;
    }
    if let Some(path) = &cli.link {
        let in_the_way = std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_symlink());
        if in_the_way && cli.count == 1 {
            return Err(arg_error(
                "--link",
                path,
                "a file that is not a symlink is there",
                "remove it, or pick another path",
            ));
        }
        dir_exists("--link", path)?;
    }
    if let Some(path) = &cli.control {
        if let Err(e) = modem_sim::control::check_path(path) {
            return Err(ArgError(e.to_string()).into());
        }
    }
    Ok(())
}

async fn run(
    cli: Cli,
    dialect: DialectKind,
    profile: modem_sim::modem::Profile,
) -> anyhow::Result<()> {
    if let Some(Cmd::Certs { out }) = &cli.command {
        return write_certs(out);
    }
    check_paths(&cli)?;
    // Listen for SIGTERM/SIGINT before anything is announced: a supervisor that signals as soon
    // as it sees the banner or the ready file must get the clean exit, not the default kill.
    let signals = Signals::new()?;
    // Without --control, a directory only we can enter holds the socket.
    let private_dir = match &cli.control {
        Some(_) => None,
        None => Some(private_dir()?),
    };
    let control = cli.control.clone().or_else(|| {
        private_dir
            .as_ref()
            .map(|d: &PathBuf| d.join("control.sock"))
    });
    let seed = cli.seed.unwrap_or_else(fresh_seed);
    let cfg = sim_config(&cli, dialect, profile, control, seed)?;
    let fleet = match start_fleet(&cli, cfg).await {
        Ok(fleet) => fleet,
        Err(e) => {
            if let Some(dir) = &private_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(e);
        }
    };
    let Some(info) = fleet.ready_info() else {
        anyhow::bail!("no modem started");
    };
    print_banner(&cli, &info, seed);
    if fleet.len() > 1 {
        print_fleet(&fleet);
    }
    if let Some(path) = &cli.ready_file {
        write_ready_file(path, &info, &fleet)?;
    }
    signals.wait().await;
    tracing::info!("shutting down");
    fleet.shutdown().await;
    if let Some(path) = &cli.ready_file {
        let _ = std::fs::remove_file(path);
    }
    if let Some(dir) = private_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// The simulator's configuration from the flags (modem 0's: the fleet derives the others').
fn sim_config(
    cli: &Cli,
    dialect: DialectKind,
    profile: modem_sim::modem::Profile,
    control: Option<PathBuf>,
    seed: u64,
) -> anyhow::Result<SimConfig> {
    Ok(SimConfig {
        tls_broker: cli.tls_broker.clone(),
        tls_bind: cli.tls_bind,
        tls_server: tls_server(cli)?,
        dialect,
        serial: cli.serial.first().cloned().unwrap_or_default(),
        link: cli.link.clone(),
        broker: match &cli.broker {
            Some(b) => BrokerSetup::External(b.clone()),
            None => BrokerSetup::Embedded(BrokerConfig {
                bind: cli.broker_bind,
                accounts: vec![(cli.mqtt_user.clone(), cli.mqtt_password.clone())],
                allow_anonymous: cli.allow_anonymous,
                max_queued: cli.broker_max_queued_messages as usize,
                max_queued_bytes: usize::try_from(cli.broker_max_queued_bytes)
                    .unwrap_or(usize::MAX),
                queue_qos0_messages: cli.broker_queue_qos0_messages,
                max_inflight: cli.broker_max_inflight_messages as usize,
                publisher_hold: std::time::Duration::from_secs_f64(cli.broker_publisher_hold),
                ..BrokerConfig::default()
            }),
        },
        resolve: cli.resolve.clone(),
        direct: cli.direct,
        echo: None,
        http_bind: cli.http_bind,
        identity: Identity {
            imei: cli.imei.clone(),
            imsi: cli.imsi.clone(),
            iccid: cli.iccid.clone(),
            profile,
            time: cli.time,
            ..Identity::default()
        },
        control,
        timing: cli.timing.clone(),
        seed,
    })
}

/// Starts `--count` modems, or one per `--serial` endpoint.
async fn start_fleet(cli: &Cli, cfg: SimConfig) -> anyhow::Result<Fleet> {
    let count = cli.count as usize;
    if cli.serial.len() > 1 && count != 1 && count != cli.serial.len() {
        anyhow::bail!(
            "--count {count} with {} --serial endpoints: give one --serial (modem i gets PORT+i) or one per modem",
            cli.serial.len()
        );
    }
    let count = count.max(cli.serial.len());
    if count > 1 {
        match modem_sim::fleet::raise_nofile_limit() {
            Ok(n) if n < 8 * cli.count => tracing::warn!(
                limit = n,
                "the open-files limit may be too low for {count} modems (about 5 each)"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
        }
    }
    let started = if cli.serial.len() > 1 {
        Fleet::start_each(cfg, cli.serial.clone()).await
    } else {
        Fleet::start(cfg, count).await
    };
    Ok(started?)
}

/// A fresh directory with mode 0700 under the temporary directory, for the control socket.
/// Those of simulators that were killed (SIGKILL leaves no chance to clean up) are removed
/// first.
fn private_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let pid = std::process::id();
    sweep_private_dirs(&base);
    for n in 0..100u32 {
        let dir = base.join(format!("modem-sim-{pid}-{n}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => anyhow::bail!("cannot create {}: {e}", dir.display()),
        }
    }
    anyhow::bail!("cannot create a private directory under {}", base.display())
}

/// Removes `modem-sim-<pid>-<n>` directories of ours whose process is gone.
fn sweep_private_dirs(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    // Our user: the owner of our /proc entry.
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("modem-sim-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, n)| n.parse::<u32>().ok().and(pid.parse::<i32>().ok()))
        else {
            continue;
        };
        let ours = e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid);
        let gone = matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        if ours && gone && pid > 0 {
            tracing::debug!(dir = %e.path().display(), "removing a killed simulator's control directory");
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A seed for the jitter when none is given: different each run, shown in the banner.
fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)) % 1_000_000
}

/// The banner's timing line: which profile, what it does, the seed, how to change it.
fn timing_line(p: &Profile, seed: u64) -> String {
    if p.is_instant() {
        return format!(
            "  timing: {} (answers as soon as the network does; no baud pacing)\n",
            p.name
        );
    }
    let pacing = if p.pace_uart {
        format!(
            ", UART paced at {} baud (AT+IPR)",
            modem_sim::timing::DEFAULT_BAUD
        )
    } else {
        String::new()
    };
    let hint = if p.name == "realistic" {
        "--timing fast answers at once"
    } else {
        "--timing realistic or fast"
    };
    let connack = p
        .delay(modem_sim::timing::Step::Connack)
        .map(|d| format!(" (CONNACK OK ~{} ms)", d.median_ms))
        .unwrap_or_default();
    format!(
        "  timing: {} delays{connack}{pacing}; seed {seed} (--seed {seed} repeats them; {hint})\n",
        p.name
    )
}

fn print_banner(cli: &Cli, info: &ReadyInfo, seed: u64) {
    use std::io::Write;
    let mut b = String::new();
    b += &format!(
        "modem-sim {}: simulated {} ready\n",
        env!("CARGO_PKG_VERSION"),
        info.dialect
    );
    if info.tty.is_empty() {
        b += &format!("  serial: {}\n", info.serial);
    } else {
        b += &format!("  tty:    {}\n", info.tty);
    }
    if !info.link.is_empty() {
        b += &format!("  link:   {} -> {}\n", info.link, info.tty);
    }
    b += &broker_lines(cli, info);
    if !info.http.is_empty() {
        b += &format!(
            "  http:   embedded HTTP test server on http://{} and https://{} (/echo, /status/<code>, /bytes/<n>, /slow/<n>?delay_ms=<d>)\n",
            info.http, info.https
        );
    }
    if let Some(to) = &cli.tls_broker {
        b += &format!("  tls:    every TLS connection goes to {to}\n");
    }
    if !info.tcp_echo.is_empty() {
        b += &format!(
            "  echo:   TCP echo on {}, UDP echo on {} (where AT+CIPSTART goes unless --resolve{})\n",
            info.tcp_echo,
            info.udp_echo,
            if cli.direct { "" } else { " or --direct" }
        );
    }
    if cli.direct {
        b += "  direct: sockets go to the host and port the AT command names (--direct)\n";
    }
    for (name, to) in &cli.resolve {
        b += &format!("  route:  {name} -> {to}\n");
    }
    b += &timing_line(&cli.timing, seed);
    if !info.control.is_empty() {
        b += &format!(
            "  faults: modem-sim inject --control {} <fault>   (modem-sim inject --help lists them)\n",
            info.control
        );
    }
    b += &try_line(info);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b.as_bytes());
    let _ = out.flush();
}

/// The banner's lines on the broker: where plain MQTT goes (and how to watch it), and the
/// embedded TLS listener.
fn broker_lines(cli: &Cli, info: &ReadyInfo) -> String {
    let mut b = String::new();
    if info.mqtt.is_empty() {
        let to = cli
            .broker
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        b += &format!("  broker: every plain MQTT connection goes to {to}\n");
    } else {
        b += &format!(
            "  broker: embedded MQTT 3.1.1 on {} (user {} / password {})\n",
            info.mqtt, cli.mqtt_user, cli.mqtt_password
        );
        let (host, port) = info.mqtt.rsplit_once(':').unwrap_or((&info.mqtt, ""));
        b += &format!(
            "          watch it: mosquitto_sub -h {host} -p {port} -u {} -P {} -t '#' -v\n",
            cli.mqtt_user, cli.mqtt_password
        );
    }
    if !info.mqtts.is_empty() {
        let mode = if cli.tls_client_auth {
            "mutual: client certificates required"
        } else {
            "one-way"
        };
        let ca = if info.ca.is_empty() {
            "the compiled-in test CA (`modem-sim certs` writes a PKI)".to_string()
        } else {
            info.ca.clone()
        };
        b += &format!(
            "  tls:    embedded MQTT over TLS on {} ({mode}); CA {ca}\n",
            info.mqtts
        );
    }
    b
}

/// How to talk to the UART by hand.
fn try_line(info: &ReadyInfo) -> String {
    if !info.tty.is_empty() {
        return format!(
            "  try:    picocom -b 115200 {}   (type AT and Enter; quit with C-a C-x)\n",
            info.tty
        );
    }
    match info.serial.parse::<Serial>().ok().and_then(|s| s.host_url()) {
        Some(url) => format!(
            "  try:    python3 -m serial.tools.miniterm --eol CRLF {url} 115200   (or modem-harness run --port {url})\n"
        ),
        None => format!(
            "  host:   the module dials {} (retrying until it listens)\n",
            info.serial.trim_start_matches("tcp-connect://")
        ),
    }
}

fn print_fleet(fleet: &Fleet) {
    use std::io::Write;
    let ttys = fleet.ttys();
    let mut b = format!("  fleet:  {} modems sharing that broker", fleet.len());
    match (ttys.first(), ttys.last()) {
        (Some(first), Some(last)) if !first.is_empty() => {
            b += &format!("; ttys {first} .. {last} (all in the ready file's `ttys`)\n")
        }
        _ => b += "\n",
    }
    let serials = fleet.serials();
    if let (Some(first), Some(last)) = (serials.first(), serials.last()) {
        if first != "pty" {
            b += &format!("          serials {first} .. {last} (the ready file's `serials`)\n");
        }
    }
    let links = fleet.links();
    if let (Some(first), Some(last)) = (links.first(), links.last()) {
        b += &format!("          links {first} .. {last}\n");
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b.as_bytes());
    let _ = out.flush();
}

/// Written to a temporary file next to `path`, then renamed, so a reader never sees half of it.
/// `tty` and `link` are modem 0's (so single-modem readers keep working); `ttys` and `links`
/// list every modem's, in order.
fn write_ready_file(path: &Path, info: &ReadyInfo, fleet: &Fleet) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(info)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("ttys".into(), fleet.ttys().into());
        obj.insert("serials".into(), fleet.serials().into());
        obj.insert("links".into(), fleet.links().into());
    }
    let json = serde_json::to_vec_pretty(&value)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("ready"),
        std::process::id()
    ));
    std::fs::write(&tmp, json)
        .map_err(|e| anyhow::anyhow!("cannot write the ready file {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("cannot move the ready file into {}: {e}", path.display()))?;
    Ok(())
}

/// SIGTERM and SIGINT, registered at start-up (see `run`).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
