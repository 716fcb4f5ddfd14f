//! The L610's HTTP(S) client: `AT+HTTPSET`, `AT+HTTPDATA`, `AT+HTTPACT`, `AT+HTTPREAD`.
//!
//! No L610 HTTP manual was found. Sources, cited below:
//! - `NL668 HTTP`: "FIBOCOM NL668 AT Commands User Manual HTTP" V1.2.3 (2020), Fibocom's manual
//!   for the same command set, as a public repository transcribed it: the `+HTTPSET` tags
//!   (URL, UAGENT, CONTYPE, ACCEPT, RESPONSEHEADER, MODE, REDIR, RANGE; capital letters only),
//!   `+HTTPDATA=<length>` (`>`, 1-64000 bytes, `OK`; 30 s input time, then `ERROR`),
//!   `+HTTPACT=<mode>[,<timernum>]` with the URCs `+HTTP: <status>` / `+HTTPS: <status>` and
//!   `+HTTPRES: <mode>,<reply>,<length>`;
//! - `L610 drivers`: public L610 firmware that uses these commands (`AT+MIPCALL=1`, then
//!   `AT+HTTPSET="URL"`, `"UAGENT","fibocom"`, `"CONTYPE","application/json"`,
//!   `AT+HTTPDATA=<len>` waiting for `>`, `AT+HTTPACT=1,30` waiting for `+HTTPRES: 1,200,`,
//!   `AT+HTTPREAD=<offset>,<length>`, and `+HTTP: 1` among the awaited answers);
//! - `G510 capture`: a driver's comment with a real Fibocom G510 session
//!   (`AT+HTTPACT=0`, `OK`, `+HTTP: 1`, `+HTTPRES: <0>,<200>,<342>`, `AT+HTTPREAD`, `OK`,
//!   `+HTTPREAD: 342` and the response with its status line and headers).
//!
//! Every choice those leave open is a row in fixtures/DIVERGENCES.md (LH1-LH6).

use std::time::Duration;

use bytes::Bytes;

use crate::at::Form;
use crate::dialect::params::read_part;
use crate::dialect::{Out, Prompt};
use crate::modem::CellState;
use crate::net::http::{HttpError, HttpRequest, HttpResponse, Method};
use crate::net::{LinkId, NetEvent, NetEventKind, NetRequest, HTTP_LINKS};

use super::{num_in, set_args, CME_NOT_ALLOWED};

/// `+HTTPDATA`'s `<length>`: "Range 1-64000 byte" (NL668 HTTP 1.2.4).
pub const DATA_MAX: u32 = 64000;
/// "The time out of data input is 30 seconds" (NL668 HTTP 1.2.4).
pub const DATA_IDLE: Duration = Duration::from_secs(30);
/// `URL`: "string length is 0-255" (NL668 HTTP 1.1.4).
pub const URL_MAX: usize = 255;
/// The tags, in the order `AT+HTTPSET?` lists them (NL668 HTTP 1.1.4).
const TAGS: [&str; 8] = [
    "URL",
    "UAGENT",
    "CONTYPE",
    "ACCEPT",
    "RESPONSEHEADER",
    "MODE",
    "REDIR",
    "RANGE",
];
/// `AT+HTTPACT`'s `<timernum>` when omitted (seconds; the drivers pass 30).
const DEFAULT_TIMEOUT: u32 = 60;

#[derive(Debug, Default)]
pub struct Http {
    /// The `+HTTPSET` values, by tag.
    values: [String; 8],
    body: Vec<u8>,
    busy: Option<(LinkId, u32, bool)>,
    response: Option<HttpResponse>,
    next: u64,
}

/// The NL668 manual's URL forms put the port at the end, after the path
/// (`host/path:port`, `http://host/path:port`): moved where a URL has it.
pub fn normal_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    if let Some((host, path)) = rest.split_once('/') {
        if let Some((p, port)) = path.rsplit_once(':') {
            if !host.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                return format!("{scheme}{host}:{port}/{p}");
            }
        }
    }
    url.to_string()
}

/// The [`TAGS`] a request sends as headers, and the header each becomes (NL668 HTTP 1.1.4).
const HEADER_TAGS: [(&str, &str); 4] = [
    ("UAGENT", "User-Agent"),
    ("CONTYPE", "Content-Type"),
    ("ACCEPT", "Accept"),
    ("RANGE", "Range"),
];

impl Http {
    pub fn owns(&self, link: LinkId) -> bool {
        link >= HTTP_LINKS
    }

    /// The request's headers: each set tag of [`HEADER_TAGS`] (`RANGE` not on a POST, nor as
    /// `NULL`).
    fn headers(&self, post: bool) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        for (tag, name) in HEADER_TAGS {
            let v = self.value(tag);
            if !v.is_empty() && !(tag == "RANGE" && (post || v == "NULL")) {
                headers.push((name.to_string(), v.to_string()));
            }
        }
        headers
    }

    fn value(&self, tag: &str) -> &str {
        TAGS.iter()
            .position(|t| *t == tag)
            .map(|i| self.values[i].as_str())
            .unwrap_or("")
    }

    /// `AT+HTTPSET="<tag>","<value>"` -> `OK`; `?` one `+HTTPSET: "<tag>","<value>"` per tag;
    /// `=?` the syntax (NL668 HTTP 1.1). Tags in capital letters only ("only support capital
    /// letter"); `RESPONSEHEADER`, `MODE`, `REDIR` take "0" or "1"; `MODE` "1" (data pushed
    /// to the UART as it comes) is not simulated and answers `ERROR` (DIVERGENCES LH4).
    pub fn httpset(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Test => {
                out.line("+HTTPSET: (\"URL\",\"UAGENT\",\"CONTYPE\",\"ACCEPT\",\"RESPONSEHEADER\",\"MODE\",\"REDIR\",\"RANGE\"),(<\"httpParamValue\">)");
                return out.ok();
            }
            Form::Read => {
                for (t, v) in TAGS.iter().zip(&self.values) {
                    out.line(format!("+HTTPSET: \"{t}\",\"{v}\""));
                }
                return out.ok();
            }
            Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let [tag, value] = args.as_slice() else {
            return out.error();
        };
        let (tag, v) = (tag.text(), value.text());
        let Some(i) = TAGS.iter().position(|t| *t == tag) else {
            return out.error();
        };
        let ok = match TAGS[i] {
            "URL" => v.len() <= URL_MAX,
            "RESPONSEHEADER" | "REDIR" => v == "0" || v == "1",
            "MODE" => v == "0",
            _ => v.len() <= 255 && !v.contains(['\r', '\n']),
        };
        if !ok {
            return out.error();
        }
        self.values[i] = v;
        out.ok()
    }

    /// `AT+HTTPDATA=<length>` -> `>`, exactly `<length>` bytes (1-64000, any values), `OK`; 30
    /// s without a byte: `ERROR`, nothing kept (NL668 HTTP 1.2). The prompt is printed as the
    /// L610's other prompts, `\r\n>`.
    pub fn httpdata(&mut self, form: &Form, out: &mut Out) -> bool {
        match form {
            Form::Test => {
                out.line(format!("+HTTPDATA: (1-{DATA_MAX})"));
                out.ok();
                return false;
            }
            Form::Read => {
                out.ok();
                return false;
            }
            Form::Exec => {
                out.error();
                return false;
            }
            Form::Set(_) => {}
        }
        let len = match set_args(form).as_deref() {
            Some([n]) => num_in(Some(n), 1..=DATA_MAX),
            _ => None,
        };
        let Some(len) = len else {
            out.error();
            return false;
        };
        out.raw(b"\r\n>");
        out.prompt(Prompt::Exact(len as usize), DATA_IDLE);
        true
    }

    /// The bytes after `AT+HTTPDATA`'s `>`.
    pub fn data(&mut self, data: Vec<u8>, out: &mut Out) {
        tracing::info!(bytes = data.len(), "HTTP body taken");
        self.body = data;
        out.ok()
    }

    /// `AT+HTTPACT=<mode>[,<timernum>]` -> `OK`, then `+HTTP: 1` (`+HTTPS: 1` for an
    /// `https://` URL) and `+HTTPRES: <mode>,<reply>,<length>` (NL668 HTTP 1.3; the G510
    /// capture; the L610 drivers wait for `+HTTPRES: 1,200,`). Modes 0 GET, 1 POST (the
    /// `AT+HTTPDATA` body), 2 HEAD; `<timernum>` the seconds the exchange may take. `<length>`
    /// counts what `AT+HTTPREAD` gives: the status line and headers too unless
    /// `RESPONSEHEADER` is "1". No response: `+HTTP: 0` (`+HTTPS: 0`), DIVERGENCES LH2.
    /// Without the data call (`AT+MIPCALL=1`) or while a request is in flight:
    /// `+CME ERROR: 3`.
    pub fn httpact(
        &mut self,
        cell: &CellState,
        form: &Form,
        out: &mut Out,
        tls: impl FnOnce(&str) -> Result<crate::net::TlsOptions, i32>,
    ) {
        match form {
            Form::Test => {
                out.line("+HTTPACT: (0-2),(1-65535)");
                return out.ok();
            }
            Form::Read => return out.ok(),
            Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        let args = set_args(form).unwrap_or_default();
        let (mode, secs) = match args.as_slice() {
            [m] => (num_in(Some(m), 0..=2), Some(DEFAULT_TIMEOUT)),
            [m, t] => (num_in(Some(m), 0..=2), num_in(Some(t), 1..=65535)),
            _ => (None, None),
        };
        let (Some(m), Some(secs)) = (mode, secs) else {
            return out.error();
        };
        let url = normal_url(self.value("URL"));
        if url.is_empty() {
            return out.error();
        }
        if !cell.pdp_active || self.busy.is_some() {
            return out.line(cell.cme(CME_NOT_ALLOWED));
        }
        let target = crate::net::http::parse_url(&url);
        let https = target.as_ref().is_some_and(|t| t.https);
        out.ok();
        let tag = if https { "+HTTPS" } else { "+HTTP" };
        let Some(target) = target else {
            return out.line(format!("{tag}: 0"));
        };
        let tls = match https.then(|| tls(&target.host)).transpose() {
            Ok(t) => t,
            Err(_) => return out.line(format!("{tag}: 0")),
        };
        let method = [Method::Get, Method::Post, Method::Head][m as usize];
        let headers = self.headers(m == 1);
        let body = if m == 1 {
            Bytes::copy_from_slice(&self.body)
        } else {
            Bytes::new()
        };
        self.next += 1;
        let link = HTTP_LINKS + self.next;
        self.busy = Some((link, m, https));
        self.response = None;
        out.net(NetRequest::Http {
            link,
            req: HttpRequest {
                method,
                url,
                headers,
                body,
                tls,
                timeout: Duration::from_secs(secs as u64),
            },
        });
    }

    /// What `AT+HTTPREAD` gives: the head too unless `RESPONSEHEADER` is "1".
    fn readable(&self) -> Option<Vec<u8>> {
        let r = self.response.as_ref()?;
        let mut v = Vec::new();
        if self.value("RESPONSEHEADER") != "1" {
            v.extend_from_slice(&r.head);
        }
        v.extend_from_slice(&r.body);
        Some(v)
    }

    pub fn on_net(&mut self, ev: NetEvent, out: &mut Out) {
        let Some((link, m, https)) = self.busy else {
            return;
        };
        if link != ev.link {
            return;
        }
        let tag = if https { "+HTTPS" } else { "+HTTP" };
        self.busy = None;
        match ev.kind {
            NetEventKind::HttpDone(resp) => {
                let status = resp.status;
                self.response = Some(resp);
                let len = self.readable().map_or(0, |r| r.len());
                out.line(format!("{tag}: 1"));
                out.line(format!("+HTTPRES: {m},{status},{len}"));
            }
            NetEventKind::HttpFailed(e) => {
                let e: HttpError = e;
                tracing::info!(error = ?e, "HTTP request failed");
                out.line(format!("{tag}: 0"));
            }
            _ => self.busy = Some((link, m, https)),
        }
    }

    /// The data call went (or the module restarts): a request in flight ends with `+HTTP: 0`
    /// when `urc`.
    pub fn network_lost(&mut self, urc: bool, out: &mut Out) {
        if let Some((link, _, https)) = self.busy.take() {
            out.net(NetRequest::Close { link });
            if urc {
                out.line(if https { "+HTTPS: 0" } else { "+HTTP: 0" });
            }
        }
    }

    /// `AT+HTTPREAD` -> `OK`, then `+HTTPREAD: <len>` and the response (status line, headers,
    /// body, as the G510 capture prints them); `AT+HTTPREAD=<offset>,<length>` that part (the
    /// L610 drivers). `ERROR` without a response or with `<offset>` past its end.
    pub fn httpread(&mut self, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            return out.ok();
        }
        let Some(range) = read_part(form, out) else {
            return;
        };
        let Some(all) = self.readable() else {
            return out.error();
        };
        let part = match range {
            None => &all[..],
            Some((o, _)) if o >= all.len() && o > 0 => return out.error(),
            Some((o, n)) => &all[o..o.saturating_add(n).min(all.len())],
        };
        out.ok();
        out.line(format!("+HTTPREAD: {}", part.len()));
        out.raw(part);
        out.raw(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::normal_url;

    #[test]
    fn the_manuals_url_forms() {
        for (url, normal) in [
            (
                "news.sohu.com/20131010/n387881216.shtml:80",
                "news.sohu.com:80/20131010/n387881216.shtml",
            ),
            ("http://h/p/q:8080", "http://h:8080/p/q"),
            ("https://h:443/p", "https://h:443/p"),
            ("http://h/p?x=a:b", "http://h/p?x=a:b"),
            ("h:80/a", "h:80/a"),
        ] {
            assert_eq!(normal_url(url), normal, "{url}");
        }
    }
}
