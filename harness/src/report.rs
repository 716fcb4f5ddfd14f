//! `modem-harness report`: one self-contained HTML page (no network, no external assets) that
//! shows a transcript on a time axis, like a logic analyser: a lane each for the host, the
//! module, the broker and the faults; every UART line, prompt payload (hex when binary), MQTT
//! packet and fault at its time; gaps drawn to scale, with a break for long silences; the
//! failure, with the expected and the actual line, highlighted; each item expands to its raw
//! bytes (carried as hex in `data-hex`, dumped by the page's script when the item opens).
//!
//! Long runs are paged ([`PAGE_ROWS`] rows a page, the failure's page shown first) and an
//! overview strip across the top maps the whole run; clicking it jumps to that time. The HTML
//! is written with `maud`, which escapes every text it is given.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::transcript::{from_hex, Event, Kind};

/// Rows a page: enough to read a scenario at a glance, few enough that a 10,000-line run opens
/// at once (the browser lays out only the page on show).
pub const PAGE_ROWS: usize = 400;

/// A silence longer than this is drawn as a break, with its length written on it.
const BREAK_US: u64 = 1_000_000;

/// Below the break, a gap is drawn this many pixels per millisecond (1 s: 100 px).
const PX_PER_MS: f64 = 0.1;

/// Columns of the overview strip.
const OVERVIEW_BUCKETS: u64 = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Host,
    Module,
    Broker,
    Fault,
    /// Across all lanes: notes and failures.
    Wide,
}

impl Lane {
    fn class(self) -> &'static str {
        match self {
            Lane::Host => "host",
            Lane::Module => "module",
            Lane::Broker => "broker",
            Lane::Fault => "fault",
            Lane::Wide => "wide",
        }
    }
}

fn lane(kind: &Kind) -> Lane {
    match kind {
        Kind::UartTx { .. } | Kind::UartTxData { .. } => Lane::Host,
        Kind::UartRx { .. } => Lane::Module,
        Kind::Mqtt { .. } => Lane::Broker,
        Kind::Fault { .. } => Lane::Fault,
        Kind::Note { .. } | Kind::Failure { .. } => Lane::Wide,
    }
}

/// What a report is about, shown in its title bar.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// e.g. `check-driver: resumes after closed`.
    pub title: String,
    /// Where the transcript came from (a file, a scenario's `feature:line`).
    pub source: String,
}

/// How each event is marked, worked out before rendering.
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    /// A module line that repeats a command the host sent (the echo).
    echo: bool,
    /// The line the failure names as what came instead of the expected one.
    actual: bool,
}

/// Echoes, recognised one event at a time as the vendor-log rendering does: a module line
/// equal to one of the last eight commands sent and not yet echoed.
#[derive(Debug, Default)]
struct Echoes {
    pending: VecDeque<String>,
}

impl Echoes {
    fn is_echo(&mut self, e: &Event) -> bool {
        match &e.kind {
            Kind::UartTx { text } => {
                self.pending.push_back(text.clone());
                if self.pending.len() > 8 {
                    self.pending.pop_front();
                }
                false
            }
            Kind::UartRx { text } => match self.pending.iter().position(|c| c == text) {
                Some(j) => {
                    self.pending.drain(..=j);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
}

/// Where a page's events come from. The page is rendered in passes (totals, then the overview
/// and marks, then the rows), each reading the events again, so a transcript on disk is never
/// held whole: a 50 MB replay renders in the memory of a page's summary.
pub trait EventSource {
    /// Calls `f` with each event, in order.
    fn each(&self, f: &mut dyn FnMut(&Event)) -> io::Result<()>;
}

impl EventSource for [Event] {
    fn each(&self, f: &mut dyn FnMut(&Event)) -> io::Result<()> {
        self.iter().for_each(f);
        Ok(())
    }
}

/// A transcript's events: a file-backed one is read from its file.
impl EventSource for crate::transcript::Transcript {
    fn each(&self, f: &mut dyn FnMut(&Event)) -> io::Result<()> {
        self.for_each_event(&mut |e| f(&e))
    }
}

/// A JSONL transcript on disk (as `--transcripts` writes them). A line that is no event is an
/// [`io::ErrorKind::InvalidData`] error naming the line.
#[derive(Debug, Clone, Copy)]
pub struct JsonlFile<'a>(pub &'a Path);

impl EventSource for JsonlFile<'_> {
    fn each(&self, f: &mut dyn FnMut(&Event)) -> io::Result<()> {
        let file = std::fs::File::open(self.0)?;
        for e in crate::transcript::read_jsonl(io::BufReader::new(file)) {
            f(&e.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?);
        }
        Ok(())
    }
}

/// Failures shown in a page's summary (a run that fails more often shows the first ones).
const MAX_FAILURES: usize = 100;

/// The first pass: totals and the failures.
#[derive(Debug, Default)]
struct Totals {
    count: usize,
    total_us: u64,
    /// Events per lane: host, module, broker, fault.
    lanes: [usize; 4],
    /// The first [`MAX_FAILURES`] failures and their indices.
    failures: Vec<(usize, Event)>,
}

const LANES: [Lane; 4] = [Lane::Host, Lane::Module, Lane::Broker, Lane::Fault];

fn totals<S: EventSource + ?Sized>(events: &S) -> io::Result<Totals> {
    let mut t = Totals::default();
    events.each(&mut |e| {
        t.total_us = t.total_us.max(e.t_us);
        match lane(&e.kind) {
            Lane::Wide => {
                if matches!(e.kind, Kind::Failure { .. }) && t.failures.len() < MAX_FAILURES {
                    t.failures.push((t.count, e.clone()));
                }
            }
            l => {
                if let Some(k) = LANES.iter().position(|x| *x == l) {
                    t.lanes[k] += 1;
                }
            }
        }
        t.count += 1;
    })?;
    Ok(t)
}

/// The second pass: the overview's busy buckets, each page's first and last time, and the
/// module lines the failures name as their actual line (the last one with that text before
/// each failure).
#[derive(Debug)]
struct Layout {
    busy: Vec<Vec<u32>>,
    fail_buckets: std::collections::BTreeSet<u64>,
    pages: Vec<(u64, u64)>,
    actual: std::collections::BTreeSet<usize>,
}

fn layout<S: EventSource + ?Sized>(events: &S, t: &Totals) -> io::Result<Layout> {
    let span = t.total_us.max(1);
    let bucket =
        |x: u64| (u128::from(x) * u128::from(OVERVIEW_BUCKETS - 1) / u128::from(span)) as u64;
    let mut l = Layout {
        busy: vec![vec![0u32; OVERVIEW_BUCKETS as usize]; LANES.len()],
        fail_buckets: Default::default(),
        pages: Vec::new(),
        actual: Default::default(),
    };
    // For each failure with an actual line: the last matching module line seen before it.
    let mut last_match: Vec<Option<usize>> = vec![None; t.failures.len()];
    let mut i = 0usize;
    events.each(&mut |e| {
        let b = bucket(e.t_us);
        match lane(&e.kind) {
            Lane::Wide if matches!(e.kind, Kind::Failure { .. }) => {
                l.fail_buckets.insert(b);
            }
            Lane::Wide => {}
            x => {
                if let Some(k) = LANES.iter().position(|y| *y == x) {
                    l.busy[k][b as usize] += 1;
                }
            }
        }
        if i % PAGE_ROWS == 0 {
            l.pages.push((e.t_us, e.t_us));
        } else if let Some(p) = l.pages.last_mut() {
            p.1 = e.t_us;
        }
        if let Kind::UartRx { text } = &e.kind {
            for (k, (fi, f)) in t.failures.iter().enumerate() {
                if let Kind::Failure {
                    actual: Some(actual),
                    ..
                } = &f.kind
                {
                    if i < *fi && text == actual {
                        last_match[k] = Some(i);
                    }
                }
            }
        }
        i += 1;
    })?;
    l.actual = last_match.into_iter().flatten().collect();
    Ok(l)
}

/// `12.345678 s`.
fn secs(t_us: u64) -> String {
    format!("{}.{:06} s", t_us / 1_000_000, t_us % 1_000_000)
}

/// A gap for people: `850 µs`, `12.4 ms`, `3.20 s`, `2 min 5 s`.
fn human_gap(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else if us < 120_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else {
        format!("{} min {} s", us / 60_000_000, (us / 1_000_000) % 60)
    }
}

/// The bytes behind an event: the recorded wire bytes, else the text's own bytes.
fn raw_bytes(e: &Event) -> (Vec<u8>, bool) {
    if let Some(b) = e.hex.as_deref().and_then(from_hex) {
        return (b, true);
    }
    let text = match &e.kind {
        Kind::UartTx { text }
        | Kind::UartTxData { text, .. }
        | Kind::UartRx { text }
        | Kind::Note { text } => text.clone(),
        Kind::Mqtt { client, event } => format!("{client}: {event}"),
        Kind::Fault { fault } => fault.clone(),
        Kind::Failure { detail, .. } => detail.clone(),
    };
    (text.into_bytes(), false)
}

/// Whether a payload is better shown as hex: control bytes other than CR, LF and tab, or
/// bytes that are not UTF-8.
fn is_binary(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Err(_) => true,
        Ok(s) => s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t')),
    }
}

/// The one line shown for an event.
fn label(e: &Event) -> Markup {
    match &e.kind {
        Kind::UartTx { text } => html! { code { (text) } },
        Kind::UartRx { text } if text.is_empty() => html! { span.dim { "(blank line)" } },
        Kind::UartRx { text } => html! { code { (text) } },
        Kind::UartTxData { text, len } => {
            let bytes = e.hex.as_deref().and_then(from_hex);
            match bytes {
                Some(b) if is_binary(&b) => {
                    let shown: String = b.iter().take(48).map(|x| format!("{x:02x} ")).collect();
                    html! {
                        span.tag { "payload " (len) " bytes, hex" }
                        " " code { (shown.trim_end()) @if b.len() > 48 { " …" } }
                    }
                }
                _ => html! { span.tag { "payload " (len) " bytes" } " " code { (text) } },
            }
        }
        Kind::Mqtt { client, event } => html! { span.tag { (client) } " " code { (event) } },
        Kind::Fault { fault } => html! { span.tag { "fault" } " " b { (fault) } },
        Kind::Note { text } => html! { span.dim { "// " (text) } },
        Kind::Failure {
            step,
            expected,
            actual,
            detail,
        } => html! {
            div.failhead { "✗ failed: " b { (step) } }
            @if let Some(x) = expected { div { span.exp { "expected" } " " code { (x) } } }
            @if let Some(a) = actual { div { span.act { "actual" } " " code { (a) } } }
            pre.detail { (detail) }
        },
    }
}

struct Row<'a> {
    index: usize,
    event: &'a Event,
    marks: Marks,
    /// Time since the previous event.
    gap_us: u64,
}

fn row(r: &Row) -> Markup {
    let e = r.event;
    let lane = lane(&e.kind);
    let failure = matches!(e.kind, Kind::Failure { .. });
    let mut class = format!("ev {}", lane.class());
    if r.marks.echo {
        class.push_str(" echo");
    }
    if r.marks.actual {
        class.push_str(" actual");
    }
    if failure {
        class.push_str(" failure");
    }
    let (bytes, wire) = raw_bytes(e);
    let bytes: &[u8] = &bytes;
    let broke = r.gap_us > BREAK_US;
    let pad = if broke {
        0.0
    } else {
        (r.gap_us as f64 / 1000.0 * PX_PER_MS).min(100.0)
    };
    // Only what is linked to has an id.
    let id = if failure {
        Some(format!("failure-{}", r.index))
    } else if r.marks.actual {
        Some(format!("actual-{}", r.index))
    } else {
        None
    };
    // The raw bytes travel as hex in an attribute; the page's script draws the dump when the
    // item is opened (a 10,000-line page stays small).
    let pad = (pad >= 1.0).then(|| format!("padding-top:{pad:.0}px"));
    html! {
        @if broke {
            div.brk { span { "⋯ " (human_gap(r.gap_us)) " of silence ⋯" } }
        }
        div.row id=[id] style=[pad] {
            div.t title=(format!("+{}", human_gap(r.gap_us))) { (secs(e.t_us)) }
            details class=(class) data-hex=(crate::transcript::to_hex(bytes)) data-wire=(u8::from(wire)) {
                summary { (label(e)) }
            }
        }
    }
}

/// The overview strip: each lane's activity across the whole run, faults and failures as
/// marks. Drawn as SVG, one rectangle per busy bucket.
fn overview(l: &Layout, total_us: u64) -> Markup {
    let w = OVERVIEW_BUCKETS;
    html! {
        svg #overview viewBox=(format!("0 0 {w} 44")) preserveAspectRatio="none"
            data-total-us=(total_us.max(1)) role="img" aria-label="overview of the whole run; click to jump" {
            @for (k, lane) in LANES.iter().enumerate() {
                @for (b, n) in l.busy[k].iter().enumerate() {
                    @if *n > 0 {
                        rect class=(lane.class()) x=(b) y=(k * 11 + 1) width="1" height="9" {}
                    }
                }
            }
            @for b in &l.fail_buckets {
                rect.failmark x=(b) y="0" width="2" height="44" {}
            }
        }
    }
}

/// The page's `<head>` and its sticky header: title, totals, failures, overview, navigation.
fn head_and_header(meta: &Meta, t: &Totals, l: &Layout, first_page: usize) -> Markup {
    let status = if t.failures.is_empty() {
        "no failure recorded"
    } else {
        "FAILED"
    };
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (meta.title) " — modem-harness report" }
            // Set before anything else runs, so an error anywhere below is caught.
            script { (PreEscaped(ONERROR_JS)) }
            style { (PreEscaped(CSS)) }
            noscript { style { ".page[hidden]{display:block}" } }
        }
        body {
            header {
                h1 { (meta.title) }
                div.meta {
                    span class=(if t.failures.is_empty() { "ok" } else { "bad" }) { (status) }
                    " · " (t.count) " events over " (human_gap(t.total_us))
                    " · host " (t.lanes[0]) " · module " (t.lanes[1])
                    " · broker " (t.lanes[2]) " · faults " (t.lanes[3])
                    @if !meta.source.is_empty() { " · " code { (meta.source) } }
                }
                @for (i, f) in &t.failures {
                    @if let Kind::Failure { step, expected, actual, detail } = &f.kind {
                        div.summary {
                            a href=(format!("#failure-{i}")) { "✗ at " (secs(f.t_us)) ": " b { (step) } }
                            @if let Some(x) = expected { div { span.exp { "expected" } " " code { (x) } } }
                            @if let Some(a) = actual { div { span.act { "actual" } " " code { (a) } } }
                            div.dim { (detail.lines().next().unwrap_or_default()) }
                        }
                    }
                }
                (overview(l, t.total_us))
                nav {
                    button #prev type="button" { "◀ earlier" }
                    span #pageno { "page " (first_page + 1) " of " (l.pages.len().max(1)) }
                    button #next type="button" { "later ▶" }
                    @if let Some((i, _)) = t.failures.first() {
                        a.jump href=(format!("#failure-{i}")) { "go to the failure" }
                    }
                    span.legend {
                        span.sw.host {} "host" span.sw.module {} "module"
                        span.sw.broker {} "broker" span.sw.fault {} "fault"
                    }
                }
                div.lanes {
                    div.t { "time" } div { "host → module" } div { "module → host" }
                    div { "broker" } div { "faults" }
                }
            }
        }
    }
}

/// Renders `events` as one self-contained HTML page into `out`, in three passes over the
/// events ([`EventSource`]); returns how many events it showed. Nothing is written before
/// the first pass has read every event, so a transcript that cannot be read leaves `out`
/// untouched.
pub fn render_to<S: EventSource + ?Sized>(
    out: &mut dyn io::Write,
    meta: &Meta,
    events: &S,
) -> io::Result<usize> {
    let t = totals(events)?;
    let l = layout(events, &t)?;
    let first_page = t
        .failures
        .first()
        .map(|(i, _)| i / PAGE_ROWS)
        .unwrap_or(0)
        .min(l.pages.len().saturating_sub(1));
    // The head and header, rendered as one document, are split where the rows go.
    let top = html! { (DOCTYPE) html lang="en" { (head_and_header(meta, &t, &l, first_page)) } }
        .into_string();
    let cut = top
        .rfind("</body>")
        .ok_or_else(|| io::Error::other("the page has no body"))?;
    out.write_all(&top.as_bytes()[..cut])?;
    out.write_all(b"<main>")?;
    if t.count == 0 {
        out.write_all(
            html! { p.dim { "The transcript is empty." } }
                .into_string()
                .as_bytes(),
        )?;
    }
    let mut echoes = Echoes::default();
    let mut prev_t = None;
    let mut index = 0usize;
    let mut result: io::Result<()> = Ok(());
    events.each(&mut |e| {
        if result.is_err() {
            return;
        }
        result = (|| {
            let p = index / PAGE_ROWS;
            if index % PAGE_ROWS == 0 {
                if index > 0 {
                    out.write_all(b"</section>")?;
                }
                let (t0, t1) = l.pages.get(p).copied().unwrap_or_default();
                let hidden = if p == first_page { "" } else { " hidden" };
                write!(
                    out,
                    "<section class=\"page\" id=\"page-{p}\" data-t0=\"{t0}\" data-t1=\"{t1}\"{hidden}>"
                )?;
            }
            let r = Row {
                index,
                event: e,
                marks: Marks {
                    echo: echoes.is_echo(e),
                    actual: l.actual.contains(&index),
                },
                gap_us: prev_t.map_or(0, |p: u64| e.t_us.saturating_sub(p)),
            };
            out.write_all(row(&r).into_string().as_bytes())?;
            prev_t = Some(e.t_us);
            index += 1;
            Ok(())
        })();
    })?;
    result?;
    if index > 0 {
        out.write_all(b"</section>")?;
    }
    out.write_all(b"</main>")?;
    out.write_all(
        html! { script { (PreEscaped(PAGE_JS)) } }
            .into_string()
            .as_bytes(),
    )?;
    out.write_all(&top.as_bytes()[cut..])?;
    Ok(index)
}

/// Renders `events` as one self-contained HTML page.
pub fn render(meta: &Meta, events: &[Event]) -> String {
    let mut out = Vec::new();
    // Writing into memory from events in memory cannot fail.
    let _ = render_to(&mut out, meta, events);
    String::from_utf8(out).unwrap_or_default()
}

/// Renders `events` into `dir/<stem>.html` (the directory is created) and returns the path.
pub fn write(dir: &Path, stem: &str, meta: &Meta, events: &[Event]) -> io::Result<PathBuf> {
    write_from(dir, stem, meta, events)
}

/// [`write()`] from any [`EventSource`] (a transcript on disk), streamed into the file.
pub fn write_from<S: EventSource + ?Sized>(
    dir: &Path,
    stem: &str,
    meta: &Meta,
    events: &S,
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.html", file_stem(stem)));
    let mut out = io::BufWriter::new(std::fs::File::create(&path)?);
    render_to(&mut out, meta, events)?;
    io::Write::flush(&mut out)?;
    Ok(path)
}

/// `check-driver --html DIR`: one report per scenario, `DIR/check-driver-<n>-<name>.html`;
/// each outcome's `report` is set to its path.
pub fn write_check_reports(dir: &Path, outcomes: &mut [crate::check::Outcome]) -> io::Result<()> {
    for (i, o) in outcomes.iter_mut().enumerate() {
        let meta = Meta {
            title: format!(
                "check-driver: {} ({})",
                o.name,
                if o.passed { "passed" } else { "FAILED" }
            ),
            source: o
                .fault
                .as_ref()
                .map(|f| format!("fault: {f}"))
                .unwrap_or_default(),
        };
        let stem = format!("check-driver-{}-{}", i + 1, file_stem(o.name));
        o.report = Some(write(dir, &stem, &meta, &o.timeline)?);
    }
    Ok(())
}

/// The failure a scenario's `after` hook sees, as text (`None` when it passed).
pub fn failure_of(finished: &cucumber::event::ScenarioFinished) -> Option<String> {
    use cucumber::event::ScenarioFinished as F;
    match finished {
        F::StepFailed(_, _, e) => {
            let e = e.to_string();
            Some(
                e.strip_prefix("Step panicked. Captured output: ")
                    .unwrap_or(&e)
                    .to_string(),
            )
        }
        F::BeforeHookFailed(_) => Some("the before hook failed".into()),
        F::StepPassed | F::StepSkipped => None,
    }
}

/// Records a scenario's failure in its transcript, with the expected and actual lines when
/// the error names them; the step is filled in later ([`write_scenario_reports`]).
pub fn record_failure(transcript: &crate::transcript::Transcript, error: String) {
    let (expected, actual) = expected_actual(&error);
    transcript.failure("", expected, actual, error);
}

/// A scenario's transcript kept for its report until the run's failures are known.
#[derive(Debug, Clone)]
pub struct Kept {
    feature: String,
    line: usize,
    name: String,
    stem: String,
    transcript: crate::transcript::Transcript,
}

impl Kept {
    /// `key`: the feature's path (as the runner prints it), the scenario's line and name.
    pub fn new(
        key: (String, usize, String),
        stem: &str,
        transcript: &crate::transcript::Transcript,
    ) -> Kept {
        Kept {
            feature: key.0,
            line: key.1,
            name: key.2,
            stem: stem.to_string(),
            transcript: transcript.clone(),
        }
    }
}

/// After a `features` or `run` run: names each failure's step in its transcript (rewritten
/// into `--transcripts`), writes every scenario's page into `--html`, sets each failure's
/// `html`, and names the page in the JUnit failure message.
pub fn write_scenario_reports(
    opts: &crate::runner::RunOptions,
    kept: &[Kept],
    failures: &mut [crate::runner::FailureReport],
) -> io::Result<()> {
    let mut named: Vec<(String, usize, PathBuf)> = Vec::new();
    for k in kept {
        let failure = failures
            .iter_mut()
            .find(|f| f.feature == k.feature && f.line == k.line);
        if let Some(f) = &failure {
            k.transcript.fill_failure_step(&f.step);
            if let Some(dir) = &opts.transcripts {
                k.transcript.write(dir, &k.stem)?;
            }
        }
        let Some(dir) = &opts.html else { continue };
        let meta = Meta {
            title: format!(
                "{}: {}{}",
                k.feature,
                k.name,
                if failure.is_some() { " (FAILED)" } else { "" }
            ),
            source: format!("{}:{}", k.feature, k.line),
        };
        let path = write_from(dir, &k.stem, &meta, &k.transcript)?;
        if let Some(f) = failure {
            f.html = Some(path.clone());
            named.push((k.name.clone(), k.line, path));
        }
    }
    if let (Some(junit), false) = (&opts.junit, named.is_empty()) {
        let xml = std::fs::read_to_string(junit)?;
        std::fs::write(junit, name_reports_in_junit(&xml, &named))?;
    }
    Ok(())
}

/// Appends ` (report: PATH)` to the failure message of each named scenario's test case in
/// cucumber's JUnit XML (test cases are named `Scenario: NAME: PATH:LINE:COL`).
fn name_reports_in_junit(xml: &str, named: &[(String, usize, PathBuf)]) -> String {
    let mut xml = xml.to_string();
    for (name, line, path) in named {
        let needle = format!("Scenario: {}: ", crate::check::xml_escape(name));
        let mut from = 0;
        while let Some(i) = xml[from..].find(&needle) {
            let at = from + i;
            from = at + needle.len();
            let tag_end = xml[at..].find('>').map_or(xml.len(), |e| at + e);
            if !xml[at..tag_end].contains(&format!(":{line}:")) {
                continue;
            }
            let case_end = xml[at..].find("</testcase>").map_or(xml.len(), |e| at + e);
            let Some(m) = xml[at..case_end].find("message=") else {
                break;
            };
            let quote_at = at + m + "message=".len();
            let Some(quote) = xml[quote_at..].chars().next() else {
                break;
            };
            if let Some(close) = xml[quote_at + 1..].find(quote) {
                let insert = quote_at + 1 + close;
                xml.insert_str(
                    insert,
                    &crate::check::xml_escape(&format!(" (report: {})", path.display())),
                );
            }
            break;
        }
    }
    xml
}

/// Records a replay's divergence in its transcript (before it is written).
pub fn record_divergence(rep: &crate::replay::Report) {
    if let Some(d) = &rep.divergence {
        rep.transcript.failure(
            format!("{}:{}", d.log, d.line),
            Some(d.expected.clone()),
            Some(d.actual.clone()),
            d.to_string(),
        );
    }
}

/// `replay --html DIR`: the log's page, `DIR/<stem>.html`; sets `rep.html`.
pub fn write_replay_report(
    dir: &Path,
    stem: &str,
    log: &str,
    rep: &mut crate::replay::Report,
) -> io::Result<PathBuf> {
    let meta = Meta {
        title: format!("replay: {log}{}", if rep.ok() { "" } else { " (DIVERGED)" }),
        source: log.to_string(),
    };
    let path = write_from(dir, stem, &meta, &rep.transcript)?;
    rep.html = Some(path.clone());
    Ok(path)
}

/// A file name from a scenario name: letters, digits, `-` and `_`; anything else becomes `-`.
pub fn file_stem(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    if s.is_empty() {
        "report".into()
    } else {
        s
    }
}

/// Pulls the expected and the actual line out of the harness's device errors ("expected the
/// modem to say `X`, but it said `Y`"; "... within 10s, but ..."), for a scenario's failure.
pub fn expected_actual(detail: &str) -> (Option<String>, Option<String>) {
    let first = detail.lines().next().unwrap_or_default();
    let Some(rest) = first.split("expected the modem to say `").nth(1) else {
        return (None, None);
    };
    let Some((expected, after)) = rest.split_once('`') else {
        return (None, None);
    };
    let actual = after
        .strip_prefix(", but it said `")
        .and_then(|a| a.rsplit_once('`'))
        .map(|(a, _)| a.to_string());
    (Some(expected.to_string()), actual)
}

const ONERROR_JS: &str = r#"window.addEventListener('error',function(e){document.documentElement.setAttribute('data-script-error',String(e.message||e));});"#;

const PAGE_JS: &str = r#"(function(){
var root=document.documentElement;
var pages=Array.prototype.slice.call(document.querySelectorAll('section.page'));
var label=document.getElementById('pageno');
var cur=0;pages.forEach(function(p,i){if(!p.hidden)cur=i;});
function show(i){if(!pages.length)return;i=Math.max(0,Math.min(pages.length-1,i));pages[cur].hidden=true;pages[i].hidden=false;cur=i;label.textContent='page '+(i+1)+' of '+pages.length;}
document.getElementById('prev').addEventListener('click',function(){show(cur-1);window.scrollTo(0,0);});
document.getElementById('next').addEventListener('click',function(){show(cur+1);window.scrollTo(0,0);});
function dump(h){var out='',n=h.length/2;for(var o=0;o<n;o+=16){var hx='',asc='';for(var i=0;i<16;i++){if(o+i<n){var b=parseInt(h.substr((o+i)*2,2),16);hx+=h.substr((o+i)*2,2)+' ';asc+=(b>=32&&b<127)?String.fromCharCode(b):'.';}else hx+='   ';if(i==7)hx+=' ';}out+=('000'+o.toString(16)).slice(-4)+'  '+hx+' |'+asc+'|\n';}return n?out:'(no bytes)\n';}
function fill(d){if(!d.open||d.querySelector('.raw'))return;var h=d.getAttribute('data-hex')||'';var r=document.createElement('div');r.className='raw';var m=document.createElement('div');m.className='dim';m.textContent=(h.length/2)+(d.getAttribute('data-wire')==='1'?' bytes on the wire':' bytes of the recorded text (no wire bytes recorded)');var p=document.createElement('pre');p.className='dump';p.textContent=dump(h);r.appendChild(m);r.appendChild(p);d.appendChild(r);}
document.addEventListener('toggle',function(ev){if(ev.target.tagName==='DETAILS')fill(ev.target);},true);
function go(id){var el=document.getElementById(id);if(!el)return;var p=el.closest('section.page');if(p)show(pages.indexOf(p));var d=el.querySelector('details');if(d){d.open=true;fill(d);}el.scrollIntoView({block:'center'});}
window.addEventListener('hashchange',function(){go(location.hash.slice(1));});
if(location.hash)go(location.hash.slice(1));
var ov=document.getElementById('overview');
ov.addEventListener('click',function(ev){var r=ov.getBoundingClientRect();var t=(ev.clientX-r.left)/r.width*Number(ov.getAttribute('data-total-us'));
for(var i=0;i<pages.length;i++){if(Number(pages[i].getAttribute('data-t1'))>=t||i==pages.length-1){show(i);break;}}
var rows=pages[cur].querySelectorAll('.row');for(var j=0;j<rows.length;j++){var tt=parseFloat(rows[j].querySelector('.t').textContent)*1e6;if(tt>=t){rows[j].scrollIntoView({block:'center'});break;}}});
document.addEventListener('keydown',function(ev){if(ev.key==='ArrowRight'&&ev.altKey)show(cur+1);if(ev.key==='ArrowLeft'&&ev.altKey)show(cur-1);});
var m=document.createElement('div');m.id='report-ready';m.hidden=true;document.body.appendChild(m);
root.setAttribute('data-ready-ms',String(Math.round(performance.now())));
root.setAttribute('data-report-ready','1');
})();"#;

const CSS: &str = r#"
:root{--host:#1f6feb;--module:#2da44e;--broker:#8250df;--fault:#d4a72c;--bad:#cf222e;--bg:#fff;--fg:#1f2328;--dim:#656d76;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0;font:13px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{position:sticky;top:0;z-index:2;background:#f6f8fa;border-bottom:1px solid var(--line);padding:8px 12px 0}
h1{font-size:16px;margin:0 0 4px}
.meta{color:var(--dim);margin-bottom:6px}
.ok{color:#1a7f37;font-weight:600}.bad{color:var(--bad);font-weight:700}
.summary{border-left:4px solid var(--bad);background:#ffebe9;padding:4px 8px;margin:4px 0}
.summary a{color:var(--bad);text-decoration:none}
#overview{display:block;width:100%;height:44px;background:#fff;border:1px solid var(--line);cursor:crosshair;margin:6px 0}
#overview rect.host{fill:var(--host)}#overview rect.module{fill:var(--module)}#overview rect.broker{fill:var(--broker)}#overview rect.fault{fill:var(--fault)}#overview rect.failmark{fill:var(--bad)}
nav{display:flex;gap:10px;align-items:center;margin:4px 0}
nav button{font:inherit;padding:1px 8px}
.jump{color:var(--bad);font-weight:600}
.legend{margin-left:auto;color:var(--dim)}
.sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px;border-radius:2px}
.sw.host{background:var(--host)}.sw.module{background:var(--module)}.sw.broker{background:var(--broker)}.sw.fault{background:var(--fault)}
.lanes,.row{display:grid;grid-template-columns:8.5em repeat(4,minmax(0,1fr));column-gap:6px}
.lanes{font-weight:600;color:var(--dim);padding:4px 0;border-top:1px solid var(--line)}
main{padding:0 12px 40px}
.row{align-items:start;background:linear-gradient(90deg,transparent 8.5em,transparent 8.5em);}
.t{font:11px/1.9 ui-monospace,monospace;color:var(--dim);white-space:nowrap}
.ev{grid-column:auto;border-left:3px solid;padding:1px 6px;margin:1px 0;border-radius:3px;min-width:0;overflow-wrap:anywhere}
.ev summary{cursor:pointer;list-style:none}.ev summary::-webkit-details-marker{display:none}
.ev.host{grid-column:2;border-color:var(--host);background:#ddf4ff}
.ev.module{grid-column:3;border-color:var(--module);background:#dafbe1}
.ev.broker{grid-column:4;border-color:var(--broker);background:#fbefff}
.ev.fault{grid-column:5;border-color:var(--fault);background:#fff8c5;font-weight:600}
.ev.wide{grid-column:2/6;border-color:var(--line);background:#f6f8fa}
.ev.echo{opacity:.55}
.ev.actual{outline:2px solid var(--bad);background:#ffebe9}
.ev.failure{border-color:var(--bad);background:#ffebe9;border-left-width:6px}
.failhead{color:var(--bad)}
.exp{background:#1a7f37;color:#fff;border-radius:3px;padding:0 4px;font-size:11px}
.act{background:var(--bad);color:#fff;border-radius:3px;padding:0 4px;font-size:11px}
pre.detail{margin:4px 0;white-space:pre-wrap;font-size:11px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap}
.tag{font-size:11px;color:var(--dim)}
.dim{color:var(--dim)}
.raw pre{margin:4px 0;font:11px/1.3 ui-monospace,monospace;white-space:pre;overflow-x:auto}
.brk{margin:6px 0 2px 8.5em;text-align:center;color:var(--dim);background:repeating-linear-gradient(135deg,#eaeef2 0 6px,#fff 6px 12px);border-radius:3px;padding:2px}
.brk span{background:#fff;padding:0 8px}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t_us: u64, kind: Kind) -> Event {
        Event {
            t_us,
            kind,
            hex: None,
        }
    }

    /// A failed step, with what it expected and what came.
    fn failure(step: &str, expected: Option<&str>, actual: Option<&str>, detail: &str) -> Kind {
        Kind::Failure {
            step: step.into(),
            expected: expected.map(Into::into),
            actual: actual.map(Into::into),
            detail: detail.into(),
        }
    }

    /// `n` events `step_us` apart, the `i`th of them `kind(i)`.
    fn timed(n: u64, step_us: u64, kind: impl Fn(u64) -> Kind) -> Vec<Event> {
        (0..n).map(|i| ev(i * step_us, kind(i))).collect()
    }

    #[test]
    fn text_is_escaped_and_every_event_is_shown() {
        let events = vec![
            ev(
                0,
                Kind::UartTx {
                    text: "AT+MPUB=\"a<b>\",0,0,\"</script><x>\"".into(),
                },
            ),
            ev(
                10,
                Kind::UartRx {
                    text: "+CME ERROR: 767".into(),
                },
            ),
            ev(
                5_000_000,
                Kind::Fault {
                    fault: "pdn-deact".into(),
                },
            ),
            ev(
                5_000_100,
                failure(
                    "Then the modem says OK",
                    Some("OK"),
                    Some("+CME ERROR: 767"),
                    "expected `OK` & more",
                ),
            ),
        ];
        let html = render(
            &Meta {
                title: "t<1>".into(),
                source: String::new(),
            },
            &events,
        );
        assert!(!html.contains("<x>"), "unescaped text");
        assert!(!html.contains("</script><x>"));
        assert!(html.contains("&lt;/script&gt;&lt;x&gt;"));
        assert!(html.contains("t&lt;1&gt;"));
        assert!(html.contains("+CME ERROR: 767"));
        assert!(html.contains("pdn-deact"));
        assert!(html.contains("expected `OK` &amp; more"));
        // The 5 s silence is a break, with its length.
        assert!(html.contains("5.00 s of silence"), "{html}");
        // The actual line is marked, and the failure has an anchor.
        assert!(html.contains("ev module actual"));
        assert!(html.contains("id=\"failure-3\""));
        assert!(html.contains("href=\"#failure-3\""));
        // No external assets.
        for bad in ["src=\"http", "href=\"http", "@import", "url("] {
            assert!(!html.contains(bad), "{bad}");
        }
    }

    #[test]
    fn binary_payloads_show_as_hex_and_raw_bytes_are_dumped() {
        let events = vec![Event {
            t_us: 0,
            kind: Kind::UartTxData {
                text: "\\u{0}\\u{1}A".into(),
                len: 3,
            },
            hex: Some("000141".into()),
        }];
        let html = render(&Meta::default(), &events);
        assert!(html.contains("payload 3 bytes, hex"), "{html}");
        assert!(html.contains("00 01 41"));
        // The wire bytes, for the page's script to dump when the item opens.
        assert!(html.contains("data-hex=\"000141\" data-wire=\"1\""));
    }

    #[test]
    fn long_runs_are_paged_and_the_failure_page_is_shown_first() {
        let mut events = timed(1000, 1000, |i| Kind::UartRx {
            text: format!("line {i}"),
        });
        events.insert(900, ev(899_500, failure("s", None, None, "d")));
        let html = render(&Meta::default(), &events);
        assert_eq!(html.matches("<section class=\"page\"").count(), 3);
        let visible: Vec<&str> = html
            .split("<section ")
            .skip(1)
            .filter(|s| !s[..s.find('>').unwrap()].contains("hidden"))
            .collect();
        assert_eq!(visible.len(), 1);
        assert!(visible[0].starts_with("class=\"page\" id=\"page-2\""));
        assert!(html.contains("line 999"));
    }

    #[test]
    fn a_page_rendered_from_disk_is_the_page_rendered_from_memory() {
        let mut events = timed(900, 10, |i| {
            if i % 2 == 0 {
                Kind::UartTx { text: "AT".into() }
            } else {
                Kind::UartRx { text: "AT".into() }
            }
        });
        events.push(ev(9_000, failure("x.log:7", Some("OK"), Some("AT"), "d")));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let jsonl: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        std::fs::write(&path, jsonl).unwrap();
        let meta = Meta::default();
        let mut from_disk = Vec::new();
        let n = render_to(&mut from_disk, &meta, &JsonlFile(&path)).unwrap();
        assert_eq!(n, 901);
        let html = render(&meta, &events);
        assert_eq!(String::from_utf8(from_disk).unwrap(), html);
        // The echoes are marked, the last `AT` before the failure is its actual line, and the
        // failure's page (the third) is the one shown.
        assert_eq!(html.matches("ev module echo").count(), 450);
        assert!(
            html.contains("id=\"actual-899\""),
            "the last AT before the failure"
        );
        assert!(html.contains("id=\"page-2\" data-t0=\"8000\" data-t1=\"9000\">"));
        assert!(
            html.ends_with("</script></body></html>"),
            "{}",
            &html[html.len() - 60..]
        );
        // A file that is no transcript is an InvalidData error, before anything is written.
        std::fs::write(&path, "not json\n").unwrap();
        let mut out = Vec::new();
        let err = render_to(&mut out, &meta, &JsonlFile(&path)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(out.is_empty());
    }

    #[test]
    fn expected_and_actual_from_device_errors() {
        let e = crate::device::DeviceError::Mismatch {
            expected: "CONNACK OK".into(),
            actual: "CLOSED".into(),
            detail: "\n  the line differs: expected `CONNACK OK`, got `CLOSED`".into(),
            transcript: "recent transcript".into(),
        };
        assert_eq!(
            expected_actual(&e.to_string()),
            (Some("CONNACK OK".into()), Some("CLOSED".into()))
        );
        let e = crate::device::DeviceError::Timeout {
            expected: "OK".into(),
            waited: std::time::Duration::from_secs(1),
            got: "it said nothing more".into(),
            transcript: String::new(),
        };
        assert_eq!(expected_actual(&e.to_string()), (Some("OK".into()), None));
        assert_eq!(expected_actual("boom"), (None, None));
    }

    #[test]
    fn file_stems() {
        for (name, stem) in [
            (
                "resumes after kick-idle (767)",
                "resumes-after-kick-idle-767",
            ),
            ("../x", "x"),
            ("°", "report"),
        ] {
            assert_eq!(file_stem(name), stem, "{name}");
        }
    }
}
