//! The emulator under a user's load test: the whole task lifecycle over HTTP.
//!
//! Starts `trctl emulator` and `trctl serve --instruction accept` as separate processes
//! (the built release binary, `TRCTL_BIN` to override), creates a workspace whose workflow
//! calls `serve` back, and `LIFECYCLE_WORKERS` (1,000) available workers. Then
//! `LIFECYCLE_CLIENTS` (32) concurrent clients create `LIFECYCLE_TASKS` (20,000) tasks;
//! each client creates a task, polls it until it is `assigned` (the assignment callback
//! to `serve` and its `accept` happen meanwhile), and completes it, as an agent desktop
//! would, so workers keep coming free. Finally tasks are added until `LIFECYCLE_STORED`
//! (100,000) are stored and the emulator's memory is read from /proc.
//!
//! Measured from the emulator's own event log (`event_date_ms`, millisecond resolution):
//! tasks/s from the first `task.created` to the last `reservation.accepted`, and per task
//! the time from `task.created` to its `reservation.created` and `reservation.accepted`.
//! Measured by the clients: the create request's round trip (its reply already says
//! `reserved` when a worker was free: the engine reserves inside the request). The
//! emulator's RSS from /proc. Prints one JSON object on stdout, progress on stderr.
//!
//! Not a criterion benchmark: `cargo bench --bench lifecycle` runs it once.

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ACCOUNT_SID: &str = "AC0000000000000000000000000000beef";
const AUTH_TOKEN: &str = "lifecycle-bench-token";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn setting(name: &str, default: usize) -> Result<usize, BoxError> {
    match std::env::var(name) {
        Ok(value) => Ok(value
            .parse()
            .map_err(|_| format!("{name}={value}: not a count"))?),
        Err(_) => Ok(default),
    }
}

/// A child process of ours, killed (by its PID, through the handle) when dropped.
struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `bin args`, read its output until a line contains `marker`, return the word
/// after the marker (a URL). Output keeps being drained in the background.
fn start(bin: &str, args: &[&str], marker: &str) -> Result<(Process, String), BoxError> {
    let mut child = Command::new(bin)
        .args(args)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start {bin}: {err} (build it: cargo build --release)"))?;
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let outputs: Vec<Box<dyn std::io::Read + Send>> = vec![
        Box::new(child.stdout.take().ok_or("no stdout")?),
        Box::new(child.stderr.take().ok_or("no stderr")?),
    ];
    for output in outputs {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(output).lines() {
                let Ok(line) = line else { break };
                // After start-up nobody listens; keep reading so the child never blocks.
                let _ = lines.send(line);
            }
        });
    }
    let process = Process { child };
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Ok(line) = received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(rest) = line.split(marker).nth(1) {
            let url = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            return Ok((process, url));
        }
    }
    Err(format!("{bin} {args:?} did not print {marker:?}").into())
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, BoxError> {
        let url = format!("{}/v1/{path}", self.base);
        Self::send("POST", &url, self.http.post(&url).form(form)).await
    }

    async fn get(&self, path: &str) -> Result<Value, BoxError> {
        self.get_url(&format!("{}/v1/{path}", self.base)).await
    }

    async fn get_url(&self, url: &str) -> Result<Value, BoxError> {
        Self::send("GET", url, self.http.get(url)).await
    }

    /// Send with the emulator's credentials; the JSON body, or an error naming the request.
    async fn send(
        method: &str,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, BoxError> {
        let response = request
            .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("{method} {url}: {status} {body}").into());
        }
        Ok(body)
    }
}

fn sid(body: &Value) -> Result<String, BoxError> {
    body["sid"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no sid in {body}").into())
}

/// (VmRSS, VmHWM) of a process in MiB.
fn memory(pid: u32) -> Result<(f64, f64), BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// CPU time (user + system) a process has used, in milliseconds.
fn cpu_ms(pid: u32) -> Result<f64, BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| -> f64 {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; the
    // clock tick is 100 Hz on Linux.
    Ok((ticks(11) + ticks(12)) * 10.0)
}

fn percentiles(samples: &mut [f64]) -> Value {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| -> f64 {
        if samples.is_empty() {
            return f64::NAN;
        }
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[index.min(samples.len() - 1)]
    };
    json!({"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": at(1.0)})
}

/// What every client shares: the API, the workspace and the counters.
struct Bench {
    api: Api,
    ws: String,
    workflow: String,
    available: String,
    reserved_at_create: AtomicUsize,
    polls: AtomicUsize,
}

impl Bench {
    async fn create_task(&self) -> Result<Value, BoxError> {
        let path = format!("Workspaces/{}/Tasks", self.ws);
        let attributes = "{\"type\":\"support\",\"selected_language\":\"en\"}";
        self.api
            .post(
                &path,
                &[("WorkflowSid", &self.workflow), ("Attributes", attributes)],
            )
            .await
    }
}

/// Run `count` jobs over `clients` concurrent loops; each job returns its samples.
async fn fan_out<F, Fut>(
    count: usize,
    clients: usize,
    bench: &Arc<Bench>,
    job: F,
) -> Result<Vec<Vec<f64>>, BoxError>
where
    F: Fn(Arc<Bench>, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<f64>, BoxError>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for _ in 0..clients {
        let (next, job, bench) = (next.clone(), job.clone(), bench.clone());
        loops.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, BoxError>(samples);
                }
                samples.push(job(bench.clone(), index).await?);
            }
        }));
    }
    let mut all = Vec::new();
    for handle in loops {
        all.extend(handle.await??);
    }
    Ok(all)
}

async fn run() -> Result<Value, BoxError> {
    let workers = setting("LIFECYCLE_WORKERS", 1_000)?;
    let tasks = setting("LIFECYCLE_TASKS", 20_000)?;
    let clients = setting("LIFECYCLE_CLIENTS", 32)?.max(1);
    let stored = setting("LIFECYCLE_STORED", 100_000)?;
    let bin = std::env::var("TRCTL_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/trctl").to_string()
    });

    // Finished tasks are kept, so "stored" counts every task created.
    let (emulator, base) = start(
        &bin,
        &["emulator", "--port", "0", "--keep-finished"],
        "TRCTL_BASE_URL=",
    )?;
    let (serve, serve_url) = start(
        &bin,
        &["serve", "--port", "0", "--instruction", "accept"],
        "listening on ",
    )?;
    let api = Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(clients * 2)
            .timeout(Duration::from_secs(30))
            .build()?,
        base,
    };
    let ws = sid(&api
        .post("Workspaces", &[("FriendlyName", "Lifecycle benchmark")])
        .await?)?;
    let activities = api
        .get(&format!(
            "Workspaces/{ws}/Activities?FriendlyName=Available"
        ))
        .await?;
    let available = sid(&activities["activities"][0])?;
    let queue = sid(&api
        .post(
            &format!("Workspaces/{ws}/TaskQueues"),
            &[("FriendlyName", "Everyone"), ("TargetWorkers", "1==1")],
        )
        .await?)?;
    let configuration = json!({"task_routing": {
        "filters": [{"filter_friendly_name": "all", "expression": "1==1", "targets": [{"queue": queue}]}],
        "default_filter": {"queue": queue}
    }})
    .to_string();
    let callback = format!("{serve_url}/assignment_callback");
    let workflow = sid(&api
        .post(
            &format!("Workspaces/{ws}/Workflows"),
            &[
                ("FriendlyName", "Everyone"),
                ("Configuration", &configuration),
                ("AssignmentCallbackUrl", &callback),
            ],
        )
        .await?)?;
    let bench = Arc::new(Bench {
        api,
        ws: ws.clone(),
        workflow,
        available,
        reserved_at_create: AtomicUsize::new(0),
        polls: AtomicUsize::new(0),
    });
    fan_out(workers, clients, &bench, |bench, index| async move {
        let name = format!("worker-{index:05}");
        let attributes = format!("{{\"index\":{index}}}");
        bench
            .api
            .post(
                &format!("Workspaces/{}/Workers", bench.ws),
                &[
                    ("FriendlyName", &name),
                    ("ActivitySid", &bench.available),
                    ("Attributes", &attributes),
                ],
            )
            .await?;
        Ok(Vec::new())
    })
    .await?;
    eprintln!("lifecycle: {workers} workers available; {tasks} tasks from {clients} clients");

    // The lifecycle: create, wait until assigned, complete.
    let cpu_before = (cpu_ms(emulator.child.id())?, cpu_ms(serve.child.id())?);
    let client_cpu_before = cpu_ms(std::process::id())?;
    let wall = Instant::now();
    let samples = fan_out(tasks, clients, &bench, |bench, _| async move {
        let sent = Instant::now();
        let task = bench.create_task().await?;
        let created = Instant::now();
        let task_sid = sid(&task)?;
        if task["assignment_status"] == "reserved" {
            bench.reserved_at_create.fetch_add(1, Ordering::Relaxed);
        }
        let (api, ws) = (&bench.api, &bench.ws);
        let path = format!("Workspaces/{ws}/Tasks/{task_sid}");
        let deadline = created + Duration::from_secs(30);
        loop {
            tokio::time::sleep(Duration::from_micros(500)).await;
            bench.polls.fetch_add(1, Ordering::Relaxed);
            if api.get(&path).await?["assignment_status"] == "assigned" {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{task_sid}: not assigned within 30 s").into());
            }
        }
        let assigned = Instant::now();
        api.post(
            &path,
            &[("AssignmentStatus", "completed"), ("Reason", "handled")],
        )
        .await?;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Ok(vec![
            ms(created.duration_since(sent)),
            ms(assigned.duration_since(sent)),
        ])
    })
    .await?;
    let wall_seconds = wall.elapsed().as_secs_f64();
    let cpu_after = (cpu_ms(emulator.child.id())?, cpu_ms(serve.child.id())?);
    // The load generator shares the machine: what it costs bounds what the emulator gets.
    let client_cpu_ms = cpu_ms(std::process::id())? - client_cpu_before;
    let emulator_cpu_ms = cpu_after.0 - cpu_before.0;
    let serve_cpu_ms = cpu_after.1 - cpu_before.1;
    let mut create_rtt: Vec<f64> = samples.iter().map(|s| s[0]).collect();
    let mut polled_assignment: Vec<f64> = samples.iter().map(|s| s[1]).collect();

    // The emulator's own timestamps of each task's events.
    let api = &bench.api;
    let mut dates: HashMap<String, [Option<i64>; 3]> = HashMap::new();
    for (slot, event_type) in [
        "task.created",
        "reservation.created",
        "reservation.accepted",
    ]
    .into_iter()
    .enumerate()
    {
        let mut url = format!(
            "{}/v1/Workspaces/{ws}/Events?EventType={event_type}&Minutes=600&PageSize=1000",
            api.base
        );
        loop {
            let page = api.get_url(&url).await?;
            for event in page["events"].as_array().into_iter().flatten() {
                let (Some(task), Some(date)) = (
                    event["event_data"]["task_sid"].as_str(),
                    event["event_date_ms"].as_i64(),
                ) else {
                    continue;
                };
                let entry = dates.entry(task.to_string()).or_default();
                // The first reservation of a task counts (there is one per task here).
                entry[slot] = Some(entry[slot].map_or(date, |seen| seen.min(date)));
            }
            match page["meta"]["next_page_url"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
        }
    }
    let mut to_reservation = Vec::new();
    let mut to_assignment = Vec::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for [created, reserved, accepted] in dates.values() {
        let (Some(created), Some(reserved), Some(accepted)) = (created, reserved, accepted) else {
            continue;
        };
        to_reservation.push((reserved - created) as f64);
        to_assignment.push((accepted - created) as f64);
        first = first.min(*created);
        last = last.max(*accepted);
    }
    if to_assignment.len() != tasks {
        return Err(format!(
            "the event log has the whole lifecycle of {} tasks, not {tasks}",
            to_assignment.len()
        )
        .into());
    }
    let seconds = ((last - first).max(1) as f64) / 1000.0;
    let tasks_per_second = tasks as f64 / seconds;
    let (rss_lifecycle, _) = memory(emulator.child.id())?;
    eprintln!("lifecycle: {tasks_per_second:.0} tasks/s assigned");

    // Fill the store to `stored` tasks: nobody is free now beyond the idle workers, so
    // most of these wait in the queue.
    let more = stored.saturating_sub(tasks);
    let fill_started = Instant::now();
    fan_out(more, clients, &bench, |bench, _| async move {
        bench.create_task().await?;
        Ok(Vec::new())
    })
    .await?;
    let fill_seconds = fill_started.elapsed().as_secs_f64();
    let statistics = api
        .get(&format!("Workspaces/{ws}/RealTimeStatistics"))
        .await?;
    let (rss_stored, peak) = memory(emulator.child.id())?;
    eprintln!("lifecycle: {stored} tasks stored, RSS {rss_stored:.0} MiB (peak {peak:.0} MiB)");

    Ok(json!({
        "workers": workers,
        "tasks": tasks,
        "clients": clients,
        "seconds": seconds,
        "tasks_per_second": tasks_per_second,
        "reserved_in_create_reply": bench.reserved_at_create.load(Ordering::Relaxed),
        "create_to_reservation_ms": percentiles(&mut to_reservation),
        "create_to_assignment_ms": percentiles(&mut to_assignment),
        "create_request_ms": percentiles(&mut create_rtt),
        "create_to_polled_assigned_ms": percentiles(&mut polled_assignment),
        "status_polls": bench.polls.load(Ordering::Relaxed),
        "wall_seconds": wall_seconds,
        "emulator_cpu_us_per_task": emulator_cpu_ms * 1000.0 / tasks as f64,
        "serve_cpu_us_per_task": serve_cpu_ms * 1000.0 / tasks as f64,
        "client_cpu_us_per_task": client_cpu_ms * 1000.0 / tasks as f64,
        "emulator_cpu_share": emulator_cpu_ms / 1000.0 / wall_seconds,
        "rss_mib_after_lifecycle": rss_lifecycle,
        "stored_tasks": stored.max(tasks),
        "fill_tasks_per_second": more as f64 / fill_seconds.max(f64::EPSILON),
        "realtime_total_tasks": statistics["total_tasks"],
        "rss_mib_stored": rss_stored,
        "peak_rss_mib": peak,
    }))
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lifecycle: {err}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(run()) {
        Ok(report) => println!("{report}"),
        Err(err) => {
            eprintln!("lifecycle: {err}");
            std::process::exit(1);
        }
    }
}
