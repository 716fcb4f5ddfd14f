//! The malformed-input table of `fixtures/malformed/`, shared by the dialect's unit test and
//! the end-to-end test through the PTY.

/// One row of `fixtures/malformed/<dialect>.tsv`.
pub struct MalformedCase {
    /// The state the row starts in: `idle`, `connected`, or (L610) `called`.
    pub state: String,
    pub connected: bool,
    pub input: Vec<u8>,
    pub expected: Vec<u8>,
    pub why: String,
}

/// Reads the table; `\r`, `\n`, `\\` and `\xNN` are unescaped in the input and expected
/// columns.
pub fn malformed_cases(table: &str) -> Vec<MalformedCase> {
    fn unescape(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 1 < b.len() {
                match b[i + 1] {
                    b'r' => out.push(b'\r'),
                    b'n' => out.push(b'\n'),
                    b'\\' => out.push(b'\\'),
                    b'x' => {
                        out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).expect("\\xNN"));
                        i += 2;
                    }
                    other => panic!("unknown escape \\{}", other as char),
                }
                i += 2;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("state\t"))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "{l}");
            MalformedCase {
                state: cols[0].to_string(),
                connected: cols[0] == "connected",
                input: unescape(cols[1]),
                expected: unescape(cols[2]),
                why: cols[3].to_string(),
            }
        })
        .collect()
}
