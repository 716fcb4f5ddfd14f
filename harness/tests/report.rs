//! The HTML timeline: `check-driver --html` on a driver that fails writes a report per scenario
//! holding the fault, the highlighted failing step, every UART line and the driver's output; the JUnit failure names
//! it; a real browser (headless Chromium) opens it without script errors. `modem-harness report`
//! renders a JSONL transcript and refuses one that is not.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{example, harness, ReplayDir};

/// Escaped as the page escapes text (maud's escaper; what is under test is that the line is
/// there).
fn escaped(text: &str) -> String {
    maud::html! { (text) }.into_string()
}

/// `check::render`'s lines are `escape_default`ed: back to the text.
fn unescape_default(s: &str) -> String {
    s.replace("\\\"", "\"")
        .replace("\\'", "'")
        .replace("\\\\", "\\")
}

/// The summaries (what is shown before expanding) of the page's items of `class`.
fn items<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    html.split(&format!("<details class=\"{class}\""))
        .skip(1)
        .filter_map(|s| {
            let s = &s[s.find("<summary>")? + "<summary>".len()..];
            Some(&s[..s.find("</summary>")?])
        })
        .collect()
}

/// The browser: `$CHROMIUM`, else Debian's `chromium`.
fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Runs headless Chromium on `page` with `args`, bounded; returns its stdout.
async fn browse(page: &Path, profile: &Path, args: &[&str]) -> String {
    let url = format!("file://{}", page.display());
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(chromium())
            .args([
                "--headless",
                // Tests run as root in CI, where Chromium's sandbox refuses to start.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                &format!("--user-data-dir={}", profile.display()),
            ])
            .args(args)
            .arg(&url)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finished within 120 s")
    .unwrap_or_else(|e| {
        panic!(
            "cannot run `{}`: {e}; install it (`apt-get install chromium`, as .ci/run does) or name it in $CHROMIUM",
            chromium()
        )
    });
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_driver_gets_a_report_per_scenario_that_a_browser_opens() {
    let driver = example("echo_driver");
    let dir = tempfile::tempdir().unwrap();
    let html_dir = dir.path().join("html");
    let junit = dir.path().join("check.xml");
    let (code, out) = harness(&[
        "check-driver",
        // The test helpers run `fast` (check-driver's default is `realistic`).
        "--timing",
        "fast",
        "--recovery-deadline",
        "3",
        "--html",
        html_dir.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--",
        &driver,
        "--never-reconnect",
    ])
    .await;
    assert_eq!(code, 1, "{out}");

    // One report per scenario.
    let pages: Vec<PathBuf> = std::fs::read_dir(&html_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(pages.len(), 8, "{pages:?}");

    // The failing scenario's section of the text report names its page.
    let at = out.find("FAIL  resumes after closed").expect(&out);
    let section: Vec<&str> = out[at..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect();
    let page = section
        .iter()
        .find_map(|l| l.trim().strip_prefix("report: "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no report line: {section:?}"));
    assert_eq!(
        page,
        html_dir.join("check-driver-4-resumes-after-closed.html")
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(&format!("(report: {})\"", page.display())),
        "the JUnit failure message names the report: {xml}"
    );

    let html = std::fs::read_to_string(&page).unwrap();
    // The fault, in the fault lane.
    assert_eq!(
        items(&html, "ev fault"),
        ["<span class=\"tag\">fault</span> <b>closed</b>"],
        "{html}"
    );
    // The failing step, highlighted (a failure row, and the summary linking to it), with what
    // was expected.
    let failure = items(&html, "ev wide failure");
    assert_eq!(failure.len(), 1, "{html}");
    assert!(failure[0].contains("<b>resumes after closed</b>"));
    assert!(failure[0].contains("<span class=\"exp\">expected</span> <code>check/echo/out: echo "));
    assert!(html.contains("<div class=\"summary\"><a href=\"#failure-"));
    // Every UART line the text report shows (-> driver, <- module), e.g. the module's CLOSED.
    let uart: Vec<String> = section
        .iter()
        .filter_map(|l| {
            // Each line carries its time: `    [  0.235 s] <- CONNACK OK`.
            let l = l.trim_start();
            let l = l
                .strip_prefix('[')
                .and_then(|r| r.split_once("] "))
                .map_or(l, |(_, rest)| rest);
            l.strip_prefix("-> ")
                .or_else(|| l.strip_prefix("<- "))
                .map(unescape_default)
        })
        .collect();
    assert!(uart.iter().any(|l| l == "CLOSED"), "{section:?}");
    assert!(uart.len() >= 5, "{section:?}");
    for line in &uart {
        assert!(
            html.contains(&format!("<code>{}</code>", escaped(line))),
            "the report lacks the UART line {line:?}"
        );
    }
    // The driver's own output, at its time: why it stopped.
    assert!(
        items(&html, "ev wide").iter().any(|i| i
            .contains("// driver: echo-driver: the link is gone and this driver never reconnects")),
        "{html}"
    );
    // Self-contained: nothing loaded from elsewhere.
    for external in ["src=", "href=\"http", "url(", "@import"] {
        assert!(!html.contains(external), "{external}");
    }

    // A real browser opens it: the page's script ran to its end (it marks the DOM) and no
    // script error was caught (the page records window errors on <html>).
    let profile = tempfile::tempdir().unwrap();
    let dom = browse(
        &page,
        profile.path(),
        &["--virtual-time-budget=2000", "--dump-dom"],
    )
    .await;
    assert!(dom.contains("data-report-ready=\"1\""), "{dom}");
    assert!(dom.contains("id=\"report-ready\""), "{dom}");
    assert!(!dom.contains("data-script-error="), "{dom}");
    // The script showed the failure's page and counted pages.
    assert!(dom.contains("page 1 of 1"), "{dom}");

    // Opened at the failure (as the header's link does), the failure's item is expanded and
    // the script has drawn its bytes as a hex dump.
    let at = html.find("id=\"failure-").unwrap() + 4;
    let id = &html[at..at + html[at..].find('"').unwrap()];
    let profile = tempfile::tempdir().unwrap();
    let url_page = PathBuf::from(format!("{}#{id}", page.display()));
    let dom = browse(
        &url_page,
        profile.path(),
        &["--virtual-time-budget=2000", "--dump-dom"],
    )
    .await;
    assert!(!dom.contains("data-script-error="), "{dom}");
    assert!(
        dom.contains("<pre class=\"dump\">0000  6e 6f 20 65 63 68 6f 20  6f 6e 20 63"),
        "the failure's detail (\"no echo on c...\") as a hex dump: {dom}"
    );

    // And takes a screenshot of it.
    let shot = dir.path().join("report.png");
    browse(
        &page,
        profile.path(),
        &[
            "--window-size=1100,760",
            &format!("--screenshot={}", shot.display()),
        ],
    )
    .await;
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(png.len() > 10_000, "a blank page is smaller: {}", png.len());
}

#[tokio::test]
async fn report_renders_a_jsonl_transcript_and_refuses_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let t = modem_harness::transcript::Transcript::new();
    t.record_raw(
        modem_harness::transcript::Kind::UartTx {
            text: "AT+CGATT?".into(),
        },
        b"AT+CGATT?\r\n",
    );
    t.record(modem_harness::transcript::Kind::UartRx {
        text: "+CGATT: <1>".into(),
    });
    t.mqtt("tool", "publish \"t\" \"x\"");
    let jsonl = dir.path().join("run.jsonl");
    std::fs::write(&jsonl, t.to_jsonl()).unwrap();
    let (code, out) = harness(&["report", jsonl.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}");
    let html = std::fs::read_to_string(dir.path().join("run.html")).unwrap();
    assert!(html.contains("<code>AT+CGATT?</code>"));
    assert!(html.contains("<code>+CGATT: &lt;1&gt;</code>"));
    assert!(html.contains(&escaped("publish \"t\" \"x\"")));
    // The command's wire bytes, CR LF included.
    assert!(
        html.contains("data-hex=\"41542b43474154543f0d0a\" data-wire=\"1\""),
        "{html}"
    );

    let out_file = dir.path().join("x.html");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"t_us\":1,\"kind\":\"note\",\"text\":\"a\"}\nAT\n").unwrap();
    let (code, out) = harness(&[
        "report",
        bad.to_str().unwrap(),
        "-o",
        out_file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("line 2"), "{out}");
    assert!(!out_file.exists());
    let (code, out) = harness(&["report", "/nonexistent.jsonl"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read /nonexistent.jsonl"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diverged_replay_gets_a_page_naming_the_line_and_junit_names_it() {
    // The module also prints +CGATT: 1 before OK: a divergence at line 2.
    let r = ReplayDir::new("extra.log", "AT+CGATT?\nOK\n");
    let (log, junit, tr) = (&r.log, &r.junit, &r.tr);
    let html = r.dir.path().join("html");
    let (code, out) = r.replay(&["--html", html.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{out}");
    let page = html.join("extra.html");
    assert!(
        out.contains(&format!("report: {}\n", page.display())),
        "{out}"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.contains(&format!(
            "<failure message=\"diverged (report: {})\">",
            page.display()
        )),
        "{xml}"
    );
    let text = std::fs::read_to_string(&page).unwrap();
    let failure = items(&text, "ev wide failure").concat();
    assert!(
        failure.contains(&format!("<b>{}:2</b>", escaped(log.to_str().unwrap()))),
        "the log's line: {failure}"
    );
    assert!(failure.contains("<span class=\"exp\">expected</span> <code>OK</code>"));
    assert!(failure.contains("<span class=\"act\">actual</span> <code>+CGATT: 1</code>"));
    assert_eq!(items(&text, "ev module actual"), ["<code>+CGATT: 1</code>"]);
    // The transcript on disk holds the failure too, so `report` can render it later.
    let jsonl = std::fs::read_to_string(tr.join("extra.jsonl")).unwrap();
    assert!(
        jsonl.contains("\"kind\":\"failure\"") && jsonl.contains("\"expected\":\"OK\""),
        "{jsonl}"
    );
}
