//! THE executor: a parsed log ([`crate::engine::log`]) run against a module, used by the
//! features' `the host runs:` / `the modem says:` steps, by `modem-harness run` and by
//! `modem-harness replay`.
//!
//! Commands are sent (through [`Actions::command`], which may rewrite them for an external
//! broker), payloads sent as they are, harness actions (`//@`) done by [`Actions::action`], and
//! each expected line must be the module's next line (blank lines and the echo of commands
//! skipped), except that unsolicited lines (anything but `OK`, `ERROR`, `+CME ERROR`, `>`) may
//! arrive up to [`WINDOW`] expected lines early or late: a URC races the answer of the command
//! the host sends next. Nothing else may come between: an extra line is a miss.
//!
//! Lines are pulled from any iterator with a bounded lookahead, so a log streamed from a file
//! runs in bounded memory.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::device::{show, Device, DeviceError, Item};
use crate::engine::log::{is_final, Directive, Entry, Line};

/// How many expected lines a URC may arrive early or late by.
pub const WINDOW: usize = 4;

/// Why a run stopped before the end of its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// The module said something else (`detail`: which field differed).
    Mismatch {
        actual: String,
        detail: Option<String>,
    },
    /// Nothing within the timeout; `said`: what it said since the last command.
    Timeout { said: String },
    /// The device closed (end of file).
    Closed,
    /// A harness action found the world other than the log says.
    Action(String),
}

/// The line a run stopped at, its index among the lines, and why.
#[derive(Debug, Clone)]
pub struct Stop {
    pub index: usize,
    pub line: Line,
    pub miss: Miss,
}

/// How far a run got: `done` lines run, and the stop, if it stopped early.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub done: usize,
    pub stop: Option<Stop>,
}

/// What the front end does for the executor: the command line really sent, and the harness
/// actions.
#[allow(async_fn_in_trait)]
pub trait Actions {
    type Error: From<DeviceError>;
    /// The line to send for the log's command `cmd` (rewritten for an external broker, say).
    fn command(&mut self, line: &Line, cmd: &str) -> String;
    /// Does a harness action; `Ok(Some(actual))` when what it finds is not what the log says.
    async fn action(
        &mut self,
        device: &mut Device,
        line: &Line,
        d: &Directive,
    ) -> Result<Option<String>, Self::Error>;
}

/// Lines the module prints by itself, which may race the answers around them. A URC is known
/// by its opening text: a line that starts with a `{}` wildcard (a bare IMEI or address) is an
/// answer, matched in its place only, or it would take any line that came early.
fn is_unsolicited(entry: &Entry) -> bool {
    matches!(entry, Entry::Expect(l) if !is_final(l) && !l.starts_with(crate::engine::pattern::WILDCARD))
}

/// Whether the module's `item` is what `entry` expects.
pub fn entry_matches(entry: &Entry, item: &Item) -> bool {
    match (entry, item) {
        (Entry::Prompt, Item::Prompt) => true,
        (Entry::Expect(e), Item::Line(l)) => crate::engine::pattern::matches(e, l),
        (Entry::Expect(e), Item::Prompt) => e.trim() == ">",
        _ => false,
    }
}

/// What an entry expects, as shown in a report.
pub fn expected_text(entry: &Entry) -> String {
    match entry {
        Entry::Expect(e) => show(e.as_bytes()),
        Entry::Prompt => ">".into(),
        other => format!("{other:?}"),
    }
}

struct Slot {
    line: Line,
    matched: bool,
}

/// Runs lines against a device.
pub struct Executor<I> {
    src: I,
    /// Lines from index `base` on, pulled from `src` and not yet left behind.
    ahead: VecDeque<Slot>,
    base: usize,
    timeout: Duration,
}

impl<I: Iterator<Item = Line>> Executor<I> {
    /// `timeout`: how long each expected line may take.
    pub fn new(lines: impl IntoIterator<IntoIter = I>, timeout: Duration) -> Self {
        Executor {
            src: lines.into_iter(),
            ahead: VecDeque::new(),
            base: 0,
            timeout,
        }
    }

    fn slot(&mut self, j: usize) -> Option<&mut Slot> {
        while self.base + self.ahead.len() <= j {
            let line = self.src.next()?;
            self.ahead.push_back(Slot {
                line,
                matched: false,
            });
        }
        self.ahead.get_mut(j - self.base)
    }

    /// Runs every line, or up to the first miss.
    pub async fn run<A: Actions>(
        &mut self,
        device: &mut Device,
        actions: &mut A,
    ) -> Result<Outcome, A::Error> {
        let mut i = self.base;
        loop {
            while self.base < i && self.ahead.pop_front().is_some() {
                self.base += 1;
            }
            let Some(slot) = self.slot(i) else {
                return Ok(Outcome {
                    done: i,
                    stop: None,
                });
            };
            let line = slot.line.clone();
            let miss = match &line.entry {
                Entry::Send(cmd) => {
                    let cmd = actions.command(&line, cmd);
                    device.send_line(&cmd).await?;
                    None
                }
                Entry::Payload(bytes) => {
                    device.send_data(bytes).await?;
                    None
                }
                Entry::Directive(d) => actions.action(device, &line, d).await?.map(Miss::Action),
                Entry::Expect(_) | Entry::Prompt => self.expect(i, device).await?,
            };
            if let Some(miss) = miss {
                return Ok(Outcome {
                    done: i,
                    stop: Some(Stop {
                        index: i,
                        line,
                        miss,
                    }),
                });
            }
            i += 1;
        }
    }

    /// An expected line that arrives before its turn, within the window: `j` such that the
    /// item matches entry `j`. Past a command, only unsolicited lines may come early (the
    /// module cannot answer a command it has not received); a harness action ends the window
    /// (what it causes cannot come before it).
    fn early(&mut self, i: usize, item: &Item) -> Option<usize> {
        let current = self.slot(i).map(|s| is_unsolicited(&s.line.entry))?;
        let mut seen = 0;
        let mut crossed_send = false;
        let mut j = i + 1;
        while let Some(s) = self.slot(j) {
            match &s.line.entry {
                Entry::Send(_) | Entry::Payload(_) => crossed_send = true,
                Entry::Directive(_) => return None,
                e @ (Entry::Expect(_) | Entry::Prompt) => {
                    seen += 1;
                    if seen > WINDOW {
                        return None;
                    }
                    let may = is_unsolicited(e) || (!crossed_send && current);
                    if may && !s.matched && entry_matches(e, item) {
                        return Some(j);
                    }
                }
            }
            j += 1;
        }
        None
    }

    async fn expect(&mut self, i: usize, device: &mut Device) -> Result<Option<Miss>, DeviceError> {
        if self.slot(i).is_some_and(|s| s.matched) {
            return Ok(None);
        }
        loop {
            let deadline = Instant::now() + self.timeout;
            let item = match device.next_answer(deadline).await {
                Ok(Some(item)) => item,
                Ok(None) => {
                    return Ok(Some(Miss::Timeout {
                        said: device.said_since_send(),
                    }))
                }
                Err(DeviceError::Closed) => return Ok(Some(Miss::Closed)),
                Err(e) => return Err(e),
            };
            let Some(slot) = self.slot(i) else {
                return Ok(None);
            };
            if entry_matches(&slot.line.entry, &item) {
                slot.matched = true;
                return Ok(None);
            }
            let entry = slot.line.entry.clone();
            if let Some(j) = self.early(i, &item) {
                if let Some(s) = self.slot(j) {
                    s.matched = true;
                }
                continue;
            }
            let actual = item.show();
            let detail = match &entry {
                Entry::Expect(e) => crate::engine::pattern::differing_field(e, &actual),
                _ => None,
            };
            return Ok(Some(Miss::Mismatch { actual, detail }));
        }
    }
}

impl Stop {
    /// The miss as the error a feature step fails with (the same words as
    /// [`Device::expect_line`]'s).
    pub fn into_device_error(self, device: &Device, waited: Duration) -> DeviceError {
        let expected = match &self.line.entry {
            Entry::Expect(e) => e.clone(),
            Entry::Prompt => ">".into(),
            other => format!("{other:?}"),
        };
        match self.miss {
            Miss::Closed => DeviceError::Closed,
            Miss::Timeout { said } => DeviceError::Timeout {
                expected,
                waited,
                got: said,
                transcript: device.transcript(),
            },
            Miss::Mismatch { actual, detail } => DeviceError::Mismatch {
                expected,
                actual,
                detail: detail.map(|d| format!("\n  {d}")).unwrap_or_default(),
                transcript: device.transcript(),
            },
            Miss::Action(actual) => DeviceError::Mismatch {
                expected,
                actual,
                detail: String::new(),
                transcript: device.transcript(),
            },
        }
    }
}
