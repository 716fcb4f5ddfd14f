//! Turns the raw byte stream from the UART into frames, the way the module's AT engine does.
//!
//! The framer is pure: bytes in, frames and echo bytes out, no I/O. It yields one frame at a
//! time because the meaning of the next bytes can depend on the answer to the previous line:
//! after `AT+MPUBEX=...\r` the module prompts with `>` and the following bytes are raw payload,
//! even when they arrived in the same read as the command.
//!
//! Line ends as drivers send them: `\r`, `\r\n` and a bare `\n` each end a command line, and
//! an LF directly after a CR is the rest of that terminator, never a line or payload of its own.
//! The family's manual (V1.6.7, notes section 13; the CIPSEND page of luatos-doc-pool
//! `Command_List/TCPIP/CIPSEND.md`, 注意事项 6) tells hosts to end a prompt command with
//! CR LF "避免待发送数据首字节 \n 被吞" (so that a first data byte `\n` is not swallowed): the
//! module swallows one LF right after the CR, even when the bytes after it are prompted data.
//! So `cmd\r\n` + `\nXYZ` and `cmd\n` + `\nXYZ` keep the payload's LF, `cmd\r` + `\nXYZ`
//! loses it (fixtures/DIVERGENCES.md A23). With echo on, the terminator is echoed as it arrives:
//! an LF in the same read as its CR is echoed before the line is answered.

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
    /// A prompt started with [`Framer::expect_until_ctrl_z`] ended without its data: ESC
    /// (0x1B) came, or more than `max` bytes came before the Ctrl-Z (0x1A).
    Cancelled(Cancel),
}

/// Why a Ctrl-Z-ended prompt gave no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// The host sent ESC.
    Escape,
    /// More than the prompt's maximum came; the rest, up to Ctrl-Z or ESC, was dropped.
    TooLong,
}

/// Ends a variable-length prompt and sends what came (the manual's "CTRL+Z(0x1A)发送").
pub const CTRL_Z: u8 = 0x1A;
/// Abandons a variable-length prompt (the manual's "ESC(0x1B)中止操作").
pub const ESC: u8 = 0x1B;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Line,
    /// After an overflow: drop bytes until the next line terminator.
    Discard,
    Data {
        remaining: usize,
    },
    /// Raw bytes up to Ctrl-Z, at most `max` of them.
    Until {
        max: usize,
    },
    /// Past the maximum of a Ctrl-Z-ended prompt: drop bytes until Ctrl-Z or ESC.
    UntilDiscard,
}

/// The module's line buffer plus its echo.
#[derive(Debug, Clone)]
pub struct Framer {
    echo: bool,
    max_line: usize,
    buf: Vec<u8>,
    mode: Mode,
    /// The last byte taken off the wire ended a line with CR: an LF next is the rest of that
    /// terminator (echoed, never a line or data). Survives [`Framer::expect_data`].
    after_cr: bool,
    /// Bytes taken as prompted data so far, ever: how a prompt's idle timer sees progress.
    taken: u64,
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
            after_cr: false,
            taken: 0,
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

    /// Switches to raw data mode ended by Ctrl-Z: the bytes up to it form one [`Frame::Data`]
    /// (the Ctrl-Z itself is dropped); ESC gives [`Frame::Cancelled`] instead, and so does a
    /// Ctrl-Z after more than `max` bytes.
    pub fn expect_until_ctrl_z(&mut self, max: usize) {
        self.buf.clear();
        self.mode = Mode::Until { max };
    }

    /// Abandons a pending data prompt (a prompt timeout, for instance), returning what arrived.
    pub fn cancel_data(&mut self) -> Vec<u8> {
        self.mode = Mode::Line;
        std::mem::take(&mut self.buf)
    }

    pub fn in_data_mode(&self) -> bool {
        matches!(
            self.mode,
            Mode::Data { .. } | Mode::Until { .. } | Mode::UntilDiscard
        )
    }

    /// Whether the open prompt ends at Ctrl-Z (rather than after a length).
    pub fn waits_for_ctrl_z(&self) -> bool {
        matches!(self.mode, Mode::Until { .. } | Mode::UntilDiscard)
    }

    /// Whether the last byte ended a line with CR, so that an LF next is the rest of that
    /// terminator; forgets it. For a caller that takes the next bytes past the framer (the
    /// transparent mode after `ATO\r`).
    pub fn take_after_cr(&mut self) -> bool {
        std::mem::take(&mut self.after_cr)
    }

    /// Bytes taken as prompted data since the framer was made.
    pub fn data_taken(&self) -> u64 {
        self.taken
    }

    /// Consumes bytes from the front of `input` until one frame is complete, appending echo to
    /// `echo_out`. Returns `None` when `input` ran out first; the partial frame is kept.
    pub fn next_frame(&mut self, input: &mut &[u8], echo_out: &mut Vec<u8>) -> Option<Frame> {
        while let Some((&byte, rest)) = input.split_first() {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                // The LF of a CR LF pair, whatever mode the CR left us in.
                *input = rest;
                if self.echo {
                    echo_out.push(byte);
                }
                continue;
            }
            let frame = match self.mode {
                Mode::Data { remaining } => self.take_data(remaining, input),
                Mode::Until { max } => {
                    *input = rest;
                    self.until_ctrl_z(byte, max)
                }
                Mode::UntilDiscard => {
                    *input = rest;
                    self.drop_until_ctrl_z(byte)
                }
                Mode::Discard => {
                    *input = rest;
                    self.drop_line(byte, input, echo_out);
                    None
                }
                Mode::Line => {
                    *input = rest;
                    self.line(byte, input, echo_out)
                }
            };
            if frame.is_some() {
                return frame;
            }
        }
        None
    }

    /// A length-prompted payload: takes what it still wants of `input`.
    fn take_data(&mut self, remaining: usize, input: &mut &[u8]) -> Option<Frame> {
        let take = remaining.min(input.len());
        self.buf.extend_from_slice(&input[..take]);
        *input = &input[take..];
        self.taken += take as u64;
        if take == remaining {
            self.mode = Mode::Line;
            return Some(Frame::Data(std::mem::take(&mut self.buf)));
        }
        self.mode = Mode::Data {
            remaining: remaining - take,
        };
        None
    }

    /// One byte of a payload ended by Ctrl-Z (ESC cancels; past `max` the rest is dropped).
    fn until_ctrl_z(&mut self, byte: u8, max: usize) -> Option<Frame> {
        self.taken += 1;
        match byte {
            CTRL_Z => {
                self.mode = Mode::Line;
                Some(Frame::Data(std::mem::take(&mut self.buf)))
            }
            ESC => {
                self.mode = Mode::Line;
                self.buf = Vec::new();
                Some(Frame::Cancelled(Cancel::Escape))
            }
            _ if self.buf.len() >= max => {
                self.buf = Vec::new();
                self.mode = Mode::UntilDiscard;
                None
            }
            _ => {
                self.buf.push(byte);
                None
            }
        }
    }

    /// One byte of a too-long Ctrl-Z payload: dropped, until Ctrl-Z or ESC ends it.
    fn drop_until_ctrl_z(&mut self, byte: u8) -> Option<Frame> {
        self.taken += 1;
        let cancel = match byte {
            ESC => Cancel::Escape,
            CTRL_Z => Cancel::TooLong,
            _ => return None,
        };
        self.mode = Mode::Line;
        Some(Frame::Cancelled(cancel))
    }

    /// One byte of an overflowed line: dropped (and not echoed) up to its terminator.
    fn drop_line(&mut self, byte: u8, input: &mut &[u8], echo_out: &mut Vec<u8>) {
        if is_terminator(byte) {
            self.mode = Mode::Line;
            if self.echo {
                echo_out.push(byte);
            }
            self.end_of_line(byte, input, echo_out);
        }
    }

    /// One byte of a command line: echoed and kept; a terminator hands out the line (a blank
    /// line gives nothing to answer), and a line past `max_line` overflows.
    fn line(&mut self, byte: u8, input: &mut &[u8], echo_out: &mut Vec<u8>) -> Option<Frame> {
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
            return None;
        }
        self.end_of_line(byte, input, echo_out);
        (!self.buf.is_empty()).then(|| Frame::Line(std::mem::take(&mut self.buf)))
    }

    /// After a terminator byte: a CR's LF, when it is already here, is taken (and echoed) now,
    /// so the echo of the whole terminator precedes the answer; otherwise the next byte is
    /// checked for it when it comes.
    fn end_of_line(&mut self, byte: u8, input: &mut &[u8], echo_out: &mut Vec<u8>) {
        if byte != b'\r' {
            return;
        }
        match input.split_first() {
            Some((b'\n', rest)) => {
                *input = rest;
                if self.echo {
                    echo_out.push(b'\n');
                }
            }
            Some(_) => {}
            None => self.after_cr = true,
        }
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
        assert_eq!(frames, vec![line(b"AT"), line(b"ATI"), line(b"AT+CSQ")]);
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
        assert_eq!(frames, vec![line(b"AT")]);
        assert!(echo.is_empty());
    }

    #[test]
    fn data_mode_takes_exactly_n_raw_bytes_in_the_same_read() {
        let mut f = Framer::default();
        let mut input: &[u8] = b"AT+MPUBEX=t,0,0,6\r\r\nOK>\0\rAT\r";
        let mut echo = Vec::new();
        assert_eq!(
            f.next_frame(&mut input, &mut echo),
            Some(line(b"AT+MPUBEX=t,0,0,6"))
        );
        f.expect_data(6);
        assert_eq!(
            f.next_frame(&mut input, &mut echo),
            Some(data(b"\r\nOK>\0"))
        );
        assert_eq!(f.next_frame(&mut input, &mut echo), Some(line(b"AT")));
        // The payload itself is never echoed.
        assert_eq!(echo, b"AT+MPUBEX=t,0,0,6\r\rAT\r");
    }

    #[test]
    fn data_split_across_reads_is_reassembled() {
        let mut f = Framer::default();
        f.expect_data(4);
        let (frames, _) = run_bytewise(&mut f, b"a\r\nb");
        assert_eq!(frames, vec![data(b"a\r\nb")]);
    }

    #[test]
    fn overflow_answers_once_and_discards_until_the_terminator() {
        // Echo stops with the overflow, so a runaway line cannot flood the output either.
        overflow_then_at(8, b"AT+0123456789abcdef\rAT\r", b"AT+01234\rAT\r");
    }

    /// With lines of at most `max` bytes, `input` (an overlong line, then `AT`) gives an
    /// overflow and the `AT`, and echoes `echo`.
    fn overflow_then_at(max: usize, input: &[u8], echo: &[u8]) {
        let (frames, got) = run(&mut Framer::new(true, max), input);
        assert_eq!(frames, vec![Frame::Overflow, line(b"AT")]);
        assert_eq!(got, echo);
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

    const EOLS: [&[u8]; 3] = [b"\r", b"\r\n", b"\n"];

    /// A host of the framer that opens a prompt the way the dialects do: a line `P=<n>` asks
    /// for `n` bytes of data. Feeds `chunks` one after another, as separate reads.
    fn run_prompting(chunks: &[&[u8]]) -> (Vec<Frame>, Vec<u8>) {
        let mut f = Framer::default();
        let mut frames = Vec::new();
        let mut echo = Vec::new();
        for chunk in chunks {
            let mut rest: &[u8] = chunk;
            while let Some(frame) = f.next_frame(&mut rest, &mut echo) {
                if let Frame::Line(line) = &frame {
                    if let Some(n) = line.strip_prefix(b"P=") {
                        f.expect_data(std::str::from_utf8(n).unwrap().parse().unwrap());
                    }
                    if let Some(n) = line.strip_prefix(b"U=") {
                        f.expect_until_ctrl_z(std::str::from_utf8(n).unwrap().parse().unwrap());
                    }
                }
                frames.push(frame);
            }
            assert!(rest.is_empty());
        }
        (frames, echo)
    }

    /// `input` fed whole, byte by byte, and split in two at every position: the frames and the
    /// echo are the same every time. Returns them.
    fn same_at_every_split(input: &[u8]) -> (Vec<Frame>, Vec<u8>) {
        let whole = run_prompting(&[input]);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run_prompting(&bytes), whole, "byte by byte");
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(run_prompting(&[a, b]), whole, "split at {at}");
        }
        whole
    }

    /// Stands for the line end under test in [`for_each_eol`]'s parts.
    const EOL: &[u8] = b"<EOL>";

    /// For each line end in `eols`: `input` (its parts joined, [`EOL`] standing for that line
    /// end) gives `frames` at every split (see [`same_at_every_split`]), and the echo is `echo`
    /// (joined the same way).
    fn for_each_eol(eols: &[&[u8]], input: &[&[u8]], frames: &[Frame], echo: &[&[u8]]) {
        for &eol in eols {
            let join = |parts: &[&[u8]]| -> Vec<u8> {
                let mut out = Vec::new();
                for &p in parts {
                    out.extend_from_slice(if p == EOL { eol } else { p });
                }
                out
            };
            let (got, got_echo) = same_at_every_split(&join(input));
            assert_eq!(got, frames, "eol {eol:?}");
            assert_eq!(got_echo, join(echo), "eol {eol:?}");
        }
    }

    /// A prompt command `prompt` (`P=<n>`), its `payload` and an `AT`: three frames, the payload
    /// unechoed, for each line end in `eols`.
    fn prompt_then_at(eols: &[&[u8]], prompt: &[u8], payload: &[u8]) {
        for_each_eol(
            eols,
            &[prompt, EOL, payload, b"AT", EOL],
            &[line(prompt), data(payload), line(b"AT")],
            &[prompt, EOL, b"AT", EOL],
        );
    }

    fn line(text: &[u8]) -> Frame {
        Frame::Line(text.to_vec())
    }

    fn data(bytes: &[u8]) -> Frame {
        Frame::Data(bytes.to_vec())
    }

    #[test]
    fn each_terminator_ends_one_line_at_every_split() {
        let input: &[&[u8]] = &[b"AT", EOL, b"ATI", EOL, b"AT+CSQ", EOL];
        // The terminator is echoed as it came, never doubled or dropped.
        let frames = [line(b"AT"), line(b"ATI"), line(b"AT+CSQ")];
        for_each_eol(&EOLS, input, &frames, input);
    }

    #[test]
    fn the_lf_of_a_crlf_in_the_same_read_is_echoed_before_the_line_is_answered() {
        let mut f = Framer::default();
        let mut input: &[u8] = b"AT\r\nATI\r\n";
        let mut echo = Vec::new();
        assert_eq!(f.next_frame(&mut input, &mut echo), Some(line(b"AT")));
        // Everything up to the next command is consumed and echoed when the line is handed
        // out, so the answer goes after `AT\r\n`, not between the CR and the LF.
        assert_eq!(echo, b"AT\r\n");
        assert_eq!(input, b"ATI\r\n");
    }

    #[test]
    fn a_crlf_arriving_in_two_reads_is_still_one_terminator() {
        let mut f = Framer::default();
        let mut echo = Vec::new();
        let mut first: &[u8] = b"AT\r";
        assert_eq!(f.next_frame(&mut first, &mut echo), Some(line(b"AT")));
        let mut second: &[u8] = b"\n";
        assert_eq!(f.next_frame(&mut second, &mut echo), None);
        assert_eq!(echo, b"AT\r\n");
    }

    #[test]
    fn blank_lines_and_lone_lfs_make_no_frames() {
        for input in [&b"\r\n\r\n"[..], b"\n\n", b"\r\r", b"\r\n\n\r"] {
            let (frames, echo) = same_at_every_split(input);
            assert!(frames.is_empty(), "{input:?}");
            assert_eq!(echo, input);
        }
    }

    /// The manual's rule (notes section 13): one LF right after the CR of a prompt command is
    /// swallowed, whether it arrives with the command or after the prompt.
    #[test]
    fn after_a_prompt_the_rest_of_the_terminator_is_never_payload() {
        prompt_then_at(&EOLS, b"P=5", b"AB\r\nC");
    }

    #[test]
    fn a_payload_that_starts_with_lf_keeps_it_after_crlf_and_lf() {
        prompt_then_at(&[b"\r\n", b"\n"], b"P=4", b"\nXYZ");
    }

    /// `cmd\r` + `\nXYZ`: the module takes the LF for the rest of the terminator (the manual
    /// warns of exactly this), so the payload is one byte short and takes the next byte sent.
    #[test]
    fn a_payload_that_starts_with_lf_loses_it_after_a_lone_cr() {
        let input = b"P=4\r\nXYZW\r";
        let (frames, echo) = same_at_every_split(input);
        assert_eq!(frames, vec![line(b"P=4"), data(b"XYZW")]);
        assert_eq!(echo, b"P=4\r\n\r");
    }

    #[test]
    fn payload_bytes_are_never_echoed_with_any_terminator() {
        prompt_then_at(&EOLS, b"P=3", b"\r>\0");
    }

    #[test]
    fn a_cr_at_the_end_of_a_payload_does_not_eat_the_next_lf() {
        let (frames, _) = same_at_every_split(b"P=2\r\nA\r\nAT\r");
        assert_eq!(frames, vec![line(b"P=2"), data(b"A\r"), line(b"AT")]);
    }

    #[test]
    fn an_overflowed_line_ended_by_crlf_leaves_no_blank_line() {
        overflow_then_at(4, b"AT+LONGLINE\r\nAT\r\n", b"AT+L\r\nAT\r\n");
    }

    #[test]
    fn a_ctrl_z_prompt_ends_at_ctrl_z_and_esc_cancels_at_every_split() {
        for_each_eol(
            &EOLS,
            &[b"U=8", EOL, b"a\r\n>\0\x1a", b"U=8", EOL, b"xy\x1bAT", EOL],
            &[
                line(b"U=8"),
                data(b"a\r\n>\0"),
                line(b"U=8"),
                Frame::Cancelled(Cancel::Escape),
                line(b"AT"),
            ],
            &[b"U=8", EOL, b"U=8", EOL, b"AT", EOL],
        );
    }

    #[test]
    fn a_ctrl_z_prompt_past_its_maximum_drops_up_to_the_ctrl_z() {
        let (frames, _) = same_at_every_split(b"U=3\r\nabcdefg\x1aAT\r");
        assert_eq!(
            frames,
            vec![line(b"U=3"), Frame::Cancelled(Cancel::TooLong), line(b"AT")]
        );
        let mut f = Framer::default();
        f.expect_until_ctrl_z(3);
        let (frames, _) = run(&mut f, &vec![b'z'; 1 << 20]);
        assert!(frames.is_empty());
        assert!(f.buf.capacity() <= 3, "bounded while dropping");
    }
}
