//! A reference driver for `modem-harness check-driver`: it subscribes to `MODEM_ECHO_IN` and
//! republishes every payload, unchanged, to `MODEM_ECHO_OUT`, and recovers from every link
//! loss with seed 001's documented sequence (`AT+MIPCLOSE`, whatever it answers, then
//! `MCONFIG`, `MIPSTART`, `MCONNECT`). One command at a time, each after the previous one's
//! final result; lines end with `MODEM_EOL` (or `--eol cr|crlf|lf`; CR LF by default).
//!
//! `--l610` makes it a Fibocom L610 driver (seed 002: `AT+MIPCALL`, `AT+MQTTOPEN`,
//! `+MQTTMSG`, the length form of `AT+MQTTPUB`; `+MQTTBREAK` and `+MIPCALL: 0` mean the link
//! is gone). `--echo-delay-ms N` echoes each message no sooner than N ms after it arrived (a
//! slow but correct driver). `--never-reconnect` makes it the deliberately flawed driver:
//! after the first loss it stays silent, which `check-driver` must catch. `--impatient` makes it
//! flawed in time: it waits only 100 ms for `CONNACK OK` (`+MQTTOPEN:` on the L610), less than
//! a real module takes, so it passes `check-driver --timing fast` and fails under `realistic`.
//!
//! Run: `modem-harness check-driver -- target/debug/examples/echo_driver`

mod common;

use std::time::Duration;

use common::{flag_value, has_flag, open_modem, serve, Config, Serve};

fn main() {
    let how = Serve {
        never_reconnect: has_flag("--never-reconnect"),
        echo_delay: Duration::from_millis(
            flag_value("--echo-delay-ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
    };
    let c = Config::from_env();
    let mut m = open_modem("echo-driver");
    serve(&mut m, &c, "echo-driver", &how);
}
