//! Every injected fault is recorded, time-stamped, in the scenario's transcript beside the AT
//! traffic: `modem-harness features --transcripts` on the fault scenarios.

mod common;

use common::harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_sit_in_the_transcript_between_the_at_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().join("tr");
    let (code, out) = harness(&[
        "features",
        "--transcripts",
        tr.to_str().unwrap(),
        "features/faults.feature",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    let jsonl = std::fs::read_dir(&tr)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .find(|t| t.contains(r#""fault":"closed""#) && t.contains(r#""text":"CONNACK OK""#))
        .unwrap_or_else(|| panic!("no transcript records the closed fault: {out}"));
    let events: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pos = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        events
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("{jsonl}"))
    };
    let fault = pos(&|e| e["kind"] == "fault" && e["fault"] == "closed");
    let connack = pos(&|e| e["kind"] == "uart_rx" && e["text"] == "CONNACK OK");
    let closed = pos(&|e| e["kind"] == "uart_rx" && e["text"] == "CLOSED");
    assert!(connack < fault && fault < closed, "{jsonl}");
    let t = |i: usize| events[i]["t_us"].as_u64().unwrap();
    assert!(t(connack) <= t(fault) && t(fault) <= t(closed), "{jsonl}");
    // The vendor-log rendering shows it as a comment in place.
    let shown = std::fs::read_dir(&tr)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .any(|t| t.contains("+CME ERROR: 767\n// fault: closed\nCLOSED\n"));
    assert!(shown, "no vendor log shows the fault in place");
}
