//! Issue 16 item 2 and the L610's HTTP commands, through the real binary and its PTY, against
//! real servers: `python3 -m http.server`, a small Python `http.server` handler that records
//! POST bodies, and the simulator's own embedded HTTP(S) test server. Bodies are binary and
//! compared byte for byte; every prompted body is sent after `\r\n`, `\r` and `\n` line ends.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use rand::{Rng, SeedableRng};

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{Port, SimProcess, WAIT};

const EOLS: [(&str, &str); 3] = [("crlf", "\r\n"), ("cr", "\r"), ("lf", "\n")];

impl Port {
    fn line(&mut self, cmd: &str, eol: &str, answer: &str) -> String {
        self.send(format!("{cmd}{eol}").as_bytes());
        self.until(answer)
    }

    fn read_n(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        while self.seen.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited for {n} bytes; got {}",
                self.seen.len()
            );
            let mut fds = [nix::poll::PollFd::new(
                self.file.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ms = nix::poll::PollTimeout::try_from(left.as_millis().min(1000) as i32).unwrap();
            if nix::poll::poll(&mut fds, ms).unwrap() > 0 {
                let mut buf = [0u8; 65536];
                let r = (&self.file).read(&mut buf).unwrap();
                self.seen.extend_from_slice(&buf[..r]);
            }
        }
        self.seen.drain(..n).collect()
    }

    /// Reads `+<name>: <len>\r\n`, then exactly `len` bytes; returns them.
    fn counted(&mut self, name: &str) -> Vec<u8> {
        let head = self.until(&format!("+{name}: "));
        assert!(!head.contains("ERROR"), "{head}");
        let len: usize = self.until("\r\n").trim().parse().unwrap();
        self.read_n(len)
    }
}

/// Random bytes with CR, LF, NUL, Ctrl-Z, ESC and `OK\r\n` in them. After a lone `\r` line end
/// the module takes a first `\n` for the rest of the terminator (DIVERGENCES A23), so that
/// body starts with another byte.
fn binary(seed: u64, len: usize, eol: &str) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut p: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    p[1..12].copy_from_slice(b"\r\n\0>\x1b\x1aOK\r\n\r");
    p[0] = if eol == "\r" { b'>' } else { b'\n' };
    p
}

/// A Python server as a child; its port is read from what it prints.
struct PyServer {
    child: Child,
    port: u16,
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PyServer {
    /// `python3 -m http.server` serving `dir` on a free loopback port.
    fn files(dir: &Path) -> PyServer {
        let child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        Self::ready(child)
    }

    /// An `http.server` handler that writes each POST body to `<dir>/post-<n>.bin` and
    /// answers 200 with `stored <len>`.
    fn recorder(dir: &Path) -> PyServer {
        let script = r#"
import http.server, os, sys
d = sys.argv[1]
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        n[0] += 1
        with open(os.path.join(d, 'post-%d.bin' % n[0]), 'wb') as f:
            f.write(body)
        with open(os.path.join(d, 'post-%d.hdr' % n[0]), 'w') as f:
            f.write(str(self.headers))
        out = ('stored %d' % len(body)).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print('Serving HTTP on 127.0.0.1 port %d' % s.server_address[1], flush=True)
s.serve_forever()
"#;
        let child = Command::new("python3")
            .args(["-u", "-c", script])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        Self::ready(child)
    }

    fn ready(mut child: Child) -> PyServer {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split("port ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        PyServer { child, port }
    }
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Air780E: a GET of a 5,000-byte binary file from `python3 -m http.server` gives
/// `+HTTPACTION: 0,200,5000` and `AT+HTTPREAD` gives the file byte for byte; a part read with
/// `AT+HTTPREAD=<start>,<size>`; a missing file 404.
#[test]
fn air780e_get_from_python_http_server_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let file = binary(1, 5000, "\r\n");
    std::fs::write(dir.path().join("blob.bin"), &file).unwrap();
    let py = PyServer::files(dir.path());
    let route = format!("files.example=127.0.0.1:{}", py.port);
    let sim = SimProcess::spawn(&["--resolve", &route]);
    let mut port = sim.port();
    for (name, eol) in EOLS {
        port.line("AT+HTTPINIT", eol, "OK\r\n");
        port.line("AT+HTTPPARA=\"CID\",1", eol, "OK\r\n");
        port.line(
            "AT+HTTPPARA=\"URL\",\"http://files.example/blob.bin\"",
            eol,
            "OK\r\n",
        );
        let got = port.line("AT+HTTPACTION=0", eol, "+HTTPACTION: 0,");
        assert!(
            got.ends_with("\r\nOK\r\n\r\n+HTTPACTION: 0,"),
            "{name}: {got:?}"
        );
        assert_eq!(port.until("\r\n"), "200,5000\r\n", "{name}");
        port.send(format!("AT+HTTPREAD{eol}").as_bytes());
        let body = port.counted("HTTPREAD");
        assert!(body == file, "{name}: the body differs");
        assert_eq!(port.until("OK\r\n"), "\r\nOK\r\n", "{name}");
        port.send(format!("AT+HTTPREAD=4000,2000{eol}").as_bytes());
        assert!(port.counted("HTTPREAD") == file[4000..], "{name}");
        port.until("OK\r\n");
        port.line(
            "AT+HTTPPARA=\"URL\",\"http://files.example/missing\"",
            eol,
            "OK\r\n",
        );
        port.line("AT+HTTPACTION=0", eol, "+HTTPACTION: 0,");
        assert!(port.until("\r\n").starts_with("404,"), "{name}");
        assert!(port
            .line("AT+HTTPTERM", eol, "OK\r\n")
            .ends_with("\r\nOK\r\n"));
    }
}

/// Air780E: a POST whose 3,000-byte binary body (`AT+HTTPDATA`, `DOWNLOAD`) a real Python
/// server stores byte for byte, with each line end; the answer read back; the header lines
/// `AT+HTTPPARA="CONTENT"` and `"USERDATA"` set reach the server.
#[test]
fn air780e_post_body_reaches_a_python_server_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let py = PyServer::recorder(dir.path());
    let route = format!("api.example=127.0.0.1:{}", py.port);
    let sim = SimProcess::spawn(&["--resolve", &route]);
    let mut port = sim.port();
    port.line("AT+HTTPINIT", "\r\n", "OK\r\n");
    port.line(
        "AT+HTTPPARA=\"URL\",http://api.example/up",
        "\r\n",
        "OK\r\n",
    );
    port.line(
        "AT+HTTPPARA=\"CONTENT\",\"application/octet-stream\"",
        "\r\n",
        "OK\r\n",
    );
    port.line(
        "AT+HTTPPARA=\"USERDATA\",\"X-Device: 42\\r\\nX-Note: \\22hi\\22\"",
        "\r\n",
        "OK\r\n",
    );
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let body = binary(10 + i as u64, 3000, eol);
        let cmd = "AT+HTTPDATA=3000,10000";
        assert_eq!(
            port.line(cmd, eol, "DOWNLOAD\r\n"),
            format!("{cmd}{eol}\r\nDOWNLOAD\r\n"),
            "{name}"
        );
        port.send(&body);
        assert_eq!(port.until("OK\r\n"), "\r\nOK\r\n", "{name}");
        port.line("AT+HTTPACTION=1", eol, "+HTTPACTION: 1,");
        assert_eq!(port.until("\r\n"), "200,11\r\n", "{name}");
        let stored = std::fs::read(dir.path().join(format!("post-{}.bin", i + 1))).unwrap();
        assert!(stored == body, "{name}: the server got other bytes");
        let headers =
            std::fs::read_to_string(dir.path().join(format!("post-{}.hdr", i + 1))).unwrap();
        for h in [
            "Content-Type: application/octet-stream",
            "X-Device: 42",
            "X-Note: \"hi\"",
            "User-Agent: AM_MODULE",
            "Host: api.example",
        ] {
            assert!(headers.contains(h), "{name}: no {h:?} in {headers}");
        }
        port.send(format!("AT+HTTPREAD{eol}").as_bytes());
        assert_eq!(port.counted("HTTPREAD"), b"stored 3000");
        port.until("OK\r\n");
    }
}

/// Air780E HTTPS with the CA loaded over AT (`AT+FSWRITE`, `AT+SSLCFG="cacert",153,...`,
/// seclevel 1) against the embedded HTTPS listener: verified, 200, the body; a CA that did not
/// sign the server's certificate gives `+HTTPACTION: 0,605,0` (SSL channel failed).
#[test]
fn air780e_https_with_a_ca_loaded_over_at() {
    let sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    let ca = std::fs::read(repo_file("certs/ca.crt")).unwrap();
    let not_ca = std::fs::read(repo_file("certs/client.crt")).unwrap();
    for (file, pem) in [("ca.crt", &ca), ("other.crt", &not_ca)] {
        port.line(&format!("AT+FSCREATE=\"{file}\""), "\r\n", "OK\r\n");
        port.line(
            &format!("AT+FSWRITE=\"{file}\",0,{},10", pem.len()),
            "\r\n",
            "\r\n>",
        );
        port.send(pem);
        port.until("OK\r\n");
    }
    port.line("AT+HTTPSSL=1", "\r\n", "OK\r\n");
    port.line("AT+SSLCFG=\"cacert\",153,\"ca.crt\"", "\r\n", "OK\r\n");
    port.line("AT+SSLCFG=\"seclevel\",153,1", "\r\n", "OK\r\n");
    port.line("AT+HTTPINIT", "\r\n", "OK\r\n");
    port.line(
        "AT+HTTPPARA=\"URL\",\"https://localhost/bytes/2000\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPACTION=0", "\r\n", "+HTTPACTION: 0,");
    assert_eq!(port.until("\r\n"), "200,2000\r\n");
    port.send(b"AT+HTTPREAD\r\n");
    let want: Vec<u8> = (0..2000).map(|i| (i % 256) as u8).collect();
    assert!(port.counted("HTTPREAD") == want);
    port.until("OK\r\n");
    port.line("AT+SSLCFG=\"cacert\",153,\"other.crt\"", "\r\n", "OK\r\n");
    port.line("AT+HTTPACTION=0", "\r\n", "+HTTPACTION: 0,");
    assert_eq!(port.until("\r\n"), "605,0\r\n");
}

/// The embedded HTTP server's routes through the module: a status, N bytes, a slow body, the
/// echo of a POST, and HEAD with `AT+HTTPHEAD`.
#[test]
fn air780e_embedded_http_server_routes() {
    let sim = SimProcess::spawn(&[]);
    assert!(sim.field("http").starts_with("127.0.0.1:"));
    assert!(sim.field("https").starts_with("127.0.0.1:"));
    let mut port = sim.port();
    port.line("AT+HTTPINIT", "\r\n", "OK\r\n");
    let get = |port: &mut Port, path: &str| {
        port.line(
            &format!("AT+HTTPPARA=\"URL\",\"http://test.example{path}\""),
            "\r\n",
            "OK\r\n",
        );
        port.line("AT+HTTPACTION=0", "\r\n", "+HTTPACTION: 0,");
        port.until("\r\n")
    };
    assert_eq!(get(&mut port, "/status/503"), "503,19\r\n");
    assert_eq!(get(&mut port, "/bytes/100000"), "200,100000\r\n");
    port.send(b"AT+HTTPREAD=99990,100\r\n");
    let tail: Vec<u8> = (99990..100000).map(|i| (i % 256) as u8).collect();
    assert_eq!(port.counted("HTTPREAD"), tail);
    port.until("OK\r\n");
    assert_eq!(get(&mut port, "/slow/64?delay_ms=20"), "200,64\r\n");
    let body = b"temp=21.5\r\n\x00\x1a";
    port.line(
        &format!("AT+HTTPDATA={},5000", body.len()),
        "\r\n",
        "DOWNLOAD\r\n",
    );
    port.send(body);
    port.until("OK\r\n");
    port.line(
        "AT+HTTPPARA=\"URL\",\"http://test.example/echo\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPACTION=1", "\r\n", "+HTTPACTION: 1,200,");
    port.until("\r\n");
    port.send(b"AT+HTTPREAD\r\n");
    let echo = port.counted("HTTPREAD");
    assert!(echo.starts_with(b"POST /echo HTTP/1.1\r\n"));
    assert!(echo.ends_with(body));
    port.until("OK\r\n");
    port.line(
        "AT+HTTPPARA=\"URL\",\"http://test.example/bytes/7\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPACTION=2", "\r\n", "+HTTPACTION: 2,");
    assert_eq!(port.until("\r\n"), "200,0\r\n");
    port.send(b"AT+HTTPHEAD\r\n");
    let head = String::from_utf8(port.counted("HTTPHEAD")).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("content-length: 7\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"));
}

/// The L610 after its power-on lines and the data call.
fn l610(extra: &[&str]) -> (SimProcess, Port) {
    let mut args = vec!["--dialect", "l610"];
    args.extend_from_slice(extra);
    let sim = SimProcess::spawn(&args);
    let mut port = sim.raw_port();
    port.until("+SIM READY\r\n");
    port.line("AT+MIPCALL=1", "\r\n", "+MIPCALL: 10.104.48.68\r\n");
    (sim, port)
}

/// L610: `AT+HTTPSET="URL"`, `AT+HTTPACT=0` -> `OK`, `+HTTP: 1`, `+HTTPRES: 0,200,<len>`;
/// `AT+HTTPREAD` gives `OK`, `+HTTPREAD: <len>` and the response, head then the file byte for
/// byte (from `python3 -m http.server`); with `RESPONSEHEADER` "1" the body alone, and a part
/// with `AT+HTTPREAD=<offset>,<length>`.
#[test]
fn l610_get_from_python_http_server_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let file = binary(2, 4000, "\r\n");
    std::fs::write(dir.path().join("fw.bin"), &file).unwrap();
    let py = PyServer::files(dir.path());
    let route = format!("ota.example=127.0.0.1:{}", py.port);
    let (_sim, mut port) = l610(&["--resolve", &route]);
    for (name, eol) in EOLS {
        port.line(
            "AT+HTTPSET=\"URL\",\"http://ota.example/fw.bin\"",
            eol,
            "OK\r\n",
        );
        port.line("AT+HTTPSET=\"UAGENT\",\"fibocom\"", eol, "OK\r\n");
        port.line("AT+HTTPSET=\"RESPONSEHEADER\",\"0\"", eol, "OK\r\n");
        let got = port.line("AT+HTTPACT=0,30", eol, "+HTTPRES: 0,");
        assert!(
            got.ends_with("\r\nOK\r\n\r\n+HTTP: 1\r\n\r\n+HTTPRES: 0,"),
            "{name}: {got:?}"
        );
        let res = port.until("\r\n");
        let (status, len) = res.trim().split_once(',').unwrap();
        assert_eq!(status, "200", "{name}");
        port.send(format!("AT+HTTPREAD{eol}").as_bytes());
        port.until("\r\nOK\r\n");
        let all = port.counted("HTTPREAD");
        assert_eq!(all.len(), len.parse::<usize>().unwrap());
        assert!(all.starts_with(b"HTTP/1.0 200 OK\r\n") || all.starts_with(b"HTTP/1.1 200 OK\r\n"));
        let split = process::find(&all, b"\r\n\r\n").unwrap() + 4;
        assert!(all[split..] == file[..], "{name}: the body differs");
        port.line("AT+HTTPSET=\"RESPONSEHEADER\",\"1\"", eol, "OK\r\n");
        port.line("AT+HTTPACT=0", eol, "+HTTPRES: 0,");
        assert_eq!(port.until("\r\n"), "200,4000\r\n");
        port.send(format!("AT+HTTPREAD=3900,500{eol}").as_bytes());
        port.until("\r\nOK\r\n");
        assert!(port.counted("HTTPREAD") == file[3900..], "{name}");
    }
}

/// L610: a 3,000-byte binary POST body after `AT+HTTPDATA=<len>`'s `>`, with each line end,
/// stored byte for byte by a real Python server; `+HTTPRES: 1,200,<len>`; the `CONTYPE` and
/// `UAGENT` set reach the server.
#[test]
fn l610_post_body_reaches_a_python_server_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let py = PyServer::recorder(dir.path());
    let route = format!("shijie-smartline.club=127.0.0.1:{}", py.port);
    let (_sim, mut port) = l610(&["--resolve", &route]);
    port.line(
        "AT+HTTPSET=\"URL\",\"shijie-smartline.club:80/api/adp610/data\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPSET=\"UAGENT\",\"fibocom\"", "\r\n", "OK\r\n");
    port.line(
        "AT+HTTPSET=\"CONTYPE\",\"application/octet-stream\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPSET=\"RESPONSEHEADER\",\"1\"", "\r\n", "OK\r\n");
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let body = binary(20 + i as u64, 3000, eol);
        assert_eq!(
            port.line("AT+HTTPDATA=3000", eol, "\r\n>"),
            format!("AT+HTTPDATA=3000{eol}\r\n>"),
            "{name}"
        );
        port.send(&body);
        assert_eq!(port.until("OK\r\n"), "\r\nOK\r\n", "{name}");
        port.line("AT+HTTPACT=1,30", eol, "+HTTPRES: 1,");
        assert_eq!(port.until("\r\n"), "200,11\r\n", "{name}");
        let stored = std::fs::read(dir.path().join(format!("post-{}.bin", i + 1))).unwrap();
        assert!(stored == body, "{name}: the server got other bytes");
        let headers =
            std::fs::read_to_string(dir.path().join(format!("post-{}.hdr", i + 1))).unwrap();
        for h in [
            "Content-Type: application/octet-stream",
            "User-Agent: fibocom",
            "Host: shijie-smartline.club",
        ] {
            assert!(headers.contains(h), "{name}: no {h:?} in {headers}");
        }
    }
}

/// L610 HTTPS with the CA loaded over AT (`AT+GTSSLFILE="TRUSTFILE"`, `AT+GTSSLMODE=1`)
/// against the embedded HTTPS listener: `+HTTPS: 1`, `+HTTPRES: 0,200,...`; without the
/// right CA `+HTTPS: 0`; the embedded server's routes over plain HTTP.
#[test]
fn l610_https_with_a_ca_loaded_over_at_and_the_embedded_routes() {
    let (_sim, mut port) = l610(&[]);
    port.line(
        "AT+HTTPSET=\"URL\",\"https://localhost/bytes/1000\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPSET=\"RESPONSEHEADER\",\"1\"", "\r\n", "OK\r\n");
    port.line("AT+GTSSLVER=4", "\r\n", "OK\r\n");
    port.line("AT+GTSSLMODE=1", "\r\n", "OK\r\n");
    let wrong = std::fs::read(repo_file("certs/client.crt")).unwrap();
    port.line(
        &format!("AT+GTSSLFILE=\"TRUSTFILE\",{}", wrong.len()),
        "\r\n",
        "\r\n>",
    );
    port.send(&wrong);
    port.until("OK\r\n");
    let got = port.line("AT+HTTPACT=0", "\r\n", "+HTTPS: ");
    assert!(got.ends_with("\r\nOK\r\n\r\n+HTTPS: "), "{got:?}");
    assert_eq!(port.until("\r\n"), "0\r\n");
    let ca = std::fs::read(repo_file("certs/ca.crt")).unwrap();
    port.line(
        &format!("AT+GTSSLFILE=\"TRUSTFILE\",{}", ca.len()),
        "\r\n",
        "\r\n>",
    );
    port.send(&ca);
    port.until("OK\r\n");
    let got = port.line("AT+HTTPACT=0", "\r\n", "+HTTPRES: 0,");
    assert!(
        got.ends_with("\r\n+HTTPS: 1\r\n\r\n+HTTPRES: 0,"),
        "{got:?}"
    );
    assert_eq!(port.until("\r\n"), "200,1000\r\n");
    port.send(b"AT+HTTPREAD\r\n");
    port.until("\r\nOK\r\n");
    let want: Vec<u8> = (0..1000).map(|i| (i % 256) as u8).collect();
    assert!(port.counted("HTTPREAD") == want);
    port.line(
        "AT+HTTPSET=\"URL\",\"http://test.example/status/404\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPACT=0", "\r\n", "+HTTPRES: 0,");
    assert_eq!(port.until("\r\n"), "404,9\r\n");
    port.line(
        "AT+HTTPSET=\"URL\",\"test.example/slow/50:80\"",
        "\r\n",
        "OK\r\n",
    );
    port.line("AT+HTTPACT=0", "\r\n", "+HTTPRES: 0,");
    assert_eq!(port.until("\r\n"), "200,50\r\n");
}

fn inject(sim: &SimProcess, words: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_modem-sim"))
        .arg("inject")
        .arg("--control")
        .arg(sim.field("control"))
        .args(words)
        .output()
        .expect("modem-sim inject runs");
    assert!(
        out.status.success(),
        "inject {words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Faults reach a request in flight (a slow body from the embedded server): `closed` and
/// `reset` end it with `+HTTPACTION: 0,601,0` (network error), `pdn-deact` with
/// `+CGEV: NW PDN DEACT 1` and the same URC, `blackhole` lets it time out (`"TIMEOUT"`, 1 s)
/// with 601; the next request works.
#[test]
fn air780e_faults_end_a_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let ctl = dir.path().join("ctl.sock");
    let sim = SimProcess::spawn(&["--control", ctl.to_str().unwrap()]);
    let mut port = sim.port();
    port.line("AT+HTTPINIT", "\r\n", "OK\r\n");
    port.line("AT+HTTPPARA=\"TIMEOUT\",1", "\r\n", "OK\r\n");
    for fault in ["closed", "reset", "pdn-deact", "blackhole"] {
        let slow = "AT+HTTPPARA=\"URL\",\"http://t.example/slow/16?delay_ms=1000\"";
        port.line(slow, "\r\n", "OK\r\n");
        if fault != "blackhole" {
            port.line("AT+HTTPPARA=\"TIMEOUT\",120", "\r\n", "OK\r\n");
        } else {
            port.line("AT+HTTPPARA=\"TIMEOUT\",1", "\r\n", "OK\r\n");
        }
        port.line("AT+HTTPACTION=0", "\r\n", "OK\r\n");
        inject(&sim, &[fault]);
        let got = port.until("+HTTPACTION: 0,601,0\r\n");
        if fault == "pdn-deact" {
            assert!(got.contains("+CGEV: NW PDN DEACT 1\r\n"), "{got:?}");
        }
        port.line(
            "AT+HTTPPARA=\"URL\",\"http://t.example/bytes/3\"",
            "\r\n",
            "OK\r\n",
        );
        port.line("AT+HTTPACTION=0", "\r\n", "+HTTPACTION: 0,");
        assert_eq!(port.until("\r\n"), "200,3\r\n", "after {fault}");
    }
}
