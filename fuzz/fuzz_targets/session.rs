//! A whole Air780E session with no network: host bytes and network events interleaved.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| modem_sim::fuzzing::session(data));
