//! A vendor-style log excerpt as an executable exchange.
//!
//! The guides print sessions like seed 000 section 6.2:
//!
//! ```text
//! AT+MIPSTART="airtest.openluat.com","1883"               //填写mqtt服务器的域名和端口号
//!
//! OK
//!
//! CONNECT OK
//! ```
//!
//! Lines starting with `AT` (any case) were typed by the host; every other non-blank line is
//! what the module printed, in order. `//` starts a comment when it begins the line or follows
//! whitespace, outside double quotes (so `mqtt://host` and `"a //b"` are not comments). Blank
//! lines carry no meaning: the module frames every answer with CR LF, which the guides render
//! as blank lines inconsistently. A host line repeated right after itself is the module's echo
//! (seed 002 section 3.3 prints `ATE0` twice): it is dropped, since the device skips echoes.

use nom::branch::alt;
use nom::bytes::complete::tag_no_case;
use nom::bytes::complete::{tag, take_till, take_till1, take_while1};
use nom::character::complete::char;
use nom::combinator::{opt, recognize};
use nom::sequence::delimited;
use nom::{IResult, Parser};

/// One line of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The host sends this command line.
    Send(String),
    /// The module prints this line next.
    Expect(String),
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

/// Parses an exchange. Never fails: every line is either blank, a command or an expected
/// line.
pub fn parse(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (next, line) = take_till::<_, _, nom::error::Error<&str>>(|c| c == '\n')
            .parse(rest)
            .unwrap_or(("", rest));
        rest = tag::<_, _, nom::error::Error<&str>>("\n")
            .parse(next)
            .map(|(r, _)| r)
            .unwrap_or(next);
        let code = strip_comment(line);
        if code.is_empty() {
            continue;
        }
        if is_host_line(code) && steps.last() == Some(&Step::Send(code.to_string())) {
            // The module's echo of the line just typed, as seed 002 section 3.3 prints it
            // (`AT` / `AT //回显`). The device skips echoes by itself, so it is not a step.
            continue;
        }
        steps.push(if is_host_line(code) {
            Step::Send(code.to_string())
        } else {
            Step::Expect(code.to_string())
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Step {
        Step::Send(x.into())
    }
    fn e(x: &str) -> Step {
        Step::Expect(x.into())
    }

    #[test]
    fn seed_000_section_6_2_fixture() {
        let text = include_str!("../../fixtures/seed-logs/000-6.2-plain.log");
        let steps = parse(text);
        assert_eq!(
            steps[..3],
            [s("ATI"), e("AirM2M_780E_V1169_LTE_AT"), e("OK")]
        );
        assert!(steps.contains(&s("AT+MIPSTART=\"airtest.openluat.com\",\"1883\"")));
        assert!(steps.contains(&e("+MSUB: \"mqtt/pub\",20 byte,data from tcp server")));
        assert!(
            steps.contains(&e("+CGREG: 0,1")),
            "comment after a URC stripped"
        );
        assert_eq!(steps.last(), Some(&e("OK")));
        assert_eq!(
            steps.iter().filter(|x| matches!(x, Step::Send(_))).count(),
            10
        );
    }

    #[test]
    fn seed_002_fixture() {
        let steps = parse(include_str!(
            "../../fixtures/seed-logs/002-3.3-test-log.log"
        ));
        assert_eq!(
            steps[..4],
            [s("AT"), e("AT command ready"), e("+SIM READY"), s("AT")]
        );
        assert!(steps.contains(&e("+MQTTMSG: 1, 0, test1, \"123\"")));
        assert_eq!(steps.last(), Some(&e("+MIPCALL: 0")));
    }

    #[test]
    fn an_echoed_line_is_not_sent_twice() {
        assert_eq!(
            parse("AT\nAT  //回显\nOK\nATE0\nATE0\nOK\nAT\nOK\nAT\nOK"),
            vec![
                s("AT"),
                e("OK"),
                s("ATE0"),
                e("OK"),
                s("AT"),
                e("OK"),
                s("AT"),
                e("OK")
            ]
        );
    }

    #[test]
    fn comments() {
        assert_eq!(strip_comment("ATI                     //查询版本号"), "ATI");
        assert_eq!(strip_comment("// only a comment"), "");
        assert_eq!(strip_comment("//"), "");
        assert_eq!(
            strip_comment("mqtt://<domain>:<port>"),
            "mqtt://<domain>:<port>"
        );
        assert_eq!(
            strip_comment("AT+MPUB=\"t\",0,0,\"a //not a comment\" // but this is"),
            "AT+MPUB=\"t\",0,0,\"a //not a comment\""
        );
        assert_eq!(
            strip_comment("AT+MPUB=\"unterminated // quote"),
            "AT+MPUB=\"unterminated // quote"
        );
        assert_eq!(strip_comment("OK\t//tab before"), "OK");
        assert_eq!(strip_comment("a//b"), "a//b");
        assert_eq!(strip_comment("   "), "");
        assert_eq!(strip_comment(""), "");
    }

    #[test]
    fn line_kinds_and_endings() {
        let text = "\r\nat+cgatt?\r\n\r\n+CGATT: 1\r\nATTENTION?\nOK  \n\n\n";
        assert_eq!(
            parse(text),
            vec![s("at+cgatt?"), e("+CGATT: 1"), s("ATTENTION?"), e("OK")]
        );
        assert_eq!(parse(""), vec![]);
        assert_eq!(parse("\n\n"), vec![]);
        assert_eq!(parse("OK"), vec![e("OK")], "no final newline");
        assert_eq!(parse("A"), vec![e("A")]);
        assert_eq!(
            parse("AirM2M_780E_V1169_LTE_AT"),
            vec![e("AirM2M_780E_V1169_LTE_AT")]
        );
    }

    #[test]
    fn every_prefix_of_every_fixture_parses() {
        // The parser never panics, whatever byte a log is cut at (on char boundaries).
        for (name, text) in fixtures() {
            for (i, _) in text.char_indices() {
                let _ = parse(&text[..i]);
            }
            assert!(!parse(&text).is_empty(), "{name}");
        }
    }

    #[test]
    fn fixtures_are_verbatim_substrings_of_their_seed() {
        let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/seeds");
        let Ok(dir) = std::fs::read_dir(seeds) else {
            eprintln!("{seeds} not found: skipping the verbatim check");
            return;
        };
        let seeds: Vec<(String, String)> = dir
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        for (name, text) in fixtures() {
            let seed = seeds
                .iter()
                .find(|(n, _)| n.starts_with(&name[..3]))
                .map(|(_, t)| t);
            let seed = seed.unwrap_or_else(|| panic!("no seed for {name}"));
            assert!(
                seed.contains(&text),
                "{name} is not a verbatim excerpt of its seed"
            );
        }
    }

    fn fixtures() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/seed-logs");
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .expect("fixtures/seed-logs")
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).expect("utf-8"),
                )
            })
            .collect();
        v.sort();
        assert!(v.len() >= 20);
        v
    }

    #[test]
    fn seed_001_flows_are_one_line_each() {
        // Seed 001 prints a whole flow on one line; it is replayed reformatted in the feature,
        // and as a fixture it parses to a single host line.
        let text = include_str!("../../fixtures/seed-logs/001-a-publish.log");
        assert_eq!(parse(text).len(), 1);
    }
}
