//! The vendor-log parser the harness replays guides with.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| modem_harness::fuzzing::doclog(data));
