//! The embedded broker's inbound bytes: several packets per read, split at every position.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| modem_sim::fuzzing::broker_conn(data));
