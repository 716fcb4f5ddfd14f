//! Issue 16 item 2 and the L610's HTTP commands, through the real binary and its PTY, against
//! real servers: `python3 -m http.server`, a small Python `http.server` handler that records
//! POST bodies, and the simulator's own embedded HTTP(S) test server. Bodies are binary and
//! compared byte for byte; every prompted body is sent after `\r\n`, `\r` and `\n` line ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{binary, fault, Port, SimProcess, EOLS};

impl Port {
    /// Reads `+<name>: <len>\r\n`, then exactly `len` bytes; returns them.
    fn counted(&mut self, name: &str) -> Vec<u8> {
        let head = self.until(&format!("+{name}: "));
        assert!(!head.contains("ERROR"), "{head}");
        let len: usize = self.until("\r\n").trim().parse().unwrap();
        self.read_bytes(len)
    }

    /// Air780E: `AT+HTTPREAD<args>` ended by `eol`: the counted body, then `OK` alone.
    fn counted_read(&mut self, args: &str, eol: &str) -> Vec<u8> {
        self.send(format!("AT+HTTPREAD{args}{eol}").as_bytes());
        let body = self.counted("HTTPREAD");
        assert_eq!(self.until("OK\r\n"), "\r\nOK\r\n", "{eol:?}");
        body
    }

    /// L610: `AT+HTTPREAD<args>` ended by `eol`: `OK`, then the counted response.
    fn l610_read(&mut self, args: &str, eol: &str) -> Vec<u8> {
        self.send(format!("AT+HTTPREAD{args}{eol}").as_bytes());
        self.until("\r\nOK\r\n");
        self.counted("HTTPREAD")
    }

    /// `<cmd>` ended by `eol`, read up to `<result>`; returns the rest of that line
    /// (`200,5000\r\n`).
    fn result(&mut self, cmd: &str, eol: &str, result: &str) -> String {
        self.line(cmd, eol, result);
        self.until("\r\n")
    }

    /// `AT+HTTPPARA="URL",...` (Air780E) or `AT+HTTPSET="URL",...` (L610) ended by CR LF.
    fn url(&mut self, para: &str, url: &str) {
        self.ok(&format!("AT+{para}=\"URL\",\"{url}\""));
    }
}

/// `0..n` as bytes, mod 256: what the embedded server's `/bytes/<n>` sends.
fn counting(from: usize, to: usize) -> Vec<u8> {
    (from..to).map(|i| (i % 256) as u8).collect()
}

/// The `post-<n>` body and headers the recorder stored; the headers must hold each of `want`.
fn stored(dir: &Path, n: usize, want: &[&str], name: &str) -> Vec<u8> {
    let file = |ext: &str| dir.join(format!("post-{n}.{ext}"));
    let headers = std::fs::read_to_string(file("hdr")).unwrap();
    for h in want {
        assert!(headers.contains(h), "{name}: no {h:?} in {headers}");
    }
    std::fs::read(file("bin")).unwrap()
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
    /// `python3 -m http.server` on a free loopback port serving a directory that holds
    /// `name` with `bytes` in it.
    fn files(name: &str, bytes: &[u8]) -> (PyServer, tempfile::TempDir) {
        let (dir, _) = process::temp_file(name, bytes);
        let server = [
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ];
        (PyServer::run(&server, dir.path()), dir)
    }

    /// `--resolve` of `host` to this server.
    fn route(&self, host: &str) -> String {
        format!("{host}=127.0.0.1:{}", self.port)
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
        PyServer::run(&["-c", script], dir)
    }

    /// `python3 -u <args> <dir>`, once it has printed its port.
    fn run(args: &[&str], dir: &Path) -> PyServer {
        let mut cmd = Command::new(process::python());
        cmd.arg("-u").args(args).arg(dir);
        let spawned = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn();
        let mut child = spawned.expect("python3 runs");
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
    let file = binary(1, 5000, "\r\n");
    let (py, _dir) = PyServer::files("blob.bin", &file);
    let sim = SimProcess::spawn(&["--resolve", &py.route("files.example")]);
    let mut port = sim.port();
    for (name, eol) in EOLS {
        port.line("AT+HTTPINIT", eol, "OK\r\n");
        port.line("AT+HTTPPARA=\"CID\",1", eol, "OK\r\n");
        let url = "AT+HTTPPARA=\"URL\",\"http://files.example/blob.bin\"";
        port.line(url, eol, "OK\r\n");
        let got = port.line("AT+HTTPACTION=0", eol, "+HTTPACTION: 0,");
        let want = "\r\nOK\r\n\r\n+HTTPACTION: 0,";
        assert!(got.ends_with(want), "{name}: {got:?}");
        assert_eq!(port.until("\r\n"), "200,5000\r\n", "{name}");
        let body = port.counted_read("", eol);
        assert!(body == file, "{name}: the body differs");
        assert!(
            port.counted_read("=4000,2000", eol) == file[4000..],
            "{name}"
        );
        let missing = "AT+HTTPPARA=\"URL\",\"http://files.example/missing\"";
        port.line(missing, eol, "OK\r\n");
        let status = port.result("AT+HTTPACTION=0", eol, "+HTTPACTION: 0,");
        assert!(status.starts_with("404,"), "{name}");
        let term = port.line("AT+HTTPTERM", eol, "OK\r\n");
        assert!(term.ends_with("\r\nOK\r\n"));
    }
}

/// Air780E: a POST whose 3,000-byte binary body (`AT+HTTPDATA`, `DOWNLOAD`) a real Python
/// server stores byte for byte, with each line end; the answer read back; the header lines
/// `AT+HTTPPARA="CONTENT"` and `"USERDATA"` set reach the server.
#[test]
fn air780e_post_body_reaches_a_python_server_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let py = PyServer::recorder(dir.path());
    let sim = SimProcess::spawn(&["--resolve", &py.route("api.example")]);
    let mut port = sim.port();
    port.ok("AT+HTTPINIT");
    port.ok("AT+HTTPPARA=\"URL\",http://api.example/up");
    port.ok("AT+HTTPPARA=\"CONTENT\",\"application/octet-stream\"");
    port.ok("AT+HTTPPARA=\"USERDATA\",\"X-Device: 42\\r\\nX-Note: \\22hi\\22\"");
    let headers = [
        "Content-Type: application/octet-stream",
        "X-Device: 42",
        "X-Note: \"hi\"",
        "User-Agent: AM_MODULE",
        "Host: api.example",
    ];
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let body = binary(10 + i as u64, 3000, eol);
        post(
            &mut port,
            "AT+HTTPDATA=3000,10000",
            eol,
            "DOWNLOAD\r\n",
            &body,
        );
        let status = port.result("AT+HTTPACTION=1", eol, "+HTTPACTION: 1,");
        assert_eq!(status, "200,11\r\n", "{name}");
        let got = stored(dir.path(), i + 1, &headers, name);
        assert!(got == body, "{name}: the server got other bytes");
        assert_eq!(port.counted_read("", eol), b"stored 3000");
    }
}

/// `cmd` ended by `eol` is echoed and prompts with `prompt` (nothing else); `body` after it is
/// answered `OK`.
fn post(port: &mut Port, cmd: &str, eol: &str, prompt: &str, body: &[u8]) {
    let echoed = port.line(cmd, eol, prompt);
    assert_eq!(echoed, format!("{cmd}{eol}\r\n{prompt}"), "{eol:?}");
    port.send(body);
    assert_eq!(port.until("OK\r\n"), "\r\nOK\r\n", "{eol:?}");
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
    port.fs_write("ca.crt", &ca, "\r\n");
    port.fs_write("other.crt", &not_ca, "\r\n");
    port.ok("AT+HTTPSSL=1");
    port.ok("AT+SSLCFG=\"cacert\",153,\"ca.crt\"");
    port.ok("AT+SSLCFG=\"seclevel\",153,1");
    port.ok("AT+HTTPINIT");
    port.url("HTTPPARA", "https://localhost/bytes/2000");
    let action = |port: &mut Port| port.result("AT+HTTPACTION=0", "\r\n", "+HTTPACTION: 0,");
    assert_eq!(action(&mut port), "200,2000\r\n");
    assert!(port.counted_read("", "\r\n") == counting(0, 2000));
    port.ok("AT+SSLCFG=\"cacert\",153,\"other.crt\"");
    assert_eq!(action(&mut port), "605,0\r\n");
}

/// The embedded HTTP server's routes through the module: a status, N bytes, a slow body, the
/// echo of a POST, and HEAD with `AT+HTTPHEAD`.
#[test]
fn air780e_embedded_http_server_routes() {
    let sim = SimProcess::spawn(&[]);
    assert!(sim.field("http").starts_with("127.0.0.1:"));
    assert!(sim.field("https").starts_with("127.0.0.1:"));
    let mut port = sim.port();
    port.ok("AT+HTTPINIT");
    let action = |port: &mut Port, path: &str, method: u8| {
        port.url("HTTPPARA", &format!("http://test.example{path}"));
        let cmd = format!("AT+HTTPACTION={method}");
        port.result(&cmd, "\r\n", &format!("+HTTPACTION: {method},"))
    };
    assert_eq!(action(&mut port, "/status/503", 0), "503,19\r\n");
    assert_eq!(action(&mut port, "/bytes/100000", 0), "200,100000\r\n");
    let tail = port.counted_read("=99990,100", "\r\n");
    assert_eq!(tail, counting(99990, 100000));
    assert_eq!(action(&mut port, "/slow/64?delay_ms=20", 0), "200,64\r\n");
    let body = b"temp=21.5\r\n\x00\x1a";
    let data = format!("AT+HTTPDATA={},5000", body.len());
    post(&mut port, &data, "\r\n", "DOWNLOAD\r\n", body);
    assert!(action(&mut port, "/echo", 1).starts_with("200,"));
    let echo = port.counted_read("", "\r\n");
    assert!(echo.starts_with(b"POST /echo HTTP/1.1\r\n"));
    assert!(echo.ends_with(body));
    assert_eq!(action(&mut port, "/bytes/7", 2), "200,0\r\n");
    port.send(b"AT+HTTPHEAD\r\n");
    let head = String::from_utf8(port.counted("HTTPHEAD")).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("content-length: 7\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"));
}

/// L610: `AT+HTTPSET="URL"`, `AT+HTTPACT=0` -> `OK`, `+HTTP: 1`, `+HTTPRES: 0,200,<len>`;
/// `AT+HTTPREAD` gives `OK`, `+HTTPREAD: <len>` and the response, head then the file byte for
/// byte (from `python3 -m http.server`); with `RESPONSEHEADER` "1" the body alone, and a part
/// with `AT+HTTPREAD=<offset>,<length>`.
#[test]
fn l610_get_from_python_http_server_is_byte_identical() {
    let file = binary(2, 4000, "\r\n");
    let (py, _dir) = PyServer::files("fw.bin", &file);
    let (_sim, mut port) = SimProcess::l610(&["--resolve", &py.route("ota.example")]);
    for (name, eol) in EOLS {
        let url = "AT+HTTPSET=\"URL\",\"http://ota.example/fw.bin\"";
        port.line(url, eol, "OK\r\n");
        port.line("AT+HTTPSET=\"UAGENT\",\"fibocom\"", eol, "OK\r\n");
        port.line("AT+HTTPSET=\"RESPONSEHEADER\",\"0\"", eol, "OK\r\n");
        let got = port.line("AT+HTTPACT=0,30", eol, "+HTTPRES: 0,");
        let want = "\r\nOK\r\n\r\n+HTTP: 1\r\n\r\n+HTTPRES: 0,";
        assert!(got.ends_with(want), "{name}: {got:?}");
        let res = port.until("\r\n");
        let (status, len) = res.trim().split_once(',').unwrap();
        assert_eq!(status, "200", "{name}");
        let all = port.l610_read("", eol);
        assert_eq!(all.len(), len.parse::<usize>().unwrap());
        assert!(all.starts_with(b"HTTP/1.0 200 OK\r\n") || all.starts_with(b"HTTP/1.1 200 OK\r\n"));
        let split = process::find(&all, b"\r\n\r\n").unwrap() + 4;
        assert!(all[split..] == file[..], "{name}: the body differs");
        port.line("AT+HTTPSET=\"RESPONSEHEADER\",\"1\"", eol, "OK\r\n");
        let res = port.result("AT+HTTPACT=0", eol, "+HTTPRES: 0,");
        assert_eq!(res, "200,4000\r\n");
        assert!(port.l610_read("=3900,500", eol) == file[3900..], "{name}");
    }
}

/// L610: a 3,000-byte binary POST body after `AT+HTTPDATA=<len>`'s `>`, with each line end,
/// stored byte for byte by a real Python server; `+HTTPRES: 1,200,<len>`; the `CONTYPE` and
/// `UAGENT` set reach the server.
#[test]
fn l610_post_body_reaches_a_python_server_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let py = PyServer::recorder(dir.path());
    let route = py.route("shijie-smartline.club");
    let (_sim, mut port) = SimProcess::l610(&["--resolve", &route]);
    port.url("HTTPSET", "shijie-smartline.club:80/api/adp610/data");
    port.ok("AT+HTTPSET=\"UAGENT\",\"fibocom\"");
    port.ok("AT+HTTPSET=\"CONTYPE\",\"application/octet-stream\"");
    port.ok("AT+HTTPSET=\"RESPONSEHEADER\",\"1\"");
    let headers = [
        "Content-Type: application/octet-stream",
        "User-Agent: fibocom",
        "Host: shijie-smartline.club",
    ];
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let body = binary(20 + i as u64, 3000, eol);
        post(&mut port, "AT+HTTPDATA=3000", eol, ">", &body);
        let res = port.result("AT+HTTPACT=1,30", eol, "+HTTPRES: 1,");
        assert_eq!(res, "200,11\r\n", "{name}");
        let got = stored(dir.path(), i + 1, &headers, name);
        assert!(got == body, "{name}: the server got other bytes");
    }
}

/// L610 HTTPS with the CA loaded over AT (`AT+GTSSLFILE="TRUSTFILE"`, `AT+GTSSLMODE=1`)
/// against the embedded HTTPS listener: `+HTTPS: 1`, `+HTTPRES: 0,200,...`; without the
/// right CA `+HTTPS: 0`; the embedded server's routes over plain HTTP.
#[test]
fn l610_https_with_a_ca_loaded_over_at_and_the_embedded_routes() {
    let (_sim, mut port) = SimProcess::l610(&[]);
    port.url("HTTPSET", "https://localhost/bytes/1000");
    port.ok("AT+HTTPSET=\"RESPONSEHEADER\",\"1\"");
    port.ok("AT+GTSSLVER=4");
    port.ok("AT+GTSSLMODE=1");
    let trust = |port: &mut Port, pem: &str| {
        let pem = std::fs::read(repo_file(pem)).unwrap();
        let cmd = format!("AT+GTSSLFILE=\"TRUSTFILE\",{}", pem.len());
        port.line(&cmd, "\r\n", "\r\n>");
        port.send(&pem);
        port.until("OK\r\n");
    };
    trust(&mut port, "certs/client.crt");
    let got = port.line("AT+HTTPACT=0", "\r\n", "+HTTPS: ");
    assert!(got.ends_with("\r\nOK\r\n\r\n+HTTPS: "), "{got:?}");
    assert_eq!(port.until("\r\n"), "0\r\n");
    trust(&mut port, "certs/ca.crt");
    let got = port.line("AT+HTTPACT=0", "\r\n", "+HTTPRES: 0,");
    let want = "\r\n+HTTPS: 1\r\n\r\n+HTTPRES: 0,";
    assert!(got.ends_with(want), "{got:?}");
    assert_eq!(port.until("\r\n"), "200,1000\r\n");
    assert!(port.l610_read("", "\r\n") == counting(0, 1000));
    let get = |port: &mut Port, url: &str| {
        port.url("HTTPSET", url);
        port.result("AT+HTTPACT=0", "\r\n", "+HTTPRES: 0,")
    };
    assert_eq!(
        get(&mut port, "http://test.example/status/404"),
        "404,9\r\n"
    );
    assert_eq!(get(&mut port, "test.example/slow/50:80"), "200,50\r\n");
}

/// Faults reach a request in flight (a slow body from the embedded server): `closed` and
/// `reset` end it with `+HTTPACTION: 0,601,0` (network error), `pdn-deact` with
/// `+CGEV: NW PDN DEACT 1` and the same URC, `blackhole` lets it time out (`"TIMEOUT"`, 1 s)
/// with 601; the next request works.
#[test]
fn air780e_faults_end_a_request_in_flight() {
    let (sim, mut port) = SimProcess::controlled(&[]);
    port.ok("AT+HTTPINIT");
    port.ok("AT+HTTPPARA=\"TIMEOUT\",1");
    for fault_name in ["closed", "reset", "pdn-deact", "blackhole"] {
        port.url("HTTPPARA", "http://t.example/slow/16?delay_ms=1000");
        if fault_name != "blackhole" {
            port.ok("AT+HTTPPARA=\"TIMEOUT\",120");
        } else {
            port.ok("AT+HTTPPARA=\"TIMEOUT\",1");
        }
        port.ok("AT+HTTPACTION=0");
        fault(&sim.control(), &[fault_name]);
        let got = port.until("+HTTPACTION: 0,601,0\r\n");
        if fault_name == "pdn-deact" {
            assert!(got.contains("+CGEV: NW PDN DEACT 1\r\n"), "{got:?}");
        }
        port.url("HTTPPARA", "http://t.example/bytes/3");
        let res = port.result("AT+HTTPACTION=0", "\r\n", "+HTTPACTION: 0,");
        assert_eq!(res, "200,3\r\n", "after {fault_name}");
    }
}
