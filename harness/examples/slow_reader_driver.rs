//! A reference driver that reads slowly: the echo contract of `echo_driver`, but it drains the
//! tty a few bytes at a time (1 to 7 per read) and pauses 20 ms after every read, as a driver
//! on a busy microcontroller polling its UART does. Meanwhile the module's output waits in the
//! line's buffer, and a `+MSUB` arrives in pieces: nothing may be lost or reordered.
//!
//! `--l610` drives a Fibocom L610 instead; lines end with `MODEM_EOL` (or `--eol`).
//!
//! Run: `modem-harness check-driver -- target/debug/examples/slow_reader_driver`

mod common;

use std::time::Duration;

use common::{open_modem, serve, Config, Reading, Serve};

fn main() {
    let c = Config::from_env();
    let mut m = open_modem("slow-reader-driver");
    m.reading = Reading {
        chunk: 7,
        pause: Duration::from_millis(20),
    };
    serve(&mut m, &c, "slow-reader-driver", &Serve::default());
}
