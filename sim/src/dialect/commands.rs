//! Commands as units: each dialect has one table, [`Cmd`] rows that name a command, the forms
//! it takes, the document it follows, and the function that runs it.
//!
//! A command is one `run` function (a small closure calling a handler in the dialect's
//! `basic.rs`, `mqtt.rs`, ... module) plus its row in the dialect's `commands.rs`
//! (`air780e/commands.rs`, `l610/commands.rs`). [`dispatch`] finds the row; a name without a
//! row, or a form the row does not list, answers `ERROR` before `run` is called, so a handler
//! never sees a form it did not ask for. README's "Adding a command" walks through one.

use crate::at::{Command, Form};

use super::Out;

/// The four shapes of an AT command line (ITU V.250 section 5.4; 27.007 section 1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    /// `AT+CMD` (or a basic command without a number, `ATI`).
    Exec,
    /// `AT+CMD=?`
    Test,
    /// `AT+CMD?`
    Read,
    /// `AT+CMD=<args>` (or a basic command's number, `ATE0`).
    Set,
}

impl FormKind {
    pub fn of(form: &Form) -> FormKind {
        match form {
            Form::Exec => FormKind::Exec,
            Form::Test => FormKind::Test,
            Form::Read => FormKind::Read,
            Form::Set(_) => FormKind::Set,
        }
    }

    /// The suffix as a command line writes it (`""`, `"=?"`, `"?"`, `"="`).
    pub fn suffix(self) -> &'static str {
        match self {
            FormKind::Exec => "",
            FormKind::Test => "=?",
            FormKind::Read => "?",
            FormKind::Set => "=",
        }
    }
}

/// Every form: for rows whose handler answers each one itself.
pub const ALL: &[FormKind] = &[
    FormKind::Exec,
    FormKind::Test,
    FormKind::Read,
    FormKind::Set,
];

/// One row of a dialect's command table: a command as a unit.
pub struct Cmd<D> {
    /// The name as [`Command::name`] has it: upper case, `""` for a bare `AT`, `"E"` for
    /// `ATE0`, `"+CGMR"`, `"*RTIME"`.
    pub name: &'static str,
    /// The forms it takes; any other answers `ERROR` without reaching `run`.
    pub forms: &'static [FormKind],
    /// The document and section (or the capture) it follows.
    pub source: &'static str,
    /// Runs it: the dialect's state, the form (one of `forms`), the answer.
    pub run: fn(&mut D, &Form, &mut Out),
}

impl<D> Cmd<D> {
    pub fn takes(&self, form: &Form) -> bool {
        self.forms.contains(&FormKind::of(form))
    }
}

/// The row named `name`, if the table has one.
pub fn find<'t, D>(table: &'t [Cmd<D>], name: &str) -> Option<&'t Cmd<D>> {
    table.iter().find(|c| c.name == name)
}

/// Runs `cmd` through `table`: its row's `run`, or `ERROR` for an unknown command or a form
/// its row does not take (a module answers both with a bare `ERROR`).
pub fn dispatch<D>(table: &[Cmd<D>], dialect: &mut D, cmd: Command, out: &mut Out) {
    let Command { name, form } = cmd;
    match find(table, &name) {
        Some(row) if row.takes(&form) => (row.run)(dialect, &form, out),
        Some(_) => {
            tracing::debug!(%name, form = FormKind::of(&form).suffix(), "form not taken");
            out.error()
        }
        None => {
            tracing::debug!(%name, "unknown command");
            out.error()
        }
    }
}
