//! What the end-to-end test files (and the benches) share, one helper for each thing they all
//! do: the real binary as a child process (spawned, its ready file read, faults injected,
//! stopped), the host side of its UART (commands with each line end, prompted payloads, the
//! Air780E's MQTT session), MQTT watchers, the Mosquitto tools and a Mosquitto process, and the
//! Python echo server. Each file adds the helpers only it needs in its own `impl` blocks.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(20);

/// The simulator binary running as a child process.
pub struct SimProcess {
    pub child: Child,
    pub ready: serde_json::Value,
    /// The ready file's directory (and whatever else must live as long as the process).
    pub dir: tempfile::TempDir,
}

impl SimProcess {
    pub fn spawn(extra: &[&str]) -> SimProcess {
        SimProcess::spawn_with(extra, |_| {})
    }

    /// [`SimProcess::spawn`] with the command adjusted first (its environment, its stderr).
    pub fn spawn_with(extra: &[&str], adjust: impl FnOnce(&mut Command)) -> SimProcess {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready.json");
        let mut cmd = sim_command(&ready, extra);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        adjust(&mut cmd);
        let child = cmd.spawn().expect("modem-sim starts");
        wait_for_path(&ready, "no ready file");
        let ready: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
        SimProcess { child, ready, dir }
    }

    /// With `--control` in the process's own temporary directory.
    pub fn with_control(extra: &[&str]) -> SimProcess {
        let dir = tempfile::tempdir().unwrap();
        let ctl = dir.path().join("ctl.sock");
        let mut args = vec!["--control", ctl.to_str().unwrap()];
        args.extend_from_slice(extra);
        let mut sim = SimProcess::spawn(&args);
        // Keep the socket's directory alive as long as the process.
        sim.dir = dir;
        sim
    }

    /// [`SimProcess::with_control`] and its port, booted.
    pub fn controlled(extra: &[&str]) -> (SimProcess, Port) {
        let sim = SimProcess::with_control(extra);
        let port = sim.port();
        (sim, port)
    }

    /// The L610, its power-on lines read, its data call up (`+MIPCALL: <ip>` read).
    pub fn l610(extra: &[&str]) -> (SimProcess, Port) {
        let sim = SimProcess::spawn(&[&["--dialect", "l610"], extra].concat());
        let mut port = sim.port();
        port.line("AT+MIPCALL=1", "\r\n", "+MIPCALL: 10.104.48.68\r\n");
        (sim, port)
    }

    /// The control socket the ready file names.
    pub fn control(&self) -> PathBuf {
        PathBuf::from(self.field("control"))
    }

    /// `modem-sim inject --control <ours> <words...>`.
    pub fn inject(&self, words: &[&str]) -> std::process::Output {
        inject(&self.control(), words)
    }

    /// Injects and insists that it worked.
    pub fn fault(&self, words: &[&str]) {
        fault(&self.control(), words)
    }

    /// The embedded broker's address.
    pub fn mqtt(&self) -> std::net::SocketAddr {
        self.field("mqtt").parse().unwrap()
    }

    /// Every modem's tty (`--count`), from the ready file.
    pub fn ttys(&self) -> Vec<String> {
        let all = self.ready["ttys"]
            .as_array()
            .expect("ttys in the ready file");
        all.iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    }

    /// SIGTERM; the process must exit 0. Returns what it printed (its banner).
    pub fn stop(&mut self) -> String {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        let mut banner = String::new();
        let mut out = self.child.stdout.take().unwrap();
        out.read_to_string(&mut banner).unwrap();
        banner
    }

    pub fn field(&self, name: &str) -> String {
        self.ready[name].as_str().unwrap_or_default().to_string()
    }

    /// The tty, opened once the module's power-on lines are out (see [`Port::booted`]).
    pub fn port(&self) -> Port {
        self.raw_port().booted()
    }

    /// The tty as opened: the power-on lines are still to be read.
    pub fn raw_port(&self) -> Port {
        Port::open(Path::new(&self.field("tty")))
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The host side of the UART, opened like a serial port, with blocking reads bounded by a poll.
pub struct Port {
    pub file: std::fs::File,
    pub seen: Vec<u8>,
}

impl Port {
    pub fn open(path: &Path) -> Port {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let mut t = nix::sys::termios::tcgetattr(file.as_fd()).unwrap();
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(file.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
        Port {
            file,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.file.write_all(bytes).unwrap();
    }

    /// Sends `cmd` ended by `eol` and reads until `answer`.
    pub fn line(&mut self, cmd: &str, eol: &str, answer: &str) -> String {
        self.send(format!("{cmd}{eol}").as_bytes());
        self.until(answer)
    }

    /// `cmd` ended by CR LF, as most drivers end it, read up to its `OK`.
    pub fn ok(&mut self, cmd: &str) -> String {
        self.line(cmd, "\r\n", "OK\r\n")
    }

    /// `cmd` (ended by CR) is answered `OK`, then `result` (a line with its CR LF), nothing else.
    pub fn ok_then(&mut self, cmd: &str, result: &str) {
        let got = At::at(self, cmd, result);
        assert_eq!(got, format!("\r\nOK\r\n\r\n{result}"), "{cmd}");
    }

    /// `cmd` (ended by CR, echo off) is answered with the line `info`, then `OK`.
    pub fn info(&mut self, cmd: &str, info: &str) {
        let got = At::at(self, cmd, "OK\r\n");
        assert_eq!(got, format!("\r\n{info}\r\n\r\nOK\r\n"), "{cmd}");
    }

    /// `AT+FSCREATE` and `AT+FSWRITE` of `bytes` as file `name`, each command ended by `eol`.
    pub fn fs_write(&mut self, name: &str, bytes: &[u8], eol: &str) {
        self.line(&format!("AT+FSCREATE=\"{name}\""), eol, "OK\r\n");
        let len = bytes.len();
        self.line(&format!("AT+FSWRITE=\"{name}\",0,{len},15"), eol, "\r\n>");
        self.send(bytes);
        self.until("OK\r\n");
    }

    /// The Air780E's MQTT session up: `AT+MCONFIG=<config>`, `AT+MIPSTART=<start>` up to
    /// `CONNECT OK`, `AT+MCONNECT=1,60` up to `CONNACK OK` (seed 000 section 6.2).
    pub fn mqtt_up(&mut self, config: &str, start: &str) {
        At::at(self, &format!("AT+MCONFIG={config}"), "OK\r\n");
        At::at(self, &format!("AT+MIPSTART={start}"), "CONNECT OK\r\n");
        At::at(self, "AT+MCONNECT=1,60", "CONNACK OK\r\n");
    }

    /// Reads exactly `n` bytes (more may be kept for later).
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        while self.seen.len() < n {
            self.fill(deadline, &format!("{n} bytes"));
        }
        self.seen.drain(..n).collect()
    }

    /// Reads until `needle` has appeared in everything read so far; returns all of it.
    pub fn until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(pos) = find(&self.seen, needle.as_bytes()) {
                let upto = pos + needle.len();
                let text = String::from_utf8_lossy(&self.seen[..upto]).into_owned();
                self.seen.drain(..upto);
                return text;
            }
            self.fill(deadline, needle);
        }
    }

    /// One read, if something arrives within `ms` milliseconds.
    pub fn read_some(&mut self, ms: u8) -> Vec<u8> {
        let mut fds = [nix::poll::PollFd::new(
            self.file.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)).unwrap() == 0 {
            return Vec::new();
        }
        let mut buf = vec![0u8; 1 << 16];
        let n = (&self.file).read(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// Reads whatever is there until `ms` milliseconds pass in silence; returns the bytes.
    pub fn drain(&mut self, ms: u8) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let more = self.read_some(ms);
            if more.is_empty() {
                return got;
            }
            got.extend_from_slice(&more);
        }
    }

    /// `write` run on a thread with its own handle of the tty (the test reads meanwhile).
    pub fn writer(
        &self,
        write: impl FnOnce(&mut std::fs::File) + Send + 'static,
    ) -> std::thread::JoinHandle<()> {
        let mut tty = self.file.try_clone().unwrap();
        std::thread::spawn(move || write(&mut tty))
    }

    /// Waits for the power-on lines to end, and drops them, as a driver does before its first
    /// command: the Air780E family's last one is `+NITZ: <time>`, the L610's `+SIM READY`.
    pub fn booted(mut self) -> Port {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(end) = boot_end(&self.seen) {
                self.seen.drain(..end);
                return self;
            }
            self.fill(deadline, "the end of the power-on lines");
        }
    }

    /// Reads what is there (waiting up to a second); fails after `deadline`.
    pub fn fill(&mut self, deadline: Instant, waiting_for: &str) {
        {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {WAIT:?} for {waiting_for:?}; got {:?}",
                String::from_utf8_lossy(&self.seen)
            );
            let mut fds = [nix::poll::PollFd::new(
                self.file.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ms = nix::poll::PollTimeout::try_from(left.as_millis().min(1000) as i32).unwrap();
            if nix::poll::poll(&mut fds, ms).unwrap() > 0 {
                let mut buf = [0u8; 65536];
                let n = (&self.file).read(&mut buf).unwrap();
                self.seen.extend_from_slice(&buf[..n]);
            }
        }
    }
}

/// A command line and its awaited answer, for the files that import it (`faults.rs` has an
/// `at` of its own that reads up to the final result: an inherent method, it wins there).
pub trait At {
    /// Sends a command line and waits for `answer`.
    fn at(&mut self, cmd: &str, answer: &str) -> String;
}

impl At for Port {
    fn at(&mut self, cmd: &str, answer: &str) -> String {
        self.send(format!("{cmd}\r").as_bytes());
        self.until(answer)
    }
}

/// Where the power-on lines end in `seen`, once they have.
pub fn boot_end(seen: &[u8]) -> Option<usize> {
    if let Some(p) = find(seen, b"+SIM READY\r\n") {
        return Some(p + b"+SIM READY\r\n".len());
    }
    let p = find(seen, b"+NITZ: ")?;
    let e = find(&seen[p..], b"\r\n")?;
    Some(p + e + 2)
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The line ends drivers send, with a name for topics and messages.
pub const EOLS: [(&str, &str); 3] = [("crlf", "\r\n"), ("cr", "\r"), ("lf", "\n")];

/// `len` random bytes from `seed` with `marks` (line ends, NUL, `>`, ESC, Ctrl-Z, `OK\r\n`...)
/// from byte 1. The first byte is LF unless `eol` is a lone CR: after one the module takes a
/// first LF for the rest of the terminator (DIVERGENCES A23), so that payload starts with `>`.
pub fn binary_with(seed: u64, len: usize, eol: &str, marks: &[u8]) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut p: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    if len > marks.len() + 1 {
        p[1..=marks.len()].copy_from_slice(marks);
    }
    p[0] = if eol == "\r" { b'>' } else { b'\n' };
    p
}

/// [`binary_with`] the marks most tests use.
pub fn binary(seed: u64, len: usize, eol: &str) -> Vec<u8> {
    binary_with(seed, len, eol, b"\r\n\0>\x1b\x1aOK\r\n\r")
}

/// Where two byte strings first differ, for messages.
pub fn diff_at(a: &[u8], b: &[u8]) -> String {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (x, y) = (a.len(), b.len());
    format!("lengths {x} and {y}, first difference at {same}")
}

/// The lines `from` gives (a child's stdout or stderr), read on a thread: a test can wait
/// for one with a deadline (`recv_timeout`).
pub fn lines_of(from: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// The next message on `topic` that the subscriber's event loop `ev` receives.
pub async fn next_publish(ev: &mut rumqttc::EventLoop, topic: &str) -> rumqttc::Publish {
    tokio::time::timeout(WAIT, async {
        loop {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) =
                ev.poll().await.expect("subscriber connection")
            {
                if p.topic == topic {
                    return p;
                }
            }
        }
    })
    .await
    .expect("publish arrives")
}

/// Polls the subscriber's event loop until its SUBACK arrives.
pub async fn subscribed(ev: &mut rumqttc::EventLoop) {
    tokio::time::timeout(WAIT, async {
        while !matches!(
            ev.poll().await.expect("subscriber connection"),
            rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))
        ) {}
    })
    .await
    .expect("SUBACK");
}

/// Waits for `path` to appear (a ready file, a PTY's link), `what` naming it on failure.
pub fn wait_for_path(path: &Path, what: &str) {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{what} after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` to exit; kills it and fails, naming `what`, if it has not within `WAIT`.
pub fn exit_within_wait(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} still running after {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback TCP port that was free a moment ago (for a child process to listen on).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary with `--ready-file <ready>` and `extra`. Its default is `--timing realistic`;
/// this adds `--timing fast` unless `extra` names a profile (the tests assert outcomes, and
/// fast keeps the suite quick; the benches measure the simulator itself).
pub fn sim_command(ready: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modem-sim"));
    cmd.arg("--ready-file").arg(ready);
    if !extra.contains(&"--timing") {
        cmd.args(["--timing", "fast"]);
    }
    cmd.args(extra);
    cmd
}

/// `modem-sim <args>` (a subcommand, or flags it must refuse), run to its end.
pub fn cli(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modem-sim"));
    cmd.args(args).output().expect("modem-sim runs")
}

/// [`cli`], which must succeed: its stdout.
pub fn cli_ok(args: &[&str]) -> Vec<u8> {
    let out = cli(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "modem-sim {args:?}: {err}");
    out.stdout
}

/// `modem-sim inject --control <control> <words>`, run to its end.
pub fn inject(control: &Path, words: &[&str]) -> std::process::Output {
    let control = control.to_str().unwrap();
    cli(&[&["inject", "--control", control], words].concat())
}

/// `modem-sim inject`, which must succeed.
pub fn fault(control: &Path, words: &[&str]) {
    let control = control.to_str().unwrap();
    cli_ok(&[&["inject", "--control", control], words].concat());
}

/// `modem-sim status --control <control>`: the counters, as JSON.
pub fn status_of(control: &str) -> serde_json::Value {
    serde_json::from_slice(&cli_ok(&["status", "--control", control])).unwrap()
}

/// Debian's python3, where `apt-get install python3-serial` puts pyserial (a python3 earlier
/// in PATH, e.g. pyenv's, may not have it); `MODEM_SIM_PYTHON` overrides.
pub fn python() -> String {
    std::env::var("MODEM_SIM_PYTHON").unwrap_or_else(|_| {
        if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".into()
        } else {
            "python3".into()
        }
    })
}

/// A Mosquitto process that can be killed and started again on its port; what it logs is read
/// line by line.
pub struct Mosquitto {
    child: Option<Child>,
    conf: PathBuf,
    pub addr: std::net::SocketAddr,
    log: Option<std::sync::mpsc::Receiver<String>>,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// With password auth (the seeds' account).
    pub fn start() -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        let status = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args(["root", "luat123456"])
            .status()
            .expect("mosquitto_passwd is installed (apt-get install mosquitto; .ci/run does it)");
        assert!(status.success());
        let auth = format!(
            "allow_anonymous false\npassword_file {}\n",
            passwd.display()
        );
        Mosquitto::with(dir, &auth)
    }

    /// Letting anonymous clients in and logging who connects, as a user would run one for a
    /// driver that never sends credentials.
    pub fn anonymous() -> Mosquitto {
        let conf = "allow_anonymous true\nlog_dest stderr\nlog_type notice\nlog_type information\nconnection_messages true\n";
        Mosquitto::with(tempfile::tempdir().unwrap(), conf)
    }

    fn with(dir: tempfile::TempDir, conf_rest: &str) -> Mosquitto {
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\n{conf_rest}")).unwrap();
        let mut m = Mosquitto {
            child: None,
            conf,
            addr: ([127, 0, 0, 1], port).into(),
            log: None,
            _dir: dir,
        };
        m.run();
        m
    }

    pub fn run(&mut self) {
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto is installed");
        self.log = Some(lines_of(child.stderr.take().unwrap()));
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(self.addr).is_err() {
            let addr = self.addr;
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `mqtt://<addr>`, for `--broker`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// Waits for a log line holding `needle`.
    pub fn logged(&self, needle: &str) -> String {
        let log = self.log.as_ref().unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("mosquitto never logged {needle:?}: {e}"),
            }
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The seeds' account.
pub const ROOT: Option<(&str, &str)> = Some(("root", "luat123456"));

/// An MQTT client of the broker at `addr`, as `id`, with the seeds' account.
pub fn mqtt_client(
    addr: std::net::SocketAddr,
    id: &str,
) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut o = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_credentials("root", "luat123456");
    rumqttc::AsyncClient::new(o, 16)
}

/// [`mqtt_client`] subscribed to `topic` at `qos`, once its SUBACK is in.
pub async fn watcher(
    addr: std::net::SocketAddr,
    id: &str,
    topic: &str,
    qos: rumqttc::QoS,
) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let (client, mut ev) = mqtt_client(addr, id);
    client.subscribe(topic, qos).await.unwrap();
    subscribed(&mut ev).await;
    (client, ev)
}

/// Seed 000 section 6.2's server side: `data from tcp server` on `mqtt/pub` at QoS 0.
pub async fn server_message(c: &rumqttc::AsyncClient) {
    let (topic, qos) = ("mqtt/pub", rumqttc::QoS::AtMostOnce);
    c.publish(topic, qos, false, "data from tcp server")
        .await
        .unwrap();
}

/// Keeps `ev` polled (what a client publishes leaves only then) until the task is aborted.
pub fn keep_polling(mut ev: rumqttc::EventLoop) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { while ev.poll().await.is_ok() {} })
}

/// `mosquitto_sub` on the broker at `mqtt` (`host:port`) with `account`, on `topic`, plus
/// `extra`; its stdout piped.
pub fn mosquitto_sub(
    mqtt: &str,
    account: Option<(&str, &str)>,
    topic: &str,
    extra: &[&str],
) -> Child {
    let mut cmd = mosquitto_tool("mosquitto_sub", mqtt, account);
    cmd.args(["-t", topic]).args(extra).stdout(Stdio::piped());
    cmd.spawn()
        .expect("mosquitto_sub is installed (apt-get install mosquitto-clients; .ci/run does it)")
}

/// `mosquitto_pub -m <message>` to `topic` with the seeds' account, which must succeed.
pub fn mosquitto_pub(mqtt: &str, topic: &str, message: &str) {
    let mut cmd = mosquitto_tool("mosquitto_pub", mqtt, ROOT);
    let status = cmd.args(["-t", topic, "-m", message]).status();
    assert!(status.expect("mosquitto_pub is installed").success());
}

fn mosquitto_tool(tool: &str, mqtt: &str, account: Option<(&str, &str)>) -> Command {
    let (host, port) = mqtt.rsplit_once(':').unwrap();
    let mut cmd = Command::new(tool);
    cmd.args(["-h", host, "-p", port]);
    if let Some((u, p)) = account {
        cmd.args(["-u", u, "-P", p]);
    }
    cmd
}

/// All that `from` gives until its end, read on a thread: wait for it with a deadline.
pub fn read_to_end_on_thread(
    mut from: impl Read + Send + 'static,
) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = from.read_to_end(&mut all);
        let _ = tx.send(all);
    });
    rx
}

/// A file `name` holding `text` in a new temporary directory (kept as long as the `TempDir`).
pub fn temp_file(name: &str, text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

pub const ECHO_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/echo_server.py");

/// The Python echo server (`support/echo_server.py`): TCP, UDP and TLS, each connection's bytes
/// logged.
pub struct Echo {
    child: Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    pub tcp: u16,
    pub udp: u16,
    /// TLS with the test PKI's server certificate (`certs/`).
    pub tls: u16,
    pub dir: tempfile::TempDir,
}

impl Echo {
    pub fn start() -> Echo {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(python())
            .arg(ECHO_SCRIPT)
            .arg(dir.path())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs/server.crt"))
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs/server.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let port = |proto: &str| {
            let line = lines.recv_timeout(WAIT).expect("the echo server starts");
            let (p, n) = line.split_once(' ').unwrap();
            assert_eq!(p, proto);
            n.parse::<u16>().unwrap()
        };
        let tcp = port("tcp");
        let udp = port("udp");
        let tls = port("tls");
        Echo {
            child,
            stdin,
            lines,
            tcp,
            udp,
            tls,
            dir,
        }
    }

    /// What TCP connection `n` delivered to the server.
    pub fn tcp_log(&self, n: usize) -> Vec<u8> {
        std::fs::read(self.dir.path().join(format!("tcp-{n}"))).unwrap_or_default()
    }

    /// The datagrams the server received, in order.
    pub fn udp_log(&self) -> Vec<Vec<u8>> {
        let raw = std::fs::read(self.dir.path().join("udp")).unwrap_or_default();
        let mut out = Vec::new();
        let mut rest = &raw[..];
        while rest.len() >= 4 {
            let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            out.push(rest[4..4 + n].to_vec());
            rest = &rest[4 + n..];
        }
        out
    }

    /// The server ends TCP connection `n` (a peer close).
    pub fn close(&mut self, n: usize) {
        writeln!(self.stdin, "close {n}").unwrap();
        self.stdin.flush().unwrap();
        assert_eq!(
            self.lines.recv_timeout(WAIT).unwrap(),
            format!("closed {n}")
        );
    }

    /// Waits until connection `n`'s log holds `len` bytes (the server writes as it reads).
    pub fn wait_tcp_log(&self, n: usize, len: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.tcp_log(n);
            if log.len() >= len || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
