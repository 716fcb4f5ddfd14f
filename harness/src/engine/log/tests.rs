//! The log parser, line by line and byte by byte: replayed logs and feature doc strings.

use super::*;

fn entries(text: &str) -> Vec<Entry> {
    Log::parse("t.log", text)
        .unwrap()
        .lines
        .into_iter()
        .map(|l| l.entry)
        .collect()
}
fn s(x: &str) -> Entry {
    Entry::Send(x.into())
}
fn e(x: &str) -> Entry {
    Entry::Expect(x.into())
}
/// `ATE0` printed twice (the line and its echo), `OK`, then `AT` and `OK` twice: the tail of
/// seed 002's section 3.3 log.
const ECHOED: &str = "ATE0\nATE0\nOK\nAT\nOK\nAT\nOK";
/// The entries of [`ECHOED`]: each host line sent once.
fn echoed() -> Vec<Entry> {
    vec![s("ATE0"), e("OK"), s("AT"), e("OK"), s("AT"), e("OK")]
}

#[test]
fn commands_answers_comments_and_blank_lines() {
    let text = "ATI   //查询版本号\r\n\r\nAirM2M_780E_V1169_LTE_AT\r\n\r\nOK\n// a comment line\nat+cgatt?\n+CGATT: 1  //<state>=1\nOK";
    assert_eq!(
        entries(text),
        vec![
            s("ATI"),
            e("AirM2M_780E_V1169_LTE_AT"),
            e("OK"),
            s("at+cgatt?"),
            e("+CGATT: 1"),
            e("OK")
        ]
    );
    let log = Log::parse("t.log", text).unwrap();
    let nos: Vec<usize> = log.lines.iter().map(|l| l.no).collect();
    assert_eq!(nos, vec![1, 3, 5, 7, 8, 9], "line numbers of the source");
    assert_eq!(entries(""), vec![]);
    assert_eq!(entries("\n\n  \n"), vec![]);
}

#[test]
fn l610_boot_urc_and_echoed_lines() {
    // Seed 002 section 3.3: `AT command ready` is the module's (a blank after `AT`), and a
    // host line printed twice in a row is the line and its echo, sent once.
    let text = format!("AT\nAT  //回显\nAT command ready\n+SIM READY\n{ECHOED}\n");
    let boot = vec![s("AT"), e("AT command ready"), e("+SIM READY")];
    assert_eq!(entries(&text), [boot, echoed()].concat());
    let log = Log::parse("t.log", "ATE0\nATE0\nOK\n").unwrap();
    assert_eq!(log.lines[1].no, 3, "the echo line is not an entry");
}

#[test]
fn a_prompt_is_followed_by_the_payload() {
    // The payload ends at a blank line or the final OK; its lines are joined so that the
    // length matches the one the command declares.
    let text = "AT+MPUBEX=\"t\",0,0,11\n>\nhello\nworld\nOK\n";
    assert_eq!(
        entries(text),
        vec![
            s("AT+MPUBEX=\"t\",0,0,11"),
            Entry::Prompt,
            Entry::Payload(b"hello\nworld".to_vec()),
            e("OK")
        ]
    );
    let crlf = "AT+MPUBEX=\"t\",0,0,12\n>\n\nhello\nworld\n\nOK\n";
    assert_eq!(entries(crlf)[2], Entry::Payload(b"hello\r\nworld".to_vec()));
    let inline = "AT+MPUBEX=\"t\",0,0,5\n> hello\nOK";
    assert_eq!(
        entries(inline),
        vec![
            s("AT+MPUBEX=\"t\",0,0,5"),
            Entry::Prompt,
            Entry::Payload(b"hello".to_vec()),
            e("OK")
        ]
    );
    assert_eq!(
        entries("AT+MPUBEX=\"t\",0,0,5\n>\nOK"),
        vec![s("AT+MPUBEX=\"t\",0,0,5"), Entry::Prompt, e("OK")],
        "no payload printed"
    );
}

#[test]
fn seed_000_certificates_get_their_declared_length() {
    for (name, lens) in [
        ("000-6.3-ssl-one-way.log", vec![1212]),
        ("000-6.4-ssl-two-way.log", vec![1212, 1127, 1679]),
    ] {
        let text = std::fs::read_to_string(format!(
            "{}/../fixtures/seed-logs/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let payloads: Vec<usize> = entries(&text)
            .into_iter()
            .filter_map(|x| match x {
                Entry::Payload(p) => Some(p.len()),
                _ => None,
            })
            .collect();
        // The guide's lengths count LF line ends without a final one, or with one; a
        // difference of one line end is the guide's, not ours.
        assert_eq!(payloads.len(), lens.len(), "{name}");
        for (got, want) in payloads.iter().zip(&lens) {
            assert!(got.abs_diff(*want) <= 1, "{name}: {got} vs {want}");
        }
    }
}

#[test]
fn harness_actions() {
    let text = "//@ publish mqtt/pub data from tcp server\n  //@ subscribe a/#\n//@ received a/b x\\r\\n\n//@ drop\n//@ pdn-deact\n//@ connect-timeout 300ms\n//@ connect-timeout 5s\n";
    assert_eq!(
        entries(text),
        vec![
            Entry::Directive(Directive::Publish {
                topic: "mqtt/pub".into(),
                payload: b"data from tcp server".to_vec()
            }),
            Entry::Directive(Directive::Subscribe {
                topic: "a/#".into()
            }),
            Entry::Directive(Directive::Received {
                topic: "a/b".into(),
                payload: b"x\r\n".to_vec()
            }),
            Entry::Directive(Directive::Drop),
            Entry::Directive(Directive::PdnDeact),
            Entry::Directive(Directive::ConnectTimeout(Duration::from_millis(300))),
            Entry::Directive(Directive::ConnectTimeout(Duration::from_secs(5))),
        ]
    );
    let err = Log::parse("x.log", "AT\nOK\n//@ pubish t x\n").unwrap_err();
    assert_eq!(err.line, 3);
    assert!(
        err.to_string()
            .starts_with("x.log:3: unknown harness action"),
        "{err}"
    );
    assert!(Log::parse("x.log", "//@ publish\n").is_err(), "no topic");
    assert!(Log::parse("x.log", "//@ connect-timeout soon\n").is_err());
    // `//` followed by anything but `@` is an ordinary comment.
    assert_eq!(entries("// @ publish t x\n//publish\n"), vec![]);
}

fn seed_logs() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/seed-logs");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|x| x.path().extension().is_some_and(|x| x == "log"))
        .map(|x| {
            (
                x.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(x.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Cut anywhere, a log parses to a prefix of the whole log's entries (all but the last entry,
/// which the cut may have truncated).
#[test]
fn byte_by_byte_every_cut_parses_to_a_prefix() {
    let mut logs = seed_logs();
    logs.push((
        "mixed".into(),
        "ATI\r\n\r\nOK\r\nAT+MPUBEX=\"t\",0,0,5\r\n>\r\nhello\r\nOK\r\n+MSUB: \"t\",3 byte,a b\r\n+MSUB: \"t\",8 byte,ab\r\nOK\r\n\r\nAT\r\nOK\r\n"
            .into(),
    ));
    for (name, text) in logs {
        let full = entries(&text);
        for (cut, _) in text.char_indices() {
            let part = entries(&text[..cut]);
            let keep = part.len().saturating_sub(1);
            assert_eq!(part[..keep], full[..keep], "{name} cut at byte {cut}");
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        let mut bytes = Vec::new();
        for _ in 0..64 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let alphabet = b"AT+>\r\n/@ \"OKx,1";
            bytes.push(alphabet[(x >> 16) as usize % alphabet.len()]);
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = Log::parse("r", &text);
    }
}

#[test]
fn context_and_accounts() {
    let log = Log::parse(
        "t.log",
        "AT+MCONFIG=\"id\",\"user\",\"password\"\nOK\nAT+MQTTUSER=1,\"u2\",\"p2\"\nOK\nAT+MCONFIG=id\nOK\n",
    )
    .unwrap();
    assert_eq!(
        log.accounts(),
        vec![
            ("user".to_string(), "password".to_string()),
            ("u2".into(), "p2".into())
        ]
    );
    let around = log.around(2);
    assert!(around.contains(">    2 | OK"), "{around}");
    assert!(around.contains("     1 | AT+MCONFIG"), "{around}");
}

/// A `+MSUB` payload with line ends in it: the lines after the header, up to `<n>` bytes,
/// joined with CR LF (or LF when that gives `<n>`); comments and blank lines there are payload.
#[test]
fn a_multi_line_msub_payload_is_framed_by_its_length() {
    assert_eq!(
        entries("AT\nOK\n+MSUB: \"t\",24 byte,line one\nOK\nline three\nAT\nOK\n"),
        vec![
            s("AT"),
            e("OK"),
            e("+MSUB: \"t\",24 byte,line one\r\nOK\r\nline three"),
            s("AT"),
            e("OK")
        ]
    );
    // LF joins when that is what gives the length (CR LF is tried first); `//` inside the
    // payload is payload; the log file's own CR LF line ends do not count; a trailing line
    // end is a blank line, taken only when the length needs it.
    assert_eq!(
        entries("+MSUB: \"t\",6 byte,a\r\n// b\r\n\r\nOK\r\n"),
        vec![e("+MSUB: \"t\",6 byte,a\n// b"), e("OK")]
    );
    assert_eq!(
        entries("+MSUB: \"t\",7 byte,a\r\n// b\r\n\r\nOK\r\n"),
        vec![e("+MSUB: \"t\",7 byte,a\r\n// b"), e("OK")]
    );
    assert_eq!(
        entries("+MSUB: \"t\",9 byte,a\n// b\n\nOK\n"),
        vec![e("+MSUB: \"t\",9 byte,a\r\n// b\r\n"), e("OK")]
    );
    // A one-line message keeps its comment out, as before.
    assert_eq!(
        entries("+MSUB: \"mqtt/pub\",20 byte,data from tcp server   //收到\nOK\n"),
        vec![
            e("+MSUB: \"mqtt/pub\",20 byte,data from tcp server"),
            e("OK")
        ]
    );
    // Lines that overshoot the length are an error naming the line.
    let err = Log::parse("t.log", "AT\nOK\n+MSUB: \"t\",5 byte,ab\ncdef\nOK\n").unwrap_err();
    assert_eq!(err.line, 3, "{err}");
    assert!(err.message.contains("declares 5 bytes"), "{err}");
}

/// The account and the length come from the simulator's own argument splitter: commas inside
/// quotes (Aliyun's client id) do not split.
#[test]
fn quoted_commas_do_not_split_arguments() {
    let log = Log::parse(
        "t.log",
        "AT+MCONFIG=\"a1b2|securemode=3,signmethod=hmacsha1|\",\"dev&a1b2\",\"s3cr,et\"\nOK\n",
    )
    .unwrap();
    assert_eq!(
        log.accounts(),
        vec![("dev&a1b2".to_string(), "s3cr,et".to_string())]
    );
    assert_eq!(int_args("AT+MPUBEX=\"a,1,2\",0,0,\"7\""), vec![0, 0, 7]);
}

// The feature doc strings' cases (once `exchange::parse`'s tests), now the same parser's.

#[test]
fn seed_000_section_6_2_fixture() {
    let text = include_str!("../../../../fixtures/seed-logs/000-6.2-plain.log");
    let steps = entries(text);
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
        steps.iter().filter(|x| matches!(x, Entry::Send(_))).count(),
        10
    );
}

#[test]
fn seed_002_fixture() {
    let steps = entries(include_str!(
        "../../../../fixtures/seed-logs/002-3.3-test-log.log"
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
        entries(&format!("AT\nAT  //回显\nOK\n{ECHOED}")),
        [vec![s("AT"), e("OK")], echoed()].concat()
    );
}

#[test]
fn comments() {
    for (line, without) in [
        ("ATI                     //查询版本号", "ATI"),
        ("// only a comment", ""),
        ("//", ""),
        ("mqtt://<domain>:<port>", "mqtt://<domain>:<port>"),
        (
            "AT+MPUB=\"t\",0,0,\"a //not a comment\" // but this is",
            "AT+MPUB=\"t\",0,0,\"a //not a comment\"",
        ),
        (
            "AT+MPUB=\"unterminated // quote",
            "AT+MPUB=\"unterminated // quote",
        ),
        ("OK\t//tab before", "OK"),
        ("a//b", "a//b"),
        ("   ", ""),
        ("", ""),
    ] {
        assert_eq!(strip_comment(line), without, "{line:?}");
    }
}

#[test]
fn line_kinds_and_endings() {
    let text = "\r\nat+cgatt?\r\n\r\n+CGATT: 1\r\nATTENTION?\nOK  \n\n\n";
    assert_eq!(
        entries(text),
        vec![s("at+cgatt?"), e("+CGATT: 1"), s("ATTENTION?"), e("OK")]
    );
    assert_eq!(entries(""), vec![]);
    assert_eq!(entries("\n\n"), vec![]);
    assert_eq!(entries("OK"), vec![e("OK")], "no final newline");
    assert_eq!(entries("A"), vec![e("A")]);
    assert_eq!(
        entries("AirM2M_780E_V1169_LTE_AT"),
        vec![e("AirM2M_780E_V1169_LTE_AT")]
    );
}

#[test]
fn every_prefix_of_every_fixture_parses() {
    // The parser never panics, whatever byte a log is cut at (on char boundaries).
    for (name, text) in fixtures() {
        for (i, _) in text.char_indices() {
            let _ = Log::parse(&name, &text[..i]);
        }
        assert!(!entries(&text).is_empty(), "{name}");
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
    let text = include_str!("../../../../fixtures/seed-logs/001-a-publish.log");
    assert_eq!(entries(text).len(), 1);
}

/// Line by line from a reader that hands out one byte at a time, the parser gives what it
/// gives on the whole text: what a streamed replay runs is what `Log::parse` shows.
#[test]
fn a_reader_byte_by_byte_parses_like_the_whole_text() {
    let mut logs = seed_logs();
    logs.push((
        "prompts and framed payloads".into(),
        "AT+MPUBEX=\"t\",0,0,11\r\n>\r\nhello\r\nworld\r\nOK\r\n+MSUB: \"t\",8 byte,ab\r\ncdef\r\n//@ drop\r\n".into(),
    ));
    for (name, text) in logs {
        let whole = Log::parse(&name, &text).map(|l| l.lines);
        let reader = std::io::BufReader::with_capacity(1, text.as_bytes());
        let streamed: Result<Vec<Line>, ParseError> = Lines::new(&name, reader).collect();
        assert_eq!(streamed, whole, "{name}");
    }
}
