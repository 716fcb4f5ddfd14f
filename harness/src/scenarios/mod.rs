//! `.feature` files run against a simulator per scenario (`modem-harness features`, `cargo
//! test`) or against a device on a port (`modem-harness run`): the cucumber [`world`], its
//! [`steps`] and the [`runner`].

pub mod runner;
pub mod steps;
pub mod world;
