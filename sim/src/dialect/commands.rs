//! Commands as units: each dialect has one table, [`Cmd`] rows that name a command, the forms
//! it takes, the document it follows, and the function that runs it.
//!
//! A command is one `run` function (a small closure calling a handler in the dialect's
//! `basic.rs`, `mqtt.rs`, ... module) plus its row in the dialect's `commands.rs`
//! (`air780e/commands.rs`, `l610/commands.rs`). [`dispatch`] finds the row; a name without a
//! row, or a form the row does not list, answers `ERROR` before `run` is called, so a handler
//! never sees a form it did not ask for. README's "Adding a command" walks through one.

use crate::at::{Command, Form};

use super::{v250, Out};

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

/// A row as one line of a table: `row("+CSQ", &[Exec, Test], "27.007 section 8.5", run)`.
pub const fn row<D>(
    name: &'static str,
    forms: &'static [FormKind],
    source: &'static str,
    run: fn(&mut D, &Form, &mut Out),
) -> Cmd<D> {
    Cmd {
        name,
        forms,
        source,
        run,
    }
}

/// The state the rows both dialects share reach: whether the module echoes (its `AT&W`
/// saves it, `ATZ` restores it).
pub trait Echoes {
    fn echo_mut(&mut self) -> &mut bool;
}

/// `AT` -> `OK` in every dialect (V.250 section 5.2.1; see [`v250::at`] for the seeds).
pub fn at<D>(_: &mut D, form: &Form, out: &mut Out) {
    v250::at(form, out)
}

/// `ATE0`/`ATE1` in every dialect (V.250 section 6.2.4; see [`v250::echo`]): echoes as told,
/// and the dialect remembers it.
pub fn echo<D: Echoes>(m: &mut D, form: &Form, out: &mut Out) {
    v250::echo(form, out);
    if let Some(on) = out.echo_change() {
        *m.echo_mut() = on;
    }
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
