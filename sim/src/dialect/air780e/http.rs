//! The Air780E's HTTP(S) client commands and the `AT+SAPBR` bearer they run on.
//!
//! Sources (openLuat/luatos-doc-pool, `doc/AT开发资料/AT_Command_Manual/docs/Command_List/HTTP/`,
//! cited below as `HTTP/<file>`): HTTPPARA.md, HTTPDATA.md, HTTPACTION.md, HTTPREAD.md,
//! HTTPHEAD.md, HTTPSSL.md, ERROR.md and 使用方法举例.md (the GET, POST, HTTPS-with-certificates
//! and HEAD flows, with `AT+SAPBR`); and the capture in
//! `fixtures/real/pending/air780e-g780ep-aliyun-http-auth.log` (public/20240722_air780ep_at_aliyun.md:
//! an unquoted `https://` URL, `USER_DEFINED`, `DOWNLOAD`, `+HTTPACTION: 1,200,124`,
//! `+HTTPREAD: 124`). Choices the sources leave open are in fixtures/DIVERGENCES.md (H1-H8).

use std::time::Duration;

use bytes::Bytes;

use crate::at::{Arg, Form};
use crate::dialect::params::args_or_syntax;
use crate::dialect::Out;
use crate::modem::CellState;
use crate::net::http::{HttpError, HttpRequest, HttpResponse, Method};
use crate::net::{LinkId, NetEvent, NetEventKind, NetRequest, TlsOptions, HTTP_LINKS};

use crate::dialect::params::{fixed_args, read_part, setting};

use super::{num_in, set_args};

/// `AT+HTTPDATA`'s `<size>` on the AT firmware (HTTP/HTTPDATA.md: "AT版本 最大长度为3356").
pub const DATA_MAX: u32 = 3356;
/// `AT+HTTPPARA="URL"`: "最大长度500个字节" (HTTP/HTTPPARA.md).
pub const URL_MAX: usize = 500;
/// The header text a host may add (`USERDATA`, `USER_DEFINED`); the manual gives no number,
/// this keeps memory bounded.
pub const USERDATA_MAX: usize = 1024;
/// The SSL context `AT+SSLCFG` configures for HTTPS (HTTP/使用方法举例.md: "在HTTPS链接下为153").
pub const SSL_CONTEXT: u32 = 153;

/// The timer ids of `AT+HTTPDATA`'s input time (the file system's count up from 1, the
/// module's own are at the top of the range).
const DATA_TIMERS: u64 = 1 << 48;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Params {
    cid: u32,
    url: String,
    ua: String,
    proip: String,
    proport: u32,
    redir: u32,
    brk: u32,
    brkend: u32,
    timeout: u32,
    content: String,
    /// `USERDATA`: replaced by each set, `\r\n` between lines.
    userdata: String,
    /// `USER_DEFINED`: "后面输入的不会覆盖以前的" (each set adds a line).
    user_defined: Vec<String>,
}

impl Params {
    /// `AT+HTTPPARA?`'s answer: every tag's value, `USER_DEFINED` lines after `USERDATA`'s.
    fn print(&self, out: &mut Out) {
        let p = self;
        let mut userdata = p.userdata.clone();
        for l in &p.user_defined {
            if !userdata.is_empty() {
                userdata.push_str("\r\n");
            }
            userdata.push_str(l);
        }
        out.line("+HTTPPARA: ");
        out.raw(
            format!(
                "CID: {}\r\nURL: {}\r\nUA: {}\r\nPROIP: {}\r\nPROPORT: {}\r\nREDIR: {}\r\n\
                 BREAK: {}\r\nBREAKEND: {}\r\nTIMEOUT: {}\r\nCONTENT: {}\r\nUSERDATA: {}\r\n",
                p.cid,
                p.url,
                p.ua,
                p.proip,
                p.proport,
                p.redir,
                p.brk,
                p.brkend,
                p.timeout,
                p.content,
                userdata
            )
            .as_bytes(),
        );
        out.ok()
    }

    /// `AT+HTTPPARA=<tag>,<value>`: sets the tag, or `false` for an unknown tag or a value it
    /// does not take.
    fn set(&mut self, tag: &str, value: &Arg) -> bool {
        let text = value.text();
        let p = self;
        let number = |v: &Arg, max: u32| num_in(Some(v), 0..=max);
        match tag.to_ascii_uppercase().as_str() {
            "CID" => num_in(Some(value), 1..=3).map(|n| p.cid = n).is_some(),
            "URL" if text.len() <= URL_MAX => {
                p.url = text.trim().to_string();
                true
            }
            "UA" if text.len() <= 255 => {
                p.ua = text;
                true
            }
            "PROIP" if text.len() <= 64 => {
                p.proip = text;
                true
            }
            "PROPORT" => number(value, 65535).map(|n| p.proport = n).is_some(),
            "REDIR" => number(value, 1).map(|n| p.redir = n).is_some(),
            "BREAK" => number(value, u32::MAX).map(|n| p.brk = n).is_some(),
            "BREAKEND" => number(value, u32::MAX).map(|n| p.brkend = n).is_some(),
            "TIMEOUT" => num_in(Some(value), 1..=3600)
                .map(|n| p.timeout = n)
                .is_some(),
            "CONTENT" if text.len() <= 255 && header_ok(&text) => {
                p.content = text;
                true
            }
            "USERDATA" => {
                let t = unescape(&text);
                let fits = t.len() <= USERDATA_MAX && header_lines(&t).is_some();
                if fits {
                    p.userdata = t;
                }
                fits
            }
            "USER_DEFINED" => {
                let t = unescape(&text);
                let used: usize = p.user_defined.iter().map(|l| l.len() + 2).sum();
                let fits = used + t.len() <= USERDATA_MAX && header_lines(&t).is_some();
                if fits && !t.trim().is_empty() {
                    p.user_defined.push(t);
                }
                fits
            }
            _ => false,
        }
    }
}

impl Default for Params {
    /// The values `AT+HTTPPARA?` shows after `AT+HTTPINIT` (HTTP/HTTPPARA.md example).
    fn default() -> Self {
        Params {
            cid: 1,
            url: String::new(),
            ua: "AM_MODULE".into(),
            proip: "0.0.0.0".into(),
            proport: 0,
            redir: 0,
            brk: 0,
            brkend: 0,
            timeout: 120,
            content: String::new(),
            userdata: String::new(),
            user_defined: Vec::new(),
        }
    }
}

/// The `AT+SAPBR` bearer profile (HTTP/使用方法举例.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sapbr {
    contype: String,
    apn: String,
    user: String,
    pwd: String,
    open: bool,
}

#[derive(Debug, Default)]
pub struct Http {
    inited: bool,
    ssl: bool,
    params: Params,
    body: Vec<u8>,
    /// The request in flight: its link and method number.
    busy: Option<(LinkId, u32)>,
    response: Option<HttpResponse>,
    next: u64,
    sapbr: [Sapbr; 3],
}

/// `\22` for a quote and a literal `\r\n` for a line break, as HTTP/HTTPPARA.md says a host
/// writes them inside `USERDATA`/`USER_DEFINED`.
fn unescape(s: &str) -> String {
    s.replace("\\22", "\"")
        .replace("\\r\\n", "\r\n")
        .replace("\\r", "\r")
        .replace("\\n", "\n")
}

/// `Name: value` lines; a line without a colon or with an empty name is not a header.
fn header_lines(text: &str) -> Option<Vec<(String, String)>> {
    text.split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim();
            (!n.is_empty()).then(|| (n.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// An `AT+HTTPDATA` waiting for its body: the input timer that ends the wait (the dialect's
/// [`Pending`](crate::dialect::pending::Pending)).
#[derive(Debug)]
pub struct PendingBody {
    pub timer: u64,
}

impl Http {
    pub fn owns(&self, link: LinkId) -> bool {
        link >= HTTP_LINKS
    }

    /// `AT+HTTPINIT` -> `OK` (HTTP/使用方法举例.md, "HTTP协议栈初始化"); a second one before
    /// `AT+HTTPTERM` is `ERROR`, as on the SIMCom command set the manual follows.
    pub fn httpinit(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Test => out.ok(),
            Form::Exec if !self.inited => {
                self.inited = true;
                self.params = Params::default();
                self.body.clear();
                self.response = None;
                out.ok()
            }
            _ => out.error(),
        }
    }

    /// `AT+HTTPTERM` -> `OK` ("结束HTTP服务", HTTP/使用方法举例.md); a request in flight is
    /// abandoned without its URC; `ERROR` when the service is not initialised.
    pub fn httpterm(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Test => out.ok(),
            Form::Exec if self.inited => {
                self.terminate(out);
                out.ok()
            }
            _ => out.error(),
        }
    }

    fn terminate(&mut self, out: &mut Out) {
        if let Some((link, _)) = self.busy.take() {
            out.net(NetRequest::Close { link });
        }
        self.inited = false;
        self.params = Params::default();
        self.body.clear();
        self.response = None;
    }

    /// The module restarts or loses its bearer: a request in flight ends with
    /// `+HTTPACTION: <m>,601,0` (network error, HTTP/HTTPACTION.md) when `urc`.
    pub fn network_lost(&mut self, urc: bool, out: &mut Out) {
        if let Some((link, m)) = self.busy.take() {
            out.net(NetRequest::Close { link });
            if urc {
                out.line(format!("+HTTPACTION: {m},601,0"));
            }
        }
        for s in &mut self.sapbr {
            s.open = false;
        }
    }

    /// `AT+HTTPSSL=<0|1>`, `AT+HTTPSSL?` -> `+HTTPSSL: <n>`, `=?` -> `+HTTPSSL: (0-1)`
    /// (HTTP/HTTPSSL.md; the manual's read answer has a stray blank, `+ HTTPSSL`, which we
    /// take for a typo).
    pub fn httpssl(&mut self, form: &Form, out: &mut Out) {
        let read = || format!("+HTTPSSL: {}", self.ssl as u8);
        let test = Some("+HTTPSSL: (0-1)");
        if let Some(n) = setting(form, out, read, test, |n| num_in(Some(n), 0..=1)) {
            self.ssl = n == 1;
        }
    }

    /// `AT+HTTPPARA=<tag>,<value>` -> `OK`; `?` lists the values; `=?` the syntax
    /// (HTTP/HTTPPARA.md). Tags: CID (1-3), URL (500 bytes; the capture sends it unquoted),
    /// UA, PROIP, PROPORT, REDIR (0/1), BREAK, BREAKEND, TIMEOUT (s), CONTENT (the
    /// Content-Type), USER_DEFINED (adds a header line), USERDATA (replaces them; `\r\n`
    /// between lines, `\22` for a quote). `ERROR` before `AT+HTTPINIT`.
    pub fn httppara(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Test => {
                out.line("+HTTPPARA: \"HTTPParamTag\",\"HTTPParamValue\"");
                return out.ok();
            }
            Form::Read => return self.params.print(out),
            Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        if !self.inited {
            return out.error();
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let [tag, value] = args.as_slice() else {
            return out.error();
        };
        if self.params.set(&tag.text(), value) {
            out.ok()
        } else {
            out.error()
        }
    }

    /// `AT+HTTPDATA=<size>,<time>` -> `DOWNLOAD`, then exactly `<size>` bytes (any values),
    /// then `OK`; `<size>` 0 clears the body ("相当于把内容清除掉") and answers `OK` at once;
    /// `<time>` 1000-120000 ms for the input; when it passes first the bytes are dropped and
    /// the answer is `ERROR` (HTTP/HTTPDATA.md; the capture: `DOWNLOAD`, the 112 bytes, `OK`).
    pub fn httpdata(&mut self, form: &Form, out: &mut Out) -> Option<PendingBody> {
        let syntax = format!("+HTTPDATA: (0-{DATA_MAX}),(1000-120000)");
        let [size, time] = fixed_args(form, out, &[&syntax])?;
        let size = num_in(Some(&size), 0..=DATA_MAX).filter(|_| self.inited);
        let Some(size) = size else {
            out.error();
            return None;
        };
        if size == 0 {
            self.body.clear();
            out.ok();
            return None;
        }
        let Some(ms) = num_in(Some(&time), 1000..=120_000) else {
            out.error();
            return None;
        };
        self.next += 1;
        let timer = DATA_TIMERS + (self.next % (1 << 32));
        out.line("DOWNLOAD");
        out.expect_data(size as usize);
        out.timer(timer, Duration::from_millis(ms as u64));
        Some(PendingBody { timer })
    }

    /// The bytes after `DOWNLOAD`.
    pub fn body_data(&mut self, data: Vec<u8>, out: &mut Out) {
        tracing::info!(bytes = data.len(), "HTTP body taken");
        self.body = data;
        out.ok()
    }

    /// `AT+HTTPDATA`'s input time passed.
    pub fn timed_out(&mut self, out: &mut Out) {
        tracing::warn!("AT+HTTPDATA input timed out");
        out.cancel_data();
        out.error();
    }

    /// `AT+HTTPACTION=<method>` -> `OK`, then `+HTTPACTION: <method>,<status>,<len>` when the
    /// exchange ends (HTTP/HTTPACTION.md; the capture: `OK`, `+HTTPACTION: 1,200,124`).
    /// Methods 0 GET, 1 POST (the `AT+HTTPDATA` body), 2 HEAD, and 3 DELETE (the manual's test
    /// answer says `(0-2)`; 3 follows the SIMCom set, DIVERGENCES H3). No response:
    /// `<status>` 601 (network error), 603 (DNS: no route for the host), 605 (SSL channel
    /// failed), 602 (no memory: a body over 1 MiB), 600 (not HTTP); `<len>` 0. `ERROR` before
    /// `AT+HTTPINIT`, without a URL, or while a request is in flight ("HTTP is busy").
    /// HTTPS: an `https://` URL, or `AT+HTTPSSL=1`; the certificates are SSL context 153's.
    pub fn httpaction(
        &mut self,
        cell: &CellState,
        form: &Form,
        out: &mut Out,
        tls: impl FnOnce(&str) -> TlsOptions,
    ) {
        match form {
            Form::Test => {
                out.line("+HTTPACTION: (0-3)");
                return out.ok();
            }
            Form::Set(_) => {}
            _ => return out.error(),
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let Some(m) = args.first().and_then(|a| num_in(Some(a), 0..=3)) else {
            return out.error();
        };
        if args.len() > 1 || !self.inited || self.busy.is_some() || self.params.url.is_empty() {
            return out.error();
        }
        let Some(url) = crate::net::http::parse_url(&self.params.url) else {
            out.ok();
            return out.line(format!("+HTTPACTION: {m},603,0"));
        };
        out.ok();
        if !cell.pdp_active {
            return out.line(format!("+HTTPACTION: {m},601,0"));
        }
        let method = [Method::Get, Method::Post, Method::Head, Method::Delete][m as usize];
        let p = &self.params;
        let mut headers = vec![("User-Agent".to_string(), p.ua.clone())];
        if !p.content.is_empty() {
            headers.push(("Content-Type".into(), p.content.clone()));
        }
        if m == 0 && (p.brk > 0 || p.brkend > 0) {
            let range = if p.brkend > p.brk {
                format!("bytes={}-{}", p.brk, p.brkend)
            } else {
                format!("bytes={}-", p.brk)
            };
            headers.push(("Range".into(), range));
        }
        for text in std::iter::once(&p.userdata).chain(&p.user_defined) {
            headers.extend(header_lines(text).unwrap_or_default());
        }
        let body = if method == Method::Post {
            Bytes::copy_from_slice(&self.body)
        } else {
            Bytes::new()
        };
        let req = HttpRequest {
            method,
            url: p.url.clone(),
            headers,
            body,
            tls: (url.https || self.ssl).then(|| tls(&url.host)),
            timeout: Duration::from_secs(p.timeout as u64),
        };
        self.next += 1;
        let link = HTTP_LINKS + self.next;
        self.busy = Some((link, m));
        self.response = None;
        out.net(NetRequest::Http { link, req });
    }

    pub fn on_net(&mut self, ev: NetEvent, out: &mut Out) {
        let Some((link, m)) = self.busy else {
            return;
        };
        if link != ev.link {
            return;
        }
        let status = match ev.kind {
            NetEventKind::HttpDone(resp) => {
                let line = format!("+HTTPACTION: {m},{},{}", resp.status, resp.body.len());
                self.response = Some(resp);
                self.busy = None;
                return out.line(line);
            }
            NetEventKind::HttpFailed(e) => match e {
                HttpError::NoRoute => 603,
                HttpError::Tls(_) => 605,
                HttpError::TooLarge => 602,
                HttpError::Protocol(_) => 600,
                HttpError::BadRequest(_)
                | HttpError::Connect(_)
                | HttpError::Closed(_)
                | HttpError::Reset
                | HttpError::Timeout => 601,
            },
            _ => return,
        };
        self.busy = None;
        out.line(format!("+HTTPACTION: {m},{status},0"));
    }

    /// `AT+HTTPREAD` -> `+HTTPREAD: <len>`, the body, `OK`; `AT+HTTPREAD=<start>,<size>` the
    /// part from `<start>` (HTTP/HTTPREAD.md; the capture: `+HTTPREAD: 124`, the JSON, `OK`).
    /// `ERROR` when there is no response, or `<start>` is past its end.
    pub fn httpread(&mut self, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            out.line("+HTTPREAD: (0-3356),(1-3356)");
            return out.ok();
        }
        let Some(range) = read_part(form, out) else {
            return;
        };
        let Some(resp) = self.response.as_ref().filter(|_| self.inited) else {
            return out.error();
        };
        let body = &resp.body[..];
        let part = match range {
            None => body,
            Some((s, _)) if s > body.len() || (s == body.len() && s > 0) => return out.error(),
            Some((s, n)) => &body[s..(s.saturating_add(n)).min(body.len())],
        };
        out.line(format!("+HTTPREAD: {}", part.len()));
        out.raw(part);
        out.ok()
    }

    /// `AT+HTTPHEAD` -> `+HTTPHEAD: <len>`, the status line and headers, `OK`
    /// (HTTP/HTTPHEAD.md; its table names the line `+HTTPREAD:`, the flow in 使用方法举例.md
    /// `+HTTPHEAD:`, which we follow: DIVERGENCES H4).
    pub fn httphead(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Test => out.ok(),
            Form::Exec => {
                let Some(resp) = self.response.as_ref().filter(|_| self.inited) else {
                    return out.error();
                };
                out.line(format!("+HTTPHEAD: {}", resp.head.len()));
                out.raw(&resp.head);
                out.ok()
            }
            _ => out.error(),
        }
    }

    /// `AT+SAPBR=<cmd>,<cid>[,<tag>,<value>]` (HTTP/使用方法举例.md, every flow): 3 sets
    /// CONTYPE/APN/USER/PWD, 1 opens the bearer (`ERROR` without the default PDP context),
    /// 2 answers `+SAPBR: <cid>,<1|3>,"<ip>"` (1 open, 3 closed), 0 closes, 4 lists the
    /// profile. The module's LTE bearer is up whether or not this is used; the HTTP commands do
    /// not require it.
    pub fn sapbr(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(
            form,
            out,
            &["+SAPBR: (0-4),(1-3),\"ConParamTag\",\"ConParamValue\""],
        ) else {
            return;
        };
        let (Some(cmd), Some(cid)) = (num_in(args.first(), 0..=4), num_in(args.get(1), 1..=3))
        else {
            return out.error();
        };
        let b = &mut self.sapbr[cid as usize - 1];
        match (cmd, &args[2..]) {
            (0, []) if b.open => {
                b.open = false;
                out.ok()
            }
            (1, []) if cell.pdp_active && !b.open => {
                b.open = true;
                out.ok()
            }
            (2, []) => {
                let (st, ip) = if b.open && cell.pdp_active {
                    (1, cell.identity.ip.to_string())
                } else {
                    (3, "0.0.0.0".into())
                };
                out.line(format!("+SAPBR: {cid},{st},\"{ip}\""));
                out.ok()
            }
            (3, [tag, value]) => {
                let v = value.text();
                if v.len() > 64 {
                    return out.error();
                }
                let slot = match tag.text().to_ascii_uppercase().as_str() {
                    "CONTYPE" => &mut b.contype,
                    "APN" => &mut b.apn,
                    "USER" => &mut b.user,
                    "PWD" => &mut b.pwd,
                    _ => return out.error(),
                };
                *slot = v;
                out.ok()
            }
            (4, []) => {
                out.line("+SAPBR:");
                out.raw(
                    format!(
                        "CONTYPE: {}\r\nAPN: {}\r\nUSER: {}\r\nPWD: {}\r\n",
                        b.contype, b.apn, b.user, b.pwd
                    )
                    .as_bytes(),
                );
                out.ok()
            }
            _ => out.error(),
        }
    }
}

/// A value that can go in a header as typed (no line breaks).
fn header_ok(v: &str) -> bool {
    !v.contains(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use crate::dialect::rig::Rig;
    use crate::dialect::DialectKind;
    use crate::fault::Fault;
    use crate::net::http::{HttpError, HttpResponse, Method};
    use crate::net::{NetEventKind, NetRequest, Verify};

    /// A fresh Air780E; its commands end with CR LF.
    fn rig() -> Rig {
        Rig::new(DialectKind::Air780e).crlf()
    }

    fn done(status: u16, body: &[u8]) -> NetEventKind {
        NetEventKind::HttpDone(HttpResponse {
            status,
            head: "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n"
                .as_bytes()
                .to_vec()
                .into(),
            body: body.to_vec().into(),
        })
    }

    /// The Aliyun guide's capture (fixtures/real/pending/air780e-g780ep-aliyun-http-auth.log),
    /// answer for answer: the bearer, an unquoted `https://` URL, `USER_DEFINED`, `DOWNLOAD`
    /// with the 112 bytes, `+HTTPACTION: 1,200,124`, `+HTTPREAD: 124`.
    #[test]
    fn the_aliyun_capture() {
        let mut r = rig();
        r.all_answer(
            "\r\nOK\r\n",
            &[
                "AT+SAPBR=3,1,\"CONTYPE\",\"GPRS\"",
                "AT+SAPBR=3,1,\"APN\",\"CMIOT\"",
                "AT+SAPBR=1,1",
                "AT+HTTPINIT",
                "AT+HTTPPARA=\"URL\",https://iot-auth.cn-shanghai.aliyuncs.com/auth/devicename",
                "AT+HTTPPARA=\"USER_DEFINED\",\"Content-type: application/x-www-form-urlencoded\"",
            ],
        );
        let body = b"productKey=k1hipglLdjU&sign=0f655b12adf519b9a7a2b0a990f398b6&clientId=868488076506128&deviceName=868488076506128";
        assert_eq!(body.len(), 112);
        assert_eq!(r.send("AT+HTTPDATA=112,20000"), "\r\nDOWNLOAD\r\n");
        assert_eq!(r.raw(body), "\r\nOK\r\n");
        assert_eq!(r.send("AT+HTTPACTION=1"), "\r\nOK\r\n");
        let (_, req) = r.last_http();
        assert_eq!(req.method, Method::Post);
        assert_eq!(&req.body[..], &body[..]);
        assert_eq!(
            req.url,
            "https://iot-auth.cn-shanghai.aliyuncs.com/auth/devicename"
        );
        let tls = req.tls.expect("https");
        assert_eq!(tls.verify, Verify::None);
        assert_eq!(tls.server_name, "iot-auth.cn-shanghai.aliyuncs.com");
        assert!(req.headers.contains(&(
            "Content-type".into(),
            "application/x-www-form-urlencoded".into()
        )));
        assert!(req
            .headers
            .contains(&("User-Agent".into(), "AM_MODULE".into())));
        let json = br#"{"code":200,"data":{"iotId":"2BGmgWFvoXlbi1Er9sk4k1hip0","iotToken":"137eb0759ca248b79383a60c0b0e0f80"},"message":"success"}"#;
        assert_eq!(json.len(), 124);
        assert_eq!(r.answer(done(200, json)), "\r\n+HTTPACTION: 1,200,124\r\n");
        assert_eq!(
            r.send("AT+HTTPREAD"),
            format!(
                "\r\n+HTTPREAD: 124\r\n{}\r\nOK\r\n",
                String::from_utf8_lossy(json)
            )
        );
        assert_eq!(
            r.send("AT+SAPBR=2,1"),
            "\r\n+SAPBR: 1,1,\"10.104.48.68\"\r\n\r\nOK\r\n"
        );
    }

    /// A failed exchange is `+HTTPACTION: <m>,<60x>,0` with HTTPACTION.md's codes; a second
    /// request while one is in flight is `ERROR` ("HTTP is busy").
    #[test]
    fn failures_give_the_manuals_codes() {
        let mut r = rig();
        r.send("AT+HTTPINIT");
        r.send("AT+HTTPPARA=\"URL\",\"http://example.com/x\"");
        for (err, code) in [
            (HttpError::NoRoute, 603),
            (HttpError::Tls("bad".into()), 605),
            (HttpError::Reset, 601),
            (HttpError::Closed("fault closed".into()), 601),
            (HttpError::Timeout, 601),
            (HttpError::TooLarge, 602),
            (HttpError::Protocol("x".into()), 600),
        ] {
            r.script(&[
                ("AT+HTTPACTION=0", "\r\nOK\r\n"),
                ("AT+HTTPACTION=0", "\r\nERROR\r\n"),
            ]);
            assert_eq!(
                r.answer(NetEventKind::HttpFailed(err)),
                format!("\r\n+HTTPACTION: 0,{code},0\r\n")
            );
        }
        // No response to read after a failure.
        assert_eq!(r.send("AT+HTTPREAD"), "\r\nERROR\r\n");
    }

    /// `pdn-deact` while a request is in flight: the module's bearer is gone, the request ends
    /// with `+HTTPACTION: <m>,601,0` after `+CGEV: NW PDN DEACT 1`, and the late answer of the
    /// abandoned link is ignored; `AT+HTTPTERM` abandons a request without a URC.
    #[test]
    fn pdn_loss_and_httpterm_end_a_request() {
        let mut r = rig();
        r.send("AT+HTTPINIT");
        r.send("AT+HTTPPARA=\"URL\",\"http://example.com/x\"");
        r.send("AT+HTTPACTION=2");
        assert_eq!(
            r.fault(Fault::PDN_DEACT),
            "\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+HTTPACTION: 2,601,0\r\n"
        );
        let (link, _) = r.last_http();
        assert!(r.net.contains(&NetRequest::Close { link }));
        assert_eq!(r.answer(done(200, b"abc")), "");
        r.send("AT+HTTPACTION=0");
        assert_eq!(r.send("AT+HTTPTERM"), "\r\nOK\r\n");
        let (link, _) = r.last_http();
        assert_eq!(r.net.last(), Some(&NetRequest::Close { link }));
        assert_eq!(r.answer(done(200, b"abc")), "");
    }

    /// `AT+HTTPDATA`'s input time: the bytes that came are dropped and the answer is `ERROR`;
    /// the next line is a command again. `AT+HTTPPARA?` lists the manual's fields.
    #[test]
    fn httpdata_times_out_and_httppara_lists() {
        let mut r = rig();
        r.send("AT+HTTPINIT");
        assert_eq!(r.send("AT+HTTPDATA=10,1000"), "\r\nDOWNLOAD\r\n");
        r.raw(b"abc");
        assert_eq!(r.fire_last(), "\r\nERROR\r\n");
        assert_eq!(r.send("AT"), "\r\nOK\r\n");
        r.send("AT+HTTPPARA=\"USERDATA\",\"A: 1\\r\\nB: \\22x\\22\"");
        assert_eq!(
            r.send("AT+HTTPPARA?"),
            "\r\n+HTTPPARA: \r\nCID: 1\r\nURL: \r\nUA: AM_MODULE\r\nPROIP: 0.0.0.0\r\nPROPORT: 0\r\n\
             REDIR: 0\r\nBREAK: 0\r\nBREAKEND: 0\r\nTIMEOUT: 120\r\nCONTENT: \r\n\
             USERDATA: A: 1\r\nB: \"x\"\r\n\r\nOK\r\n"
        );
    }
}
