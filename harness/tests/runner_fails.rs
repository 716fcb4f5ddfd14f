//! The scenario runner must be able to fail: a wrong expectation and an undefined step each
//! make a failed scenario, and the summary is not ok. With `html`, the failed scenario's page
//! highlights the step with its expected and actual lines, and JUnit names the page.

mod common;

use common::ReplayDir;
use modem_harness::runner::{run, RunOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_answers_and_undefined_steps_fail_the_run() {
    let bad = ReplayDir::new(
        "bad.feature",
        "Feature: a run that must fail\n\n  Scenario: the module does not say this\n    Given a simulated Air780E\n    When the host runs:\n      \"\"\"\n      ATI\n      AirM2M_780E_V9999_LTE_AT\n      OK\n      \"\"\"\n\n  Scenario: a step nobody defined\n    Given a simulated Air780E\n    When the modem is struck by lightning\n\n  Scenario: this one is fine\n    Given a simulated Air780E\n    When the host sends \"AT\"\n    Then the modem answers \"OK\"\n",
    );
    let (feature, junit) = (bad.log.clone(), bad.junit.clone());
    let html = bad.dir.path().join("html");
    let summary = run(RunOptions {
        junit: Some(junit.clone()),
        html: Some(html.clone()),
        ..RunOptions::new(feature.clone())
    })
    .await
    .unwrap();
    assert_eq!((summary.passed, summary.failed), (1, 2), "{summary:?}");
    assert!(!summary.ok());
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.contains("failures=\"2\"")
            || xml.matches("<failure").count() + xml.matches("<skipped").count() >= 2,
        "{xml}"
    );

    // A page per scenario; the failed ones are named in the summary and in the JUnit XML.
    assert_eq!(std::fs::read_dir(&html).unwrap().count(), 3);
    let wrong = summary
        .failures
        .iter()
        .find(|f| f.scenario == "the module does not say this")
        .expect("the wrong answer is a failure");
    let page = wrong.html.clone().expect("its page");
    assert_eq!(page, html.join("bad-3.html"));
    assert!(
        xml.contains(&format!("(report: {})", page.display())),
        "{xml}"
    );
    let text = std::fs::read_to_string(&page).unwrap();
    let row = text
        .find("<details class=\"ev wide failure\"")
        .expect("a failure row");
    let failure = &text[row..];
    assert!(
        failure.contains("When the host runs:"),
        "the step: {failure}"
    );
    assert!(failure
        .contains("<span class=\"exp\">expected</span> <code>AirM2M_780E_V9999_LTE_AT</code>"));
    assert!(
        failure.contains("<span class=\"act\">actual</span> <code>AirM2M_780E_V1169_LTE_AT</code>")
    );
    // The module's line that came instead is outlined, and the command is there.
    let actual = text
        .find("<details class=\"ev module actual\"")
        .expect("the actual line is marked");
    assert!(text[actual..].contains("<summary><code>AirM2M_780E_V1169_LTE_AT</code></summary>"));
    assert!(text.contains("<code>ATI</code>"));

    // None of these opens a prompt: the prompt-only run (the other line ends') leaves them out.
    let prompts = run(RunOptions {
        only_prompts: true,
        ..RunOptions::new(feature)
    })
    .await
    .unwrap();
    assert_eq!((prompts.passed, prompts.failed), (0, 0), "{prompts:?}");
}
