//! The client against Twilio's OpenAPI description (read from ../shared when present):
//! every operation has a client method, and the generated code is not stale.

use std::path::{Path, PathBuf};

fn spec_path() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/taskrouter/twilio_taskrouter_v1.json");
    path.exists().then_some(path)
}

#[test]
fn every_operation_of_the_spec_has_a_client_method() {
    let Some(path) = spec_path() else {
        eprintln!("skipped: ../shared/taskrouter/twilio_taskrouter_v1.json is not present");
        return;
    };
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut in_spec = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "delete", "put", "patch"] {
            if let Some(op) = item.get(method) {
                in_spec.push((
                    op["operationId"].as_str().unwrap().to_string(),
                    method.to_uppercase(),
                    path.clone(),
                ));
            }
        }
    }
    let mut missing = Vec::new();
    for (id, method, path) in &in_spec {
        let found = trctl::api::OPERATIONS
            .iter()
            .any(|op| op.id == id && op.method == method && op.path == path);
        if !found {
            missing.push(format!("{method} {path} ({id})"));
        }
    }
    assert!(
        missing.is_empty(),
        "operations without a client method:\n{}",
        missing.join("\n")
    );
    assert_eq!(
        trctl::api::OPERATIONS.len(),
        in_spec.len(),
        "the client lists operations the spec does not have"
    );
    let paths: std::collections::BTreeSet<&str> =
        in_spec.iter().map(|(_, _, p)| p.as_str()).collect();
    assert_eq!(paths.len(), 37);
}

#[test]
fn generated_code_matches_the_spec() {
    let Some(spec) = spec_path() else {
        eprintln!("skipped: ../shared/taskrouter/twilio_taskrouter_v1.json is not present");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .arg(root.join("scripts/gen_api.py"))
        .arg(&spec)
        .env("TRCTL_GEN_OUT", out.path())
        .status();
    let Ok(status) = status else {
        eprintln!("skipped: python3 is not available");
        return;
    };
    assert!(status.success(), "scripts/gen_api.py failed");
    let mut stale = Vec::new();
    for dir in ["src/api/generated/resources", "tests/fixtures/responses"] {
        for entry in std::fs::read_dir(out.path().join(dir)).unwrap() {
            let name = entry.unwrap().file_name();
            let relative = Path::new(dir).join(&name);
            compare(root, out.path(), &relative, &mut stale);
        }
    }
    for file in [
        "src/api/generated/operations.rs",
        "src/cli/generated/params.rs",
        "tests/generated/operations.rs",
    ] {
        compare(root, out.path(), Path::new(file), &mut stale);
    }
    assert!(stale.is_empty(), "generated files differ from the generator's output (run python3 scripts/gen_api.py): {stale:?}");
}

fn compare(root: &Path, generated: &Path, relative: &Path, stale: &mut Vec<String>) {
    let fresh = std::fs::read_to_string(generated.join(relative)).unwrap();
    let committed = std::fs::read_to_string(root.join(relative)).unwrap_or_default();
    if fresh != committed {
        stale.push(relative.display().to_string());
    }
}
