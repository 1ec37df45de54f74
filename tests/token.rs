//! `trctl token worker` against an in-process emulator, and the emulator's API keys:
//! the development pair for Basic auth, and what its banner prints.

use std::time::{SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use serde_json::Value;
use trctl::api::resources::*;
use trctl::api::token::{ApiKey, Verifier};
use trctl::api::{Client, Credentials, Secret};
use trctl::emulator::{DEV_ACCOUNT_SID, DEV_API_KEY_SECRET, DEV_API_KEY_SID};

use crate::common::{EmulatorThread, ServerProcess};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A workspace with a worker named Alice; their SIDs.
async fn alice(client: &Client) -> (String, String) {
    let workspace = client
        .create_workspace(&CreateWorkspaceParams {
            friendly_name: "Token Workspace".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .sid
        .unwrap();
    let worker = client
        .create_worker(
            &workspace,
            &CreateWorkerParams {
                friendly_name: "Alice".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid
        .unwrap();
    (workspace, worker)
}

/// `trctl` with an empty environment, the emulator's URL and the development API key
/// (no account SID or token: the key authenticates the REST calls too).
fn trctl(dir: &tempfile::TempDir, url: &str) -> Command {
    let mut command = Command::cargo_bin("trctl").unwrap();
    command
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .env("TRCTL_BASE_URL", url)
        .env("TWILIO_API_KEY", DEV_API_KEY_SID)
        .env("TWILIO_API_SECRET", DEV_API_KEY_SECRET);
    command
}

fn dev_verifier() -> Verifier {
    Verifier::new(
        DEV_ACCOUNT_SID,
        vec![ApiKey {
            sid: DEV_API_KEY_SID.into(),
            secret: Secret::new(DEV_API_KEY_SECRET),
        }],
    )
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn token_worker_mints_a_verifiable_token_by_name_and_by_sid() {
    let emulator = EmulatorThread::start();
    let (workspace, worker) = alice(&emulator.client()).await;
    let dir = tempfile::tempdir().unwrap();

    // By friendly names, default TTL, identity and role.
    let before = now();
    let output = trctl(&dir, &emulator.url)
        .args(["token", "worker", "Alice", "--workspace", "Token Workspace"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!text.contains(DEV_API_KEY_SECRET));
    let claims = dev_verifier().verify(text.trim(), now()).unwrap();
    assert_eq!(claims.issuer, DEV_API_KEY_SID);
    assert_eq!(claims.account_sid, DEV_ACCOUNT_SID);
    assert_eq!(claims.workspace_sid, workspace);
    assert_eq!(claims.worker_sid, worker);
    assert_eq!(claims.role.as_deref(), Some("worker"));
    assert_eq!(claims.identity.as_deref(), Some("Alice"));
    let issued = claims.issued_at.unwrap();
    assert!(issued >= before && issued <= now(), "iat {issued}");
    assert_eq!(claims.not_before, Some(issued));
    assert_eq!(claims.expires_at, issued + 3600);
    assert_eq!(claims.jti, format!("{DEV_API_KEY_SID}-{issued}"));

    // By SIDs, with every flag; the workspace from the environment.
    let output = trctl(&dir, &emulator.url)
        .env("TWILIO_WORKSPACE_SID", &workspace)
        .args([
            "token",
            "worker",
            &worker,
            "--ttl",
            "90s",
            "--identity",
            "alice@example.com",
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let claims = dev_verifier()
        .verify(stdout(&output).trim(), now())
        .unwrap();
    assert_eq!(claims.worker_sid, worker);
    assert_eq!(claims.identity.as_deref(), Some("alice@example.com"));
    assert_eq!(claims.role.as_deref(), Some("admin"));
    assert_eq!(claims.expires_at - claims.issued_at.unwrap(), 90);
    // It is no longer valid 90 s on.
    assert!(dev_verifier()
        .verify(stdout(&output).trim(), claims.expires_at)
        .is_err());

    // -o json: the token and what it grants.
    let output = trctl(&dir, &emulator.url)
        .args([
            "token",
            "worker",
            "Alice",
            "--workspace",
            &workspace,
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["worker_sid"], worker.as_str());
    assert_eq!(value["identity"], "Alice");
    let token = value["token"].as_str().unwrap();
    assert!(dev_verifier().verify(token, now()).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn token_worker_refuses_what_it_cannot_sign() {
    let emulator = EmulatorThread::start();
    let (workspace, _) = alice(&emulator.client()).await;
    let dir = tempfile::tempdir().unwrap();

    // No API key: a usage error before any request, naming the flags and variables.
    let output = trctl(&dir, &emulator.url)
        .env_remove("TWILIO_API_KEY")
        .env_remove("TWILIO_API_SECRET")
        .env("TWILIO_ACCOUNT_SID", DEV_ACCOUNT_SID)
        .env("TWILIO_AUTH_TOKEN", trctl::emulator::DEV_AUTH_TOKEN)
        .args(["token", "worker", "Alice", "--workspace", &workspace])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let message = stderr(&output);
    for needle in [
        "--api-key",
        "--api-secret",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
    ] {
        assert!(message.contains(needle), "{message}");
    }
    // A key without its secret.
    let output = trctl(&dir, &emulator.url)
        .env_remove("TWILIO_API_SECRET")
        .args(["token", "worker", "Alice", "--workspace", &workspace])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no API secret"),
        "{}",
        stderr(&output)
    );

    // Lifetimes outside 1 s to 24 h.
    for ttl in ["25h", "0s", "later"] {
        let output = trctl(&dir, &emulator.url)
            .args([
                "token",
                "worker",
                "Alice",
                "--workspace",
                &workspace,
                "--ttl",
                ttl,
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{ttl}");
        assert!(stderr(&output).contains("--ttl"), "{}", stderr(&output));
    }

    // A worker that does not exist, by name and by SID.
    let output = trctl(&dir, &emulator.url)
        .args(["token", "worker", "Bob", "--workspace", &workspace])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let output = trctl(&dir, &emulator.url)
        .args([
            "token",
            "worker",
            "WK00000000000000000000000000000000",
            "--workspace",
            &workspace,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(output.stdout.is_empty());

    // No workspace.
    let output = trctl(&dir, &emulator.url)
        .args(["token", "worker", "Alice"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));

    // A secret the emulator does not know: the REST call is refused (exit 4, auth), and
    // the secret appears nowhere.
    let output = trctl(&dir, &emulator.url)
        .env("TWILIO_API_SECRET", "wrong-secret-value")
        .args(["token", "worker", "Alice", "--workspace", &workspace])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(!stderr(&output).contains("wrong-secret-value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_development_api_key_authenticates() {
    let emulator = EmulatorThread::start();
    let key_client = |secret: &str| {
        Client::builder(Credentials {
            username: DEV_API_KEY_SID.into(),
            password: Secret::new(secret),
        })
        .base_url(&emulator.url)
        .build()
        .unwrap()
    };
    let (workspace, _) = alice(&key_client(DEV_API_KEY_SECRET)).await;
    assert!(key_client(DEV_API_KEY_SECRET)
        .fetch_workspace(&workspace)
        .await
        .is_ok());
    let refused = key_client("not-the-secret")
        .fetch_workspace(&workspace)
        .await
        .unwrap_err();
    assert_eq!(refused.api().map(|e| e.status), Some(401));
}

#[test]
fn the_banner_prints_the_development_key_and_never_your_secret() {
    // Development credentials: the pair is printed, and accepted.
    let server = ServerProcess::start(&["emulator"]);
    assert!(
        server
            .banner
            .contains(&format!("TWILIO_API_KEY={DEV_API_KEY_SID}\n")),
        "{}",
        server.banner
    );
    assert!(
        server
            .banner
            .contains(&format!("TWILIO_API_SECRET={DEV_API_KEY_SECRET}\n")),
        "{}",
        server.banner
    );
    let status = |server: &ServerProcess, user: &str, password: &str| {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        crate::common::raw_status(
            server.addr,
            &format!(
                "GET /v1/Workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
            ),
            std::time::Duration::from_secs(5),
        )
    };
    assert_eq!(
        status(&server, DEV_API_KEY_SID, DEV_API_KEY_SECRET),
        Some(200)
    );
    drop(server);

    // Your API key from the environment: its SID is printed, its secret never; the
    // development pair is not accepted beside it.
    let key = "SK0123456789abcdef0123456789abcdef";
    let server = ServerProcess::start_with(|command| {
        command
            .env("TWILIO_API_KEY", key)
            .env("TWILIO_API_SECRET", "my-own-api-secret")
            .arg("emulator");
    });
    assert!(
        server.banner.contains(&format!("TWILIO_API_KEY={key}\n")),
        "{}",
        server.banner
    );
    assert!(
        !server.banner.contains("my-own-api-secret"),
        "{}",
        server.banner
    );
    assert!(
        !server.banner.contains(DEV_API_KEY_SECRET),
        "{}",
        server.banner
    );
    assert_eq!(status(&server, key, "my-own-api-secret"), Some(200));
    assert_eq!(
        status(&server, DEV_API_KEY_SID, DEV_API_KEY_SECRET),
        Some(401)
    );
    drop(server);

    // Your own auth token and no API key: no development pair either.
    let server = ServerProcess::start_with(|command| {
        command
            .env("TWILIO_AUTH_TOKEN", "my-own-auth-token")
            .arg("emulator");
    });
    assert!(
        !server.banner.contains(DEV_API_KEY_SECRET),
        "{}",
        server.banner
    );
    assert!(server.banner.contains("--api-key"), "{}", server.banner);
    assert_eq!(
        status(&server, DEV_API_KEY_SID, DEV_API_KEY_SECRET),
        Some(401)
    );
}
