"""Signatures between trctl and Twilio's own validator (twilio-python's
RequestValidator), in both directions: what `trctl trigger` signs validates with the
library, and what the library signs is accepted by `trctl serve` (tampered: 403)."""

import contextlib
import os
import queue
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "0123456789abcdef0123456789abcdef"  # WIRE.md §4.5's test token
VECTOR_A = {
    "AccountSid": "AC00000000000000000000000000000001",
    "WorkspaceSid": "WS00000000000000000000000000000002",
    "WorkflowSid": "WW00000000000000000000000000000003",
    "TaskQueueSid": "WQ00000000000000000000000000000004",
    "WorkerSid": "WK00000000000000000000000000000005",
    "WorkerAttributes": '{"contact_uri":"client:alice"}',
    "TaskSid": "WT00000000000000000000000000000006",
    "TaskAttributes": '{"type":"support","note":"a b+c"}',
    "TaskAge": "12",
    "TaskPriority": "0",
    "ReservationSid": "WR00000000000000000000000000000007",
    "Timestamp": "1700000000",
}


def trctl_bin() -> Path:
    return Path(os.environ.get("TRCTL_BIN", ROOT / "target" / "debug" / "trctl"))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TRCTL_"))}
    env.update(extra)
    return env


@contextlib.contextmanager
def serve(*args, token=TOKEN):
    """`trctl serve --port 0` with the test token; yields its assignment callback URL."""
    workdir = tempfile.TemporaryDirectory(prefix="trctl-serve-")
    log = Path(workdir.name) / "serve.ndjson"
    proc = subprocess.Popen(
        [str(trctl_bin()), "serve", "--port", "0", "--log-file", str(log), *args],
        cwd=workdir.name,
        env=clean_env(TWILIO_AUTH_TOKEN=token),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: "queue.Queue[str | None]" = queue.Queue()
    local = None

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        while url is None:
            line = lines.get(timeout=20)
            if line is None:
                pytest.fail("trctl serve exited before printing its URL: " + proc.stderr.read())
            if line.startswith("trctl serve: listening on"):
                local = line.split()[-1]
            if line.startswith("assignment callback URL:"):
                url = line.split()[-1]
        # The URL TaskRouter would call, and the loopback address actually listened on.
        yield url, local
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        assert TOKEN not in (out or "") + (err or ""), "the auth token leaked into serve's output"
        if log.exists():
            assert TOKEN not in log.read_text(), "the auth token leaked into --log-file"
        workdir.cleanup()


def post(url, params, signature, query_params=None):
    return requests.post(
        url if not query_params else f"{url}?{urlencode(query_params)}",
        data=params,
        headers={"X-Twilio-Signature": signature},
        timeout=10,
    )


@pytest.mark.parametrize(
    "params",
    [
        VECTOR_A,
        {**VECTOR_A, "TaskAttributes": '{"name":"Zoë 🎧","empty":""}', "Extra": ""},
        [("EventType", "task.created"), ("Tag", "beta"), ("Tag", "alpha"), ("Tag", "alpha")],
    ],
    ids=["vector-a", "non-ascii-and-empty", "repeated"],
)
def test_serve_accepts_what_the_library_signs_and_refuses_tampering(params):
    validator = RequestValidator(TOKEN)
    with serve("--instruction", "accept") as (url, _local):
        pairs = params if isinstance(params, list) else list(params.items())
        signed = dict(pairs) if isinstance(params, dict) else {}
        signature = validator.compute_signature(url, signed if signed else _multi(pairs))
        reply = requests.post(url, data=pairs, headers={"X-Twilio-Signature": signature}, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"instruction": "accept"}
        tampered = [(k, v + "x") if k in ("TaskSid", "EventType") else (k, v) for k, v in pairs]
        assert requests.post(url, data=tampered, headers={"X-Twilio-Signature": signature}, timeout=10).status_code == 403
        assert requests.post(url, data=pairs, timeout=10).status_code == 403
        wrong = RequestValidator("not-the-token").compute_signature(url, signed if signed else _multi(pairs))
        assert requests.post(url, data=pairs, headers={"X-Twilio-Signature": wrong}, timeout=10).status_code == 403


class _Multi(dict):
    """Repeated keys the way the library reads them (Flask's MultiDict has `getall`)."""

    def getall(self, key):
        return self[key]


def _multi(pairs):
    grouped = _Multi()
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def test_serve_accepts_a_signed_query_string_and_port_variants():
    validator = RequestValidator(TOKEN)
    with serve() as (url, _local):
        with_query = f"{url}?ws=dev"
        signature = validator.compute_signature(with_query, VECTOR_A)
        reply = requests.post(with_query, data=VECTOR_A, headers={"X-Twilio-Signature": signature}, timeout=10)
        assert (reply.status_code, reply.json()) == (200, {})
    # Behind a proxy the signed URL is the public one; the libraries accept it with and
    # without the scheme's default port, and so must serve.
    with serve("--public-url", "https://trctl.example.test") as (public_url, local):
        assert public_url == "https://trctl.example.test/assignment_callback"
        for public in (public_url, "https://trctl.example.test:443/assignment_callback"):
            signature = validator.compute_signature(public, VECTOR_A)
            # Sent to the loopback listener; signed over the public URL.
            reply = requests.post(f"{local}/assignment_callback", data=VECTOR_A, headers={"X-Twilio-Signature": signature}, timeout=10)
            assert reply.status_code == 200, (public, reply.text)


class Recorder:
    """A callback endpoint that validates every request with the library."""

    def __init__(self):
        recorder = self
        self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                pairs = parse_qsl(body, keep_blank_values=True)
                url = f"http://{self.headers['Host']}{self.path}"
                valid = RequestValidator(TOKEN).validate(url, _multi(pairs) if len({k for k, _ in pairs}) < len(pairs) else dict(pairs), self.headers.get("X-Twilio-Signature", ""))
                recorder.seen.append((dict(pairs), valid))
                answer = b'{"instruction":"accept"}' if self.path.startswith("/assignment") else b""
                self.send_response(200 if answer else 204)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def trigger(*args):
    return subprocess.run(
        [str(trctl_bin()), "trigger", *args],
        env=clean_env(TWILIO_AUTH_TOKEN=TOKEN),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_library_validates_what_trigger_signs():
    recorder = Recorder()
    try:
        done = trigger("assignment", f"{recorder.base}/assignment_callback?ws=dev", "--task-attributes", '{"note":"a b+c é"}')
        assert done.returncode == 0, done.stdout + done.stderr
        for event_type in ("reservation.created", "task.created", "worker.activity.update"):
            done = trigger("event", f"{recorder.base}/events", "--event-type", event_type)
            assert done.returncode == 0, done.stdout + done.stderr
        assert [valid for _, valid in recorder.seen] == [True] * 4
        assignment, *events = [params for params, _ in recorder.seen]
        for key in VECTOR_A:
            assert key in assignment, key
        for params in events:
            for key in ("EventType", "AccountSid", "WorkspaceSid", "WorkspaceName", "EventDescription", "ResourceType", "ResourceSid", "Timestamp"):
                assert key in params, (params.get("EventType"), key)
        assert [p["EventType"] for p in events] == ["reservation.created", "task.created", "worker.activity.update"]
        assert TOKEN not in done.stdout + done.stderr
    finally:
        recorder.close()
