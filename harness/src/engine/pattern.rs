//! The one matcher for expected lines: `replay`, `run` and the features all compare what the
//! module printed with a log's expected line here.
//!
//! A real capture holds values no simulator (and no second module) reproduces: the network's
//! time, the IP address, the IMEI and ICCID, the cell, the signal. In an expected line `{}`
//! stands for such a value (issue 11 item 6): it matches any run of one or more characters
//! within the line (never a CR or LF, so a wildcard cannot swallow the rest of a multi-line
//! `+MSUB`). Everything outside the braces is compared byte for byte:
//!
//! ```text
//! +NITZ: {}                  the network's time, whatever its firmware prints
//! +CGPADDR: 1,"{}"           cid 1 and the quotes checked, the address not
//! {}.{}.{}.{}                a bare IPv4 line (AT+CIFSR)
//! ```
//!
//! A wildcard needs at least one character: `+CSQ: {},0` does not accept `+CSQ: ,0`. When a
//! line does not match, [`differing_field`] names the field that differed, so a report says
//! "field 2 of `+CGPADDR:`" rather than just showing two long lines.

/// The wildcard.
pub const WILDCARD: &str = "{}";

/// Whether `actual` (one line the module printed, without its line end) matches `expected`.
pub fn matches(expected: &str, actual: &[u8]) -> bool {
    let parts: Vec<&[u8]> = expected.split(WILDCARD).map(str::as_bytes).collect();
    let Some((first, rest)) = parts.split_first() else {
        return actual.is_empty();
    };
    if !actual.starts_with(first) {
        return false;
    }
    let mut at = first.len();
    let Some((last, middle)) = rest.split_last() else {
        // No wildcard: the whole line is literal.
        return at == actual.len();
    };
    let in_line = |span: &[u8]| !span.is_empty() && !span.iter().any(|&b| b == b'\r' || b == b'\n');
    for seg in middle {
        // The wildcard before `seg` takes at least one byte; the leftmost place for `seg`
        // keeps every later choice open (a wildcard only ever needs to stretch further).
        let from = at + 1;
        let Some(found) = find(&actual[from.min(actual.len())..], seg).map(|i| i + from) else {
            return false;
        };
        if !in_line(&actual[at..found]) {
            return false;
        }
        at = found + seg.len();
    }
    actual.len() >= at + 1 + last.len()
        && actual.ends_with(last)
        && in_line(&actual[at..actual.len() - last.len()])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A line cut into its prefix (`+CMD:` or `^CMD:`, when it has one) and its comma-separated
/// fields (commas inside double quotes or parentheses do not separate: `(0,1,4),(0,1)` is two
/// fields, as a test command's ranges are).
fn fields(line: &str) -> (&str, Vec<&str>) {
    let (prefix, body) = match line.find(':') {
        Some(i) if line.starts_with(['+', '^']) => (&line[..=i], &line[i + 1..]),
        _ => ("", line),
    };
    let mut out = Vec::new();
    let mut quoted = false;
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&body[start..]);
    (prefix, out)
}

/// Which part of `actual` differs from `expected`, in words: the prefix, or the first field
/// (counted from 1, as the manuals count parameters) whose text does not match, or how many
/// fields each has. `None` when the line matches.
pub fn differing_field(expected: &str, actual: &str) -> Option<String> {
    if matches(expected, actual.as_bytes()) {
        return None;
    }
    let (ep, ef) = fields(expected);
    let (ap, af) = fields(actual);
    if ep.is_empty() && ap.is_empty() && ef.len() == 1 && af.len() == 1 {
        return Some(format!(
            "the line differs: expected `{expected}`, got `{actual}`"
        ));
    }
    if !matches(ep, ap.as_bytes()) {
        return Some(format!(
            "the prefix differs: expected `{}`, got `{}`",
            if ep.is_empty() { "(none)" } else { ep },
            if ap.is_empty() { "(none)" } else { ap }
        ));
    }
    let of = |n: usize| {
        if ep.is_empty() {
            format!("field {n}")
        } else {
            format!("field {n} of `{ep}`")
        }
    };
    let differs = |i: usize, j: usize| {
        Some(format!(
            "{} differs: expected `{}`, got `{}`",
            of(j + 1),
            ef[i].trim_start(),
            af[j].trim_start()
        ))
    };
    if ef.len() == af.len() {
        if let Some(i) = (0..ef.len()).find(|&i| !matches(ef[i], af[i].as_bytes())) {
            return differs(i, i);
        }
    } else {
        // A wildcard field may have taken several of the actual's fields: align from the
        // left up to the first wildcard, then from the right.
        let n = ef.len().min(af.len());
        let mut wildcard = false;
        for i in 0..n {
            if ef[i].contains(WILDCARD) {
                wildcard = true;
                break;
            }
            if !matches(ef[i], af[i].as_bytes()) {
                return differs(i, i);
            }
        }
        for k in (1..=n).filter(|_| wildcard) {
            let (i, j) = (ef.len() - k, af.len() - k);
            if ef[i].contains(WILDCARD) {
                break;
            }
            if !matches(ef[i], af[j].as_bytes()) {
                return differs(i, j);
            }
        }
        return Some(format!(
            "expected {} fields{}, got {}",
            ef.len(),
            if ep.is_empty() {
                String::new()
            } else {
                format!(" after `{ep}`")
            },
            af.len()
        ));
    }
    Some(format!(
        "the line differs: expected `{expected}`, got `{actual}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(e: &str, a: &str) -> bool {
        matches(e, a.as_bytes())
    }

    /// Each `(expected, actual)` in `matching` matches, none in `differing` does.
    fn check(matching: &[(&str, &str)], differing: &[(&str, &str)]) {
        for &(e, a) in matching {
            assert!(m(e, a), "{e:?} should match {a:?}");
        }
        for &(e, a) in differing {
            assert!(!m(e, a), "{e:?} should not match {a:?}");
        }
    }

    /// Each `(expected, actual, what the report says differs)`.
    fn says(cases: &[(&str, &str, &str)]) {
        for &(e, a, said) in cases {
            assert_eq!(
                differing_field(e, a).as_deref(),
                Some(said),
                "{e:?} against {a:?}"
            );
        }
    }

    #[test]
    fn without_braces_the_whole_line_is_literal() {
        check(
            &[("OK", "OK"), ("", "")],
            &[
                ("OK", "OK "),
                ("OK", "O"),
                ("+CSQ: 25,0", "+CSQ: 25,99"),
                ("", "x"),
            ],
        );
    }

    #[test]
    fn a_wildcard_takes_one_or_more_characters_within_the_line() {
        check(
            &[
                ("+NITZ: {}", "+NITZ: 2024/08/27,06:36:38+0, "),
                ("+NITZ: {}", "+NITZ: 2024/10/11,07:38:35+0,0"),
                ("{}", "10.104.48.68"),
                ("{}.{}.{}.{}", "010.083.172.111"),
                ("+CGPADDR: 1,\"{}\"", "+CGPADDR: 1,\"10.162.229.248\""),
                ("+CSQ: {},0", "+CSQ: 25,0"),
                (
                    "+CCLK: \"18/08/07,13:28:{}+32\"",
                    "+CCLK: \"18/08/07,13:28:30+32\"",
                ),
                ("460{}", "460081899904186"),
                // Adjacent wildcards need a character each.
                ("{}{}", "ab"),
                // A literal that also occurs inside the wildcard's value.
                ("a{}a", "aaa"),
                ("x{},{},y", "x1,2,3,y"),
            ],
            &[
                ("+NITZ: {}", "+NITZ: "),
                ("+NITZ: {}", "+NITZ:"),
                ("{}", ""),
                ("{}.{}.{}.{}", "10.104.48"),
                ("+CGPADDR: 1,\"{}\"", "+CGPADDR: 2,\"10.162.229.248\""),
                ("+CGPADDR: 1,\"{}\"", "+CGPADDR: 1,\"\""),
                ("+CSQ: {},0", "+CSQ: 25,99"),
                ("+CSQ: {},0", "+CSQ: ,0"),
                ("460{}", "310081899904186"),
                // Adjacent wildcards need a character each.
                ("{}{}", "a"),
                // A literal that also occurs inside the wildcard's value.
                ("a{}a", "aa"),
            ],
        );
    }

    #[test]
    fn a_wildcard_never_crosses_a_line_end() {
        check(
            &[("+MSUB: \"t\",3 byte,{}", "+MSUB: \"t\",3 byte,abc")],
            &[
                ("+MSUB: \"t\",{} byte,a", "+MSUB: \"t\",1\r\n byte,a"),
                ("{}", "a\nb"),
            ],
        );
    }

    #[test]
    fn a_report_names_the_field_that_differed() {
        assert_eq!(
            differing_field("+NITZ: {}", "+NITZ: 2024/08/27,06:36:38+0,0"),
            None
        );
        says(&[
            (
                "+CGPADDR: 2,\"{}\"",
                "+CGPADDR: 1,\"10.0.0.7\"",
                "field 1 of `+CGPADDR:` differs: expected `2`, got `1`",
            ),
            (
                "+CSQ: {},0",
                "+CSQ: 25,99",
                "field 2 of `+CSQ:` differs: expected `0`, got `99`",
            ),
            (
                "+CREG: 2,1,\"{}\",\"{}\",7",
                "+CGREG: 2,1,\"1863\",\"0183db22\",7",
                "the prefix differs: expected `+CREG:`, got `+CGREG:`",
            ),
            // The wildcard spans several of the actual's fields; the literal after it is
            // found from the right.
            (
                "+NITZ: {},1",
                "+NITZ: 2024/08/27,06:36:38+0,0",
                "field 3 of `+NITZ:` differs: expected `1`, got `0`",
            ),
            (
                "+CREG: 0,1",
                "+CREG: 0,1,\"1863\"",
                "expected 2 fields after `+CREG:`, got 3",
            ),
            (
                "{}.{}.{}.{}",
                "ERROR",
                "the line differs: expected `{}.{}.{}.{}`, got `ERROR`",
            ),
            (
                "+CCLK: \"{}\"",
                "OK",
                "the prefix differs: expected `+CCLK:`, got `(none)`",
            ),
        ]);
    }

    #[test]
    fn quoted_commas_do_not_split_fields() {
        assert_eq!(
            fields("+MSUB: \"a,b\",3 byte,x"),
            ("+MSUB:", vec![" \"a,b\"", "3 byte", "x"])
        );
        assert_eq!(fields("10.0.0.1"), ("", vec!["10.0.0.1"]));
        assert_eq!(
            fields("+CFUN: (0,1,4),(0,1)"),
            ("+CFUN:", vec![" (0,1,4)", "(0,1)"])
        );
        assert_eq!(
            differing_field("+CEREG: (0,1,2,3,4,5)", "+CEREG: (0-2)").unwrap(),
            "field 1 of `+CEREG:` differs: expected `(0,1,2,3,4,5)`, got `(0-2)`"
        );
    }
}
