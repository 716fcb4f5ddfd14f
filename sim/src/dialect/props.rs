//! Property tests: rendering a command and parsing it back is the identity, and what the
//! modem answers does not depend on how its input is split into reads.

use proptest::prelude::*;

use crate::at::{parse_line, render, Command, Form};
use crate::dialect::{make, DialectKind, Effect, Engine};
use crate::modem::Identity;

/// Any of the four forms, the set form's parameters drawn from `set`.
fn any_form(set: impl Strategy<Value = Form>) -> impl Strategy<Value = Form> {
    prop_oneof![Just(Form::Exec), Just(Form::Test), Just(Form::Read), set]
}

fn command() -> impl Strategy<Value = Command> {
    let extended = (
        "[A-Z][A-Z0-9_]{0,11}",
        any_form(
            // Parameters: anything on one line; the parser keeps the raw bytes after `=`.
            proptest::collection::vec(
                any::<u8>().prop_filter("one line", |b| *b != b'\r' && *b != b'\n'),
                0..40,
            )
            .prop_filter("not the test form", |a| a.first() != Some(&b'?'))
            .prop_map(|a| Form::Set(trim_trailing_blanks(a))),
        ),
    )
        .prop_map(|(name, form)| Command {
            name: format!("+{name}"),
            form,
        });
    let basic = (
        "[A-Z]",
        any_form("[0-9]{1,3}".prop_map(|d| Form::Set(d.into_bytes()))),
    )
        .prop_map(|(letter, form)| Command { name: letter, form });
    prop_oneof![
        extended,
        basic,
        Just(Command {
            name: String::new(),
            form: Form::Exec
        })
    ]
}

/// The parser drops trailing blanks of a line (a host's stray space), so a generated
/// parameter string must not end with one to round-trip.
fn trim_trailing_blanks(mut a: Vec<u8>) -> Vec<u8> {
    while matches!(a.last(), Some(b' ' | b'\t')) {
        a.pop();
    }
    a
}

/// Lines a host might send: real commands, noise, and prompts with their payloads.
fn host_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"AT\r".to_vec()),
        Just(b"ATI\r\n".to_vec()),
        Just(b"ATE0\r".to_vec()),
        Just(b"ATE1\r".to_vec()),
        Just(b"AT+CSQ\n".to_vec()),
        Just(b"AT+MCONFIG=dev,root,luat123456\r".to_vec()),
        Just(b"AT+MIPSTART=\"h\",1883\r".to_vec()),
        Just(b"AT+MPUB=\"t\",0,0,\"x\"\r".to_vec()),
        Just(b"AT+MQTTMSGSET=1\r".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..30),
    ];
    proptest::collection::vec(piece, 0..25).prop_map(|v| v.concat())
}

fn run(engine: &mut Engine, chunks: &[&[u8]]) -> (Vec<u8>, Vec<String>) {
    let mut uart = Vec::new();
    let mut net = Vec::new();
    for chunk in chunks {
        for e in engine.feed(chunk) {
            match e {
                Effect::Uart(b) => uart.extend(b),
                Effect::Net(r) => net.push(format!("{r:?}")),
                Effect::Timer { id, after } => net.push(format!("timer {id} {after:?}")),
                Effect::Baud(rate) => net.push(format!("baud {rate}")),
            }
        }
    }
    (uart, net)
}

fn engine() -> Engine {
    Engine::new(
        make(DialectKind::Air780e, Identity::default()).expect("air780e"),
        true,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn render_then_parse_is_identity(cmd in command()) {
        let line = render(&cmd);
        prop_assert_eq!(parse_line(&line), Ok(cmd));
    }

    /// What the modem does never depends on how its input is split into reads. The one
    /// difference a split may make is where the echo of a CR LF's LF goes: in the read of its
    /// CR it is echoed before the answer, in a later read after it (framer.rs, as the module's
    /// UART does). So the bytes are compared between splits that all cut after every CR.
    #[test]
    fn answers_do_not_depend_on_how_input_is_split(input in host_input(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)) {
        let after_cr: Vec<usize> = input
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\r')
            .map(|(i, _)| i + 1)
            .collect();
        let split = |mut at: Vec<usize>| -> Vec<&[u8]> {
            at.sort_unstable();
            at.dedup();
            let mut chunks = Vec::new();
            let mut from = 0;
            for to in at {
                chunks.push(&input[from..to]);
                from = to;
            }
            chunks.push(&input[from..]);
            chunks
        };
        let whole = run(&mut engine(), &[&input]);
        let random: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        // Any split: the same network requests and timers.
        prop_assert_eq!(&run(&mut engine(), &split(random.clone())).1, &whole.1);
        // Splits that cut after every CR: the same bytes as well.
        let reference = run(&mut engine(), &split(after_cr.clone()));
        prop_assert_eq!(&reference.1, &whole.1);
        let mut with_random = after_cr;
        with_random.extend(random);
        prop_assert_eq!(&run(&mut engine(), &split(with_random)), &reference);
        // And one byte at a time.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(&run(&mut engine(), &bytes), &reference);
    }
}
