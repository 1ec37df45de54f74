//! Every `examples/*.sh` script runs unmodified against `trctl emulator` (through
//! `examples/run-all.sh`, which starts and stops the emulator itself).

#[test]
fn the_example_scripts_run_against_the_emulator() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = std::process::Command::new("bash")
        .arg(format!("{root}/examples/run-all.sh"))
        .env("TRCTL", env!("CARGO_BIN_EXE_trctl"))
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .env_remove("TRCTL_BASE_URL")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "examples failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for stage in [
        "== 01-setup.sh",
        "== 02-accept-via-rest.sh",
        "== 03-accept-via-callback.sh",
        "== 04-reject-and-reroute.sh",
        "== all examples passed",
    ] {
        assert!(stdout.contains(stage), "{stage} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("assigned by the callback's instruction"),
        "{stdout}"
    );
    assert!(stdout.contains("now offered to Bob"), "{stdout}");
}
