//! modem-harness: Gherkin scenarios replaying the vendors' AT logs against `modem-sim` (or,
//! a real module on a serial port).
//!
//! Three products on one engine:
//! - [`scenarios`]: `.feature` files (`modem-harness features`, and `run` against a device
//!   on a port): the cucumber world, its steps and the runner;
//! - [`replay`]: a vendor-style log replayed line by line (`modem-harness replay`);
//! - [`check`]: `modem-harness check-driver`, a driver under test checked through faults;
//! - [`engine`]: what they share: the one log parser and executor, the target, the device,
//!   the matcher, broker-side clients, models, host rewriting;
//! - [`transcript`]: both directions of the UART, MQTT events and faults, as JSONL and as a
//!   vendor-style log; [`report`]: a transcript as one self-contained HTML timeline
//!   (`modem-harness report`).
//!
//! The engine's and the scenarios' modules are also reachable at their old paths
//! (`modem_harness::device`, `modem_harness::world`, ...).

pub mod check;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod junit;
pub mod replay;
pub mod report;
pub mod scenarios;
pub mod transcript;

pub use engine::{device, model, mqtt, pattern, rewrite};
pub use scenarios::{runner, steps, world};
pub use world::ModemWorld;
