//! Timing profiles: how long the module takes for each step, as data.
//!
//! A [`Profile`] names, for each [`Step`] that takes time on a real module (a TCP connect, a
//! TLS handshake, the broker's CONNACK, ...), a delay distribution with its source, and
//! whether bytes cross the UART at the module's baud rate. Two are built in
//! (`sim/profiles/fast.toml`, `sim/profiles/realistic.toml`); a user's own is a TOML or JSON
//! file of the same shape. The [`Scheduler`] (inside the [`Engine`](crate::dialect::Engine))
//! holds network events and late output back by the drawn delays, always on top of the time
//! the real network already took, and in order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::effect::Effect;
use crate::net::{ConnectReturnCode, LinkId, NetEvent, NetEventKind, NetRequest};

/// The built-in profiles' text (also the documentation of the shape).
pub const FAST_TOML: &str = include_str!("../../profiles/fast.toml");
pub const REALISTIC_TOML: &str = include_str!("../../profiles/realistic.toml");

/// The UART rate at power-on (Air780E and L610 both default to 115200).
pub const DEFAULT_BAUD: u32 = 115_200;

/// A step that takes time on the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The module's power-on lines (`AT command ready`, `+SIM READY`).
    Boot,
    /// Resolving a host name (not added for an IP address).
    Dns,
    /// The TCP connect: `CONNECT OK`; on the L610 the first half of `+MQTTOPEN`.
    Connect,
    /// The TLS handshake after the TCP connect.
    TlsHandshake,
    /// A TCP connect or TLS handshake that fails: `CONNECT FAIL`, `+MQTTOPEN: <id>,0`.
    ConnectFailed,
    /// The broker's CONNACK: `CONNACK OK`, `+MQTTOPEN: <id>,1`.
    Connack,
    /// A CONNACK that refuses the session: `CLOSED`, `+MQTTOPEN: <id>,0`.
    ConnackRefused,
    /// `SUBACK`, `+MQTTSUB: <id>,1`.
    Suback,
    /// `UNSUBACK`, `+MQTTUNSUB: <id>,1`.
    Unsuback,
    /// `PUBACK`, `+MQTTPUB: <id>,1` for QoS 1.
    Puback,
    /// `PUBREC` (QoS 2).
    Pubrec,
    /// `PUBCOMP` (QoS 2), counted from the `PUBREC` before it.
    Pubcomp,
    /// A message from the broker (`+MSUB`, `+MQTTMSG`).
    Message,
    /// The link closing under the module (`CLOSED`, `+MQTTBREAK`).
    Closed,
    /// The L610's data call: `+MIPCALL: <ip>` after the `OK`.
    Mipcall,
}

impl Step {
    pub const ALL: [Step; 15] = [
        Step::Boot,
        Step::Dns,
        Step::Connect,
        Step::TlsHandshake,
        Step::ConnectFailed,
        Step::Connack,
        Step::ConnackRefused,
        Step::Suback,
        Step::Unsuback,
        Step::Puback,
        Step::Pubrec,
        Step::Pubcomp,
        Step::Message,
        Step::Closed,
        Step::Mipcall,
    ];
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The serde name, as written in a profile.
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&s)
    }
}

/// One step's delay: a triangular distribution from `median - spread` to `median + spread`
/// (never below 0), most likely at the median.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    pub median_ms: u64,
    #[serde(default)]
    pub spread_ms: u64,
    /// Where the numbers come from: a capture (file and timestamps), a document, or why it is
    /// an estimate. Required: a delay without a source is a guess nobody can check.
    pub source: String,
}

impl Delay {
    /// The smallest and largest delay this distribution draws.
    pub fn range(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.median_ms.saturating_sub(self.spread_ms)),
            Duration::from_millis(self.median_ms + self.spread_ms),
        )
    }
}

/// A timing profile, as in `sim/profiles/*.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    /// Bytes cross the UART at the module's baud rate (8N1), both ways.
    #[serde(default)]
    pub pace_uart: bool,
    #[serde(default)]
    pub delays: BTreeMap<Step, Delay>,
}

/// The longest delay a profile may give a step: beyond it a driver's own timeout decides, and
/// a typo (`2500000` for `2500`) is caught.
pub const MAX_DELAY_MS: u64 = 600_000;

/// Why a profile could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the timing profile {path}: {source} (use --timing fast, --timing realistic, or the path of a .toml or .json profile)")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the timing profile {path} is not valid {format}: {message} (copy sim/profiles/realistic.toml and change the numbers)")]
    Parse {
        path: String,
        format: &'static str,
        message: String,
    },
    #[error("the timing profile {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Profile {
    /// `fast`: no delays, no pacing (the simulator as it was before profiles).
    pub fn fast() -> Profile {
        Profile::parse_toml(FAST_TOML, "fast").expect("the built-in fast profile parses")
    }

    /// `realistic`: the delays of real modules, from timestamped captures.
    pub fn realistic() -> Profile {
        Profile::parse_toml(REALISTIC_TOML, "realistic")
            .expect("the built-in realistic profile parses")
    }

    /// `fast`, `realistic`, or a file (`.json` is JSON, anything else TOML).
    pub fn load(spec: &str) -> Result<Profile, ProfileError> {
        match spec {
            "fast" => return Ok(Profile::fast()),
            "realistic" => return Ok(Profile::realistic()),
            _ => {}
        }
        let text = std::fs::read_to_string(spec).map_err(|source| ProfileError::Read {
            path: spec.to_string(),
            source,
        })?;
        let is_json = Path::new(spec)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            Profile::parse_json(&text, spec)
        } else {
            Profile::parse_toml(&text, spec)
        }
    }

    pub fn parse_toml(text: &str, path: &str) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: path.to_string(),
            format: "TOML",
            message: e.to_string().trim().replace('\n', " "),
        })?;
        p.validate(path)
    }

    pub fn parse_json(text: &str, path: &str) -> Result<Profile, ProfileError> {
        let p: Profile = serde_json::from_str(text).map_err(|e| ProfileError::Parse {
            path: path.to_string(),
            format: "JSON",
            message: e.to_string(),
        })?;
        p.validate(path)
    }

    fn validate(self, path: &str) -> Result<Profile, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            path: path.to_string(),
            message,
        };
        if self.name.trim().is_empty() {
            return Err(invalid("`name` is empty".into()));
        }
        for (step, d) in &self.delays {
            if d.median_ms + d.spread_ms > MAX_DELAY_MS {
                return Err(invalid(format!(
                    "[delays.{step}]: median_ms + spread_ms is {} ms, more than the {MAX_DELAY_MS} ms a step may take",
                    d.median_ms + d.spread_ms
                )));
            }
            if d.source.trim().is_empty() {
                return Err(invalid(format!(
                    "[delays.{step}]: `source` is empty (say where the numbers come from)"
                )));
            }
        }
        Ok(self)
    }

    /// No delay at all and no pacing: the scheduler can stay out of the way.
    pub fn is_instant(&self) -> bool {
        !self.pace_uart && self.delays.values().all(|d| d.median_ms + d.spread_ms == 0)
    }

    pub fn delay(&self, step: Step) -> Option<&Delay> {
        self.delays.get(&step)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::fast()
    }
}

/// Draws delays: deterministic for a seed (splitmix64).
#[derive(Debug, Clone)]
pub struct Sampler {
    profile: Profile,
    state: u64,
}

impl Sampler {
    pub fn new(profile: Profile, seed: u64) -> Sampler {
        Sampler {
            profile,
            state: seed,
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A delay for `step`: 0 when the profile does not list it.
    pub fn draw(&mut self, step: Step) -> Duration {
        let Some(d) = self.profile.delays.get(&step) else {
            return Duration::ZERO;
        };
        let (median, spread) = (d.median_ms as f64, d.spread_ms as f64);
        // Triangular on [-1, 1]: the sum of two uniforms, shifted.
        let t = self.unit() + self.unit() - 1.0;
        let ms = (median + spread * t).max(0.0);
        Duration::from_micros((ms * 1000.0).round() as u64)
    }
}

/// Timer ids from here up to `2^62` belong to the scheduler (a dialect's ids are small
/// counters or `u64::MAX`; the engine's prompt timers start at `2^62`).
pub const TIMER_BASE: u64 = 1 << 61;

/// What the scheduler holds back.
#[derive(Debug)]
enum Held {
    Net(NetEvent),
    Output(Vec<Effect>),
}

/// What the scheduler knows of a link from the request that opened it.
#[derive(Debug, Clone, Copy)]
struct LinkInfo {
    tls: bool,
    named: bool,
}

/// Holds network events and late output back by the profile's delays, in arrival order.
///
/// A held item is released at `max(arrival + delay, release of the item before it)`, so the
/// module's output keeps the order in which things happened, and each delay comes on top of
/// the real network's time.
#[derive(Debug)]
pub struct Scheduler {
    sampler: Sampler,
    links: HashMap<LinkId, LinkInfo>,
    queue: VecDeque<(tokio::time::Instant, Held)>,
    last_release: Option<tokio::time::Instant>,
    next_timer: u64,
}

/// What [`Scheduler`] hands back: deliver now, or ask for a timer.
pub enum Admit {
    Now(NetEvent),
    Later(Effect),
}

impl Scheduler {
    pub fn new(sampler: Sampler) -> Scheduler {
        Scheduler {
            sampler,
            links: HashMap::new(),
            queue: VecDeque::new(),
            last_release: None,
            next_timer: TIMER_BASE,
        }
    }

    pub fn profile(&self) -> &Profile {
        self.sampler.profile()
    }

    /// Notes what the module asked of the network (whether a link is TLS, and named).
    pub fn observe(&mut self, effects: &[Effect]) {
        for e in effects {
            if let Effect::Net(NetRequest::Open {
                link, host, tls, ..
            }) = e
            {
                let named = host.parse::<std::net::IpAddr>().is_err();
                self.links.insert(
                    *link,
                    LinkInfo {
                        tls: tls.is_some(),
                        named,
                    },
                );
            }
        }
    }

    /// Holds a request to open a link to a host *name* back by the `dns` delay (the module
    /// resolves the name before it connects, so the broker sees the connection that much
    /// later too). Everything else, and opens to an IP address, goes at once.
    pub fn requests(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let mut out = Vec::with_capacity(effects.len());
        for e in effects {
            let named = matches!(&e, Effect::Net(NetRequest::Open { link, .. })
                if self.links.get(link).is_some_and(|i| i.named));
            if named {
                let delay = self.sampler.draw(Step::Dns);
                if !(delay.is_zero() && self.queue.is_empty()) {
                    out.push(self.hold(delay, false, Held::Output(vec![e])));
                    continue;
                }
            }
            out.push(e);
        }
        out
    }

    /// The delay a network event gets.
    fn event_delay(&mut self, ev: &NetEvent) -> Duration {
        let info = self.links.get(&ev.link).copied();
        match &ev.kind {
            NetEventKind::Connected => {
                let tls = if info.is_some_and(|i| i.tls) {
                    self.sampler.draw(Step::TlsHandshake)
                } else {
                    Duration::ZERO
                };
                self.sampler.draw(Step::Connect) + tls
            }
            NetEventKind::ConnectFailed(_) => self.sampler.draw(Step::ConnectFailed),
            NetEventKind::ConnAck(ConnectReturnCode::Success) => self.sampler.draw(Step::Connack),
            NetEventKind::ConnAck(_) => self.sampler.draw(Step::ConnackRefused),
            NetEventKind::SubAck(_) => self.sampler.draw(Step::Suback),
            NetEventKind::UnsubAck => self.sampler.draw(Step::Unsuback),
            NetEventKind::PubAck => self.sampler.draw(Step::Puback),
            NetEventKind::PubRec => self.sampler.draw(Step::Pubrec),
            NetEventKind::PubComp => self.sampler.draw(Step::Pubcomp),
            NetEventKind::Message { .. } | NetEventKind::SockData { .. } => {
                self.sampler.draw(Step::Message)
            }
            NetEventKind::SockSent(_) => Duration::ZERO,
            // `AT+CDNSGIP`: the module asks its DNS server.
            NetEventKind::Resolved(_) => self.sampler.draw(Step::Dns),
            NetEventKind::Closed(_) => self.sampler.draw(Step::Closed),
            // An HTTP exchange: the connect, then one round trip for the response (estimated
            // as CONNACK's, the one request/answer round trip the captures time).
            NetEventKind::HttpDone(_) => {
                self.sampler.draw(Step::Connect) + self.sampler.draw(Step::Connack)
            }
            NetEventKind::HttpFailed(_) => self.sampler.draw(Step::ConnectFailed),
        }
    }

    /// Schedules `held` at `now + delay` (or after what is already held); returns the timer
    /// to ask for.
    fn hold(&mut self, delay: Duration, chained: bool, held: Held) -> Effect {
        let now = tokio::time::Instant::now();
        let base = if chained {
            self.last_release.map_or(now, |l| l.max(now))
        } else {
            now
        };
        let mut at = base + delay;
        if let Some(last) = self.last_release {
            at = at.max(last);
        }
        self.last_release = Some(at);
        self.queue.push_back((at, held));
        let id = self.next_timer;
        self.next_timer += 1;
        Effect::Timer {
            id,
            after: at.saturating_duration_since(now),
        }
    }

    /// A network event: delivered now (no delay and nothing held), or held with a timer.
    pub fn net_event(&mut self, ev: NetEvent) -> Admit {
        let delay = self.event_delay(&ev);
        let chained = matches!(ev.kind, NetEventKind::PubComp);
        if matches!(
            ev.kind,
            NetEventKind::Closed(_) | NetEventKind::ConnectFailed(_)
        ) {
            self.links.remove(&ev.link);
        }
        if delay.is_zero() && self.queue.is_empty() {
            return Admit::Now(ev);
        }
        Admit::Later(self.hold(delay, chained, Held::Net(ev)))
    }

    /// Output the dialect wants shown `step`'s delay from now: `None` when it goes out now.
    pub fn output(&mut self, step: Step, effects: Vec<Effect>) -> Result<Effect, Vec<Effect>> {
        let delay = self.sampler.draw(step);
        if delay.is_zero() && self.queue.is_empty() {
            return Err(effects);
        }
        Ok(self.hold(delay, false, Held::Output(effects)))
    }

    /// Whether `id` is one of ours.
    pub fn owns(id: u64) -> bool {
        id >> 61 == 1
    }

    /// Everything due now, in order: network events for the dialect, or output.
    pub fn due(&mut self) -> Vec<Result<NetEvent, Vec<Effect>>> {
        let now = tokio::time::Instant::now();
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|(at, _)| *at <= now) {
            let (_, held) = self.queue.pop_front().expect("front checked");
            out.push(match held {
                Held::Net(ev) => Ok(ev),
                Held::Output(fx) => Err(fx),
            });
        }
        out
    }
}

/// Bytes on a UART at its baud rate: when each piece has finished crossing the wire. A piece
/// that follows the previous one closely (the line still busy, or idle for less than
/// [`Pacer::SLACK`], which absorbs the timer's granularity) starts where the previous one
/// ended; after a pause it starts now.
#[derive(Debug, Clone)]
pub struct Pacer {
    pub baud: u32,
    clock: Option<tokio::time::Instant>,
}

impl Pacer {
    /// The longest gap that still counts as back to back.
    pub const SLACK: Duration = Duration::from_millis(2);
    /// The largest piece paced at once: about 5.6 ms at 115200 baud, 1.4 ms at 460800.
    pub const PIECE: usize = 64;

    pub fn new(baud: u32) -> Pacer {
        Pacer { baud, clock: None }
    }

    /// When `n` bytes written now (or right after the previous ones) have crossed the wire.
    pub fn done_at(&mut self, n: usize) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        let start = match self.clock {
            Some(c) if c + Self::SLACK >= now => c,
            _ => now,
        };
        let end = start + wire_time(n, self.baud);
        self.clock = Some(end);
        end
    }
}

/// The wire time of `bytes` bytes at `baud`, 8N1 (a start bit, 8 data bits, a stop bit).
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_nanos(bytes as u64 * 10 * 1_000_000_000 / u64::from(baud.max(1)))
}

#[cfg(test)]
mod tests;
