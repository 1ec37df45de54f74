//! `trctl emulator --state FILE`: the emulator's whole state kept in a file across
//! restarts. The engine copies and rebuilds plain data ([`super::engine::snapshot`]); this
//! module is the only part that touches the file.
//!
//! # Snapshot, not journal
//!
//! The engine is pure and deterministic, so replaying every command from a journal
//! would rebuild the same state too. A snapshot was chosen because:
//! - a journal grows without end (every write request, every timer tick, every
//!   callback reply) and a start would replay all of it, while a snapshot is as large as
//!   the state and loads in one pass;
//! - a journal is only sound if it also records every input the engine takes from
//!   outside: the SIDs drawn from the random source, the `now` of every command, the
//!   callback answers; one missed input and the replay silently diverges. A snapshot
//!   saves the outcome, so nothing has to be replayed right;
//! - a journal binds old files to the command set of the version that wrote them; a
//!   snapshot binds them only to the records, which change less (and `version` says
//!   when they did).
//!
//! The cost is that each save writes the whole state. Saves are debounced (at most one
//! every [`DEBOUNCE`] while changes keep coming), and the engine is held only while it
//! is copied ([`Engine::snapshot`]: records are shared behind `Arc`s and copied on
//! write, so this copies pointers and the SID indexes); serializing and writing happen
//! on a blocking thread with the engine free.
//!
//! Measured (`measure_saving_twenty_thousand_tasks`, release build without LTO, 2 shared
//! cores) with 20,000 pending tasks and their 80,000 events: the engine is held 24-36 ms
//! per save (52-83 ms while other builds loaded the machine); encoding, with the engine
//! free, takes 160 ms and gives 90 MB; reading and restoring at start 0.45 s.
//!
//! # The file
//!
//! One JSON document: `format` ([`FORMAT`]), `version` ([`VERSION`]), `saved_at` (system
//! time of the save, epoch ms), `clock_now` (the emulator clock's time at the save) and
//! `snapshot`. It is replaced atomically: written to `.NAME.tmp` in the same directory,
//! fsynced, renamed over the file, and the directory fsynced. A crash (even SIGKILL)
//! leaves the previous or the new version, never half of one; what it loses is at most
//! the changes since the last save, i.e. about [`DEBOUNCE`] plus one write.
//!
//! A file that cannot be read back (not JSON, truncated, another format or version,
//! records that do not fit together, another account) stops the start with a message
//! and is never written: saving only starts once a file has been loaded or found
//! missing. Credentials are not state: the auth token and API keys come from flags and
//! the environment at every start and are never written to the file.
//!
//! # Time
//!
//! Timers are absolute times on the emulator's clock (epoch ms), saved as they are.
//! - System clock: time went on while the emulator was down; timers that came due in
//!   the meantime fire, in deadline order, as soon as it is back (at the restart time).
//! - `--clock manual`: the clock resumes at the saved `clock_now`, so no time passes
//!   and no timer moves.
//! - `--time-scale N`: the emulator's time is its own (it runs ahead of the system
//!   clock), so "relative to the clock" means relative to *that* time: the clock
//!   resumes at the saved `clock_now` and runs N times faster from there. Downtime does
//!   not count; every timer keeps the emulated time it had left. (Counting downtime N
//!   times over would expire everything after a lunch break; counting it once would mix
//!   two time bases.) After SIGKILL the clock resumes at the last save's time, which is
//!   consistent with the state that was saved then.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::app::App;
use super::clock::{Clock, SystemClock};
use super::engine::{Engine, Millis, Restored, Snapshot};

/// The file's format name.
pub const FORMAT: &str = "trctl-emulator-state";
/// The format version this build reads and writes.
pub const VERSION: u64 = 1;
/// How long after a change the state is saved (changes meanwhile join the same save).
pub const DEBOUNCE: Duration = Duration::from_millis(250);
/// How long to wait before trying again after a failed save.
const RETRY: Duration = Duration::from_secs(1);

/// Why a state file cannot be used or written. Paths are as given, for messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The file is missing and so is its directory (nowhere to create it).
    #[error("cannot keep the emulator state in {path}: the directory {dir} does not exist")]
    NoDirectory {
        /// The state file.
        path: String,
        /// Its directory.
        dir: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read the emulator state file {path}: {source}")]
    Read {
        /// The state file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON, or JSON of another format.
    #[error(
        "{path} is not a trctl emulator state file ({why}); it was left unchanged: move it \
         away or pick another --state file"
    )]
    NotStateFile {
        /// The state file.
        path: String,
        /// What it is instead.
        why: String,
    },
    /// A version of the format this build does not read.
    #[error(
        "{path} has {found} of the emulator state format; this trctl supports version \
         {supported} only; the file was left unchanged"
    )]
    Version {
        /// The state file.
        path: String,
        /// `version N` or `no version`.
        found: String,
        /// [`VERSION`].
        supported: u64,
    },
    /// The right format and version, but truncated or with records that do not fit.
    #[error(
        "the emulator state file {path} is damaged ({why}); it was left unchanged: move it \
         away or pick another --state file"
    )]
    Damaged {
        /// The state file.
        path: String,
        /// What is wrong, naming the record when there is one.
        why: String,
    },
    /// Saved by an emulator of another account.
    #[error(
        "{path} holds the state of account {saved}, but this emulator runs as {running} \
         (use the same account SID or another --state file)"
    )]
    OtherAccount {
        /// The state file.
        path: String,
        /// The account in the file.
        saved: String,
        /// The account of this emulator.
        running: String,
    },
    /// A save failed (the previous save stays in place).
    #[error("cannot save the state to {path}: {why}")]
    Write {
        /// The state file.
        path: String,
        /// Why.
        why: String,
    },
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u64,
    saved_at: Millis,
    clock_now: Millis,
    snapshot: &'a Snapshot,
}

#[derive(Deserialize)]
struct FileIn {
    clock_now: Millis,
    snapshot: Snapshot,
}

/// Read first, so an old or foreign file is named as such rather than as damaged.
#[derive(Deserialize)]
struct Header {
    format: Option<Value>,
    version: Option<Value>,
}

/// A state file opened at start: its path and, unless it did not exist yet, the state
/// it holds, already checked and restored.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    restored: Option<Restored>,
    clock_now: Option<Millis>,
}

impl StateFile {
    /// Open `path` for an emulator of `account_sid`. A missing file is a fresh start
    /// (created at the first change); anything unreadable is an error, and the file is
    /// left as it is.
    pub fn open(path: &Path, account_sid: &str) -> Result<StateFile, PersistError> {
        let shown = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let dir = directory(path);
                if !dir.is_dir() {
                    return Err(PersistError::NoDirectory {
                        path: shown,
                        dir: dir.display().to_string(),
                    });
                }
                return Ok(StateFile {
                    path: path.to_path_buf(),
                    restored: None,
                    clock_now: None,
                });
            }
            Err(source) => {
                return Err(PersistError::Read {
                    path: shown,
                    source,
                })
            }
        };
        let header: Header = serde_json::from_slice(&bytes).map_err(|err| {
            if err.is_eof() {
                PersistError::Damaged {
                    path: shown.clone(),
                    why: format!("it ends too early: {err}"),
                }
            } else {
                PersistError::NotStateFile {
                    path: shown.clone(),
                    why: format!("not valid JSON: {err}"),
                }
            }
        })?;
        match header.format {
            Some(Value::String(format)) if format == FORMAT => {}
            other => {
                let found = match other {
                    Some(value) => format!("its format is {value}"),
                    None => "it has no format field".to_string(),
                };
                return Err(PersistError::NotStateFile {
                    path: shown,
                    why: format!("{found}, expected \"{FORMAT}\""),
                });
            }
        }
        match header.version {
            Some(Value::Number(number)) if number.as_u64() == Some(VERSION) => {}
            other => {
                let found =
                    other.map_or_else(|| "no version".to_string(), |v| format!("version {v}"));
                return Err(PersistError::Version {
                    path: shown,
                    found,
                    supported: VERSION,
                });
            }
        }
        let damaged = |why: String| PersistError::Damaged {
            path: shown.clone(),
            why,
        };
        let file: FileIn =
            serde_json::from_slice(&bytes).map_err(|err| damaged(err.to_string()))?;
        let saved_account = file.snapshot.state.account_sid.clone();
        if saved_account != account_sid {
            return Err(PersistError::OtherAccount {
                path: shown,
                saved: saved_account,
                running: account_sid.to_string(),
            });
        }
        let restored = file.snapshot.restore().map_err(damaged)?;
        Ok(StateFile {
            path: path.to_path_buf(),
            restored: Some(restored),
            clock_now: Some(file.clock_now),
        })
    }

    /// Where the state is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The emulator clock's time when the file was saved (`None`: a fresh start).
    pub fn clock_now(&self) -> Option<Millis> {
        self.clock_now
    }

    /// How many workspaces the file holds (`None`: a fresh start).
    pub fn workspaces(&self) -> Option<usize> {
        self.restored
            .as_ref()
            .map(|restored| restored.state().workspaces.len())
    }

    /// Hand over the restored state (once).
    pub(super) fn take_restored(&mut self) -> Option<Restored> {
        self.restored.take()
    }
}

fn directory(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Saves an emulator's state: told of every change, it writes the file in the
/// background shortly after.
#[derive(Debug)]
pub struct Saver {
    path: PathBuf,
    dirty: tokio::sync::Notify,
    /// Changes so far (bumped under the engine lock, so a snapshot knows which it has).
    changes: AtomicU64,
    /// The change count of the newest snapshot on disk.
    written: AtomicU64,
    /// One write at a time, so an older snapshot never replaces a newer one.
    writing: Mutex<()>,
    failing: AtomicBool,
}

impl Saver {
    /// A saver for `path`; nothing is written before the first change.
    pub fn new(path: PathBuf) -> Saver {
        Saver {
            path,
            dirty: tokio::sync::Notify::new(),
            changes: AtomicU64::new(0),
            written: AtomicU64::new(0),
            writing: Mutex::new(()),
            failing: AtomicBool::new(false),
        }
    }

    /// The state changed (called by the HTTP layer after every applied command, with
    /// the engine held).
    pub fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.dirty.notify_one();
    }
}

/// Start saving in the background (nothing happens for an emulator without `--state`).
/// A failing save, and the first save that works again, are reported to `notice`.
pub fn start(app: Arc<App>, tell: super::Notice) {
    let Some(saver) = app.saver.clone() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            saver.dirty.notified().await;
            tokio::time::sleep(DEBOUNCE).await;
            match save(&app).await {
                Ok(_) => {
                    if saver.failing.swap(false, Ordering::SeqCst) {
                        tell(&format!(
                            "the state is saved to {} again",
                            saver.path.display()
                        ));
                    }
                }
                Err(err) => {
                    if !saver.failing.swap(true, Ordering::SeqCst) {
                        tell(&format!("{err} (retrying)"));
                    }
                    tokio::time::sleep(RETRY).await;
                    saver.dirty.notify_one();
                }
            }
        }
    });
}

/// Save now if anything changed since the last save: copy the state with the engine
/// held, then serialize and write with it free. `Ok(false)`: nothing to save.
pub async fn save(app: &Arc<App>) -> Result<bool, PersistError> {
    let Some(saver) = app.saver.clone() else {
        return Ok(false);
    };
    let captured = {
        let engine = app
            .engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        capture(&saver, &engine, app.clock.as_ref())
    };
    let Some((change, snapshot, clock_now)) = captured else {
        return Ok(false);
    };
    let path = saver.path.display().to_string();
    let task = tokio::task::spawn_blocking(move || write(&saver, change, &snapshot, clock_now));
    task.await.map_err(|err| PersistError::Write {
        path,
        why: err.to_string(),
    })?
}

fn capture(saver: &Saver, engine: &Engine, clock: &dyn Clock) -> Option<(u64, Snapshot, Millis)> {
    let change = saver.changes.load(Ordering::SeqCst);
    if change == saver.written.load(Ordering::SeqCst) {
        return None;
    }
    Some((change, engine.snapshot(), clock.now()))
}

/// The file's bytes for a snapshot.
pub fn encode(snapshot: &Snapshot, clock_now: Millis) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&FileOut {
        format: FORMAT,
        version: VERSION,
        saved_at: SystemClock.now(),
        clock_now,
        snapshot,
    })
}

fn write(
    saver: &Saver,
    change: u64,
    snapshot: &Snapshot,
    clock_now: Millis,
) -> Result<bool, PersistError> {
    let failed = |why: String| PersistError::Write {
        path: saver.path.display().to_string(),
        why,
    };
    let bytes = encode(snapshot, clock_now).map_err(|err| failed(err.to_string()))?;
    let _one = saver
        .writing
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if saver.written.load(Ordering::SeqCst) >= change {
        return Ok(false);
    }
    write_atomically(&saver.path, &bytes).map_err(|err| failed(err.to_string()))?;
    saver.written.store(change, Ordering::SeqCst);
    Ok(true)
}

/// Replace `path` with `bytes` so that a crash leaves the old or the new content.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = directory(path);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let temporary = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // Attributes may hold customers' data: the file is for its owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    // The rename itself is durable once the directory is synced (not possible everywhere).
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Read a file's snapshot back without a server (tests, tools).
pub fn decode(bytes: &[u8]) -> Result<(Snapshot, Millis), serde_json::Error> {
    let file: FileIn = serde_json::from_slice(bytes)?;
    Ok((file.snapshot, file.clock_now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::*;
    use crate::emulator::engine::{Command, CountingSids, Effect, Reply};
    use serde_json::json;

    const NOW: Millis = 1_700_000_000_000;
    const ACCOUNT: &str = "AC00000000000000000000000000000001";

    fn apply(engine: &mut Engine, command: Command, now: Millis) -> (String, Vec<Effect>) {
        let outcome = engine.apply(command, now).expect("command");
        let sid = match outcome.reply {
            Reply::Created(sid) | Reply::Updated(sid) => sid,
            Reply::Deleted => String::new(),
        };
        (sid, outcome.effects)
    }

    struct Built {
        engine: Engine,
        ws: String,
        available: String,
        waiting_worker: String,
        doomed: String,
    }

    /// A workspace with every kind of record and timer: queues, a two-step workflow
    /// updated without re-evaluation (so early tasks keep the old configuration), a
    /// reserved task with a reservation timeout, pending tasks, a completed task
    /// waiting for cleanup, a deleted task (an empty slot) and the event log.
    fn build(tasks: usize) -> Built {
        let mut engine = Engine::new(ACCOUNT, Box::new(CountingSids::default()));
        let ws = apply(
            &mut engine,
            Command::CreateWorkspace(CreateWorkspaceParams {
                friendly_name: "Kept".into(),
                ..Default::default()
            }),
            NOW,
        )
        .0;
        let activity = |engine: &Engine, name: &str| {
            engine
                .state()
                .workspaces
                .get(&ws)
                .and_then(|w| w.activities.iter().find(|a| a.friendly_name == name))
                .map(|a| a.sid.clone())
                .expect("activity")
        };
        let available = activity(&engine, "Available");
        let queue = |engine: &mut Engine, name: &str, target: &str| {
            apply(
                engine,
                Command::CreateTaskQueue {
                    workspace: ws.clone(),
                    params: CreateTaskQueueParams {
                        friendly_name: name.into(),
                        target_workers: Some(target.into()),
                        ..Default::default()
                    },
                },
                NOW,
            )
            .0
        };
        let sales = queue(&mut engine, "Sales", "skills HAS \"sales\"");
        let everyone = queue(&mut engine, "Everyone", "1==1");
        let config = |step: u64| {
            json!({"task_routing": {"filters": [{"expression": "type == \"sale\"", "targets": [
                {"queue": sales, "timeout": step},
                {"queue": everyone}
            ]}], "default_filter": {"queue": everyone}}})
            .to_string()
        };
        let workflow = apply(
            &mut engine,
            Command::CreateWorkflow {
                workspace: ws.clone(),
                params: CreateWorkflowParams {
                    friendly_name: "Sales first".into(),
                    configuration: config(60),
                    task_reservation_timeout: Some(30),
                    ..Default::default()
                },
            },
            NOW,
        )
        .0;
        let worker = |engine: &mut Engine, name: &str, skills: &str, activity: Option<&str>| {
            apply(
                engine,
                Command::CreateWorker {
                    workspace: ws.clone(),
                    params: CreateWorkerParams {
                        friendly_name: name.into(),
                        activity_sid: activity.map(str::to_string),
                        attributes: Some(json!({"skills": [skills]}).to_string()),
                    },
                },
                NOW,
            )
            .0
        };
        let task = |engine: &mut Engine, kind: &str, at: Millis| {
            apply(
                engine,
                Command::CreateTask {
                    workspace: ws.clone(),
                    params: CreateTaskParams {
                        workflow_sid: Some(workflow.clone()),
                        attributes: Some(json!({"type": kind}).to_string()),
                        ..Default::default()
                    },
                },
                at,
            )
            .0
        };
        let early = task(&mut engine, "sale", NOW + 1_000);
        let doomed = task(&mut engine, "other", NOW + 1_000);
        apply(
            &mut engine,
            Command::DeleteTask {
                workspace: ws.clone(),
                sid: doomed.clone(),
                if_match: None,
            },
            NOW + 1_500,
        );
        // Tasks created from here on route by the new configuration; `early` keeps the old.
        apply(
            &mut engine,
            Command::UpdateWorkflow {
                workspace: ws.clone(),
                sid: workflow.clone(),
                params: UpdateWorkflowParams {
                    configuration: Some(config(90)),
                    ..Default::default()
                },
            },
            NOW + 2_000,
        );
        let seller = worker(&mut engine, "Seller", "sales", Some(&available));
        let done = task(&mut engine, "other", NOW + 3_000);
        apply(
            &mut engine,
            Command::UpdateTask {
                workspace: ws.clone(),
                sid: done.clone(),
                params: UpdateTaskParams {
                    assignment_status: Some("canceled".into()),
                    reason: Some("test".into()),
                    ..Default::default()
                },
            },
            NOW + 3_500,
        );
        for at in 0..tasks {
            task(
                &mut engine,
                if at % 2 == 0 { "sale" } else { "other" },
                NOW + 4_000 + at as Millis,
            );
        }
        let waiting_worker = worker(&mut engine, "Later", "support", None);
        let state = engine.state().workspaces.get(&ws).expect("workspace");
        assert!(state.reservations.iter().any(|r| r.worker_sid == seller
            && r.status == crate::api::resources::ReservationStatus::Pending
            && r.task_sid == early));
        Built {
            engine,
            ws,
            available,
            waiting_worker,
            doomed,
        }
    }

    fn round_trip(engine: &Engine) -> Engine {
        let bytes = encode(&engine.snapshot(), NOW + 10_000).expect("encode");
        let (snapshot, clock_now) = decode(&bytes).expect("decode");
        assert_eq!(clock_now, NOW + 10_000);
        let restored = snapshot.restore().expect("restore");
        Engine::from_restored(restored, Box::new(CountingSids::default()))
    }

    fn as_json(engine: &Engine) -> Value {
        serde_json::to_value(engine.snapshot()).expect("json")
    }

    #[test]
    fn a_snapshot_restores_the_same_state_and_routing_carries_on_alike() {
        let Built {
            engine: mut original,
            ws,
            available,
            waiting_worker,
            doomed,
        } = build(6);
        let mut copy = round_trip(&original);
        assert_eq!(as_json(&copy), as_json(&original));
        let (a, b) = (
            original.state().workspaces.get(&ws).expect("ws"),
            copy.state().workspaces.get(&ws).expect("ws"),
        );
        // The rebuilt indexes are the kept ones.
        assert!(b.loads_are_consistent() && b.index_is_consistent());
        assert_eq!(format!("{:?}", a.idle), format!("{:?}", b.idle));
        assert_eq!(a.by_task, b.by_task);
        let sorted = |w: &crate::emulator::engine::state::Workspace| {
            let mut pending: Vec<String> =
                w.pending.iter().map(|entry| format!("{entry:?}")).collect();
            pending.sort();
            pending
        };
        assert_eq!(sorted(a), sorted(b));
        for (x, y) in a.tasks.iter().zip(b.tasks.iter()) {
            assert_eq!(x.attributes, y.attributes);
            assert_eq!(x.indexed, y.indexed);
            assert_eq!(
                x.routing.as_ref().map(|r| r.workflow.config().clone()),
                y.routing.as_ref().map(|r| r.workflow.config().clone()),
                "{} routes by the same configuration",
                x.sid
            );
        }
        // Old configurations are saved once, not per task.
        let snapshot = original.snapshot();
        assert_eq!(snapshot.configurations.len(), 1);
        assert_eq!(snapshot.routing.len(), 1);
        // A deleted task's position survives (page tokens naming it still work).
        assert!(b.tasks.get(&doomed).is_none());
        assert_eq!(b.tasks.position(&doomed), Some(1));
        assert_eq!(a.tasks.position(&doomed), Some(1));

        // The same commands from here give the same answers, effects, SIDs and states:
        // a worker becomes available, then the clock passes every timer.
        let steps = [
            (
                Command::UpdateWorker {
                    workspace: ws.clone(),
                    sid: waiting_worker,
                    params: UpdateWorkerParams {
                        activity_sid: Some(available),
                        ..Default::default()
                    },
                },
                NOW + 20_000,
            ),
            (Command::Tick, NOW + 45_000),
            (Command::Tick, NOW + 200_000),
            (Command::Tick, NOW + 400_000),
        ];
        for (command, at) in steps {
            let left = original.apply(command.clone(), at).expect("original");
            let right = copy.apply(command, at).expect("copy");
            assert_eq!(left, right);
            assert_eq!(as_json(&copy), as_json(&original));
        }
    }

    #[test]
    fn a_snapshot_keeps_what_it_saw_while_the_engine_moves_on() {
        let Built {
            mut engine,
            ws,
            available,
            waiting_worker,
            ..
        } = build(3);
        let snapshot = engine.snapshot();
        let before = serde_json::to_value(&snapshot).expect("json");
        // Records shared with the snapshot are copied when written, not changed under it.
        apply(
            &mut engine,
            Command::UpdateWorker {
                workspace: ws.clone(),
                sid: waiting_worker.clone(),
                params: UpdateWorkerParams {
                    activity_sid: Some(available),
                    attributes: Some("{\"skills\":[\"sales\"]}".into()),
                    ..Default::default()
                },
            },
            NOW + 5_000,
        );
        apply(&mut engine, Command::Tick, NOW + 500_000);
        assert_eq!(serde_json::to_value(&snapshot).expect("json"), before);
        assert_ne!(as_json(&engine), before);
        let worker = engine
            .state()
            .workspaces
            .get(&ws)
            .and_then(|w| w.workers.get(&waiting_worker))
            .map(|w| w.attributes.clone());
        assert_eq!(worker.as_deref(), Some("{\"skills\":[\"sales\"]}"));
    }

    #[test]
    fn damaged_snapshots_are_refused_with_the_record_named() {
        let mut snapshot = build(0).engine.snapshot();
        if let Some(ws) = snapshot.state.workspaces.iter_mut().next() {
            if let Some(worker) = ws.workers.iter_mut().next() {
                worker.attributes = "[1]".into();
            }
        }
        let err = snapshot.restore().expect_err("bad attributes");
        assert!(
            err.contains("worker WK") && err.contains("not a JSON object"),
            "{err}"
        );

        let mut snapshot = build(0).engine.snapshot();
        snapshot.routing[0].configuration = 7;
        assert!(snapshot.restore().is_err());

        let built = build(0);
        let workers: Vec<String> = built
            .engine
            .state()
            .workspaces
            .get(&built.ws)
            .map(|ws| ws.workers.iter().map(|w| w.sid.clone()).collect())
            .unwrap_or_default();
        let text = String::from_utf8(encode(&built.engine.snapshot(), NOW).expect("encode"))
            .expect("utf8");
        let first = format!("\"sid\":\"{}\"", workers[0]);
        let second = format!("\"sid\":\"{}\"", workers[1]);
        assert!(text.contains(&second));
        let twice = text.replacen(&second, &first, 1);
        let err = decode(twice.as_bytes()).expect_err("duplicate SIDs are refused");
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn snapshots_spell_statuses_and_orders_as_the_wire_does() {
        // Files saved before the engine held enums load unchanged: the same strings.
        let built = build(1);
        let text = String::from_utf8(encode(&built.engine.snapshot(), NOW).expect("encode"))
            .expect("utf8");
        for field in [
            "\"assignment_status\":\"pending\"",
            "\"assignment_status\":\"canceled\"",
            "\"status\":\"pending\"",
            "\"task_order\":\"FIFO\"",
            "\"prioritize_queue_order\":\"FIFO\"",
        ] {
            assert!(text.contains(field), "{field} in the snapshot");
        }
        let lost = text.replacen(
            "\"assignment_status\":\"canceled\"",
            "\"assignment_status\":\"lost\"",
            1,
        );
        let err = decode(lost.as_bytes()).expect_err("an unknown status is refused");
        assert!(err.to_string().contains("lost"), "{err}");
    }

    /// How long saving holds the engine with 20,000 tasks (run with `--ignored
    /// --nocapture`; figures in README.md).
    #[test]
    #[ignore]
    fn measure_saving_twenty_thousand_tasks() {
        let built = build(20_000);
        let mut holds = Vec::new();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let snapshot = built.engine.snapshot();
            holds.push(started.elapsed());
            drop(snapshot);
        }
        holds.sort();
        let started = std::time::Instant::now();
        let snapshot = built.engine.snapshot();
        let held = started.elapsed();
        let started = std::time::Instant::now();
        let bytes = encode(&snapshot, NOW).expect("encode");
        let encoded = started.elapsed();
        let started = std::time::Instant::now();
        let (snapshot, _) = decode(&bytes).expect("decode");
        let restored = snapshot.restore().expect("restore");
        let loaded = started.elapsed();
        let ws = restored.state().workspaces.iter().next().expect("ws");
        eprintln!(
            "20,000 tasks, {} events: engine held {held:?} (snapshot; of 5 more: min {:?}, \
             max {:?}), encoded in {encoded:?} ({} bytes), decoded and restored in {loaded:?}",
            ws.events.len(),
            holds[0],
            holds[4],
            bytes.len()
        );
    }
}
