//! `replay --timing-tolerance PCT`: how far the module's delays in a replay are from those of
//! a log that carries time stamps.
//!
//! A log captured with a serial tool that stamps each chunk (`[03:13:51.496]收←◆` in the
//! vendor's guides: `发→◇` sent, `收←◆` received, `□` the CR LF it sent) gives each line the
//! time of its chunk ([`crate::replay::Log::times`]). A *gap* is a module line that came at
//! least [`MIN_GAP_MS`] after what preceded it (the host's command or the module's previous
//! line): the time the module took for something (`CONNECT OK` after the `OK`). The same gap is
//! measured in the replay's transcript, and each pair is compared.

use crate::replay::{Entry, Log};
use crate::transcript::{Event, Kind};

/// Below this a log's gap is the serial tool's and the UART's, not the module's.
pub const MIN_GAP_MS: u64 = 50;

/// One timed step: the log's gap and the replay's.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// The log's line number of the late line.
    pub line: usize,
    pub text: String,
    /// What it is measured from (`AT+MCONNECT=1,120` or the line before).
    pub from: String,
    pub log_ms: f64,
    /// `None` when the replay's transcript lacks the line (the replay diverged).
    pub sim_ms: Option<f64>,
}

impl Gap {
    /// The simulator's gap relative to the log's, in percent (+ slower, - faster).
    pub fn off_pct(&self) -> Option<f64> {
        self.sim_ms.map(|s| (s - self.log_ms) / self.log_ms * 100.0)
    }

    pub fn within(&self, tolerance_pct: f64) -> bool {
        self.off_pct().is_some_and(|p| p.abs() <= tolerance_pct)
    }
}

/// The reference a gap is measured from: the last host command or module line.
#[derive(Debug, Clone, Copy)]
enum Ref {
    Send(usize),
    Expect(usize),
}

/// The gaps of `log` (its stamped lines) and the same gaps in `events` (a replay's transcript).
pub fn compare(log: &Log, events: &[Event]) -> Vec<Gap> {
    // Align the log's entries with the transcript, in order: each Send with the next command
    // the host wrote, each Expect with the next line the module printed that equals it.
    let mut at: Vec<Option<u64>> = vec![None; log.lines.len()];
    let mut p = 0;
    for (i, l) in log.lines.iter().enumerate() {
        let hit = |e: &Event| match (&l.entry, &e.kind) {
            (Entry::Send(cmd), Kind::UartTx { text }) => same_command(cmd, text),
            (Entry::Expect(line), Kind::UartRx { text }) => text == line,
            _ => false,
        };
        if !matches!(l.entry, Entry::Send(_) | Entry::Expect(_)) {
            continue;
        }
        if let Some(k) = events[p..].iter().position(hit) {
            at[i] = Some(events[p + k].t_us);
            p += k + 1;
        }
    }
    let mut gaps = Vec::new();
    let mut last: Option<Ref> = None;
    for (i, l) in log.lines.iter().enumerate() {
        match &l.entry {
            Entry::Send(_) => last = Some(Ref::Send(i)),
            Entry::Expect(text) => {
                if let (Some(r), Some(t)) = (last, log.times[i]) {
                    let ri = match r {
                        Ref::Send(j) | Ref::Expect(j) => j,
                    };
                    if let Some(t0) = log.times[ri] {
                        let log_ms = t.saturating_sub(t0) as f64;
                        if log_ms >= MIN_GAP_MS as f64 {
                            let sim_ms = match (at[ri], at[i]) {
                                (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1000.0),
                                _ => None,
                            };
                            let from = match &log.lines[ri].entry {
                                Entry::Send(c) | Entry::Expect(c) => c.clone(),
                                _ => String::new(),
                            };
                            gaps.push(Gap {
                                line: l.no,
                                text: text.clone(),
                                from,
                                log_ms,
                                sim_ms,
                            });
                        }
                    }
                }
                last = Some(Ref::Expect(i));
            }
            _ => {}
        }
    }
    gaps
}

/// The host's line in the transcript is the log's command (the replay may have rewritten its
/// host and account for `--broker`: the command's name is what must match).
fn same_command(log: &str, sent: &str) -> bool {
    let name = |s: &str| {
        s.split_once('=')
            .map(|(n, _)| n)
            .unwrap_or(s)
            .to_ascii_uppercase()
    };
    log == sent || name(log) == name(sent)
}

/// The comparison as a table, each gap marked against `tolerance_pct`.
pub fn render(name: &str, gaps: &[Gap], tolerance_pct: f64) -> String {
    let mut s = format!(
        "timing of {name} (gaps of {MIN_GAP_MS} ms or more in the log; tolerance {tolerance_pct}%):\n"
    );
    if gaps.is_empty() {
        s.push_str(
            "  the log has no time stamps (or no gap of 50 ms or more): nothing to compare\n",
        );
        return s;
    }
    for g in gaps {
        let (sim, off, mark) = match (g.sim_ms, g.off_pct()) {
            (Some(v), Some(p)) => (
                format!("{v:.0} ms"),
                format!("{p:+.0}%"),
                if p.abs() <= tolerance_pct {
                    "ok"
                } else {
                    "OFF"
                },
            ),
            _ => ("missing".into(), "-".into(), "OFF"),
        };
        s.push_str(&format!(
            "  {mark:>3}  line {:>4}  {:<28} after {:<36} log {:>6.0} ms  simulator {:>9}  {off}\n",
            g.line,
            truncate(&g.text, 28),
            truncate(&g.from, 36),
            g.log_ms,
            sim,
        ));
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMPED: &str = "[03:13:51.493]发→◇AT+SSLMIPSTART=\"a.example\",1883\n□\n[03:13:51.496]收←◆AT+SSLMIPSTART=\"a.example\",1883\n\nOK\n\n[03:13:52.911]收←◆\nCONNECT OK\n\n[03:13:53.182]发→◇AT+MCONNECT=1,120\n□\n[03:13:53.185]收←◆AT+MCONNECT=1,120\n\nOK\n\n[03:13:53.434]收←◆\nCONNACK OK\n";

    fn ev(t_ms: u64, kind: Kind) -> Event {
        Event {
            t_us: t_ms * 1000,
            kind,
            hex: None,
        }
    }

    #[test]
    fn stamped_lines_give_each_entry_its_chunks_time() {
        let log = Log::parse("a.log", STAMPED).unwrap();
        let entries: Vec<(&Entry, Option<u64>)> = log
            .lines
            .iter()
            .map(|l| &l.entry)
            .zip(log.times.iter().copied())
            .collect();
        let ms = |h: u64, m: u64, s: u64, x: u64| Some(((h * 60 + m) * 60 + s) * 1000 + x);
        assert_eq!(
            entries,
            vec![
                (
                    &Entry::Send("AT+SSLMIPSTART=\"a.example\",1883".into()),
                    ms(3, 13, 51, 493)
                ),
                (&Entry::Expect("OK".into()), ms(3, 13, 51, 496)),
                (&Entry::Expect("CONNECT OK".into()), ms(3, 13, 52, 911)),
                (&Entry::Send("AT+MCONNECT=1,120".into()), ms(3, 13, 53, 182)),
                (&Entry::Expect("OK".into()), ms(3, 13, 53, 185)),
                (&Entry::Expect("CONNACK OK".into()), ms(3, 13, 53, 434)),
            ]
        );
    }

    #[test]
    fn gaps_are_compared_with_the_transcripts() {
        let log = Log::parse("a.log", STAMPED).unwrap();
        let rx = |t, s: &str| ev(t, Kind::UartRx { text: s.into() });
        let tx = |t, s: &str| ev(t, Kind::UartTx { text: s.into() });
        let events = vec![
            tx(0, "AT"),
            rx(1, "OK"),
            tx(10, "AT+SSLMIPSTART=\"127.0.0.1\",41234"),
            rx(11, "OK"),
            rx(1711, "CONNECT OK"),
            tx(1712, "AT+MCONNECT=1,120"),
            rx(1713, "OK"),
            rx(1950, "CONNACK OK"),
        ];
        let gaps = compare(&log, &events);
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert_eq!(
            (gaps[0].text.as_str(), gaps[0].log_ms),
            ("CONNECT OK", 1415.0)
        );
        assert_eq!(gaps[0].sim_ms, Some(1700.0));
        assert_eq!(
            (gaps[1].text.as_str(), gaps[1].log_ms),
            ("CONNACK OK", 249.0)
        );
        assert_eq!(gaps[1].sim_ms, Some(237.0));
        assert!(gaps[0].within(25.0) && !gaps[0].within(15.0));
        assert!(gaps[1].within(5.0));
        let table = render("a.log", &gaps, 10.0);
        assert!(table.contains("OFF") && table.contains("+20%"), "{table}");
        // A line the replay never printed is reported, not skipped.
        let gaps = compare(&log, &events[..5]);
        assert_eq!(gaps[1].sim_ms, None);
        assert!(!gaps[1].within(100.0));
    }
}
