//! The scenario runner must be able to fail: a wrong expectation and an undefined step each
//! make a failed scenario, and the summary is not ok.

use modem_harness::runner::{run, RunOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_answers_and_undefined_steps_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let feature = dir.path().join("bad.feature");
    std::fs::write(
        &feature,
        "Feature: a run that must fail\n\n  Scenario: the module does not say this\n    Given a simulated Air780E\n    When the host runs:\n      \"\"\"\n      ATI\n      AirM2M_780E_V9999_LTE_AT\n      OK\n      \"\"\"\n\n  Scenario: a step nobody defined\n    Given a simulated Air780E\n    When the modem is struck by lightning\n\n  Scenario: this one is fine\n    Given a simulated Air780E\n    When the host sends \"AT\"\n    Then the modem answers \"OK\"\n",
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let summary = run(RunOptions {
        features: feature,
        junit: Some(junit.clone()),
        concurrency: 2,
        hardware: None,
        transcripts: None,
        model: Default::default(),
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
}
