//! Turns the raw byte stream from the UART into frames, the way the module's AT engine does.
//!
//! The framer is pure: bytes in, frames and echo bytes out, no I/O. It yields one frame at a
//! time because the meaning of the next bytes can depend on the answer to the previous line:
//! after `AT+MPUBEX=...\r` the module prompts with `>` and the following bytes are raw payload,
//! even when they arrived in the same read as the command.

/// What the framer produced from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A command line, without its terminator and without anything after it.
    Line(Vec<u8>),
    /// Exactly the number of raw bytes requested by [`Framer::expect_data`].
    Data(Vec<u8>),
    /// The line grew past the buffer. The module answers `ERROR` at once and throws the rest of
    /// the line away, so a line without CR can never grow memory.
    Overflow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Line,
    /// After an overflow: drop bytes until the next line terminator.
    Discard,
    Data {
        remaining: usize,
    },
}

/// The module's line buffer plus its echo.
#[derive(Debug, Clone)]
pub struct Framer {
    echo: bool,
    max_line: usize,
    buf: Vec<u8>,
    mode: Mode,
}

/// Line buffer of the simulated module, in bytes. Neither seed gives the buffer size; it has
/// to hold the longest `AT+MPUB` the guides allow (2384 payload bytes, seed 000 FAQ 15, each of
/// which may be written as a 3-byte `\XX` escape) plus the topic. See fixtures/DIVERGENCES.md.
pub const DEFAULT_MAX_LINE: usize = 8192;

impl Default for Framer {
    fn default() -> Self {
        Self::new(true, DEFAULT_MAX_LINE)
    }
}

impl Framer {
    pub fn new(echo: bool, max_line: usize) -> Self {
        Framer {
            echo,
            max_line,
            buf: Vec::new(),
            mode: Mode::Line,
        }
    }

    pub fn echo(&self) -> bool {
        self.echo
    }

    pub fn set_echo(&mut self, on: bool) {
        self.echo = on;
    }

    /// Switches to raw data mode: the next `len` bytes form one [`Frame::Data`], unechoed and
    /// uninterpreted (binary-safe: CR, LF, NUL and `>` are payload).
    pub fn expect_data(&mut self, len: usize) {
        self.buf.clear();
        self.mode = if len == 0 {
            Mode::Line
        } else {
            Mode::Data { remaining: len }
        };
    }

    /// Abandons a pending data prompt (a prompt timeout, for instance), returning what arrived.
    pub fn cancel_data(&mut self) -> Vec<u8> {
        self.mode = Mode::Line;
        std::mem::take(&mut self.buf)
    }

    pub fn in_data_mode(&self) -> bool {
        matches!(self.mode, Mode::Data { .. })
    }

    /// Consumes bytes from the front of `input` until one frame is complete, appending echo to
    /// `echo_out`. Returns `None` when `input` ran out first; the partial frame is kept.
    pub fn next_frame(&mut self, input: &mut &[u8], echo_out: &mut Vec<u8>) -> Option<Frame> {
        while let Some((&byte, rest)) = input.split_first() {
            match self.mode {
                Mode::Data { remaining } => {
                    let take = remaining.min(input.len());
                    self.buf.extend_from_slice(&input[..take]);
                    *input = &input[take..];
                    if take == remaining {
                        self.mode = Mode::Line;
                        return Some(Frame::Data(std::mem::take(&mut self.buf)));
                    }
                    self.mode = Mode::Data {
                        remaining: remaining - take,
                    };
                }
                Mode::Discard => {
                    *input = rest;
                    if is_terminator(byte) {
                        self.mode = Mode::Line;
                        if self.echo {
                            echo_out.push(byte);
                        }
                    }
                }
                Mode::Line => {
                    *input = rest;
                    let terminator = is_terminator(byte);
                    if !terminator && self.buf.len() >= self.max_line {
                        self.buf = Vec::new();
                        self.mode = Mode::Discard;
                        return Some(Frame::Overflow);
                    }
                    if self.echo {
                        echo_out.push(byte);
                    }
                    if !terminator {
                        self.buf.push(byte);
                    } else if !self.buf.is_empty() {
                        return Some(Frame::Line(std::mem::take(&mut self.buf)));
                    }
                    // else: the LF of a CR LF pair, or a blank line: nothing to answer.
                }
            }
        }
        None
    }
}

fn is_terminator(byte: u8) -> bool {
    byte == b'\r' || byte == b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framer: &mut Framer, input: &[u8]) -> (Vec<Frame>, Vec<u8>) {
        let mut frames = Vec::new();
        let mut echo = Vec::new();
        let mut rest = input;
        while let Some(frame) = framer.next_frame(&mut rest, &mut echo) {
            frames.push(frame);
        }
        assert!(rest.is_empty());
        (frames, echo)
    }

    fn run_bytewise(framer: &mut Framer, input: &[u8]) -> (Vec<Frame>, Vec<u8>) {
        let mut frames = Vec::new();
        let mut echo = Vec::new();
        for byte in input {
            let mut one: &[u8] = std::slice::from_ref(byte);
            while let Some(frame) = framer.next_frame(&mut one, &mut echo) {
                frames.push(frame);
            }
        }
        (frames, echo)
    }

    #[test]
    fn every_terminator_style_ends_a_line() {
        let mut f = Framer::default();
        let (frames, echo) = run(&mut f, b"AT\rATI\r\nAT+CSQ\n");
        assert_eq!(
            frames,
            vec![
                Frame::Line(b"AT".to_vec()),
                Frame::Line(b"ATI".to_vec()),
                Frame::Line(b"AT+CSQ".to_vec())
            ]
        );
        assert_eq!(echo, b"AT\rATI\r\nAT+CSQ\n");
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_frames() {
        let input = b"garbage\rAT+MCONFIG=a,b,c\r\nAT\r";
        let (whole, echo_whole) = run(&mut Framer::default(), input);
        let (bytewise, echo_bytewise) = run_bytewise(&mut Framer::default(), input);
        assert_eq!(whole, bytewise);
        assert_eq!(echo_whole, echo_bytewise);
        assert_eq!(whole.len(), 3);
    }

    #[test]
    fn echo_off_echoes_nothing() {
        let mut f = Framer::new(false, 64);
        let (frames, echo) = run(&mut f, b"AT\r");
        assert_eq!(frames, vec![Frame::Line(b"AT".to_vec())]);
        assert!(echo.is_empty());
    }

    #[test]
    fn data_mode_takes_exactly_n_raw_bytes_in_the_same_read() {
        let mut f = Framer::default();
        let mut input: &[u8] = b"AT+MPUBEX=t,0,0,6\r\r\nOK>\0\rAT\r";
        let mut echo = Vec::new();
        assert_eq!(
            f.next_frame(&mut input, &mut echo),
            Some(Frame::Line(b"AT+MPUBEX=t,0,0,6".to_vec()))
        );
        f.expect_data(6);
        assert_eq!(
            f.next_frame(&mut input, &mut echo),
            Some(Frame::Data(b"\r\nOK>\0".to_vec()))
        );
        assert_eq!(
            f.next_frame(&mut input, &mut echo),
            Some(Frame::Line(b"AT".to_vec()))
        );
        // The payload itself is never echoed.
        assert_eq!(echo, b"AT+MPUBEX=t,0,0,6\r\rAT\r");
    }

    #[test]
    fn data_split_across_reads_is_reassembled() {
        let mut f = Framer::default();
        f.expect_data(4);
        let (frames, _) = run_bytewise(&mut f, b"a\r\nb");
        assert_eq!(frames, vec![Frame::Data(b"a\r\nb".to_vec())]);
    }

    #[test]
    fn overflow_answers_once_and_discards_until_the_terminator() {
        let mut f = Framer::new(true, 8);
        let (frames, echo) = run(&mut f, b"AT+0123456789abcdef\rAT\r");
        assert_eq!(frames, vec![Frame::Overflow, Frame::Line(b"AT".to_vec())]);
        // Echo stops with the overflow, so a runaway line cannot flood the output either.
        assert_eq!(echo, b"AT+01234\rAT\r");
    }

    #[test]
    fn a_megabyte_without_terminator_keeps_the_buffer_bounded() {
        let mut f = Framer::default();
        let big = vec![b'A'; 1 << 20];
        let (frames, echo) = run(&mut f, &big);
        assert_eq!(frames, vec![Frame::Overflow]);
        assert!(f.buf.capacity() <= DEFAULT_MAX_LINE);
        assert_eq!(echo.len(), DEFAULT_MAX_LINE);
    }
}
