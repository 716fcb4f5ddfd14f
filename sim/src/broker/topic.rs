//! Topic names and topic filters (MQTT 3.1.1 section 4.7).
//!
//! Our own small implementation rather than `rumqttc::mqttbytes::matches`,
//! because that one refuses *every* topic starting with `$`, even for a filter
//! that names the `$` level explicitly (`$SYS/#`), whereas MQTT-4.7.2-1 only
//! forbids wildcards in the *first* level from matching `$` topics.

/// A topic name a client may PUBLISH to.
///
/// MQTT-4.7.3-1: at least one character; MQTT-3.3.2-2: no wildcard
/// characters; MQTT-4.7.3-2: no U+0000. The length limit (65535 bytes) is
/// enforced by the codec's 16-bit length prefix.
pub fn valid_topic(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// A topic filter a client may SUBSCRIBE with.
///
/// MQTT-4.7.1-2: `#` only as a whole level and only as the last level;
/// MQTT-4.7.1-3: `+` only as a whole level; MQTT-4.7.3-1: non-empty;
/// MQTT-4.7.3-2: no U+0000.
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        match level {
            "#" if is_last => {}
            "+" => {}
            l if l.contains(['+', '#']) => return false,
            _ => {}
        }
    }
    true
}

/// Does `topic` (a valid topic name) match `filter` (a valid filter)?
///
/// MQTT-4.7.2-1: a filter starting with a wildcard does not match a topic
/// starting with `$`. `sport/#` also matches the parent `sport` (4.7.1.2).
/// Levels may be empty (`a//b`, `/a`), they are matched like any other level.
pub fn matches(topic: &str, filter: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut t = topic.split('/');
    let mut f = filter.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_validated() {
        assert!(valid_topic("a/b"));
        assert!(valid_topic("/"));
        assert!(valid_topic("$SYS/x"));
        assert!(!valid_topic(""));
        assert!(!valid_topic("a/+"));
        assert!(!valid_topic("a/#"));
        assert!(!valid_topic("a+b"));
        assert!(!valid_topic("a\0b"));
    }

    #[test]
    fn filters_are_validated() {
        for ok in [
            "#", "+", "a/#", "+/+", "a/+/c", "/+", "a//b", "$SYS/#", "+/#",
        ] {
            assert!(valid_filter(ok), "{ok} should be valid");
        }
        for bad in ["", "a/#/c", "a#", "a/b#", "a+", "a/+b/c", "##", "#/", "a\0"] {
            assert!(!valid_filter(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn exact_and_single_level_wildcards() {
        assert!(matches("a/b/c", "a/b/c"));
        assert!(!matches("a/b/c", "a/b/d"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(matches("a/b/c", "a/+/c"));
        assert!(matches("a//c", "a/+/c"));
        assert!(!matches("a/b", "a/b/+"));
        assert!(matches("/finance", "+/+"));
        assert!(matches("/finance", "/+"));
        assert!(!matches("/finance", "+"));
    }

    #[test]
    fn multi_level_wildcard_matches_parent_and_children() {
        assert!(matches("sport", "sport/#"));
        assert!(matches("sport/tennis/player1", "sport/#"));
        assert!(matches("anything/at/all", "#"));
        assert!(!matches("sports", "sport/#"));
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        assert!(!matches("$SYS/uptime", "#"));
        assert!(!matches("$SYS/uptime", "+/uptime"));
        assert!(matches("$SYS/uptime", "$SYS/#"));
        assert!(matches("$SYS/uptime", "$SYS/+"));
        assert!(matches("a/$b", "a/+"));
    }
}
