//! `--exec`: answer an assignment callback with what a shell command prints.
//!
//! The callback goes to `sh -c CMD` on stdin as one JSON object
//! ([`Callback::to_exec_json`](super::callback::Callback::to_exec_json)); a JSON object on
//! stdout becomes the reply. Anything else (not JSON, not an object, a non-zero exit, no
//! answer within the time limit) answers `{}` and reports why, so TaskRouter always gets a
//! well-formed reply in time. The child is killed on timeout; processes it started in
//! the background are not tracked (UNCONFIRMED need; `sh -c` usually execs the last
//! command, which is then the child itself).

use std::process::Stdio;

use axum::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::reply::{ExecConfig, EMPTY_OBJECT};

/// Most stdout bytes read from the command; a reply is far smaller.
const MAX_STDOUT: u64 = 1024 * 1024;
/// Most stderr bytes kept for the log.
const MAX_STDERR: u64 = 4 * 1024;

/// The reply body and, when the command's output could not be used, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// The JSON object to answer with (`{}` on any failure).
    pub body: Bytes,
    /// What went wrong, for the log.
    pub error: Option<String>,
}

impl ExecOutcome {
    fn failed(error: String) -> ExecOutcome {
        ExecOutcome {
            body: Bytes::from_static(EMPTY_OBJECT),
            error: Some(error),
        }
    }
}

/// Run the command with `input` on stdin and turn its stdout into a reply.
pub async fn run(config: &ExecConfig, input: Vec<u8>) -> ExecOutcome {
    let spawned = Command::new("sh")
        .arg("-c")
        .arg(&config.command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => return ExecOutcome::failed(format!("cannot start `sh -c`: {err}")),
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A command that ignores its input closes the pipe early: not an error.
            let _ = stdin.write_all(&input).await;
        }
    };
    let read = |pipe: Option<tokio::process::ChildStdout>| async move {
        let mut buffer = Vec::new();
        if let Some(pipe) = pipe {
            let _ = pipe.take(MAX_STDOUT).read_to_end(&mut buffer).await;
        }
        buffer
    };
    let read_err = async move {
        let mut buffer = Vec::new();
        if let Some(pipe) = stderr {
            let _ = pipe.take(MAX_STDERR).read_to_end(&mut buffer).await;
        }
        buffer
    };
    let work = async {
        let ((), out, err, status) = tokio::join!(write, read(stdout), read_err, child.wait());
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(config.timeout, work).await {
        Ok(done) => done,
        Err(_) => {
            let _ = child.kill().await;
            return ExecOutcome::failed(format!(
                "command did not answer within {} ms and was killed",
                config.timeout.as_millis()
            ));
        }
    };
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => {
            let stderr = String::from_utf8_lossy(&err);
            let first = stderr.lines().next().unwrap_or("").trim();
            return ExecOutcome::failed(format!(
                "command failed ({status}){}{first}",
                if first.is_empty() { "" } else { ": " }
            ));
        }
        Err(err) => return ExecOutcome::failed(format!("cannot wait for the command: {err}")),
    }
    let trimmed = out.trim_ascii();
    match serde_json::from_slice::<serde_json::Value>(trimmed) {
        Ok(serde_json::Value::Object(_)) => ExecOutcome {
            body: Bytes::copy_from_slice(trimmed),
            error: None,
        },
        _ => {
            let shown: String = String::from_utf8_lossy(trimmed).chars().take(80).collect();
            ExecOutcome::failed(format!(
                "command printed {shown:?}, not a JSON object (answered {{}})"
            ))
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(command: &str, millis: u64) -> ExecConfig {
        ExecConfig {
            command: command.into(),
            timeout: Duration::from_millis(millis),
        }
    }

    #[tokio::test]
    async fn object_on_stdout_is_the_reply() {
        let outcome = run(
            &config(r#"cat >/dev/null; echo '{"instruction":"accept"}'"#, 4000),
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(&outcome.body[..], br#"{"instruction":"accept"}"#);
        assert_eq!(outcome.error, None);
    }

    #[tokio::test]
    async fn stdin_carries_the_callback() {
        let outcome = run(&config("cat", 4000), br#"{"kind":"assignment"}"#.to_vec()).await;
        assert_eq!(&outcome.body[..], br#"{"kind":"assignment"}"#);
    }

    #[tokio::test]
    async fn bad_output_and_failures_answer_empty_object() {
        for (command, needle) in [
            ("echo accept", "not a JSON object"),
            ("echo '[1]'", "not a JSON object"),
            ("echo oops >&2; exit 3", "oops"),
        ] {
            let outcome = run(&config(command, 4000), Vec::new()).await;
            assert_eq!(&outcome.body[..], b"{}", "{command}");
            let error = outcome.error.unwrap_or_default();
            assert!(error.contains(needle), "{command}: {error}");
        }
    }

    #[tokio::test]
    async fn slow_commands_are_killed() {
        let started = std::time::Instant::now();
        let outcome = run(&config("sleep 5", 200), Vec::new()).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(&outcome.body[..], b"{}");
        assert!(outcome.error.unwrap_or_default().contains("killed"));
    }
}
