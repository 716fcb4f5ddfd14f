//! UART faults that rearrange or add to the module's output (`uart-garbage`,
//! `urc-in-response`); `uart-fragment` is the writer's ([`super::writer`]).

use crate::effect::Effect;

/// xorshift64: the UART faults need variety, not quality.
pub(crate) fn next_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// UART faults that rearrange or add to the module's output: `uart-garbage` and
/// `urc-in-response`. Pure, so they are tested without a PTY.
#[derive(Debug)]
pub(crate) struct UartFaults {
    /// Noise bytes before each line.
    pub(crate) garbage: bool,
    /// The next unsolicited output is held for the next command's answer.
    pub(crate) armed: bool,
    /// Held unsolicited output (and whatever followed it, to keep the order).
    held: Option<Vec<u8>>,
    seed: u64,
}

impl Default for UartFaults {
    fn default() -> Self {
        UartFaults {
            garbage: false,
            armed: false,
            held: None,
            seed: 0x853C_49E6_748F_EA9B,
        }
    }
}

/// Where the module's own output starts in a write: at 0 when the write starts a line
/// (`\r\n`), else after the echo that leads it. An echo ends with the host's terminator,
/// which may itself be `\r\n` (`AT\r\n` + `\r\nOK\r\n`), so the answer starts at the first
/// `\r\n` followed by a byte that is neither CR nor LF. `None`: echo only, so far.
fn answer_start(bytes: &[u8]) -> Option<usize> {
    if bytes.starts_with(b"\r\n") {
        return Some(0);
    }
    bytes
        .windows(3)
        .position(|w| w[0] == b'\r' && w[1] == b'\n' && w[2] != b'\r' && w[2] != b'\n')
}

/// What `uart-garbage` puts before a line: bytes no AT line holds.
const NOISE: &[u8] = &[0x00, 0xFF, 0xFE, 0x80, 0x1A];

impl UartFaults {
    /// Output nobody asked for (network events, faults, timers): held under `urc-in-response`.
    pub(crate) fn unsolicited(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        if !self.armed && self.held.is_none() {
            return effects;
        }
        let mut rest = Vec::with_capacity(effects.len());
        for e in effects {
            match e {
                Effect::Uart(bytes) => {
                    self.armed = false;
                    tracing::info!(urc = %String::from_utf8_lossy(&bytes).escape_debug(), "fault urc-in-response: URC held for the next answer");
                    self.held.get_or_insert_with(Vec::new).extend(bytes);
                }
                other => rest.push(other),
            }
        }
        rest
    }

    /// Output answering the host: a held URC goes in after the echo, before the answer (at the
    /// answer's first `\r\n`).
    pub(crate) fn answer(&mut self, mut effects: Vec<Effect>) -> Vec<Effect> {
        let Some(held) = self.held.take() else {
            return effects;
        };
        for e in &mut effects {
            if let Effect::Uart(bytes) = e {
                if let Some(at) = answer_start(bytes) {
                    bytes.splice(at..at, held);
                    return effects;
                }
            }
        }
        // Only echo so far: keep waiting for the answer.
        self.held = Some(held);
        effects
    }

    /// Noise before a line under `uart-garbage`: before a write that starts a line, or after
    /// the echo that starts a write (see [`answer_start`]). Never inside the rest, which may
    /// be a message payload.
    pub(crate) fn noise(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        if !self.garbage {
            return bytes;
        }
        let Some(at) = answer_start(&bytes) else {
            return bytes;
        };
        let n = (next_random(&mut self.seed) % 4 + 1) as usize;
        let noise: Vec<u8> = (0..n)
            .map(|_| NOISE[(next_random(&mut self.seed) % NOISE.len() as u64) as usize])
            .collect();
        bytes.splice(at..at, noise);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uart(b: &[u8]) -> Effect {
        Effect::Uart(b.to_vec())
    }

    #[test]
    fn urc_in_response_goes_between_echo_and_answer() {
        let mut f = UartFaults::default();
        // Not armed: nothing changes.
        assert_eq!(
            f.unsolicited(vec![uart(b"\r\nCLOSED\r\n")]),
            vec![uart(b"\r\nCLOSED\r\n")]
        );
        f.armed = true;
        assert_eq!(f.unsolicited(vec![uart(b"\r\nCLOSED\r\n")]), vec![]);
        // What follows a held URC waits behind it.
        assert_eq!(f.unsolicited(vec![uart(b"\r\n+MSUB: 0\r\n")]), vec![]);
        // Echo only: still held.
        assert_eq!(f.answer(vec![uart(b"AT+CS")]), vec![uart(b"AT+CS")]);
        assert_eq!(
            f.answer(vec![uart(b"Q\r\r\n+CSQ: 29,99\r\n\r\nOK\r\n")]),
            vec![uart(
                b"Q\r\r\nCLOSED\r\n\r\n+MSUB: 0\r\n\r\n+CSQ: 29,99\r\n\r\nOK\r\n"
            )]
        );
        // Only the next URC.
        assert_eq!(
            f.unsolicited(vec![uart(b"\r\nX\r\n")]),
            vec![uart(b"\r\nX\r\n")]
        );
        assert_eq!(
            f.answer(vec![uart(b"\r\nOK\r\n")]),
            vec![uart(b"\r\nOK\r\n")]
        );
    }

    #[test]
    fn garbage_goes_before_lines_only() {
        let mut f = UartFaults::default();
        assert_eq!(f.noise(b"\r\nOK\r\n".to_vec()), b"\r\nOK\r\n");
        f.garbage = true;
        for _ in 0..50 {
            let out = f.noise(b"\r\nOK\r\n".to_vec());
            let noise = out.len() - 6;
            assert!((1..=4).contains(&noise), "{out:?}");
            assert!(out[..noise].iter().all(|b| NOISE.contains(b)), "{out:?}");
            assert!(out.ends_with(b"\r\nOK\r\n"));
        }
        // An echo is not a line: untouched; after it, before the answer.
        assert_eq!(f.noise(b"AT\r".to_vec()), b"AT\r");
        let out = f.noise(b"AT\r\r\nOK\r\n".to_vec());
        assert!(out.starts_with(b"AT\r") && out.ends_with(b"\r\nOK\r\n") && out.len() > 9);
        assert!(
            out[3..out.len() - 6].iter().all(|b| NOISE.contains(b)),
            "{out:?}"
        );
        // Echoes of `\r\n` and `\n` line ends (issue 10): the noise goes after the whole
        // terminator, never between `AT` and its CR LF.
        for echo in [&b"AT\r\n"[..], b"AT\n"] {
            assert_eq!(f.noise(echo.to_vec()), echo, "echo only");
            let out = f.noise([echo, b"\r\nOK\r\n"].concat());
            assert!(
                out.starts_with(echo) && out.ends_with(b"\r\nOK\r\n"),
                "{out:?}"
            );
            let noise = &out[echo.len()..out.len() - 6];
            assert!(
                !noise.is_empty() && noise.iter().all(|b| NOISE.contains(b)),
                "{out:?}"
            );
        }
    }

    #[test]
    fn urc_in_response_follows_a_crlf_or_lf_echo_whole() {
        for echo in [&b"AT+CSQ\r\n"[..], b"AT+CSQ\n", b"AT+CSQ\r"] {
            let mut f = UartFaults {
                armed: true,
                ..UartFaults::default()
            };
            assert_eq!(f.unsolicited(vec![uart(b"\r\nCLOSED\r\n")]), vec![]);
            // The echo alone, even with its CR LF: still held.
            assert_eq!(f.answer(vec![uart(echo)]), vec![uart(echo)]);
            assert_eq!(
                f.answer(vec![uart(b"\r\n+CSQ: 29,99\r\n\r\nOK\r\n")]),
                vec![uart(b"\r\nCLOSED\r\n\r\n+CSQ: 29,99\r\n\r\nOK\r\n")]
            );
            let mut f = UartFaults {
                armed: true,
                ..UartFaults::default()
            };
            f.unsolicited(vec![uart(b"\r\nCLOSED\r\n")]);
            let mut want = echo.to_vec();
            want.extend_from_slice(b"\r\nCLOSED\r\n\r\nOK\r\n");
            assert_eq!(
                f.answer(vec![uart(&[echo, b"\r\nOK\r\n"].concat())]),
                vec![uart(&want)]
            );
        }
    }
}
