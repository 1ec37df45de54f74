//! `trctl quickstart` as a separate process: the `--output json` transcript (every
//! stage of the walkthrough, in order, with its task, reservation and worker SIDs, both
//! tasks completed) and the text lines (each shows every SID of its stage).

use serde_json::Value;

/// Run `trctl ARGS` as a separate process with an empty environment in an empty folder
/// (so no credentials or `.env` turn it to a live account).
fn quickstart(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::cargo_bin("trctl")
        .unwrap()
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_quickstart_transcript_lists_every_stage_in_order() {
    let output = quickstart(&["quickstart", "--output", "json"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let transcript: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(transcript["ok"], true);
    assert_eq!(transcript["target"], "emulator");
    let stages = transcript["stages"].as_array().unwrap();
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "setup",
            "callback-url-set",
            "alice-offline",
            "task-1-created",
            "alice-available",
            "reservation-1-pending",
            "callback-1-received",
            "reservation-1-accepted",
            "task-1-assigned",
            "alice-offline-again",
            "callback-answers-accept",
            "task-2-created",
            "alice-available-again",
            "callback-2-accepted",
            "task-2-assigned",
            "task-1-completed",
            "task-2-completed",
            "done",
        ]
    );
    let stage = |name: &str| stages.iter().find(|s| s["stage"] == name).unwrap();
    let first = stage("task-1-created")["task_sid"].as_str().unwrap();
    let second = stage("task-2-created")["task_sid"].as_str().unwrap();
    assert!(first.starts_with("WT") && second.starts_with("WT") && first != second);
    assert_eq!(stage("task-1-created")["status"], "pending");
    let reservation = stage("reservation-1-pending")["reservation_sid"]
        .as_str()
        .unwrap();
    assert!(reservation.starts_with("WR"));
    assert_eq!(stage("callback-1-received")["reservation_sid"], reservation);
    assert!(stage("reservation-1-pending")["worker_sid"]
        .as_str()
        .unwrap()
        .starts_with("WK"));
    assert_eq!(stage("task-1-assigned")["status"], "assigned");
    assert!(stage("callback-2-accepted")["reservation_sid"]
        .as_str()
        .unwrap()
        .starts_with("WR"));
    assert_eq!(stage("task-2-assigned")["task_sid"], second);
    assert_eq!(
        (
            stage("task-1-completed")["task_sid"].as_str(),
            stage("task-1-completed")["status"].as_str()
        ),
        (Some(first), Some("completed"))
    );
    assert_eq!(
        (
            stage("task-2-completed")["task_sid"].as_str(),
            stage("task-2-completed")["status"].as_str()
        ),
        (Some(second), Some("completed"))
    );
    let times: Vec<u64> = stages
        .iter()
        .map(|s| s["elapsed_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
}

/// The SIDs of one kind (`WR`, `WT`, `WK`) that a line shows.
fn sids_in<'a>(line: &'a str, prefix: &str) -> Vec<&'a str> {
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() == 34 && word.starts_with(prefix))
        .collect()
}

#[test]
fn text_stage_lines_show_every_sid_of_their_stage() {
    let output = quickstart(&["quickstart"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |name: &str| {
        stdout
            .lines()
            .find(|line| {
                line.split_once("] ")
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    == Some(name)
            })
            .unwrap_or_else(|| panic!("no {name} line in:\n{stdout}"))
    };
    for name in [
        "reservation-1-pending",
        "callback-1-received",
        "reservation-1-accepted",
        "task-1-assigned",
        "callback-2-accepted",
        "task-2-assigned",
    ] {
        let text = line(name);
        assert_eq!(sids_in(text, "WR").len(), 1, "{text}");
        assert_eq!(sids_in(text, "WT").len(), 1, "{text}");
        assert_eq!(sids_in(text, "WK").len(), 1, "{text}");
    }
    // The first reservation is the same on each of its lines.
    assert_eq!(
        sids_in(line("reservation-1-pending"), "WR"),
        sids_in(line("reservation-1-accepted"), "WR")
    );
    for name in ["alice-offline", "alice-available"] {
        assert_eq!(sids_in(line(name), "WK").len(), 1, "{}", line(name));
    }
    for name in ["task-1-created", "task-2-completed"] {
        assert_eq!(sids_in(line(name), "WT").len(), 1, "{}", line(name));
    }
}

#[test]
fn credentials_without_a_target_need_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let output = assert_cmd::Command::cargo_bin("trctl")
        .unwrap()
        .env_clear()
        .current_dir(dir.path())
        .env("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
        .env("TWILIO_AUTH_TOKEN", "not-a-real-token")
        .args(["quickstart", "--public-url", "https://example.test"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--yes") && stderr.contains("--target emulator"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-a-real-token"));
}

#[test]
fn the_live_target_needs_a_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let output = assert_cmd::Command::cargo_bin("trctl")
        .unwrap()
        .env_clear()
        .current_dir(dir.path())
        .args(["quickstart", "--target", "live"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--public-url"));
}
