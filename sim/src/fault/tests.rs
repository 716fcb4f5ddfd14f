use super::*;

/// Each text parses as a `T` and prints back the same.
fn prints_back<T>(texts: &[&str])
where
    T: std::str::FromStr + std::fmt::Display,
    T::Err: std::fmt::Debug,
{
    for text in texts {
        let parsed: T = text.parse().unwrap();
        assert_eq!(parsed.to_string(), *text);
    }
}

#[test]
fn faults_parse_and_print_back() {
    prints_back::<Fault>(&[
        "closed",
        "reset",
        "pdn-deact 0",
        "pdn-deact 2.5",
        "deregister",
        "register",
        "sim-removed",
        "sim-inserted",
        "signal 7",
        "kick-idle 5",
        "kick-idle off",
        "blackhole",
        "latency 250",
        "uart-fragment",
        "uart-fragment off",
        "uart-garbage",
        "uart-garbage off",
        "urc-in-response",
        "power-cycle",
        "watchdog-reset",
    ]);
    assert_eq!(
        "pdn-deact".parse::<Fault>().unwrap(),
        Fault::PdnDeact(PdnDeact {
            back_after: std::time::Duration::ZERO
        })
    );
    assert_eq!("CLOSED".parse::<Fault>().unwrap(), Fault::Closed(Closed));
}

#[test]
fn every_row_parses_its_own_example_and_names_are_unique() {
    let mut names: Vec<&str> = TABLE.iter().map(|r| r.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), TABLE.len(), "two rows share a name");
    for row in TABLE {
        // The usage with its placeholders filled in: every row must parse it and print its name.
        let example = row
            .usage()
            .replace("[SECS]", "3")
            .replace("SECS|off", "3")
            .replace("[off]", "off")
            .replace("MS", "10")
            .replace(" N", " 9");
        let f: Fault = example.parse().unwrap_or_else(|e| panic!("{example}: {e}"));
        assert_eq!(f.name(), row.name);
        assert_eq!(f.to_string().parse::<Fault>().unwrap(), f, "{example}");
        assert!(fault_list().contains(&row.usage()) && fault_list().contains(row.help));
    }
}

#[test]
fn requests_carry_a_trigger() {
    prints_back::<Request>(&[
        "closed",
        "closed after 2.5",
        "reset on publish 3",
        "pdn-deact 5 on subscribe",
        "signal 3 on connack",
    ]);
    let r: Request = "closed on publish".parse().unwrap();
    assert_eq!(r.trigger, Trigger::OnPublish(1));
    for (text, why) in [
        ("closed on lunch", "unknown trigger `on lunch`"),
        ("closed on publish 0", "N counts from 1"),
        ("closed after soon", "not a number of seconds"),
        ("melt after 2", "unknown fault `melt`"),
    ] {
        let e = text.parse::<Request>().unwrap_err().to_string();
        assert!(e.contains(why) && e.contains("on connack"), "{text}: {e}");
    }
}

#[test]
fn bad_faults_are_refused_with_the_list() {
    for (text, why) in [
        ("melt", "unknown fault `melt`"),
        ("", "no fault given"),
        ("signal 40", "RSSI is 0 to 31"),
        ("signal", "wrong arguments for `signal`"),
        ("closed now", "takes no argument"),
        ("pdn-deact -1", "not a number of seconds"),
        ("pdn-deact 1 2", "wrong arguments for `pdn-deact`"),
        ("uart-garbage on", "wrong arguments for `uart-garbage`"),
        ("latency 60001", "milliseconds, 0 to 60000"),
        ("kick-idle", "wrong arguments for `kick-idle`"),
    ] {
        let e = text.parse::<Fault>().unwrap_err().to_string();
        assert!(e.contains(why), "{text}: {e}");
        for row in TABLE {
            assert!(
                e.contains(&row.usage()),
                "{text}: the list lacks {}: {e}",
                row.name
            );
        }
    }
}

#[test]
fn only_kick_idle_enters_in_the_broker() {
    for row in TABLE {
        let f: Fault = match row.name {
            "signal" => "signal 1".parse().unwrap(),
            "latency" => "latency 1".parse().unwrap(),
            "kick-idle" => "kick-idle off".parse().unwrap(),
            name => name.parse().unwrap(),
        };
        let want = match row.name {
            "kick-idle" => Layer::Broker,
            _ => Layer::Modem,
        };
        assert_eq!(f.layer(), want, "{}", row.name);
    }
}

/// Every row of the table has a row in the README's fault table ("Fault injection"), which
/// starts with the fault's usage in backquotes.
#[test]
fn every_fault_has_a_readme_row() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("\n## Fault injection")
        .expect("README section `## Fault injection`");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let rows: Vec<&str> = section[..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .collect();
    for row in TABLE {
        // Escaped as the Markdown table needs it (`SECS\|off`).
        let usage = format!("`{}`", row.usage().replace('|', "\\|"));
        assert!(
            rows.iter().any(|l| l.contains(&usage)),
            "README.md's fault table has no row for {usage}: add one (see \"Adding a fault\")"
        );
    }
}
