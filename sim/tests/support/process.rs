//! The real binary as a child process and the host side of its UART, shared by the end-to-end
//! test files (each adds the helpers only it needs in its own `impl` blocks).

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
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready.json");
        // The binary's default is `--timing realistic`; the tests run `fast` unless they
        // ask for a profile (they assert outcomes, and fast keeps the suite quick).
        let timing: &[&str] = if extra.contains(&"--timing") {
            &[]
        } else {
            &["--timing", "fast"]
        };
        let child = Command::new(env!("CARGO_BIN_EXE_modem-sim"))
            .arg("--ready-file")
            .arg(&ready)
            .args(timing)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("modem-sim starts");
        wait_for_path(&ready, "no ready file");
        let ready: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
        SimProcess { child, ready, dir }
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

/// A loopback TCP port that was free a moment ago (for a child process to listen on).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `modem-sim inject --control <control> <words>`, run to its end.
pub fn inject(control: &Path, words: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_modem-sim"))
        .arg("inject")
        .arg("--control")
        .arg(control)
        .args(words)
        .output()
        .expect("modem-sim inject runs")
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

/// A Mosquitto process with password auth that can be killed and started again on its port.
pub struct Mosquitto {
    child: Option<Child>,
    conf: PathBuf,
    pub addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
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
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
                passwd.display()
            ),
        )
        .unwrap();
        let mut m = Mosquitto {
            child: None,
            conf,
            addr: ([127, 0, 0, 1], port).into(),
            _dir: dir,
        };
        m.run();
        m
    }

    pub fn run(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(20));
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
