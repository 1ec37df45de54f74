"""Side-by-side benchmarks of trctl and what a TaskRouter developer would otherwise run.

Started by scripts/bench.sh after it has built the release binaries and installed the
comparison tools locally (a venv with Flask, gunicorn and twilio; twilio-cli under an npm
prefix). Every comparison runs its contenders in one run, alternating them round by
round, so drift between runs affects them alike. Writes a JSON file of every sample and
BENCHMARKS.md. Only loopback addresses are used; every process started here is stopped
here, by its PID.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC00000000000000000000000000000000"
AUTH_TOKEN = "bench-auth-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{process.args} did not listen on {port}")


class Processes:
    """Processes started here; all stopped (by PID) on exit."""

    def __init__(self):
        self.started = []

    def start(self, args, port, env=None, cwd=None):
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started.append(process)
        wait_for_port(port, process)
        return process

    def stop_all(self):
        for process in self.started:
            if process.poll() is None:
                # The session leader is our child; its group holds only its own workers
                # (gunicorn's), started by it.
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def median(values):
    return statistics.median(values) if values else float("nan")


def trigger(trctl, url, count, concurrency):
    out = subprocess.run(
        [trctl, "trigger", "assignment", url, "--count", str(count),
         "--concurrency", str(concurrency), "-o", "json"],
        env={**os.environ, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
        capture_output=True, text=True, timeout=600,
    )
    if not out.stdout.strip():
        raise RuntimeError(f"trigger against {url} printed nothing: {out.stderr}")
    return json.loads(out.stdout)


def callback_body_bytes(trctl):
    """The size of the form body `trctl trigger` sends, read by a one-shot local server."""
    import http.server
    import threading

    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["bytes"] = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(seen["bytes"])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/assignment_callback"
    trigger(trctl, url, 1, 1)
    thread.join(timeout=10)
    server.server_close()
    return seen.get("bytes", "?")


def callback_comparison(args, procs):
    """trctl serve vs the quickstart's Flask app (development server, gunicorn) vs bare axum."""
    venv_python = str(Path(args.venv) / "bin" / "python")
    gunicorn = str(Path(args.venv) / "bin" / "gunicorn")
    compare = ROOT / "benches" / "compare"
    servers = {}
    port = free_port()
    procs.start([args.trctl, "serve", "--port", str(port)], port,
                env={"TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    servers["trctl serve (signatures checked)"] = (port, args.fast_count)
    port = free_port()
    procs.start([args.bare_axum, str(port)], port)
    servers["bare axum handler"] = (port, args.fast_count)
    port = free_port()
    procs.start([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "flask_app:app"], port,
                cwd=str(compare))
    servers["Flask app, gunicorn 2 sync workers"] = (port, args.slow_count * 3)
    port = free_port()
    procs.start([venv_python, "flask_app.py", str(port)], port, cwd=str(compare))
    servers["Flask app, development server"] = (port, args.slow_count)

    names = list(servers)
    results = {}
    for concurrency in args.concurrency:
        for round_index in range(args.rounds):
            # Rotate the order each round so none always runs first.
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                port, count = servers[name]
                url = f"http://127.0.0.1:{port}/assignment_callback"
                run = trigger(args.trctl, url, count, concurrency)
                results.setdefault(name, {}).setdefault(str(concurrency), []).append(run)
                print(f"  c={concurrency:<3} {name:<40} {run['requests_per_second']:>9.0f} req/s"
                      f"  p50 {run['latency_ms']['p50']:.2f}  p99 {run['latency_ms']['p99']:.2f} ms"
                      f"  errors {run['errors']} failed {run['failed']}", flush=True)
    return results


def spawn_time(argv, env):
    started = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env)
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter_ns() - started) / 1e6
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{argv} exited with {code}")
    return elapsed


def oneshot_comparison(args, procs):
    """One task create from a fresh process: trctl, Python + twilio, curl; twilio --version."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TRCTL_BASE_URL": base, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    procs.start([args.trctl, "emulator", "--port", str(port)], port, env=env)
    created = subprocess.run(
        [args.trctl, "workspace", "create", "--name", "One-shot", "--template", "FIFO", "-o", "json"],
        env=env, capture_output=True, text=True, check=True)
    workspace = json.loads(created.stdout)["sid"]
    listed = subprocess.run(
        [args.trctl, "--workspace", workspace, "workflow", "list", "-o", "json"],
        env=env, capture_output=True, text=True, check=True)
    workflow = json.loads(listed.stdout)[0]["sid"]
    attributes = '{"selected_language":"es"}'
    node_bin = str(Path(args.node_prefix) / "node_modules" / ".bin")
    twilio_env = {**env, "PATH": node_bin + os.pathsep + env.get("PATH", "")}
    # Neither twilio-cli nor the library may phone home during the runs.
    twilio_env["TWILIO_CLI_NO_UPDATE_CHECK"] = "1"
    commands = {
        "trctl task create": ([args.trctl, "--workspace", workspace, "task", "create",
                               "--workflow", workflow, "--attributes", attributes, "-o", "json"], env),
        "python + twilio: tasks.create": ([str(Path(args.venv) / "bin" / "python"),
                                           str(ROOT / "benches" / "compare" / "python_task_create.py"),
                                           workspace, workflow], env),
        "twilio --version (twilio-cli)": ([str(Path(node_bin) / "twilio"), "--version"], twilio_env),
        "curl: the same POST": (["/usr/bin/curl", "-sS", "-o", "/dev/null", "-f",
                                 "-u", f"{ACCOUNT_SID}:{AUTH_TOKEN}",
                                 "--data-urlencode", f"WorkflowSid={workflow}",
                                 "--data-urlencode", f"Attributes={attributes}",
                                 f"{base}/v1/Workspaces/{workspace}/Tasks"], env),
        "/bin/true (process start floor)": (["/bin/true"], env),
    }
    commands = {name: c for name, c in commands.items() if Path(c[0][0]).exists()}
    # Stdout of the commands goes to /dev/null for all alike.
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    times = {name: [] for name in commands}
    try:
        os.dup2(devnull, 1)
        for name, (argv, e) in commands.items():  # warm caches once
            spawn_time(argv, e)
        for _ in range(args.oneshot_rounds):
            for name, (argv, e) in commands.items():
                times[name].append(spawn_time(argv, e))
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
    for name, samples in times.items():
        print(f"  {name:<36} median {median(samples):8.1f} ms  "
              f"min {min(samples):7.1f}  max {max(samples):7.1f}", flush=True)
    return times


def lifecycle(args):
    out = subprocess.run([args.lifecycle], env={**os.environ, "TRCTL_BIN": args.trctl},
                         capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise RuntimeError(f"lifecycle failed: {out.stderr}")
    result = json.loads(out.stdout)
    print(f"  {result['tasks_per_second']:.0f} tasks/s; create→reservation p99 "
          f"{result['create_to_reservation_ms']['p99']:.2f} ms; RSS at "
          f"{result['stored_tasks']} tasks {result['rss_mib_stored']:.0f} MiB", flush=True)
    return result


def memory(args):
    """benches/memory.rs: live heap per stored task, engine driven directly."""
    out = subprocess.run([args.memory], capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise RuntimeError(f"memory failed: {out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  engine live heap at {result['tasks_stored']} tasks {result['live_mib_stored']:.0f} MiB "
          f"({result['bytes_per_pending_task']:.0f} B per pending task)", flush=True)
    return result


def stall(args):
    """benches/stall.rs: GET /Activities while the worst task create within the limits runs."""
    out = subprocess.run([args.stall], capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise RuntimeError(f"stall failed: {out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  worst create {result['task_create']['worst_ms']:.1f} ms; GET /Activities during it "
          f"{result['activities_during_create']['worst_ms']:.1f} ms worst", flush=True)
    return result


def criterion(group_dir):
    """Median estimates (ns) of a criterion group, by benchmark id."""
    found = {}
    base = ROOT / "target" / "criterion" / group_dir
    if not base.is_dir():
        return found
    for estimates in sorted(base.glob("*/new/estimates.json")):
        data = json.loads(estimates.read_text())
        found[estimates.parent.parent.name] = data["median"]["point_estimate"]
    return found


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({model}), {memory} RAM, {platform.system()} {platform.release()}"


def fmt(value, digits=0):
    return f"{value:,.{digits}f}"


def verdict(ok):
    return "met" if ok else "**not met**"


def provenance():
    """The commit measured, and whether the code differed from it."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "benches", "Cargo.toml"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return commit, bool(dirty)


def report(args, callbacks, oneshot, life, engine, expr, when=None, limits=None):
    lines = []
    add = lines.append
    commit, dirty = getattr(args, "provenance", None) or provenance()
    add("# trctl benchmarks")
    add("")
    add("Written by `scripts/bench.sh`; every figure below comes from the one run described here. "
        "Contenders of a comparison run in the same run, alternating round by round.")
    add("")
    state = " with uncommitted changes" if dirty else ""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    add(f"- date: {when:%Y-%m-%d %H:%M} UTC; commit `{commit}`{state}")
    add(f"- machine: {machine()}")
    add(f"- rounds: {args.rounds} per concurrency (callbacks), {args.oneshot_rounds} (one-shot); "
        "medians, with min–max across rounds")
    add("")
    targets = []

    if callbacks:
        add("## Assignment callbacks: `trctl serve` vs the quickstart's app")
        add("")
        add("Load: `trctl trigger assignment URL --count N --concurrency C -o json`, a signed "
            "assignment callback with every parameter TaskRouter sends and fresh SIDs each time "
            f"({args.body_bytes} bytes of form body), over keep-alive connections as far as "
            "the server keeps them open. Servers: `trctl serve --port P` with `TWILIO_AUTH_TOKEN` set "
            "(signatures checked, one log line per request); `benches/bare_axum.rs` (axum "
            "answering `{}`, nothing else); `benches/compare/flask_app.py` under "
            "`python flask_app.py` and `gunicorn -w 2`.")
        add("")
        add("| server | concurrency | req/s median | min–max | p50 ms | p99 ms | errors |")
        add("|---|---|---|---|---|---|---|")
        med = {}
        for name, by_c in callbacks.items():
            for c, runs in by_c.items():
                rps = [r["requests_per_second"] for r in runs]
                p50 = median([r["latency_ms"]["p50"] for r in runs])
                p99 = median([r["latency_ms"]["p99"] for r in runs])
                errors = sum(r["errors"] + r["failed"] for r in runs)
                med[(name, c)] = median(rps)
                add(f"| {name} | {c} | {fmt(median(rps))} | {fmt(min(rps))}–{fmt(max(rps))} | "
                    f"{p50:.2f} | {p99:.2f} | {errors} |")
        add("")
        serve = med.get(("trctl serve (signatures checked)", "16"), float("nan"))
        flask = med.get(("Flask app, development server", "16"), float("nan"))
        gunicorn = med.get(("Flask app, gunicorn 2 sync workers", "16"), float("nan"))
        bare = med.get(("bare axum handler", "16"), float("nan"))
        targets.append(("serve ≥ 30× Flask development server (c=16)", f"{serve / flask:.1f}×", serve / flask >= 30))
        targets.append(("serve ≥ 10× gunicorn (c=16)", f"{serve / gunicorn:.1f}×", serve / gunicorn >= 10))
        targets.append(("serve ≥ ½ bare axum (c=16)", f"{serve / bare:.2f}×", serve / bare >= 0.5))

    if oneshot:
        add("## One-shot CLI: one task create from a fresh process")
        add("")
        add("Each command is started with `posix_spawn` and waited for; the time is the wall "
            "time from spawn to exit, so process start-up is included (`/bin/true` shows "
            "what that alone costs here). The task create goes to a `trctl emulator` on "
            "loopback; twilio-cli 6.2 only prints its version (it cannot be pointed at a "
            "local TaskRouter), which is its floor.")
        add("")
        add("| command | median ms | min–max ms |")
        add("|---|---|---|")
        for name, samples in oneshot.items():
            add(f"| {name} | {median(samples):.1f} | {min(samples):.1f}–{max(samples):.1f} |")
        add("")
        trctl = median(oneshot.get("trctl task create", []))
        python = median(oneshot.get("python + twilio: tasks.create", []))
        cli = median(oneshot.get("twilio --version (twilio-cli)", []))
        curl = median(oneshot.get("curl: the same POST", []))
        targets.append(("task create ≥ 50× faster than Python + twilio", f"{python / trctl:.0f}×", python / trctl >= 50))
        targets.append(("task create ≥ 200× faster than twilio --version", f"{cli / trctl:.0f}×", cli / trctl >= 200))
        targets.append(("task create no slower than curl", f"{trctl:.1f} ms vs {curl:.1f} ms", trctl <= curl))

    if life:
        add("## Emulator lifecycle under load")
        add("")
        add(f"`benches/lifecycle.rs`: `trctl emulator` and `trctl serve --instruction accept` as "
            f"processes; {life['workers']:,} available workers; {life['clients']} clients create "
            f"{life['tasks']:,} tasks over HTTP; each client polls its task every 0.5 ms until it "
            "is `assigned` (the assignment callback to `serve` and its `accept` happen "
            "meanwhile) and completes it, so workers keep coming free. "
            f"{life['reserved_in_create_reply']:,} of {life['tasks']:,} create replies already "
            "reported `reserved`: the engine reserves inside the create request. Task times "
            "come from the emulator's own event log (`event_date_ms`, 1 ms resolution); the "
            "create request's round trip is measured by the clients. Then tasks are added "
            f"until {life['stored_tasks']:,} are stored (`--keep-finished`; the tasks past "
            "the first 1,000 wait in the queue) and the emulator's RSS is read from /proc.")
        add("")
        add("| figure | value |")
        add("|---|---|")
        add(f"| tasks/s, first `task.created` to last `reservation.accepted` | {fmt(life['tasks_per_second'])} |")
        for key, label in (("create_request_ms", "create request round trip (client)"),
                           ("create_to_reservation_ms", "`task.created` → `reservation.created` (event log)"),
                           ("create_to_assignment_ms", "`task.created` → `reservation.accepted` (event log)"),
                           ("create_to_polled_assigned_ms", "create sent → `assigned` seen by polling (client)")):
            p = life[key]
            add(f"| {label}, p50 / p90 / p99 / max ms | {p['p50']:.2f} / {p['p90']:.2f} / "
                f"{p['p99']:.2f} / {p['max']:.2f} |")
        add(f"| CPU per task: emulator / serve / load generator | {life['emulator_cpu_us_per_task']:.0f} µs / "
            f"{life['serve_cpu_us_per_task']:.0f} µs / {life.get('client_cpu_us_per_task', float('nan')):.0f} µs "
            f"(emulator busy {life['emulator_cpu_share']:.2f} cores of 2) |")
        add(f"| requests per task to the emulator | create, {life['status_polls'] / life['tasks']:.1f} "
            "status polls, complete; plus one assignment callback to serve |")
        add(f"| emulator RSS after the lifecycle | {life['rss_mib_after_lifecycle']:.0f} MiB |")
        add(f"| emulator RSS with {life['stored_tasks']:,} tasks stored (peak) | "
            f"{life['rss_mib_stored']:.0f} MiB ({life['peak_rss_mib']:.0f} MiB) |")
        add(f"| task creates/s while filling the store | {fmt(life['fill_tasks_per_second'])} |")
        add("")
        mem = life.get("engine_memory")
        if mem:
            add(f"The same state built on the engine directly (`benches/memory.rs`, no HTTP, a "
                f"counting allocator): {mem['tasks_stored']:,} tasks and {mem['events_stored']:,} "
                "events stored.")
            add("")
            add("| figure | value |")
            add("|---|---|")
            add(f"| live heap with {mem['tasks_stored']:,} tasks stored | {mem['live_mib_stored']:.0f} MiB |")
            add(f"| per finished task (with its events) | {mem['bytes_per_finished_task']:,.0f} B |")
            add(f"| per pending task (with its events) | {mem['bytes_per_pending_task']:,.0f} B |")
            add(f"| engine time per task, create → accepted → completed | "
                f"{mem['engine_us_per_cycled_task']:.1f} µs |")
            add(f"| engine time per create while every worker is busy | "
                f"{mem['engine_us_per_pending_create']:.1f} µs |")
            add("")
        targets.append(("lifecycle ≥ 6,000 tasks/s assigned, 1,000 workers",
                        fmt(life["tasks_per_second"]), life["tasks_per_second"] >= 6000))
        # Judged on the client's round trip, the stricter of the two measures.
        p99 = life["create_request_ms"]["p99"]
        targets.append(("p99 create → reservation ≤ 5 ms (client round trip; event log "
                        f"{life['create_to_reservation_ms']['p99']:.0f} ms)", f"{p99:.2f} ms", p99 <= 5))
        targets.append(("RSS ≤ 300 MB at 100,000 tasks stored",
                        f"{life['peak_rss_mib'] * 1.048576:.0f} MB peak", life["peak_rss_mib"] * 1.048576 <= 300))

    if engine:
        add("## Routing engine (criterion, `cargo bench --bench engine`)")
        add("")
        add("One routing event, driven on the engine directly (no HTTP): a worker becoming "
            "available while N tasks wait in its queue, and a task created while M workers "
            "are available. Median of criterion's samples.")
        add("")
        add("| event | 1,000 | 10,000 | 100,000 |")
        add("|---|---|---|---|")
        for group, label in (("worker_available_with_pending_tasks", "worker available, N pending tasks"),
                             ("task_created_with_available_workers", "task created, M available workers")):
            row = engine.get(group, {})
            cells = [f"{row[k] / 1000:.1f} µs" if k in row else "–" for k in ("1000", "10000", "100000")]
            add(f"| {label} | " + " | ".join(cells) + " |")
        add("")
        row = engine.get("worker_available_with_pending_tasks", {})
        if all(k in row for k in ("1000", "10000", "100000")):
            # Logarithmic growth adds the same cost per tenfold: at most logarithmic means
            # the second decade adds no more than the first.
            first = (row["10000"] - row["1000"]) / 1000
            second = (row["100000"] - row["10000"]) / 1000
            ratio = row["100000"] / row["1000"]
            targets.append(("routing cost grows ≤ logarithmically, 1k → 10k → 100k pending "
                            "(added cost per tenfold does not rise)",
                            f"{first:+.1f} µs, then {second:+.1f} µs ({ratio:.2f}× overall)",
                            second <= max(first, 0.0)))

    if expr:
        add("## Expressions (criterion, `cargo bench --bench expr`)")
        add("")
        add("| benchmark | median |")
        add("|---|---|")
        for name, ns in expr.items():
            add(f"| {name} | {ns:.0f} ns |")
        add("")
        evals = {k: v for k, v in expr.items() if k.startswith("evaluate/")}
        if evals:
            worst = max(evals.values())
            targets.append(("expression evaluation ≤ 200 ns (slowest of five)", f"{worst:.0f} ns", worst <= 200))

    if limits:
        add("## Engine cost bounds (`cargo bench --bench engine -- at_limits`, `--bench stall`)")
        add("")
        stall_result = limits.get("stall") or {}
        terms = stall_result.get("terms", 50)
        steps = stall_result.get("targets", 20)
        scale = (f"{stall_result.get('workers', 100)} available workers, {stall_result.get('queues', 100)} queues "
                 f"whose `TargetWorkers` has {terms} terms, 100 waiting tasks, a workflow of "
                 f"{steps} targets (10 filters of {steps // 10})")
        add(f"The limits of `src/expr/limits.rs` (8 KiB, {terms} terms, 512 list items and 64 levels of "
            f"nesting per expression; {steps} targets per workflow; 10 `order_by` clauses) at the scale "
            f"the README promises: {scale}. Every expression is at the term limit and built so "
            "nothing short-circuits: every worker is a member of every queue on the last term, no "
            "worker passes any target expression, every `skip_if` holds, so a new task enters and "
            f"skips all {steps} steps, checking every worker at each, and leaves the workflow. The queue "
            "update re-routes 100 waiting tasks against every worker; the list filter checks every "
            f"worker against a {terms}-term `TargetWorkersExpression` and a queue. Criterion medians "
            "(engine driven directly, no HTTP), and over HTTP the worst of "
            f"{(stall_result.get('task_create') or {}).get('runs', '?')} runs.")
        add("")
        add("| request | median | worst |")
        add("|---|---|---|")
        at = limits.get("engine") or {}
        for key, label in (("task_create_walks_every_step", "task create walking every step (engine)"),
                           ("queue_update_reroutes_backlog", "queue update re-routing 100 pending tasks (engine)"),
                           ("worker_list_filter", "worker list, `TargetWorkersExpression` + queue (engine)")):
            if key in at:
                add(f"| {label} | {at[key] / 1e6:.2f} ms | – |")
        for key, label in (("task_create", "POST /Tasks, the same worst case, over HTTP"),
                           ("activities_idle", "GET /Activities, nothing else in flight"),
                           ("activities_during_create", "slowest GET /Activities while that POST was in flight")):
            if key in stall_result:
                row = stall_result[key]
                add(f"| {label} | {row['median_ms']:.2f} ms | {row['worst_ms']:.2f} ms |")
        add("")
        evals = limits.get("expr") or {}
        if evals:
            add("One evaluation at the limits, against one worker (criterion median): "
                + "; ".join(f"`{name}` {ns / 1000:.1f} µs" for name, ns in evals.items())
                + ".")
            if "terms_has_2040_items" in evals and evals.get("terms_scalar"):
                terms = stall_result.get("terms", 50)
                per_item = evals["terms_has_2040_items"] / (terms * 2040)
                per_term = evals["terms_scalar"] / terms
                add("")
                add(f"A `HAS` scans the attribute array it tests: about {per_item:.0f} ns per element "
                    f"(`terms_has_2040_items`, {terms} terms over a 2,040-element array, the longest "
                    f"4096 characters of attributes hold), against about {per_term:.0f} ns for a "
                    "scalar comparison. The figures above use scalar attributes; expressions whose "
                    "terms all scan long attribute arrays cost proportionally more.")
            add("")
        worst_engine = max((at[k] / 1e6 for k in ("task_create_walks_every_step", "queue_update_reroutes_backlog",
                                                    "worker_list_filter") if k in at), default=None)
        if worst_engine is not None:
            targets.append(("the worst requests within the limits hold the engine ≤ 50 ms (slowest of three, engine median)",
                            f"{worst_engine:.1f} ms", worst_engine <= 50))
        if "task_create" in stall_result:
            worst_create = stall_result["task_create"]["worst_ms"]
            targets.append(("worst-case task create within the limits ≤ 50 ms (over HTTP, worst run)",
                            f"{worst_create:.1f} ms", worst_create <= 50))
        if "activities_during_create" in stall_result:
            waited = stall_result["activities_during_create"]["worst_ms"]
            targets.append(("GET /Activities delayed ≤ 100 ms by a request within the limits (worst run)",
                            f"{waited:.1f} ms", waited <= 100))

    add("## Targets")
    add("")
    add("| target | measured | |")
    add("|---|---|---|")
    for name, measured, ok in targets:
        add(f"| {name} | {measured} | {verdict(ok)} |")
    add("")
    return "\n".join(lines) + "\n", targets


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trctl", required=True)
    parser.add_argument("--bare-axum", required=True)
    parser.add_argument("--lifecycle", required=True)
    parser.add_argument("--stall", help="benches/stall.rs executable (for `limits`)")
    parser.add_argument("--memory", help="benches/memory.rs executable (for `lifecycle`)")
    parser.add_argument("--venv", required=True)
    parser.add_argument("--node-prefix", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--oneshot-rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--fast-count", type=int, default=40000)
    parser.add_argument("--slow-count", type=int, default=2000)
    parser.add_argument("--only", nargs="*",
                        default=["callbacks", "oneshot", "lifecycle", "engine", "expr", "limits"])
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default=str(ROOT / ".bench" / "results.json"))
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite BENCHMARKS.md from the JSON of the last run")
    args = parser.parse_args()
    args.body_bytes = "?"
    if args.report_only:
        saved = json.loads(Path(args.json).read_text())
        args.body_bytes = saved.get("body_bytes", "?")
        args.rounds = saved.get("rounds", args.rounds)
        args.oneshot_rounds = saved.get("oneshot_rounds", args.oneshot_rounds)
        if "provenance" in saved:
            args.provenance = tuple(saved["provenance"])
        text, targets = report(args, saved.get("callbacks"), saved.get("oneshot"),
                               saved.get("lifecycle"), saved.get("engine"), saved.get("expr"),
                               datetime.datetime.fromisoformat(saved["date"]) if "date" in saved else None,
                               saved.get("limits"))
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
        return 0

    args.provenance = provenance()
    procs = Processes()
    results = {}
    try:
        if "callbacks" in args.only:
            print("== assignment callbacks", flush=True)
            args.body_bytes = callback_body_bytes(args.trctl)
            results["callbacks"] = callback_comparison(args, procs)
            procs.stop_all()
            procs = Processes()
        if "oneshot" in args.only:
            print("== one-shot task create", flush=True)
            results["oneshot"] = oneshot_comparison(args, procs)
            procs.stop_all()
            procs = Processes()
        if "lifecycle" in args.only:
            print("== emulator lifecycle", flush=True)
            results["lifecycle"] = lifecycle(args)
            if args.memory:
                results["lifecycle"]["engine_memory"] = memory(args)
        if "limits" in args.only and args.stall:
            print("== worst case within the limits, over HTTP", flush=True)
            results["limits"] = {"stall": stall(args)}
    finally:
        procs.stop_all()
    engine = {}
    if "engine" in args.only:
        for group in ("worker_available_with_pending_tasks", "task_created_with_available_workers"):
            engine[group] = criterion(group)
    expr = {}
    if "expr" in args.only:
        for group in ("compile", "evaluate"):
            expr.update({f"{group}/{name}": ns for name, ns in criterion(group).items()})
    if "limits" in args.only:
        limits = results.setdefault("limits", {})
        limits["engine"] = criterion("at_limits")
        limits["expr"] = criterion("evaluate_at_limits")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        {**results, "engine": engine, "expr": expr, "body_bytes": args.body_bytes,
         "rounds": args.rounds, "oneshot_rounds": args.oneshot_rounds,
         "provenance": list(args.provenance),
         "date": datetime.datetime.now(datetime.timezone.utc).isoformat()}, indent=1))
    text, targets = report(args, results.get("callbacks"), results.get("oneshot"),
                           results.get("lifecycle"), engine, expr, limits=results.get("limits"))
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    for name, measured, ok in targets:
        print(f"  {'ok ' if ok else 'NOT'} {name}: {measured}")


if __name__ == "__main__":
    sys.exit(main())
