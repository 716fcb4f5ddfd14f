//! The one mechanism for `>` prompts, in every dialect: a command that opens a prompt returns
//! what its bytes are for, the dialect keeps that in its [`Pending`] slot, and the bytes (or the
//! prompt's end) take it out again. The framing of the bytes (a length, Ctrl-Z, idle time) is
//! the [`Engine`](super::Engine)'s; what they mean is the dialect's `P`, an enum with one variant
//! per prompting command (`AT+MPUBEX`, `AT+FSWRITE`, `AT+MQTTPUB`, `AT+GTSSLFILE`, ...).

use super::{Abandoned, Out};

/// What the bytes after the open `>` prompt are for, if a prompt is open.
#[derive(Debug)]
pub struct Pending<P>(Option<P>);

impl<P> Default for Pending<P> {
    fn default() -> Self {
        Pending(None)
    }
}

impl<P: std::fmt::Debug> Pending<P> {
    /// A command opened a prompt for `purpose` (the answer `\r\n>` and [`Out::prompt`] or
    /// [`Out::expect_data`] are the command's).
    pub fn open(&mut self, purpose: P) {
        if let Some(old) = self.0.replace(purpose) {
            tracing::debug!(?old, "a new prompt replaces one that never got its data");
        }
    }

    /// [`Pending::open`] when the command opened a prompt (a command refused opens none).
    pub fn open_if(&mut self, purpose: Option<P>) {
        if let Some(p) = purpose {
            self.open(p)
        }
    }

    /// What is waiting, left in place (a timer checks it is still its prompt).
    pub fn get(&self) -> Option<&P> {
        self.0.as_ref()
    }

    /// The bytes came (or a timer ended the wait): what they were for; nothing waits after.
    pub fn take(&mut self) -> Option<P> {
        self.0.take()
    }

    /// The prompt ended without its data (no byte for its idle time, ESC, too many bytes):
    /// nothing is sent, set or loaded, and the module answers `ERROR` (fixtures/DIVERGENCES.md
    /// A24, both dialects).
    pub fn abandon(&mut self, why: Abandoned, out: &mut Out) {
        tracing::warn!(?why, pending = ?self.0.take(), "prompt abandoned: nothing sent");
        out.error()
    }
}
