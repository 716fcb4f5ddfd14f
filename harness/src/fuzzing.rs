//! Entry point for the `doclog` fuzz target in `fuzz/`, kept here so `cargo test` replays its
//! corpus through the same code.

/// The vendor-log parser (`modem-harness replay`'s and the feature doc strings') must take any
/// text without panicking (a log that does not parse is an error, never a crash), whole or
/// line by line from a reader.
pub fn doclog(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(log) = crate::engine::log::Log::parse("fuzz", &text) {
        let _ = format!("{:?}", log.lines);
    }
    for line in crate::engine::log::Lines::new("fuzz", data) {
        let _ = format!("{line:?}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn doclog_corpus_replays() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut n = 0;
        for dir in [root.join("corpus/doclog"), root.join("regressions/doclog")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    super::doclog(&std::fs::read(&path).unwrap());
                    n += 1;
                }
            }
        }
        assert!(n >= 27, "{n} inputs");
    }
}
