//! Parses one command line (`AT+MPUB="t",0,0,"x"`) into a [`Command`], with nom.
//!
//! Parsing works on bytes, not `str`: a publish payload is whatever the host typed, including
//! bytes that are not UTF-8, and none of it may be altered on the way to the broker.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::{all_consuming, map, opt, rest};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// The four forms an AT command takes (3GPP TS 27.007 section 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `AT+CMD` or a basic command without a number (`ATI`).
    Exec,
    /// `AT+CMD=?`
    Test,
    /// `AT+CMD?`
    Read,
    /// `AT+CMD=<args>`, or a basic command's number (`ATE0` -> `Set("0")`). Raw bytes, split
    /// by [`split_args`] when the command wants them.
    Set(Vec<u8>),
}

/// One parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Upper-cased name: `""` for a bare `AT`, `"I"`/`"E"`/`"&W"` for basic commands,
    /// `"+MPUB"` for extended ones.
    pub name: String,
    pub form: Form,
}

/// Why a line is not a command the parser understands (the module answers `ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("no AT prefix in the line")]
    NoPrefix,
    #[error("malformed command after the AT prefix")]
    Malformed,
}

/// Finds the `AT` prefix (any case) and parses what follows. Bytes before the prefix are line
/// noise and are skipped, as V.250 section 5.2.1 lets a DCE do.
pub fn parse_line(line: &[u8]) -> Result<Command, ParseError> {
    let start = line
        .windows(2)
        .position(|w| w.eq_ignore_ascii_case(b"AT"))
        .ok_or(ParseError::NoPrefix)?;
    let body = trim_end(&line[start + 2..]);
    all_consuming(command)
        .parse(body)
        .map(|(_, c)| c)
        .map_err(|_| ParseError::Malformed)
}

fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [head @ .., b' ' | b'\t'] = b {
        b = head;
    }
    b
}

fn command(i: &[u8]) -> IResult<&[u8], Command> {
    alt((
        extended,
        basic,
        map(tag(&b""[..]), |_| Command {
            name: String::new(),
            form: Form::Exec,
        }),
    ))
    .parse(i)
}

fn extended(i: &[u8]) -> IResult<&[u8], Command> {
    // `+` is 27.007's prefix; the Air780E family also has `*` commands (`AT*RTIME`,
    // `AT*SIMAUTO`: luatos-doc-pool Command_List/Device_control/CSCLK.md, RTIME.md, SIMAUTO.md).
    let (i, sigil) = alt((tag(&b"+"[..]), tag(&b"*"[..]))).parse(i)?;
    let (i, name) = take_while1(|c: u8| c.is_ascii_alphanumeric() || c == b'_').parse(i)?;
    let (i, form) = alt((
        map(tag(&b"=?"[..]), |_| Form::Test),
        map(tag(&b"?"[..]), |_| Form::Read),
        map(preceded(tag(&b"="[..]), rest), |a: &[u8]| {
            Form::Set(a.to_vec())
        }),
        map(tag(&b""[..]), |_| Form::Exec),
    ))
    .parse(i)?;
    Ok((
        i,
        Command {
            name: format!(
                "{}{}",
                sigil[0] as char,
                String::from_utf8_lossy(name).to_ascii_uppercase()
            ),
            form,
        },
    ))
}

fn basic(i: &[u8]) -> IResult<&[u8], Command> {
    let (i, amp) = opt(tag(&b"&"[..])).parse(i)?;
    let (i, letter) = take_while1(|c: u8| c.is_ascii_alphabetic()).parse(i)?;
    if letter.len() != 1 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (i, digits) = take_while(|c: u8| c.is_ascii_digit()).parse(i)?;
    let (i, query) = opt(alt((tag(&b"=?"[..]), tag(&b"?"[..])))).parse(i)?;
    let name = format!(
        "{}{}",
        if amp.is_some() { "&" } else { "" },
        (letter[0] as char).to_ascii_uppercase()
    );
    let form = match (query, digits.is_empty()) {
        (Some(q), true) if q == b"=?" => Form::Test,
        (Some(_), true) => Form::Read,
        (None, true) => Form::Exec,
        (None, false) => Form::Set(digits.to_vec()),
        (Some(_), false) => {
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Verify,
            )))
        }
    };
    Ok((i, Command { name, form }))
}

/// One comma-separated parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The bytes between the quotes, or the bare token with surrounding blanks removed.
    pub bytes: Vec<u8>,
    pub quoted: bool,
}

impl Arg {
    /// An omitted parameter (`AT+X=1,,3`).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && !self.quoted
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// A decimal number, quoted or not (the guides quote the port: `"1883"`).
    pub fn number(&self) -> Option<u32> {
        if self.bytes.is_empty()
            || self.bytes.len() > 9
            || !self.bytes.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        std::str::from_utf8(&self.bytes).ok()?.parse().ok()
    }
}

/// Splits `Form::Set` bytes into parameters. A quoted parameter may hold commas; a bare one may
/// not hold quotes. Unbalanced quotes and text after a closing quote are errors.
pub fn split_args(raw: &[u8]) -> Result<Vec<Arg>, ParseError> {
    all_consuming(separated_list1(tag(&b","[..]), arg))
        .parse(raw)
        .map(|(_, a)| a)
        .map_err(|_| ParseError::Malformed)
}

fn blanks(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c: u8| c == b' ' || c == b'\t').parse(i)
}

fn arg(i: &[u8]) -> IResult<&[u8], Arg> {
    delimited(
        blanks,
        alt((
            map(
                delimited(
                    tag(&b"\""[..]),
                    take_while(|c: u8| c != b'"'),
                    tag(&b"\""[..]),
                ),
                |b: &[u8]| Arg {
                    bytes: b.to_vec(),
                    quoted: true,
                },
            ),
            map(take_while(|c: u8| c != b',' && c != b'"'), |b: &[u8]| Arg {
                bytes: trim_end(b).to_vec(),
                quoted: false,
            }),
        )),
        blanks,
    )
    .parse(i)
}

/// Renders a command back to the text a host would type (used by tests and the log replayer).
pub fn render(cmd: &Command) -> Vec<u8> {
    let mut out = b"AT".to_vec();
    out.extend_from_slice(cmd.name.as_bytes());
    match &cmd.form {
        Form::Exec => {}
        Form::Test => out.extend_from_slice(b"=?"),
        Form::Read => out.push(b'?'),
        Form::Set(a) if cmd.name.starts_with('+') => {
            out.push(b'=');
            out.extend_from_slice(a);
        }
        Form::Set(a) => out.extend_from_slice(a),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, form: Form) -> Command {
        Command {
            name: name.into(),
            form,
        }
    }

    #[test]
    fn the_four_forms() {
        assert_eq!(parse_line(b"AT+CSQ"), Ok(cmd("+CSQ", Form::Exec)));
        assert_eq!(parse_line(b"AT+CSQ=?"), Ok(cmd("+CSQ", Form::Test)));
        assert_eq!(parse_line(b"AT+CGREG?"), Ok(cmd("+CGREG", Form::Read)));
        assert_eq!(
            parse_line(b"AT+MSUB=\"a\",0"),
            Ok(cmd("+MSUB", Form::Set(b"\"a\",0".to_vec())))
        );
    }

    #[test]
    fn prefix_and_name_are_case_insensitive() {
        assert_eq!(
            parse_line(b"at+mqttstatu"),
            Ok(cmd("+MQTTSTATU", Form::Exec))
        );
        assert_eq!(parse_line(b"aT"), Ok(cmd("", Form::Exec)));
        assert_eq!(parse_line(b"Ati"), Ok(cmd("I", Form::Exec)));
    }

    #[test]
    fn basic_commands() {
        assert_eq!(parse_line(b"ATE0"), Ok(cmd("E", Form::Set(b"0".to_vec()))));
        assert_eq!(parse_line(b"AT&W"), Ok(cmd("&W", Form::Exec)));
        assert_eq!(parse_line(b"ATXYZ"), Err(ParseError::Malformed));
    }

    #[test]
    fn noise_before_the_prefix_is_skipped() {
        assert_eq!(
            parse_line(b"\x00\xff~~AT+CSQ  "),
            Ok(cmd("+CSQ", Form::Exec))
        );
        assert_eq!(parse_line(b"hello"), Err(ParseError::NoPrefix));
    }

    #[test]
    fn args_quoted_bare_and_omitted() {
        let a = split_args(b"868488076771714, root ,\"luat,123\",,\"\"").unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a[0].text(), "868488076771714");
        assert_eq!(a[1].text(), "root");
        assert!(a[2].quoted && a[2].text() == "luat,123");
        assert!(a[3].is_empty());
        assert!(a[4].quoted && !a[4].is_empty());
    }

    #[test]
    fn bad_args_are_errors() {
        assert!(split_args(b"\"open").is_err());
        assert!(split_args(b"\"a\"b,1").is_err());
        assert!(split_args(b"a\"b").is_err());
    }

    #[test]
    fn numbers() {
        let a = split_args(b"\"1883\",60,x,-1,99999999999").unwrap();
        assert_eq!(a[0].number(), Some(1883));
        assert_eq!(a[1].number(), Some(60));
        assert_eq!(a[2].number(), None);
        assert_eq!(a[3].number(), None);
        assert_eq!(a[4].number(), None);
    }

    #[test]
    fn render_round_trips() {
        for line in [
            &b"AT"[..],
            b"ATI",
            b"ATE1",
            b"AT+CSQ=?",
            b"AT+CGREG?",
            b"AT+MPUB=\"t\",1,0,\"x,y\"",
        ] {
            let c = parse_line(line).unwrap();
            assert_eq!(render(&c), line);
        }
    }
}
