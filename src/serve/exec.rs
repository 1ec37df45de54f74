//! `--exec`: answer an assignment callback with what a shell command prints.
//!
//! The callback goes to `sh -c CMD` on stdin as one JSON object
//! ([`Callback::to_exec_json`](super::callback::Callback::to_exec_json)); what the
//! command has printed on stdout when `sh` exits is the reply.
//!
//! - **Its own process group.** On unix `sh` leads a new process group, and the whole
//!   group is killed (`SIGKILL`): at the time limit, once `sh` has exited (background
//!   leftovers included), and whenever [`run`]'s future is dropped (a caller that
//!   hangs up, the runtime shutting down). A `ProcessGroup` guard does the killing on
//!   every way out, so no path can forget it. Processes that leave the group (`setsid`,
//!   a daemon) are not tracked.
//! - **The reply is taken at exit.** stdout is not read to its end: once `sh` has exited
//!   it is read for at most [`EXIT_GRACE`] more, then the group is killed, which closes
//!   the pipe. A background child that inherited stdout cannot hold the reply back.
//! - **The reply is checked** with [`super::reply::judge`], the judge `trctl trigger` uses: a
//!   known instruction with its required keys (or `{}`) is passed on; anything else
//!   (not JSON, not an object, an unknown or incomplete instruction, nothing printed, a
//!   non-zero exit, no exit within the time limit) answers `{}` and says why in
//!   [`ExecOutcome::error`], so TaskRouter always gets a well-formed reply in time.
//!
//! How many commands run at once is bounded by the listener, not here (see
//! [`ExecConfig::max_running`]). Non-unix systems keep a plain child: it is killed at the
//! time limit, processes it started are not.

use std::process::Stdio;
use std::time::Duration;

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::callback::CallbackKind;
use super::reply::{judge as judge_reply, ExecConfig, EMPTY_OBJECT};

/// Most stdout bytes kept; a reply is far smaller. More answers `{}`.
const MAX_STDOUT: usize = 1024 * 1024;
/// Most stderr bytes kept for the log (the rest is read and dropped, so a chatty command
/// does not block on a full pipe).
const MAX_STDERR: usize = 4 * 1024;

/// How long stdout is still read after `sh` has exited. Output the command wrote before
/// exiting is already in the pipe and is read in microseconds; this only bounds the wait
/// for an end of file that a background child holding the pipe would never send.
pub const EXIT_GRACE: Duration = Duration::from_millis(50);

/// The reply body and, when the command's output could not be used, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// The JSON object to answer with (`{}` on any failure).
    pub body: Bytes,
    /// What went wrong, for the log.
    pub error: Option<String>,
}

impl ExecOutcome {
    /// Answer `{}` and log `error`.
    pub fn failed(error: String) -> ExecOutcome {
        ExecOutcome {
            body: Bytes::from_static(EMPTY_OBJECT),
            error: Some(error),
        }
    }
}

/// The process group of one command: its `sh` is the leader, so the group id is the
/// shell's pid. Killing is done once (the id is forgotten after it), and dropping the
/// guard kills, so every way out of [`run`] ends the group.
///
/// The group is killed right after `sh` is reaped at the latest: while any member lives
/// the kernel keeps the id reserved, and with none left the kill finds no one (a reuse
/// of the id in between would need the kernel's cyclic pid allocator to wrap around
/// within [`EXIT_GRACE`]).
struct ProcessGroup {
    /// `None` once killed, or when no group was made (non-unix, no pid).
    #[cfg(unix)]
    id: Option<libc::pid_t>,
}

impl ProcessGroup {
    /// The group `child` leads (it was spawned with `process_group(0)`).
    fn led_by(child: &tokio::process::Child) -> ProcessGroup {
        #[cfg(unix)]
        {
            // 0 and 1 would name our own group and init's: never signal those.
            let id = child
                .id()
                .and_then(|pid| libc::pid_t::try_from(pid).ok())
                .filter(|pid| *pid > 1);
            ProcessGroup { id }
        }
        #[cfg(not(unix))]
        {
            let _ = child;
            ProcessGroup {}
        }
    }

    /// `SIGKILL` every process still in the group.
    fn kill(&mut self) {
        #[cfg(unix)]
        if let Some(id) = self.id.take() {
            // SAFETY: killpg only sends a signal and touches no memory of ours; `id` is a
            // group this module created (above 1, see `led_by`). An error (ESRCH: the
            // group is already empty) needs no handling.
            unsafe {
                libc::killpg(id, libc::SIGKILL);
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Bytes read from one pipe, up to a cap.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    /// More than the cap arrived (and was dropped).
    cut: bool,
}

/// Read `pipe` to its end into `into`, keeping at most `cap` bytes. Each chunk is kept
/// as soon as it is read, so cancelling this leaves what arrived so far in `into`.
async fn drain(pipe: Option<impl AsyncRead + Unpin>, into: &mut Captured, cap: usize) {
    let Some(mut pipe) = pipe else { return };
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                let room = cap.saturating_sub(into.bytes.len());
                let kept = read.min(room);
                into.bytes.extend_from_slice(&chunk[..kept]);
                into.cut |= kept < read;
            }
        }
    }
}

/// Run the command with `input` on stdin and turn what it printed by its exit into a
/// checked reply. Returns within the time limit plus [`EXIT_GRACE`]; no process of the
/// command's group outlives it (see the module docs).
pub async fn run(config: &ExecConfig, input: Vec<u8>) -> ExecOutcome {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&config.command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return ExecOutcome::failed(format!("cannot start `sh -c`: {err}")),
    };
    // From here on, whatever ends this function (a reply, the time limit, the future
    // being dropped) also ends the group, through this guard.
    let mut group = ProcessGroup::led_by(&child);
    let deadline = tokio::time::Instant::now() + config.timeout;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut out = Captured::default();
    let mut err = Captured::default();

    let waited = {
        let write = async move {
            if let Some(mut stdin) = stdin {
                // A command that ignores its input closes the pipe early: not an error.
                // Dropping `stdin` afterwards sends it an end of file.
                let _ = stdin.write_all(&input).await;
            }
        };
        let pipes = async {
            tokio::join!(
                write,
                drain(stdout, &mut out, MAX_STDOUT),
                drain(stderr, &mut err, MAX_STDERR)
            );
        };
        tokio::pin!(pipes);
        let mut pipes_done = false;
        // The pipes are served while waiting (a full pipe would stall the command), but
        // only the exit of `sh` ends the wait.
        let exited = tokio::time::timeout_at(deadline, async {
            loop {
                tokio::select! {
                    status = child.wait() => break status,
                    () = &mut pipes, if !pipes_done => pipes_done = true,
                }
            }
        })
        .await;
        if exited.is_ok() && !pipes_done {
            let _ = tokio::time::timeout(EXIT_GRACE, &mut pipes).await;
        }
        // Kill what is left (a background child holding stdout, or everything at the
        // time limit); this also closes the pipes `pipes` may still be reading.
        group.kill();
        exited
    };

    let status = match waited {
        Ok(Ok(status)) => status,
        Ok(Err(err)) => return ExecOutcome::failed(format!("cannot wait for the command: {err}")),
        Err(_) => {
            // The group got SIGKILL above; this reaps `sh` (and kills it where there is
            // no group).
            let _ = child.kill().await;
            return ExecOutcome::failed(format!(
                "command did not exit within {} ms; its process group was killed",
                config.timeout.as_millis()
            ));
        }
    };
    if !status.success() {
        let stderr = String::from_utf8_lossy(&err.bytes);
        let first = stderr.lines().next().unwrap_or("").trim();
        return ExecOutcome::failed(format!(
            "command failed ({status}){}{first}",
            if first.is_empty() { "" } else { ": " }
        ));
    }
    judge(&out)
}

/// The printed reply, checked the way TaskRouter would ([`judge_reply`]); `{}` when it
/// would not carry it out.
fn judge(out: &Captured) -> ExecOutcome {
    if out.cut {
        return ExecOutcome::failed(format!(
            "command printed more than {MAX_STDOUT} bytes (answered {{}})"
        ));
    }
    let trimmed = out.bytes.trim_ascii();
    if trimmed.is_empty() {
        return ExecOutcome::failed("command printed nothing (answered {})".into());
    }
    // Only the body is the command's: the listener itself answers 200 with
    // `application/json` (and in time), so only the body is judged.
    let judged = judge_reply(
        CallbackKind::Assignment,
        200,
        Some("application/json"),
        trimmed,
    );
    match judged.report.first_failure() {
        None => ExecOutcome {
            body: Bytes::copy_from_slice(trimmed),
            error: None,
        },
        Some(check) => {
            let shown: String = String::from_utf8_lossy(trimmed).chars().take(80).collect();
            ExecOutcome::failed(format!(
                "command printed {shown:?}: {} (answered {{}})",
                check.message
            ))
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Instant;

    fn config(command: &str, millis: u64) -> ExecConfig {
        ExecConfig {
            timeout: Duration::from_millis(millis),
            ..ExecConfig::new(command)
        }
    }

    /// Whether process group `pgid` is gone (`kill(-pgid, 0)` fails with ESRCH), waiting
    /// up to 2 s for the kernel to finish the kill and init to reap.
    fn group_gone(pgid: libc::pid_t) -> bool {
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            // SAFETY: signal 0 only checks that the group exists.
            let alive = unsafe { libc::kill(-pgid, 0) } == 0
                || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
            if !alive {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A file the command writes its group id (`$$`, the shell's pid) into.
    struct PgidFile {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    impl PgidFile {
        fn new() -> PgidFile {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("pgid");
            PgidFile { _dir: dir, path }
        }

        /// `echo $$ > FILE`.
        fn write(&self) -> String {
            format!("echo $$ > '{}'", self.path.display())
        }

        fn pgid(&self) -> libc::pid_t {
            let text = std::fs::read_to_string(&self.path).unwrap();
            let pgid: libc::pid_t = text.trim().parse().unwrap();
            assert!(pgid > 1, "{text}");
            pgid
        }
    }

    /// On a failed assertion, kill the group the test started so it does not linger.
    struct Cleanup(libc::pid_t);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            if std::thread::panicking() {
                // SAFETY: sends a signal to the group this test created.
                unsafe {
                    libc::killpg(self.0, libc::SIGKILL);
                }
            }
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
            ("echo accept", "not JSON"),
            ("echo '[1]'", "not an object"),
            ("echo '\"{}\"'", "JSON string"),
            ("true", "printed nothing"),
            ("echo oops >&2; exit 3", "oops"),
            ("head -c 2000000 /dev/zero", "more than"),
        ] {
            let outcome = run(&config(command, 4000), Vec::new()).await;
            assert_eq!(&outcome.body[..], b"{}", "{command}");
            let error = outcome.error.unwrap_or_default();
            assert!(error.contains(needle), "{command}: {error}");
        }
    }

    #[tokio::test]
    async fn replies_are_checked_like_taskrouter_does() {
        for (printed, needle) in [
            (r#"{"instruction":"rm -rf"}"#, "unknown instruction"),
            (r#"{"instruction":7}"#, "unknown instruction"),
            // `call` needs `from` and `url`, `redirect` needs `call_sid` and `url`.
            (
                r#"{"instruction":"call","from":"+15005550006"}"#,
                "incomplete",
            ),
            (
                r#"{"instruction":"redirect","url":"https://a.test/t"}"#,
                "incomplete",
            ),
        ] {
            let outcome = run(&config(&format!("echo '{printed}'"), 4000), Vec::new()).await;
            assert_eq!(&outcome.body[..], b"{}", "{printed}");
            let error = outcome.error.unwrap_or_default();
            assert!(error.contains(needle), "{printed}: {error}");
        }
        for printed in [
            "{}",
            r#"{"instruction":"accept"}"#,
            r#"{"instruction":"reject","activity_sid":"WA1"}"#,
            // `dequeue` has no required keys (instruction.rs: all optional).
            r#"{"instruction":"dequeue"}"#,
            r#"{"instruction":"call","from":"+1","url":"https://a.test/t"}"#,
        ] {
            let outcome = run(&config(&format!("echo '{printed}'"), 4000), Vec::new()).await;
            assert_eq!(&outcome.body[..], printed.as_bytes());
            assert_eq!(outcome.error, None, "{printed}");
        }
    }

    #[tokio::test]
    async fn slow_commands_are_killed() {
        let started = Instant::now();
        let outcome = run(&config("sleep 5", 200), Vec::new()).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(&outcome.body[..], b"{}");
        assert!(outcome.error.unwrap_or_default().contains("killed"));
    }

    #[tokio::test]
    async fn the_whole_group_dies_at_the_time_limit() {
        let file = PgidFile::new();
        // A background sleep and a foreground one: killing `sh` alone leaves both.
        let command = format!("sleep 100 & {}; sleep 100", file.write());
        let outcome = run(&config(&command, 1000), Vec::new()).await;
        let pgid = file.pgid();
        let _cleanup = Cleanup(pgid);
        assert!(outcome.error.unwrap_or_default().contains("killed"));
        assert!(group_gone(pgid), "process group {pgid} survived");
    }

    #[tokio::test]
    async fn background_leftovers_die_when_the_shell_exits() {
        let file = PgidFile::new();
        let command = format!("sleep 100 >/dev/null 2>&1 & {}; echo '{{}}'", file.write());
        let outcome = run(&config(&command, 4000), Vec::new()).await;
        let pgid = file.pgid();
        let _cleanup = Cleanup(pgid);
        assert_eq!((&outcome.body[..], outcome.error), (&b"{}"[..], None));
        assert!(group_gone(pgid), "process group {pgid} survived");
    }

    #[tokio::test]
    async fn a_background_child_holding_stdout_does_not_hold_the_reply() {
        for shape in [
            "{write}; echo '{reply}'; sleep 30 &",
            "{write}; (sleep 30 &); echo '{reply}'",
            "{write}; sleep 30 & echo '{reply}'",
            "{write}; echo '{reply}'; (sleep 30; echo late) &",
        ] {
            let file = PgidFile::new();
            let command = shape
                .replace("{write}", &file.write())
                .replace("{reply}", r#"{"instruction":"accept"}"#);
            let started = Instant::now();
            let outcome = run(&config(&command, 4000), Vec::new()).await;
            let elapsed = started.elapsed();
            let pgid = file.pgid();
            let _cleanup = Cleanup(pgid);
            assert_eq!(
                (&outcome.body[..], outcome.error),
                (&br#"{"instruction":"accept"}"#[..], None),
                "{command}"
            );
            assert!(
                elapsed < Duration::from_millis(1500),
                "{command}: {elapsed:?}"
            );
            assert!(group_gone(pgid), "{command}: process group {pgid} survived");
        }
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_group() {
        let file = PgidFile::new();
        let command = format!("{}; sleep 100 & sleep 100", file.write());
        let config = config(&command, 60_000);
        let dropped = tokio::time::timeout(Duration::from_millis(1000), run(&config, Vec::new()));
        assert!(
            dropped.await.is_err(),
            "the command should still be running"
        );
        let pgid = file.pgid();
        let _cleanup = Cleanup(pgid);
        assert!(group_gone(pgid), "process group {pgid} survived");
    }
}
