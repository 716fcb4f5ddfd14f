//! modem-harness: Gherkin scenarios replaying the vendors' AT logs against `modem-sim` (or,
//! a real module on a serial port).
//!
//! - [`check`]: `modem-harness check-driver`, the echo contract checked through faults;
//! - [`device`]: the module's UART as a byte stream, with line and length-framed reads;
//! - [`exchange`]: a vendor log excerpt parsed into send/expect steps;
//! - [`model`]: the simulated model and firmware, and the end of a module's power-on lines;
//! - [`mqtt`]: broker-side clients and an external Mosquitto;
//! - [`pattern`]: the one matcher for expected lines, with `{}` wildcards;
//! - [`world`] and [`steps`]: the cucumber world and step definitions;
//! - [`runner`]: runs feature files with JUnit output and scenario counts, against the
//!   simulator or (`modem-harness run`) an external device;
//! - [`replay`]: a vendor-style log replayed line by line (`modem-harness replay`);
//! - [`transcript`]: both directions of the UART, MQTT events and faults, as JSONL and as a
//!   vendor-style log;
//! - [`rewrite`]: hosts and credentials rewritten for an external broker.
//! - [`report`]: a transcript as one self-contained HTML timeline (`modem-harness report`).

pub mod check;
pub mod device;
pub mod exchange;
#[doc(hidden)]
pub mod fuzzing;
pub mod junit;
pub mod model;
pub mod mqtt;
pub mod pattern;
pub mod replay;
pub mod report;
pub mod rewrite;
pub mod runner;
pub mod steps;
pub mod transcript;
pub mod world;

pub use world::ModemWorld;
