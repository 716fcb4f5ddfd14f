//! Replaying a log of any length in bounded memory: the log is read twice from its file, once
//! to check it and learn what the run needs before it starts ([`LogFile::scan`]), then entry
//! by entry while the run goes ([`Steps`]; the executor keeps only its lookahead). Nothing
//! keeps the whole log.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::engine::log::{Entry, Line, Lines, Log, ParseError};
use crate::engine::rewrite::login;

/// What a run needs to know before its first entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prelude {
    /// User name / password pairs the log logs in with ([`Log::accounts`]).
    pub accounts: Vec<(String, String)>,
    /// The first entry that is not a harness action is a command: the module's boot is
    /// waited for first. (A log that begins with the module's lines expects them.)
    pub starts_with_send: bool,
}

/// A log as a run walks it: in memory ([`Log`]) or read from its file as it goes
/// ([`LogFile`]).
pub trait Steps: Sync {
    fn name(&self) -> &str;
    fn prelude(&self) -> Prelude;
    /// The entries, in order (parsed as they are read, for a file).
    fn entries(&self) -> Box<dyn Iterator<Item = Result<Line, ParseError>> + Send + '_>;
    /// How many entries there are.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The log's own lines around line `no`, the line itself marked.
    fn around(&self, no: usize) -> String;
}

impl Steps for Log {
    fn name(&self) -> &str {
        &self.name
    }

    fn prelude(&self) -> Prelude {
        let first = self
            .lines
            .iter()
            .find(|l| !matches!(l.entry, Entry::Directive(_)));
        Prelude {
            accounts: self.accounts(),
            starts_with_send: matches!(first, Some(l) if matches!(l.entry, Entry::Send(_))),
        }
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Result<Line, ParseError>> + Send + '_> {
        Box::new(self.lines.iter().cloned().map(Ok))
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn around(&self, no: usize) -> String {
        Log::around(self, no)
    }
}

/// Why a log file cannot be replayed as given.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// A log replayed from its file: checked once through, then read entry by entry during the
/// run. Its memory is that of the executor's lookahead, not the log's.
#[derive(Debug, Clone)]
pub struct LogFile {
    pub path: PathBuf,
    pub name: String,
    pub prelude: Prelude,
    /// How many entries the log has.
    pub entries: usize,
}

impl LogFile {
    /// Reads the log once: every line must parse, and the log must be complete
    /// ([`Log::check_complete`]'s rule: its last command gets an answer).
    pub fn scan(path: &Path, name: &str) -> Result<LogFile, LogFileError> {
        let file = std::fs::File::open(path).map_err(|e| LogFileError::Io(name.into(), e))?;
        let mut accounts = BTreeSet::new();
        let mut first = None;
        let mut entries = 0;
        // The last command, while nothing the module said has followed it.
        let mut unanswered: Option<(usize, String)> = None;
        for item in Lines::new(name, BufReader::new(file)) {
            let line = item?;
            entries += 1;
            match &line.entry {
                Entry::Send(cmd) => {
                    if let Some(a) = login(cmd) {
                        accounts.insert(a);
                    }
                    unanswered = Some((line.no, cmd.clone()));
                }
                Entry::Expect(_) => unanswered = None,
                _ => {}
            }
            if first.is_none() && !matches!(line.entry, Entry::Directive(_)) {
                first = Some(matches!(line.entry, Entry::Send(_)));
            }
        }
        if let Some((no, cmd)) = unanswered {
            // The message [`Log::check_complete`] gives.
            return Err(ParseError {
                name: name.to_string(),
                line: no,
                message: format!(
                    "the log ends with `{cmd}` and nothing the module answered: incomplete (add at least its final result, e.g. OK or ERROR)"
                ),
            }
            .into());
        }
        Ok(LogFile {
            path: path.to_path_buf(),
            name: name.to_string(),
            prelude: Prelude {
                accounts: accounts.into_iter().collect(),
                starts_with_send: first == Some(true),
            },
            entries,
        })
    }
}

impl Steps for LogFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn prelude(&self) -> Prelude {
        self.prelude.clone()
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Result<Line, ParseError>> + Send + '_> {
        match std::fs::File::open(&self.path) {
            Ok(f) => Box::new(Lines::new(&self.name, BufReader::new(f))),
            Err(e) => Box::new(std::iter::once(Err(ParseError {
                name: self.name.clone(),
                line: 0,
                message: format!("cannot read it again: {e}"),
            }))),
        }
    }

    fn len(&self) -> usize {
        self.entries
    }

    fn around(&self, no: usize) -> String {
        let from = no.saturating_sub(4).max(1);
        let Ok(f) = std::fs::File::open(&self.path) else {
            return String::new();
        };
        let mut s = String::new();
        for (i, line) in BufReader::new(f).split(b'\n').enumerate().take(no + 3) {
            let n = i + 1;
            let Ok(mut line) = line else { break };
            if n < from {
                continue;
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let mark = if n == no { ">" } else { " " };
            s.push_str(&format!(
                "  {mark} {n:>4} | {}\n",
                String::from_utf8_lossy(&line)
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every annotated and vendor log in the repository: read from its file, the same entries,
    /// prelude and context as parsed whole.
    #[test]
    fn a_log_file_reads_as_the_parsed_log() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let mut n = 0;
        for dir in ["replay", "seed-logs"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                let path = e.path();
                let text = std::fs::read_to_string(&path).unwrap();
                let Ok(log) = Log::parse("x", &text) else {
                    continue;
                };
                let file = match LogFile::scan(&path, "x") {
                    Ok(f) => f,
                    Err(err) => {
                        assert!(log.check_complete().is_err(), "{}: {err}", path.display());
                        continue;
                    }
                };
                let entries: Vec<Line> = file.entries().map(Result::unwrap).collect();
                assert_eq!(entries, log.lines, "{}", path.display());
                assert_eq!(file.entries, log.lines.len());
                let mut prelude = Steps::prelude(&log);
                prelude.accounts.sort();
                prelude.accounts.dedup();
                assert_eq!(file.prelude, prelude, "{}", path.display());
                for no in [1, 5, text.lines().count()] {
                    assert_eq!(file.around(no), log.around(no), "{}:{no}", path.display());
                }
                n += 1;
            }
        }
        assert!(n >= 30, "{n} logs");
    }

    #[test]
    fn a_log_file_that_is_incomplete_or_missing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.log");
        std::fs::write(&p, "AT\nOK\nAT+BOGUS\n").unwrap();
        let err = LogFile::scan(&p, "l.log").unwrap_err().to_string();
        assert!(
            err.starts_with("l.log:3:") && err.contains("incomplete"),
            "{err}"
        );
        let err = LogFile::scan(&dir.path().join("none"), "none").unwrap_err();
        assert!(err.to_string().starts_with("cannot read none:"), "{err}");
    }
}
