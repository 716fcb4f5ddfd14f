//! modem-harness: Gherkin scenarios replaying the vendors' AT logs against `modem-sim` (or,
//! later, a real module on a serial port).
//!
//! - [`device`]: the module's UART as a byte stream, with line and length-framed reads;
//! - [`exchange`]: a vendor log excerpt parsed into send/expect steps;
//! - [`mqtt`]: broker-side clients and an external Mosquitto;
//! - [`world`] and [`steps`]: the cucumber world and step definitions;
//! - [`runner`]: runs feature files with JUnit output and scenario counts.

pub mod device;
pub mod exchange;
#[doc(hidden)]
pub mod fuzzing;
pub mod mqtt;
pub mod runner;
pub mod steps;
pub mod world;

pub use world::ModemWorld;
