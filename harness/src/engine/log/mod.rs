//! THE vendor-log parser: the logs `modem-harness replay` replays, and the doc strings of the
//! features' `the host runs:` steps, parsed by the same rules.
//!
//! The format (seed 000 sections 6.2-6.4, seed 002's test log, seed 003):
//! - a line starting with `AT` (any case) is a command the host sends, unless a blank follows
//!   the `AT`: the L610's boot URC `AT command ready` is module output ([`is_host_line`]). A
//!   host line repeated right after itself is the module's echo (the L610 echoes by default;
//!   seed 002 section 3.3 prints `ATE0` twice): sent once;
//! - any other non-blank line is what the module printed, in order;
//! - `//` starts a comment when it begins the line or follows whitespace, outside double quotes
//!   (so `mqtt://host` and `"a //b"` are not comments; [`strip_comment`]); blank lines mean
//!   nothing (the guides render the module's CR LF framing inconsistently);
//! - a `>` line is the module's data prompt; the lines after it (up to a blank line or the
//!   final `OK`/`ERROR`) are the payload the host sends. They are joined with LF or CR LF,
//!   whichever gives the length the command declared (`AT+FSWRITE=...,1212,15`). Lines that
//!   are wholly a comment right after the prompt continue the guide's annotation (seed 002
//!   section 3.3: `> //QoS ...` then `//息数据长度。收到">"后输入数据`), not payload;
//! - a `+MSUB: "<topic>",<n> byte,<payload>` whose payload holds line ends is framed by `<n>`
//!   over the lines after it;
//! - `[hh:mm:ss.mmm]` chunk stamps of a serial tool (`发→◇`/`收←◆`) are removed and kept as the
//!   lines' times; `□` (the CR LF the tool sent) is no line;
//! - `//@ <action>` lines are the harness's own, for what happens off the UART in a log
//!   (a broker-side client publishing, the server dropping the link): they appear only in the
//!   annotated companions in `fixtures/replay/`, never in a vendor's log. See [`Directive`].
//!
//! [`Lines`] parses line by line from any reader (a bounded lookahead: a prompt's payload, a
//! multi-line `+MSUB`); [`Log::parse`] collects a whole text.

use std::collections::VecDeque;
use std::io::BufRead;
use std::time::Duration;

use modem_sim::Fault;
use nom::branch::alt;
use nom::bytes::complete::tag_no_case;
use nom::bytes::complete::{tag, take_till, take_till1, take_while1};
use nom::character::complete::{char, space0};
use nom::combinator::{opt, recognize, rest};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// A harness action in a log (`//@ ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `//@ publish <topic> <payload>`: a broker-side client publishes at QoS 0 (the payload is
    /// the rest of the line, with C escapes such as `\r\n`).
    Publish { topic: String, payload: Vec<u8> },
    /// `//@ subscribe <topic>`: the broker-side client subscribes (and waits for SUBACK).
    Subscribe { topic: String },
    /// `//@ received <topic> <payload>`: the broker-side client has received this message.
    Received { topic: String, payload: Vec<u8> },
    /// `//@ drop`: the broker drops the modem's connection (in-process simulator only).
    Drop,
    /// `//@ pdn-deact`: the network deactivates the PDP context (in-process simulator only).
    PdnDeact,
    /// `//@ connect-timeout <n>ms`: the broker closes links that send no CONNECT in time
    /// (in-process simulator only).
    ConnectTimeout(Duration),
    /// `//@ fault <fault>`: any fault of the simulator's table, written as `modem-sim inject`
    /// takes it (`//@ fault sim-removed`, `//@ fault deregister`, `//@ fault signal 5`), injected
    /// now (in-process simulator only). A real capture's "USIMDET与GND短接" or "拔掉天线".
    Fault(Fault),
}

/// One meaningful line of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Send(String),
    Expect(String),
    /// The `>` data prompt.
    Prompt,
    /// Raw bytes the host sends after a prompt.
    Payload(Vec<u8>),
    Directive(Directive),
}

/// An entry, the 1-based line of the log it came from, and the time stamp of the chunk it was
/// in (ms since midnight, for logs a serial tool stamped; `None` without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub no: usize,
    pub entry: Entry,
    pub time: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}:{line}: {message}")]
pub struct ParseError {
    pub name: String,
    pub line: usize,
    pub message: String,
}

/// A parsed log.
#[derive(Debug, Clone)]
pub struct Log {
    pub name: String,
    pub lines: Vec<Line>,
    /// Each line's time stamp in ms since midnight, for logs a serial tool stamped
    /// (`[03:13:51.496]收←◆`): the stamp of the chunk the line was in. `None` without one.
    pub times: Vec<Option<u64>>,
    source: Vec<String>,
}

/// A token of a log line, for comment stripping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Quoted(&'a str),
    Space(&'a str),
    Word(&'a str),
}

fn quoted(i: &str) -> IResult<&str, Token<'_>> {
    recognize(delimited(
        char('"'),
        take_till(|c| c == '"'),
        opt(char('"')),
    ))
    .map(Token::Quoted)
    .parse(i)
}

fn space(i: &str) -> IResult<&str, Token<'_>> {
    take_while1(char::is_whitespace).map(Token::Space).parse(i)
}

fn word(i: &str) -> IResult<&str, Token<'_>> {
    take_till1(|c: char| c == '"' || c.is_whitespace())
        .map(Token::Word)
        .parse(i)
}

fn token(i: &str) -> IResult<&str, Token<'_>> {
    alt((quoted, space, word)).parse(i)
}

/// The part of a line before its `//` comment, trimmed.
pub fn strip_comment(line: &str) -> &str {
    let mut rest = line;
    let mut after_space = true; // the start of a line counts as "after whitespace"
    let mut end = 0;
    while let Ok((next, tok)) = token(rest) {
        match tok {
            Token::Word(w) if after_space && w.starts_with("//") => break,
            Token::Space(_) => after_space = true,
            _ => after_space = false,
        }
        end += rest.len() - next.len();
        rest = next;
    }
    line[..end].trim()
}

/// `AT` followed by the end of the line or by the command itself, not by a blank: the L610's
/// boot URC `AT command ready` (seed 002 section 3.3) is module output.
pub fn is_host_line(line: &str) -> bool {
    tag_no_case::<_, _, nom::error::Error<&str>>("AT")
        .parse(line)
        .is_ok_and(|(rest, _)| !rest.starts_with(char::is_whitespace))
}

/// `[hh:mm:ss.mmm]` at the start of a line, then the serial tool's direction mark (`发→◇`
/// sent, `收←◆` received): the time in ms since midnight and the rest of the line.
fn strip_stamp(line: &str) -> Option<(u64, &str)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    let (hms, ms) = stamp.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || ms.len() != 3 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let ms: u64 = ms.parse().ok()?;
    let rest = rest
        .strip_prefix("发→◇")
        .or_else(|| rest.strip_prefix("收←◆"))
        .unwrap_or(rest);
    Some((((h * 60 + m) * 60 + s) * 1000 + ms, rest))
}

/// Splits text into lines (LF or CR LF; a last line without LF counts).
fn raw_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut input = text;
    while !input.is_empty() {
        let r: IResult<&str, &str> = take_till(|c| c == '\n').parse(input);
        let Ok((after, line)) = r else { break };
        out.push(line.strip_suffix('\r').unwrap_or(line));
        let r: IResult<&str, &str> = tag("\n").parse(after);
        input = r.map(|(a, _)| a).unwrap_or(after);
    }
    out
}

/// `//@ name args`.
fn directive_parts(i: &str) -> IResult<&str, (&str, &str)> {
    preceded(
        (space0, tag("//@"), space0),
        (
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-'),
            rest,
        ),
    )
    .parse(i)
}

fn parse_directive(name: &str, args: &str) -> Result<Directive, String> {
    let args = args.trim();
    let (first, more) = match args.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim_start()),
        None => (args, ""),
    };
    let need_topic = || {
        if first.is_empty() {
            Err(format!("`//@ {name}` needs a topic"))
        } else {
            Ok(first.to_string())
        }
    };
    let payload = || crate::steps::unescape(more).map_err(|e| e.to_string());
    match name {
        "publish" => Ok(Directive::Publish {
            topic: need_topic()?,
            payload: payload()?,
        }),
        "subscribe" => Ok(Directive::Subscribe {
            topic: need_topic()?,
        }),
        "received" => Ok(Directive::Received {
            topic: need_topic()?,
            payload: payload()?,
        }),
        "drop" => Ok(Directive::Drop),
        "fault" => args
            .parse::<Fault>()
            .map(Directive::Fault)
            .map_err(|e| format!("`//@ fault {args}`: {e}")),
        "pdn-deact" => Ok(Directive::PdnDeact),
        "connect-timeout" => {
            let digits = first.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("`//@ connect-timeout {first}`: give a time like 300ms or 5s"))?;
            Ok(Directive::ConnectTimeout(crate::steps::duration(
                n,
                &first[digits.len()..],
            )))
        }
        other => Err(format!(
            "unknown harness action `//@ {other}` (publish, subscribe, received, drop, pdn-deact, connect-timeout, fault)"
        )),
    }
}

/// A final result code: `OK`, `ERROR`, `+CME ERROR: <n>`, `+CMS ERROR: <n>`.
pub fn is_final(line: &str) -> bool {
    line == "OK"
        || line == "ERROR"
        || line.starts_with("+CME ERROR")
        || line.starts_with("+CMS ERROR")
}

/// The arguments of a command line, split by the simulator's own splitter
/// ([`modem_sim::at::split_args`]): a quoted argument keeps its commas. Empty when the line is
/// no `AT+X=<args>` command or its arguments do not parse.
fn set_args(command: &str) -> Vec<modem_sim::at::Arg> {
    match modem_sim::at::parse_line(command.as_bytes()) {
        Ok(modem_sim::at::Command {
            form: modem_sim::at::Form::Set(raw),
            ..
        }) => modem_sim::at::split_args(&raw).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The integers among a command's arguments: the declared payload length is one of them.
fn int_args(command: &str) -> Vec<usize> {
    set_args(command)
        .iter()
        .filter_map(|a| a.number().map(|n| n as usize))
        .collect()
}

/// Joins payload lines the way that gives a declared length, else with CR LF (what a
/// terminal sends).
fn join_payload(lines: &[&str], declared: &[usize]) -> Vec<u8> {
    let candidates = [
        lines.join("\n"),
        lines.join("\r\n"),
        format!("{}\n", lines.join("\n")),
        format!("{}\r\n", lines.join("\r\n")),
    ];
    candidates
        .iter()
        .find(|c| declared.contains(&c.len()))
        .unwrap_or(&candidates[1])
        .as_bytes()
        .to_vec()
}

/// A line of the log as read: its number, its text (stamp and `□` removed) and its chunk's
/// time.
#[derive(Debug)]
struct Raw {
    no: usize,
    text: String,
    time: Option<u64>,
}

/// A right-after-the-prompt line that is wholly a comment: the guide's annotation going on.
fn is_annotation(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("//") && !t.starts_with("//@")
}

/// The parser, line by line over any reader: an iterator of [`Line`]s that stops after the
/// first [`ParseError`] (a malformed `//@` action, a `+MSUB` payload that overshoots its
/// length, an unreadable file).
pub struct Lines<R> {
    name: String,
    input: R,
    /// Lines read ahead and not yet taken.
    ahead: VecDeque<Raw>,
    /// Lines read so far.
    read: usize,
    stamp: Option<u64>,
    eof: bool,
    failed: bool,
    /// Entries made and not yet returned (a prompt and its payload).
    out: VecDeque<Line>,
    /// The last command: a payload's declared length is among its arguments.
    last_send: String,
    /// The entry just made, when it is a command: the same line next is its echo.
    echo: Option<String>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(name: &str, input: R) -> Self {
        Lines {
            name: name.to_string(),
            input,
            ahead: VecDeque::new(),
            read: 0,
            stamp: None,
            eof: false,
            failed: false,
            out: VecDeque::new(),
            last_send: String::new(),
            echo: None,
        }
    }

    /// Reads one line (LF or CR LF; a last line without LF counts).
    fn read_raw(&mut self) -> Result<Option<Raw>, String> {
        if self.eof {
            return Ok(None);
        }
        let mut buf = Vec::new();
        match self.input.read_until(b'\n', &mut buf) {
            Ok(0) => {
                self.eof = true;
                return Ok(None);
            }
            Ok(_) => {}
            Err(e) => {
                self.eof = true;
                return Err(format!("cannot read the log: {e}"));
            }
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        self.read += 1;
        let line = String::from_utf8_lossy(&buf);
        let text = match strip_stamp(&line) {
            Some((t, rest)) => {
                self.stamp = Some(t);
                rest
            }
            None => &line,
        };
        let text = if text.trim() == "□" { "" } else { text };
        Ok(Some(Raw {
            no: self.read,
            text: text.to_string(),
            time: self.stamp,
        }))
    }

    /// The line `k` places ahead, read if need be.
    fn peek(&mut self, k: usize) -> Result<Option<&Raw>, String> {
        while self.ahead.len() <= k {
            match self.read_raw()? {
                Some(r) => self.ahead.push_back(r),
                None => return Ok(None),
            }
        }
        Ok(self.ahead.get(k))
    }

    fn next_raw(&mut self) -> Result<Option<Raw>, String> {
        match self.ahead.pop_front() {
            Some(r) => Ok(Some(r)),
            None => self.read_raw(),
        }
    }

    fn emit(&mut self, no: usize, time: Option<u64>, entry: Entry) {
        self.echo = match &entry {
            Entry::Send(cmd) => {
                self.last_send = cmd.clone();
                Some(cmd.clone())
            }
            _ => None,
        };
        self.out.push_back(Line { no, entry, time });
    }

    /// Turns one line into entries; `Err` is a parse error at that line.
    fn take(&mut self, raw: Raw) -> Result<(), String> {
        if let Ok((_, (name, args))) = directive_parts(&raw.text) {
            let d = parse_directive(name, args)?;
            self.emit(raw.no, raw.time, Entry::Directive(d));
            return Ok(());
        }
        let code = strip_comment(&raw.text);
        if code.is_empty() {
            return Ok(());
        }
        if let Some(after) = code.strip_prefix('>') {
            let after = after.to_string();
            return self.prompt(&raw, &after);
        }
        let code = code.to_string();
        if is_host_line(&code) {
            if self.echo.as_deref() == Some(code.as_str()) {
                // The module's echo of the line just typed (the L610 echoes by default; seed
                // 002 section 3.3 prints `ATE0` twice). The device skips echoes by itself.
                return Ok(());
            }
            self.emit(raw.no, raw.time, Entry::Send(code));
            return Ok(());
        }
        let text = match self.msub(&raw, &code)? {
            Some(framed) => framed,
            None => code,
        };
        self.emit(raw.no, raw.time, Entry::Expect(text));
        Ok(())
    }

    /// The `>` prompt and its payload: on the prompt's own line, or the lines after it.
    fn prompt(&mut self, raw: &Raw, after: &str) -> Result<(), String> {
        self.emit(raw.no, raw.time, Entry::Prompt);
        let mut payload: Vec<String> = Vec::new();
        let mut first = (raw.no, raw.time);
        if after.trim().is_empty() {
            while let Some(r) = self.peek(0)? {
                if !(r.text.trim().is_empty() || is_annotation(&r.text)) {
                    break;
                }
                self.next_raw()?;
            }
            while let Some(r) = self.peek(0)? {
                let t = r.text.trim();
                if t.is_empty() || is_final(t) {
                    break;
                }
                if payload.is_empty() {
                    first = (r.no, r.time);
                }
                payload.push(r.text.trim_end().to_string());
                self.next_raw()?;
            }
        } else {
            payload.push(after.trim_start().to_string());
        }
        if !payload.is_empty() {
            let lines: Vec<&str> = payload.iter().map(String::as_str).collect();
            let bytes = join_payload(&lines, &int_args(&self.last_send));
            self.emit(first.0, first.1, Entry::Payload(bytes));
        }
        Ok(())
    }

    /// A `+MSUB: "<topic>",<n> byte,<payload>` whose payload holds line ends: the module frames
    /// it by `<n>`, and so does the log. When the payload on the header's line (comment
    /// removed) is shorter than `<n>`, the payload is the rest of the header's line as written
    /// followed by the next lines as written (comments are payload there; blank lines are empty
    /// payload lines), joined with CR LF, or LF, whichever gives exactly `<n>` bytes (CR LF is
    /// tried first). A log that ends inside the payload gives what it has. `Ok(None)`: not
    /// such a line (an ordinary expected line); `Err`: the lines overshoot `<n>`.
    fn msub(&mut self, raw: &Raw, code: &str) -> Result<Option<String>, String> {
        let Some((n, at)) = crate::engine::device::msub_declared(code.as_bytes()) else {
            return Ok(None);
        };
        if code.len() >= at + n {
            return Ok(None);
        }
        // The header is the same in the line as written (comments only come after it).
        let head = raw.text.trim_start();
        let Some(first) = head.get(at..) else {
            return Ok(None);
        };
        let mut parts: Vec<String> = vec![first.to_string()];
        loop {
            let text: usize = parts.iter().map(String::len).sum();
            let gaps = parts.len() - 1;
            let next = self.peek(gaps)?.map(|r| r.text.clone());
            let joint = if text + 2 * gaps == n {
                "\r\n"
            } else if text + gaps == n {
                "\n"
            } else if next.is_none() && text + gaps < n {
                // The log ends inside the payload (a log cut short): the payload is what there
                // is, and the replay shows what the module said instead.
                "\r\n"
            } else if text + gaps > n || next.is_none() {
                return Err(format!(
                    "`{}` declares {n} bytes, but its payload lines give {} (joined with CR LF) or {} (LF): give the payload's lines up to exactly {n} bytes",
                    &head[..at],
                    text + 2 * gaps,
                    text + gaps
                ));
            } else {
                parts.push(next.unwrap_or_default());
                continue;
            };
            self.ahead.drain(..gaps);
            return Ok(Some(format!("{}{}", &head[..at], parts.join(joint))));
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Result<Line, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(l) = self.out.pop_front() {
                return Some(Ok(l));
            }
            if self.failed {
                return None;
            }
            let fail = |s: &mut Self, line: usize, message: String| {
                s.failed = true;
                Some(Err(ParseError {
                    name: s.name.clone(),
                    line,
                    message,
                }))
            };
            let raw = match self.next_raw() {
                Ok(Some(r)) => r,
                Ok(None) => return None,
                Err(message) => {
                    let line = self.read + 1;
                    return fail(self, line, message);
                }
            };
            let no = raw.no;
            if let Err(message) = self.take(raw) {
                return fail(self, no, message);
            }
        }
    }
}

impl Log {
    /// Parses a whole log. Fails only on a malformed `//@` action (a typo there must not make a
    /// replay pass by doing nothing) or a `+MSUB` payload longer than it declares.
    pub fn parse(name: &str, text: &str) -> Result<Log, ParseError> {
        let lines = Lines::new(name, text.as_bytes()).collect::<Result<Vec<_>, _>>()?;
        let times = lines.iter().map(|l| l.time).collect();
        Ok(Log {
            name: name.to_string(),
            lines,
            times,
            source: raw_lines(text).into_iter().map(String::from).collect(),
        })
    }

    /// A command must at least get its final result code: a log that stops right after one
    /// (or after its prompt and payload) cannot say whether the module's answer is right, so
    /// it would pass whatever came. `replay` refuses such a log as incomplete.
    pub fn check_complete(&self) -> Result<(), ParseError> {
        let lines = &self.lines;
        if let Some(at) = lines
            .iter()
            .rposition(|l| matches!(l.entry, Entry::Send(_)))
        {
            if !lines[at + 1..]
                .iter()
                .any(|l| matches!(l.entry, Entry::Expect(_)))
            {
                let Entry::Send(cmd) = &lines[at].entry else {
                    unreachable!()
                };
                return Err(ParseError {
                    name: self.name.clone(),
                    line: lines[at].no,
                    message: format!(
                        "the log ends with `{cmd}` and nothing the module answered: incomplete (add at least its final result, e.g. OK or ERROR)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The log's own lines around line `no`, the line itself marked.
    pub fn around(&self, no: usize) -> String {
        let from = no.saturating_sub(4).max(1);
        let to = (no + 3).min(self.source.len());
        let mut s = String::new();
        for n in from..=to {
            let mark = if n == no { ">" } else { " " };
            s.push_str(&format!("  {mark} {n:>4} | {}\n", self.source[n - 1]));
        }
        s
    }

    /// User name / password pairs the log logs in with (`AT+MCONFIG`, `AT+MQTTUSER`): a fresh
    /// simulated broker accepts them, as the vendor's server did.
    pub fn accounts(&self) -> Vec<(String, String)> {
        self.lines
            .iter()
            .filter_map(|l| match &l.entry {
                Entry::Send(cmd) => crate::engine::rewrite::login(cmd),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
