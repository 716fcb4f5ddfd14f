//! JUnit XML: the one writer. `replay` (a test case per log), `check-driver` (a test case per
//! scenario) and `run` (merging cucumber's files, one per feature path) all write through it.
//! A failure's `<system-out>` may be streamed from a file (a replay's transcript), so a long
//! run's report is never held whole.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What a test case's `<system-out>` holds.
#[derive(Debug, Clone)]
pub enum Output {
    Text(String),
    /// The contents of a file (a transcript's vendor-log rendering), copied in as it is read.
    File(PathBuf),
}

/// How a test case ended.
#[derive(Debug, Clone)]
pub enum Verdict {
    Passed,
    /// `<failure message=...>body</failure>`, and what the run printed.
    Failed {
        message: String,
        body: String,
        output: Option<Output>,
    },
    /// `<error message=...>`: the case could not run to a verdict.
    Error {
        message: String,
    },
}

/// One test case.
#[derive(Debug, Clone)]
pub struct Case {
    pub classname: String,
    pub name: String,
    /// Seconds it took, when measured.
    pub time: Option<f64>,
    pub verdict: Verdict,
}

impl Case {
    pub fn failed(&self) -> bool {
        !matches!(self.verdict, Verdict::Passed)
    }
}

/// Text for XML: `&`, `<`, `>`, `"` escaped, control characters other than LF and tab left
/// out (XML 1.0 cannot carry them).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one `<testsuite>` named `suite` (inside `<testsuites>`) to `out`.
pub fn write_suite(
    out: &mut dyn Write,
    suite: &str,
    cases: &[Case],
    time: Option<f64>,
) -> io::Result<()> {
    let failures = cases.iter().filter(|c| c.failed()).count();
    let time = time
        .map(|t| format!(" time=\"{t:.3}\""))
        .unwrap_or_default();
    writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>"
    )?;
    writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\"{time}>",
        escape(suite),
        cases.len()
    )?;
    for c in cases {
        write_case(out, c)?;
    }
    writeln!(out, "</testsuite>\n</testsuites>")
}

fn write_case(out: &mut dyn Write, c: &Case) -> io::Result<()> {
    let time = c
        .time
        .map(|t| format!(" time=\"{t:.3}\""))
        .unwrap_or_default();
    write!(
        out,
        "<testcase classname=\"{}\" name=\"{}\"{time}",
        escape(&c.classname),
        escape(&c.name)
    )?;
    match &c.verdict {
        Verdict::Passed => writeln!(out, "/>"),
        Verdict::Error { message } => writeln!(
            out,
            ">\n<error message=\"{}\"/>\n</testcase>",
            escape(message)
        ),
        Verdict::Failed {
            message,
            body,
            output,
        } => {
            writeln!(
                out,
                ">\n<failure message=\"{}\">{}</failure>",
                escape(message),
                escape(body)
            )?;
            match output {
                None => {}
                Some(Output::Text(t)) => writeln!(out, "<system-out>{}</system-out>", escape(t))?,
                Some(Output::File(p)) => {
                    write!(out, "<system-out>")?;
                    // An unreadable file leaves the output empty; the failure still says why.
                    if let Ok(f) = File::open(p) {
                        for line in BufReader::new(f).split(b'\n') {
                            let line = line?;
                            writeln!(out, "{}", escape(&String::from_utf8_lossy(&line)))?;
                        }
                    }
                    writeln!(out, "</system-out>")?;
                }
            }
            writeln!(out, "</testcase>")
        }
    }
}

/// The report as a string (for small runs and tests).
pub fn to_string(suite: &str, cases: &[Case], time: Option<f64>) -> String {
    let mut v = Vec::new();
    // Writing into memory cannot fail (a file output is read best effort).
    let _ = write_suite(&mut v, suite, cases, time);
    String::from_utf8_lossy(&v).into_owned()
}

/// Writes the report to `path`, streamed.
pub fn write(path: &Path, suite: &str, cases: &[Case], time: Option<f64>) -> io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    write_suite(&mut w, suite, cases, time)?;
    w.flush()
}

/// One `<testsuites>` holding every part's suites (cucumber writes one file per run); the
/// parts are removed.
pub fn merge(parts: &[PathBuf], to: &Path) -> io::Result<()> {
    let mut suites = String::new();
    for p in parts {
        let xml = std::fs::read_to_string(p)?;
        if let (Some(a), Some(b)) = (xml.find("<testsuite "), xml.rfind("</testsuites>")) {
            suites.push_str(&xml[a..b]);
        }
        let _ = std::fs::remove_file(p);
    }
    std::fs::write(
        to,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n{suites}</testsuites>\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_failures_errors_and_escaping() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.log");
        std::fs::write(&out, "AT\n+X: \"<a>\"\x07\n").unwrap();
        let cases = vec![
            Case {
                classname: "replay".into(),
                name: "a&b.log".into(),
                time: Some(1.5),
                verdict: Verdict::Passed,
            },
            Case {
                classname: "replay".into(),
                name: "c.log".into(),
                time: None,
                verdict: Verdict::Failed {
                    message: "diverged".into(),
                    body: "expected `OK`".into(),
                    output: Some(Output::File(out)),
                },
            },
            Case {
                classname: "replay".into(),
                name: "d.log".into(),
                time: None,
                verdict: Verdict::Error {
                    message: "needs --broker".into(),
                },
            },
        ];
        let xml = to_string("modem-harness replay", &cases, Some(2.0));
        for part in [
            "<testsuite name=\"modem-harness replay\" tests=\"3\" failures=\"2\" time=\"2.000\">",
            "name=\"a&amp;b.log\" time=\"1.500\"/>",
            "<failure message=\"diverged\">expected `OK`</failure>",
            // The file, escaped, the BEL left out.
            "<system-out>AT\n+X: &quot;&lt;a&gt;&quot;\n</system-out>",
            "<error message=\"needs --broker\"/>",
        ] {
            assert!(xml.contains(part), "{part} is not in {xml}");
        }
    }
}
