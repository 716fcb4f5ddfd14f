//! Shared by the integration tests: a scripted fake device on a real PTY, and the binary.

#![allow(dead_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::pty::openpty;
use nix::sys::termios;
use tokio::io::unix::AsyncFd;

/// A fake module on a PTY: `answer` maps each command line the host sends (without its
/// terminator) to what the device prints back. The host opens `path()` like a USB adapter.
pub struct FakeDevice {
    path: PathBuf,
    _slave: OwnedFd,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDevice {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDevice {
    pub fn start(answer: impl Fn(&str) -> String + Send + 'static) -> FakeDevice {
        let pty = openpty(None, None).expect("openpty");
        let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))
            .expect("the pty slave's path");
        let mut t = termios::tcgetattr(&pty.master).expect("tcgetattr");
        termios::cfmakeraw(&mut t);
        termios::tcsetattr(&pty.master, termios::SetArg::TCSANOW, &t).expect("tcsetattr");
        let flags = nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("setfl");
        // SAFETY: the OwnedFd moves into the AsyncFd, which owns it until dropped.
        let master = unsafe { AsyncFd::register(pty.master) }.expect("AsyncFd");
        let task = tokio::spawn(async move {
            let mut line = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                let Ok(mut g) = master.readable().await else {
                    return;
                };
                let n = match g.try_io(|fd| Ok(nix::unistd::read(fd.get_ref(), &mut buf)?)) {
                    Ok(Ok(0)) | Ok(Err(_)) => return,
                    Ok(Ok(n)) => n,
                    Err(_) => continue,
                };
                for &b in &buf[..n] {
                    if b == b'\r' || b == b'\n' {
                        if line.is_empty() {
                            continue;
                        }
                        let cmd = String::from_utf8_lossy(&line).into_owned();
                        line.clear();
                        let out = answer(&cmd);
                        let mut off = 0;
                        while off < out.len() {
                            let Ok(mut g) = master.writable().await else {
                                return;
                            };
                            match g.try_io(|fd| {
                                Ok(nix::unistd::write(fd.get_ref(), &out.as_bytes()[off..])?)
                            }) {
                                Ok(Ok(n)) => off += n,
                                Ok(Err(_)) => return,
                                Err(_) => continue,
                            }
                        }
                    } else {
                        line.push(b);
                    }
                }
            }
        });
        FakeDevice {
            path,
            _slave: pty.slave,
            task,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

/// The example drivers, built by `cargo test --workspace` (examples are compiled with the
/// tests) into target/<profile>/examples.
pub fn example(name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p modem-harness --examples` (cargo test --workspace does)",
        path.display()
    );
    path.display().to_string()
}

/// `modem-harness run` against an Air780E on `port`, its MQTT on `broker`.
pub fn run_air780e_args<'a>(port: &'a str, broker: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--port",
        port,
        "--dialect",
        "air780e",
        "--broker",
        broker,
    ]
}

pub fn harness_bin() -> &'static str {
    env!("CARGO_BIN_EXE_modem-harness")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A vendor log (or a feature) written into a temporary folder, replayed (or run) with its
/// JUnit file and its transcripts' folder beside it.
pub struct ReplayDir {
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    pub junit: PathBuf,
    pub tr: PathBuf,
}

impl ReplayDir {
    /// Writes `text` as `<dir>/<name>`.
    pub fn new(name: &str, text: &str) -> ReplayDir {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(name);
        std::fs::write(&log, text).unwrap();
        let junit = dir.path().join("junit.xml");
        let tr = dir.path().join("tr");
        ReplayDir {
            dir,
            log,
            junit,
            tr,
        }
    }

    /// `modem-harness replay <log> --junit <junit> --transcripts <tr> <extra>`.
    pub async fn replay(&self, extra: &[&str]) -> (i32, String) {
        let mut args = vec!["replay", self.log.to_str().unwrap()];
        args.extend_from_slice(&output_args(&self.junit, &self.tr));
        args.extend_from_slice(extra);
        harness(&args).await
    }
}

/// `--junit <junit> --transcripts <tr>`: where `replay` and `run` write their JUnit file and
/// their transcripts.
pub fn output_args<'a>(junit: &'a Path, tr: &'a Path) -> [&'a str; 4] {
    [
        "--junit",
        junit.to_str().unwrap(),
        "--transcripts",
        tr.to_str().unwrap(),
    ]
}

/// Runs the binary, returning (exit code, stdout + stderr).
pub async fn harness(args: &[&str]) -> (i32, String) {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        tokio::process::Command::new(harness_bin())
            .args(args)
            .current_dir(repo())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("modem-harness finished within 300 s")
    .expect("modem-harness runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
