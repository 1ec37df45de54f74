"""Twilio's official Python helper library (twilio-python) against `trctl emulator`.

The library is the referee: if it cannot parse, page through or raise on what the
emulator sends, the emulator's wire format is wrong. The emulator runs as the built
binary (`TRCTL_BIN`, default `target/debug/trctl`), started once per module on a free
port and stopped by PID at the end. The only thing the tests change about the library
is the host: an `HttpClient` subclass rewrites `https://taskrouter.twilio.com` to the
emulator's base URL and leaves every other URL (e.g. the emulator's own
`next_page_url`s) untouched.
"""

import asyncio
import contextlib
import datetime
import importlib
import inspect
import json
import os
import pkgutil
import queue
import re
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import twilio.rest.taskrouter.v1 as taskrouter_v1
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.base.instance_resource import InstanceResource
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# The library's aiohttp client still uses aiohttp's deprecated Basic-auth API; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TWILIO_HOST = "https://taskrouter.twilio.com"
STARTUP_TIMEOUT_S = 30


def trctl_bin() -> Path:
    path = Path(os.environ.get("TRCTL_BIN") or "target/debug/trctl")
    return path if path.is_absolute() else REPO_ROOT / path


class EmulatorHttpClient(TwilioHttpClient):
    """Sends TaskRouter requests to the emulator; records every URL requested."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.requested = []

    def request(self, method, url, *args, **kwargs):
        if url == TWILIO_HOST or url.startswith(TWILIO_HOST + "/"):
            url = self.base_url + url[len(TWILIO_HOST):]
        self.requested.append((method.upper(), url))
        return super().request(method, url, *args, **kwargs)


class AsyncEmulatorHttpClient(AsyncTwilioHttpClient):
    """The same rewrite for the library's aiohttp-based client."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.requested = []

    async def request(self, method, url, *args, **kwargs):
        if url == TWILIO_HOST or url.startswith(TWILIO_HOST + "/"):
            url = self.base_url + url[len(TWILIO_HOST):]
        self.requested.append((method.upper(), url))
        return await super().request(method, url, *args, **kwargs)


# ------------------------------------------------------------------ wire checks
#
# Every TaskRouter resource class of the library reads its fields with
# `payload.get("name")` and parses dates with `deserialize.iso8601_datetime`, which
# silently hands back the raw string when the format is not `%Y-%m-%dT%H:%M:%SZ`. The
# library's own source therefore says what a response must contain; the fixture below
# wraps every such class so that each instance built during the tests checks that all
# fields it reads are present and every non-null date was parsed.

_FIELD = re.compile(r'payload\.get\(\s*"(\w+)"\s*\)')
_DATE = re.compile(
    r'self\.(\w+)\s*:[^=\n]*=\s*deserialize\.iso8601_datetime\(\s*payload\.get\(\s*"(\w+)"'
)


def _resource_classes():
    for info in pkgutil.walk_packages(taskrouter_v1.__path__, taskrouter_v1.__name__ + "."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, InstanceResource)
                and value is not InstanceResource
                and value.__module__ == module.__name__
            ):
                yield value


WIRE_CHECKED = {}  # class name -> instances checked


@pytest.fixture(scope="module", autouse=True)
def wire_checks():
    originals = {}
    for cls in _resource_classes():
        source = inspect.getsource(cls.__init__)
        fields = _FIELD.findall(source)
        dates = _DATE.findall(source)
        assert fields, f"no payload fields found in {cls.__name__}: has the library changed?"

        def checked_init(self, version, payload, *args, _cls=cls, _fields=fields, _dates=dates, **kwargs):
            missing = [f for f in _fields if f not in payload]
            assert not missing, f"{_cls.__name__}: fields missing from the response: {missing}"
            originals[_cls](self, version, payload, *args, **kwargs)
            for attribute, field in _dates:
                if payload[field] is not None:
                    value = getattr(self, attribute)
                    assert isinstance(value, datetime.datetime), (
                        f"{_cls.__name__}.{attribute}: {payload[field]!r} is not "
                        "YYYY-MM-DDTHH:MM:SSZ (twilio-python left it a string)"
                    )
            WIRE_CHECKED[_cls.__name__] = WIRE_CHECKED.get(_cls.__name__, 0) + 1

        originals[cls] = cls.__init__
        cls.__init__ = checked_init
    yield
    for cls, init in originals.items():
        cls.__init__ = init


# ------------------------------------------------------------------ fixtures


@contextlib.contextmanager
def running_emulator(extra_env=None):
    """Run `trctl emulator --port 0`; yield its base URL and credentials; stop it by PID."""
    binary = trctl_bin()
    if not binary.is_file():
        pytest.fail(f"no trctl binary at {binary}: run `cargo build` or set TRCTL_BIN")
    # The emulator takes credentials from TWILIO_* variables or a .env file in its working
    # directory: give it only what the test asks for, in an empty directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TRCTL_"))}
    env.update(extra_env or {})
    workdir = tempfile.TemporaryDirectory(prefix="trctl-compat-")
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [str(binary), "emulator", "--port", "0"],
        cwd=workdir.name,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: "queue.Queue[str | None]" = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    printed = {}
    exit_code = None
    try:
        while "TWILIO_AUTH_TOKEN" not in printed:
            try:
                line = lines.get(timeout=STARTUP_TIMEOUT_S)
            except queue.Empty:
                pytest.fail(f"the emulator printed no credentials within {STARTUP_TIMEOUT_S}s")
            if line is None:
                stderr.seek(0)
                pytest.fail(
                    f"the emulator exited ({proc.wait()}) before printing its base URL: "
                    + stderr.read().decode(errors="replace")
                )
            key, sep, value = line.strip().partition("=")
            if sep and key in ("TRCTL_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
                printed[key] = value
        assert printed["TRCTL_BASE_URL"].startswith("http://127.0.0.1:")
        yield SimpleNamespace(
            base_url=printed["TRCTL_BASE_URL"],
            account_sid=printed["TWILIO_ACCOUNT_SID"],
            auth_token=printed["TWILIO_AUTH_TOKEN"],
            pid=proc.pid,
        )
    finally:
        exit_code = proc.poll()
        if exit_code is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                exit_code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                exit_code = "still running 10s after SIGTERM"
        stderr.close()
        workdir.cleanup()
    assert exit_code == 0, f"the emulator did not stop cleanly on SIGTERM: {exit_code}"


@pytest.fixture(scope="module")
def emulator():
    with running_emulator() as running:
        assert running.account_sid == "AC00000000000000000000000000000000"
        assert running.auth_token == "trctl-emulator-token"
        yield running


def make_client(emulator, account_sid=None, token=None):
    http = EmulatorHttpClient(emulator.base_url)
    client = Client(
        account_sid or emulator.account_sid,
        token or emulator.auth_token,
        http_client=http,
    )
    return client, http


@pytest.fixture
def client(emulator):
    return make_client(emulator)[0]


def is_utc_datetime(value) -> bool:
    return isinstance(value, datetime.datetime) and value.tzinfo == datetime.timezone.utc


def workflow_config(spanish_queue: str, english_queue: str) -> str:
    """The TaskRouter quickstart's workflow: route on `selected_language`."""
    return json.dumps(
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "Language - Spanish",
                        "expression": "selected_language=='es'",
                        "targets": [{"queue": spanish_queue}],
                    },
                    {
                        "filter_friendly_name": "Language - English",
                        "expression": "selected_language=='en'",
                        "targets": [{"queue": english_queue}],
                    },
                ],
                "default_filter": {"queue": english_queue},
            }
        }
    )


def build_quickstart(client, name="Compat Workspace"):
    """A workspace in the quickstart's shape; returns the SIDs and the resource handles."""
    tr = client.taskrouter.v1
    ws = tr.workspaces.create(friendly_name=name)
    w = tr.workspaces(ws.sid)
    activities = {a.friendly_name: a for a in w.activities.list()}
    on_break = w.activities.create(friendly_name="Break", available=False)
    channel = w.task_channels.create(friendly_name="Callback", unique_name="callback")
    spanish = w.task_queues.create(
        friendly_name="Spanish",
        target_workers="languages HAS 'es'",
        task_order="FIFO",
    )
    english = w.task_queues.create(
        friendly_name="English",
        target_workers="languages HAS 'en'",
    )
    workflow = w.workflows.create(
        friendly_name="Quickstart Workflow",
        configuration=workflow_config(spanish.sid, english.sid),
        task_reservation_timeout=30,
    )
    alice = w.workers.create(
        friendly_name="Alice",
        attributes=json.dumps({"languages": ["en", "es"]}),
    )
    bob = w.workers.create(
        friendly_name="Bob",
        attributes=json.dumps({"languages": ["en"]}),
        activity_sid=activities["Unavailable"].sid,
    )
    return SimpleNamespace(
        ws=ws,
        w=w,
        activities=activities,
        on_break=on_break,
        channel=channel,
        spanish=spanish,
        english=english,
        workflow=workflow,
        alice=alice,
        bob=bob,
    )


# ------------------------------------------------------------------ create and fetch


def test_workspace_create_fetch_and_default_resources(client):
    tr = client.taskrouter.v1
    ws = tr.workspaces.create(friendly_name="Plain", event_callback_url="http://127.0.0.1:9/cb")
    assert ws.sid.startswith("WS") and len(ws.sid) == 34
    assert ws.friendly_name == "Plain"
    assert ws.account_sid == "AC00000000000000000000000000000000"
    assert ws.event_callback_url == "http://127.0.0.1:9/cb"
    assert ws.default_activity_name == "Offline"
    assert ws.timeout_activity_name == "Offline"
    assert ws.multi_task_enabled is True
    assert ws.prioritize_queue_order == "FIFO"
    assert is_utc_datetime(ws.date_created) and is_utc_datetime(ws.date_updated)
    assert ws.url.endswith(f"/v1/Workspaces/{ws.sid}")
    assert ws.links["tasks"].endswith(f"/v1/Workspaces/{ws.sid}/Tasks")

    fetched = tr.workspaces(ws.sid).fetch()
    assert fetched.sid == ws.sid
    assert fetched.friendly_name == "Plain"
    assert fetched.date_created == ws.date_created

    activities = tr.workspaces(ws.sid).activities.list()
    assert [(a.friendly_name, a.available) for a in activities] == [
        ("Offline", False),
        ("Available", True),
        ("Unavailable", False),
    ]
    channels = tr.workspaces(ws.sid).task_channels.list()
    assert [c.unique_name for c in channels] == ["voice", "sms", "chat", "video", "default"]
    assert ws.sid in [w.sid for w in tr.workspaces.list()]
    assert [w.sid for w in tr.workspaces.list(friendly_name="Plain")] == [ws.sid]


def test_fifo_template_workspace(client):
    tr = client.taskrouter.v1
    ws = tr.workspaces.create(friendly_name="From template", template="FIFO")
    queues = tr.workspaces(ws.sid).task_queues.list()
    assert [q.friendly_name for q in queues] == ["Sample Queue"]
    assert queues[0].target_workers == "1==1"
    workflows = tr.workspaces(ws.sid).workflows.list()
    assert len(workflows) == 1
    config = json.loads(workflows[0].configuration)
    assert config["task_routing"]["default_filter"]["queue"] == queues[0].sid


def test_quickstart_resources_create_and_fetch(client):
    q = build_quickstart(client)
    w = q.w

    activity = w.activities(q.on_break.sid).fetch()
    assert activity.sid.startswith("WA")
    assert (activity.friendly_name, activity.available) == ("Break", False)
    assert activity.workspace_sid == q.ws.sid
    assert is_utc_datetime(activity.date_created)

    channel = w.task_channels(q.channel.sid).fetch()
    assert channel.sid.startswith("TC")
    assert (channel.friendly_name, channel.unique_name) == ("Callback", "callback")
    assert is_utc_datetime(channel.date_created) and is_utc_datetime(channel.date_updated)

    spanish = w.task_queues(q.spanish.sid).fetch()
    assert spanish.sid.startswith("WQ")
    assert spanish.friendly_name == "Spanish"
    assert spanish.target_workers == "languages HAS 'es'"
    assert spanish.task_order == "FIFO"
    assert spanish.max_reserved_workers == 1
    assert is_utc_datetime(spanish.date_created) and is_utc_datetime(spanish.date_updated)
    assert [x.friendly_name for x in w.task_queues.list()] == ["Spanish", "English"]
    assert [x.sid for x in w.task_queues.list(friendly_name="English")] == [q.english.sid]

    workflow = w.workflows(q.workflow.sid).fetch()
    assert workflow.sid.startswith("WW")
    assert workflow.friendly_name == "Quickstart Workflow"
    assert workflow.task_reservation_timeout == 30
    config = json.loads(workflow.configuration)
    filters = config["task_routing"]["filters"]
    assert [f["targets"][0]["queue"] for f in filters] == [q.spanish.sid, q.english.sid]
    assert is_utc_datetime(workflow.date_created) and is_utc_datetime(workflow.date_updated)

    alice = w.workers(q.alice.sid).fetch()
    assert alice.sid.startswith("WK")
    assert alice.friendly_name == "Alice"
    assert json.loads(alice.attributes) == {"languages": ["en", "es"]}
    assert alice.activity_name == "Offline"
    assert alice.available is False
    assert is_utc_datetime(alice.date_created)
    assert is_utc_datetime(alice.date_status_changed)
    bob = w.workers(q.bob.sid).fetch()
    assert (bob.activity_name, bob.activity_sid) == ("Unavailable", q.activities["Unavailable"].sid)
    assert [x.friendly_name for x in w.workers.list()] == ["Alice", "Bob"]
    assert [x.sid for x in w.workers.list(activity_name="Unavailable")] == [q.bob.sid]


def test_tasks_create_fetch_and_filter(client):
    # The emulator's REST surface does not route through workflows yet, so the task
    # that must sit in a queue is put there with TaskQueueSid (twilio-python's
    # `task_queue_sid`); the other goes through the quickstart workflow.
    q = build_quickstart(client)
    w = q.w
    spanish_task = w.tasks.create(
        task_queue_sid=q.spanish.sid,
        attributes=json.dumps({"selected_language": "es"}),
        priority=5,
        timeout=600,
    )
    english_task = w.tasks.create(
        workflow_sid=q.workflow.sid,
        attributes=json.dumps({"selected_language": "en"}),
        task_channel="callback",
    )
    assert spanish_task.sid.startswith("WT")

    fetched = w.tasks(spanish_task.sid).fetch()
    assert fetched.assignment_status == "pending"
    assert json.loads(fetched.attributes) == {"selected_language": "es"}
    assert (fetched.priority, fetched.timeout) == (5, 600)
    assert fetched.task_queue_sid == q.spanish.sid
    assert fetched.task_queue_friendly_name == "Spanish"
    assert fetched.task_channel_unique_name == "default"
    assert isinstance(fetched.age, int) and fetched.age >= 0
    for field in ("date_created", "date_updated", "task_queue_entered_date", "virtual_start_time"):
        assert is_utc_datetime(getattr(fetched, field)), field

    other = w.tasks(english_task.sid).fetch()
    assert other.assignment_status == "pending"
    assert other.workflow_sid == q.workflow.sid
    assert other.workflow_friendly_name == "Quickstart Workflow"
    assert other.task_channel_sid == q.channel.sid
    assert other.task_channel_unique_name == "callback"
    assert json.loads(other.attributes) == {"selected_language": "en"}

    assert [t.sid for t in w.tasks.list(task_queue_sid=q.spanish.sid)] == [spanish_task.sid]
    assert [t.sid for t in w.tasks.list(workflow_sid=q.workflow.sid)] == [english_task.sid]
    assert [t.sid for t in w.tasks.list(assignment_status=["pending"])] == [
        spanish_task.sid,
        english_task.sid,
    ]
    assert w.tasks.list(assignment_status=["assigned"]) == []
    assert [t.sid for t in w.tasks.list(evaluate_task_attributes="selected_language == 'es'")] == [
        spanish_task.sid
    ]


# ------------------------------------------------------------------ paging


def test_list_stream_and_page_follow_next_page_url(emulator):
    client, http = make_client(emulator)
    q = build_quickstart(client)
    w = q.w
    created = [
        w.tasks.create(
            workflow_sid=q.workflow.sid,
            attributes=json.dumps({"selected_language": "en", "n": n}),
        ).sid
        for n in range(7)
    ]

    before = len(http.requested)
    assert [t.sid for t in w.tasks.list(page_size=2)] == created
    pages = http.requested[before:]
    assert len(pages) == 4, pages
    # Every page after the first is a next_page_url the emulator handed out, pointing back
    # at itself with a PageToken.
    for _, url in pages[1:]:
        assert url.startswith(emulator.base_url + f"/v1/Workspaces/{q.ws.sid}/Tasks?")
        assert "PageToken=" in url and "PageSize=2" in url

    assert [t.sid for t in w.tasks.stream(page_size=2)] == created
    assert [t.sid for t in w.tasks.list(page_size=2, limit=3)] == created[:3]

    page = w.tasks.page(page_size=2)
    seen = []
    sizes = []
    while page is not None:
        records = list(page)
        sizes.append(len(records))
        seen.extend(t.sid for t in records)
        page = page.next_page()
    assert sizes == [2, 2, 2, 1]
    assert seen == created

    second = w.tasks.page(page_size=3).next_page()
    assert [t.sid for t in second] == created[3:6]
    back = second.previous_page()
    assert [t.sid for t in back] == created[:3]

    # Paging also works on a workspace-level list and on events.
    events = list(w.events.stream(page_size=2))
    assert len(events) == len(w.events.list(page_size=1000))


# ------------------------------------------------------------------ updates


def test_update_every_kind(client):
    q = build_quickstart(client)
    w = q.w
    available = q.activities["Available"]

    worker = w.workers(q.alice.sid).update(activity_sid=available.sid)
    assert (worker.activity_name, worker.available) == ("Available", True)
    worker = w.workers(q.alice.sid).update(
        friendly_name="Alice A.", attributes=json.dumps({"languages": ["es"]})
    )
    assert worker.friendly_name == "Alice A."
    assert json.loads(worker.attributes) == {"languages": ["es"]}
    assert w.workers(q.alice.sid).fetch().friendly_name == "Alice A."

    task = w.tasks.create(
        workflow_sid=q.workflow.sid,
        attributes=json.dumps({"selected_language": "en"}),
    )
    updated = w.tasks(task.sid).update(priority=42)
    assert updated.priority == 42
    updated = w.tasks(task.sid).update(
        attributes=json.dumps({"selected_language": "en", "vip": True})
    )
    assert json.loads(updated.attributes) == {"selected_language": "en", "vip": True}
    assert w.tasks(task.sid).fetch().priority == 42

    queue = w.task_queues(q.english.sid).update(
        friendly_name="English (US)", target_workers="languages HAS 'en'", max_reserved_workers=3
    )
    assert (queue.friendly_name, queue.max_reserved_workers) == ("English (US)", 3)

    workflow = w.workflows(q.workflow.sid).update(
        friendly_name="Renamed Workflow", task_reservation_timeout=60
    )
    assert (workflow.friendly_name, workflow.task_reservation_timeout) == ("Renamed Workflow", 60)
    swapped = workflow_config(q.english.sid, q.spanish.sid)
    workflow = w.workflows(q.workflow.sid).update(configuration=swapped)
    assert json.loads(workflow.configuration) == json.loads(swapped)

    activity = w.activities(q.on_break.sid).update(friendly_name="Coffee")
    assert activity.friendly_name == "Coffee"
    assert w.activities(q.on_break.sid).fetch().friendly_name == "Coffee"

    channel = w.task_channels(q.channel.sid).update(
        friendly_name="Call me back", channel_optimized_routing=True
    )
    assert channel.friendly_name == "Call me back"
    assert channel.unique_name == "callback"

    ws = client.taskrouter.v1.workspaces(q.ws.sid).update(friendly_name="Renamed Workspace")
    assert ws.friendly_name == "Renamed Workspace"


def test_worker_channels_list_and_update(client):
    q = build_quickstart(client)
    channels = q.w.workers(q.alice.sid).worker_channels.list()
    by_name = {c.task_channel_unique_name: c for c in channels}
    assert set(by_name) == {"voice", "sms", "chat", "video", "default", "callback"}
    voice = by_name["voice"]
    assert voice.sid.startswith("WC")
    assert voice.worker_sid == q.alice.sid
    assert voice.configured_capacity == 1
    assert is_utc_datetime(voice.date_created) and is_utc_datetime(voice.date_updated)

    updated = q.w.workers(q.alice.sid).worker_channels(voice.sid).update(capacity=3, available=False)
    assert (updated.configured_capacity, updated.available) == (3, False)
    fetched = q.w.workers(q.alice.sid).worker_channels(voice.sid).fetch()
    assert (fetched.configured_capacity, fetched.available) == (3, False)


# ------------------------------------------------------------------ statistics and events


def test_statistics_endpoints(client):
    q = build_quickstart(client)
    w = q.w
    # Queued explicitly (the emulator does not route through workflows yet), each also
    # naming the workflow so the workflow's figures count them.
    for language, queue_sid in (("es", q.spanish.sid), ("en", q.english.sid), ("en", q.english.sid)):
        w.tasks.create(
            workflow_sid=q.workflow.sid,
            task_queue_sid=queue_sid,
            attributes=json.dumps({"selected_language": language}),
        )

    stats = w.statistics().fetch()
    assert stats.workspace_sid == q.ws.sid
    # Dates nested in statistics objects stay strings for the library; check their format.
    for key in ("start_time", "end_time"):
        datetime.datetime.strptime(stats.cumulative[key], "%Y-%m-%dT%H:%M:%SZ")
    assert stats.realtime["total_tasks"] == 3
    assert stats.realtime["total_workers"] == 2
    assert stats.realtime["tasks_by_status"]["pending"] == 3
    assert stats.cumulative["tasks_created"] == 3

    realtime = w.real_time_statistics().fetch()
    assert realtime.total_tasks == 3
    cumulative = w.cumulative_statistics().fetch()
    assert cumulative.tasks_created == 3
    assert is_utc_datetime(cumulative.start_time) and is_utc_datetime(cumulative.end_time)

    queue_stats = w.task_queues(q.english.sid).statistics().fetch()
    assert queue_stats.task_queue_sid == q.english.sid
    assert queue_stats.realtime["total_tasks"] == 2
    assert queue_stats.realtime["total_eligible_workers"] == 2
    queue_rt = w.task_queues(q.spanish.sid).real_time_statistics().fetch()
    assert (queue_rt.total_tasks, queue_rt.total_eligible_workers) == (1, 1)
    queue_cumulative = w.task_queues(q.spanish.sid).cumulative_statistics().fetch()
    # Entered counts come from routing events (task-queue.entered), which the emulator's
    # REST surface does not produce yet: only the type is checked here.
    assert isinstance(queue_cumulative.tasks_entered, int)
    assert is_utc_datetime(queue_cumulative.start_time)
    all_queues = w.task_queues.statistics.list()
    assert sorted(s.task_queue_sid for s in all_queues) == sorted([q.spanish.sid, q.english.sid])

    workflow_stats = w.workflows(q.workflow.sid).statistics().fetch()
    assert workflow_stats.workflow_sid == q.workflow.sid
    assert workflow_stats.realtime["total_tasks"] == 3
    assert w.workflows(q.workflow.sid).real_time_statistics().fetch().total_tasks == 3
    assert isinstance(w.workflows(q.workflow.sid).cumulative_statistics().fetch().tasks_entered, int)

    workers_stats = w.workers.statistics().fetch()
    assert workers_stats.realtime["total_workers"] == 2
    assert w.workers.real_time_statistics().fetch().total_workers == 2
    workers_cumulative = w.workers.cumulative_statistics().fetch()
    assert is_utc_datetime(workers_cumulative.start_time)

    worker_stats = w.workers(q.alice.sid).statistics().fetch()
    assert worker_stats.worker_sid == q.alice.sid
    assert isinstance(worker_stats.cumulative, dict)


def test_events_list_and_fetch(client):
    q = build_quickstart(client)
    task = q.w.tasks.create(
        workflow_sid=q.workflow.sid, attributes=json.dumps({"selected_language": "es"})
    )
    events = q.w.events.list()
    types = [e.event_type for e in events]
    assert types[0] == "workspace.created"
    assert "worker.created" in types
    assert "task.created" in types
    created = next(e for e in events if e.event_type == "task.created")
    assert created.sid.startswith("EV")
    assert created.resource_sid == task.sid
    assert is_utc_datetime(created.event_date)
    assert isinstance(created.event_date_ms, int)
    fetched = q.w.events(created.sid).fetch()
    assert (fetched.sid, fetched.event_type) == (created.sid, "task.created")
    only_tasks = q.w.events.list(task_sid=task.sid)
    assert only_tasks and all(e.resource_sid == task.sid for e in only_tasks)


# ------------------------------------------------------------------ cancel and delete


def test_cancel_then_delete_in_dependency_order(client):
    q = build_quickstart(client)
    w = q.w
    task = w.tasks.create(
        workflow_sid=q.workflow.sid, attributes=json.dumps({"selected_language": "es"})
    )
    canceled = w.tasks(task.sid).update(assignment_status="canceled", reason="no longer needed")
    assert canceled.assignment_status == "canceled"
    assert canceled.reason == "no longer needed"
    assert w.tasks(task.sid).fetch().assignment_status == "canceled"
    with pytest.raises(TwilioRestException) as raised:
        w.tasks(task.sid).update(assignment_status="canceled")
    assert raised.value.status == 400

    assert w.tasks(task.sid).delete() is True
    assert w.tasks.list() == []
    assert w.workflows(q.workflow.sid).delete() is True
    assert w.task_queues(q.spanish.sid).delete() is True
    assert w.task_queues(q.english.sid).delete() is True
    assert w.task_queues.list() == []
    assert w.workers(q.alice.sid).delete() is True
    assert w.workers(q.bob.sid).delete() is True
    assert w.activities(q.on_break.sid).delete() is True
    assert w.task_channels(q.channel.sid).delete() is True
    assert client.taskrouter.v1.workspaces(q.ws.sid).delete() is True
    with pytest.raises(TwilioRestException) as raised:
        client.taskrouter.v1.workspaces(q.ws.sid).fetch()
    assert raised.value.status == 404


def test_async_client_lists_pages_and_creates(emulator):
    client, _ = make_client(emulator)
    q = build_quickstart(client)
    note = "a+b c%2B/&=\u00e9"  # characters that must survive re-encoding in next_page_url
    for n in range(5):
        q.w.tasks.create(task_queue_sid=q.english.sid, attributes=json.dumps({"note": note, "n": n}))
    q.w.tasks.create(task_queue_sid=q.english.sid, attributes=json.dumps({"note": "other"}))
    expression = f"note == '{note}'"
    assert len(q.w.tasks.list(evaluate_task_attributes=expression, page_size=2)) == 5

    async def run():
        http = AsyncEmulatorHttpClient(emulator.base_url)
        try:
            async_client = Client(emulator.account_sid, emulator.auth_token, http_client=http)
            w = async_client.taskrouter.v1.workspaces(q.ws.sid)
            found = await w.tasks.list_async(evaluate_task_attributes=expression, page_size=2)
            created = await w.tasks.create_async(task_queue_sid=q.spanish.sid, attributes="{}")
            fetched = await w.tasks(created.sid).fetch_async()
            return found, created, fetched, http.requested
        finally:
            await http.close()

    found, created, fetched, requested = asyncio.run(run())
    assert [json.loads(t.attributes)["n"] for t in found] == [0, 1, 2, 3, 4]
    assert sum("PageToken=" in url for _, url in requested) == 2
    assert fetched.sid == created.sid and fetched.task_queue_sid == q.spanish.sid
    assert is_utc_datetime(fetched.date_created)


def test_concurrent_clients(emulator):
    client, _ = make_client(emulator)
    q = build_quickstart(client)

    def create(n):
        own, _ = make_client(emulator)
        return own.taskrouter.v1.workspaces(q.ws.sid).tasks.create(
            task_queue_sid=q.english.sid, attributes=json.dumps({"n": n}), priority=n
        ).sid

    with ThreadPoolExecutor(max_workers=8) as pool:
        sids = list(pool.map(create, range(40)))
    assert len(set(sids)) == 40
    listed = q.w.tasks.list(page_size=7)
    assert sorted(t.sid for t in listed) == sorted(sids)
    assert sorted(t.priority for t in listed) == list(range(40))
    assert q.w.task_queues(q.english.sid).real_time_statistics().fetch().total_tasks == 40


def test_list_filters(client):
    q = build_quickstart(client)
    w = q.w
    assert [x.sid for x in w.workers.list(task_queue_sid=q.spanish.sid)] == [q.alice.sid]
    assert [x.sid for x in w.workers.list(task_queue_name="English")] == [q.alice.sid, q.bob.sid]
    assert [x.sid for x in w.workers.list(target_workers_expression="languages HAS 'es'")] == [
        q.alice.sid
    ]
    assert w.workers.list(available="true") == []
    w.workers(q.bob.sid).update(activity_sid=q.activities["Available"].sid)
    assert [x.sid for x in w.workers.list(available="true")] == [q.bob.sid]
    assert [a.friendly_name for a in w.activities.list(available="true")] == ["Available"]
    assert [x.sid for x in w.task_queues.list(worker_sid=q.bob.sid)] == [q.english.sid]
    spanish_only = json.dumps({"languages": ["es"]})
    assert [x.sid for x in w.task_queues.list(evaluate_worker_attributes=spanish_only)] == [
        q.spanish.sid
    ]
    for priority in (3, 9, 1):
        w.tasks.create(task_queue_sid=q.english.sid, attributes="{}", priority=priority)
    assert [t.priority for t in w.tasks.list(ordering="Priority:desc", page_size=2)] == [9, 3, 1]

    start = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    task = w.tasks.create(task_queue_sid=q.english.sid, attributes="{}", virtual_start_time=start)
    assert task.virtual_start_time == start
    events = w.events.list(event_type="task.created", minutes=10)
    assert len(events) == 4 and {e.event_type for e in events} == {"task.created"}
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    assert len(w.events.list(start_date=since, task_sid=task.sid)) == 1


def test_json_documents_round_trip_verbatim(client):
    q = build_quickstart(client)
    attributes = '{"selected_language":  "es",\n "note": "\u00e9 \u2615 a+b&c=d %20"}'
    task = q.w.tasks.create(task_queue_sid=q.spanish.sid, attributes=attributes)
    assert q.w.tasks(task.sid).fetch().attributes == attributes
    assert q.w.tasks.list()[0].attributes == attributes
    worker = q.w.workers.create(friendly_name="Zo\u00eb \u2615 a+b&c", attributes=attributes)
    assert worker.friendly_name == "Zo\u00eb \u2615 a+b&c"
    assert q.w.workers(worker.sid).fetch().attributes == attributes
    configuration = '{ "task_routing" : { "default_filter": {"queue": "%s"} } }' % q.english.sid
    workflow = q.w.workflows.create(friendly_name="Verbatim", configuration=configuration)
    assert q.w.workflows(workflow.sid).fetch().configuration == configuration


def test_bulk_queue_real_time_statistics(client):
    q = build_quickstart(client)
    q.w.tasks.create(task_queue_sid=q.spanish.sid, attributes="{}")

    class Body:  # the library serialises `body` with `.to_dict()` into a JSON request
        def to_dict(self):
            return {"QueueSids": [q.spanish.sid, q.english.sid]}

    stats = q.w.task_queues.bulk_real_time_statistics.create(body=Body())
    assert stats.task_queue_response_count == 2
    by_queue = {entry["task_queue_sid"]: entry for entry in stats.task_queue_data}
    assert by_queue[q.spanish.sid]["total_tasks"] == 1
    assert by_queue[q.english.sid]["total_tasks"] == 0


class CallbackReceiver:
    """An assignment-callback endpoint on 127.0.0.1 that checks each request with the
    library's RequestValidator and answers with `reply` (a dict, sent as JSON)."""

    def __init__(self, auth_token: str):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qsl

        from twilio.request_validator import RequestValidator

        receiver = self
        self.reply = {}
        self.calls = []
        validator = RequestValidator(auth_token)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                params = dict(parse_qsl(self.rfile.read(length).decode()))
                url = f"http://{self.headers['Host']}{self.path}"
                valid = validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
                receiver.calls.append((params, valid))
                body = json.dumps(receiver.reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/assignment_callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for(what, check, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_quickstart_lifecycle_accept_by_rest_then_by_instruction(emulator, client):
    """Part 2 of the quickstart: a reservation accepted through the Reservations API,
    then one accepted by the assignment callback's instruction."""
    receiver = CallbackReceiver(emulator.auth_token)
    try:
        q = build_quickstart(client, name="Lifecycle")
        q.w.workflows(q.workflow.sid).update(assignment_callback_url=receiver.url)
        available = q.activities["Available"].sid
        offline = q.activities["Offline"].sid

        first = q.w.tasks.create(workflow_sid=q.workflow.sid, attributes=json.dumps({"selected_language": "es"}))
        assert first.assignment_status == "pending"
        q.w.workers(q.alice.sid).update(activity_sid=available)
        params, valid = wait_for("the first assignment callback", lambda: receiver.calls[:1])[0]
        assert valid, "RequestValidator accepts the emulator's signature"
        assert (params["TaskSid"], params["WorkerSid"]) == (first.sid, q.alice.sid)
        assert json.loads(params["TaskAttributes"]) == {"selected_language": "es"}
        reservation = q.w.tasks(first.sid).reservations.list()[0]
        assert reservation.reservation_status == "pending"
        assert [r.sid for r in q.w.workers(q.alice.sid).reservations.list(reservation_status="pending")] == [reservation.sid]
        accepted = q.w.tasks(first.sid).reservations(reservation.sid).update(reservation_status="accepted")
        assert accepted.reservation_status == "accepted"
        assert q.w.tasks(first.sid).fetch().assignment_status == "assigned"

        q.w.workers(q.alice.sid).update(activity_sid=offline)
        # A multitasking workspace gives each worker one slot per channel; Alice still
        # holds the first task, so she needs a second slot for the second one.
        channel = next(c for c in q.w.workers(q.alice.sid).worker_channels.list() if c.task_channel_unique_name == "default")
        q.w.workers(q.alice.sid).worker_channels(channel.sid).update(capacity=2)
        receiver.reply = {"instruction": "accept"}
        second = q.w.tasks.create(workflow_sid=q.workflow.sid, attributes=json.dumps({"selected_language": "es"}))
        q.w.workers(q.alice.sid).update(activity_sid=available)
        wait_for("the second task to be assigned", lambda: q.w.tasks(second.sid).fetch().assignment_status == "assigned")
        worker_view = q.w.workers(q.alice.sid).reservations.list(reservation_status="accepted")
        assert {r.task_sid for r in worker_view} == {first.sid, second.sid}
        assert all(valid for _, valid in receiver.calls) and len(receiver.calls) == 2

        for task in (first, second):
            done = q.w.tasks(task.sid).update(assignment_status="completed", reason="done")
            assert done.assignment_status == "completed"
        statuses = [r.reservation_status for r in q.w.tasks(second.sid).reservations.list()]
        assert statuses == ["completed"]
    finally:
        receiver.close()


def test_a_rejected_reservation_goes_to_the_next_worker(client):
    q = build_quickstart(client, name="Reject")
    available = q.activities["Available"].sid
    q.w.workers(q.alice.sid).update(activity_sid=available)
    task = q.w.tasks.create(workflow_sid=q.workflow.sid, attributes=json.dumps({"selected_language": "en"}))
    reservation = q.w.tasks(task.sid).reservations.list()[0]
    assert reservation.worker_sid == q.alice.sid
    q.w.workers(q.bob.sid).update(activity_sid=available)
    q.w.workers(q.alice.sid).reservations(reservation.sid).update(
        reservation_status="rejected", worker_activity_sid=q.activities["Offline"].sid
    )
    reservations = q.w.tasks(task.sid).reservations.list()
    assert [(r.worker_sid, r.reservation_status) for r in reservations] == [
        (q.alice.sid, "rejected"),
        (q.bob.sid, "pending"),
    ]
    assert q.w.workers(q.alice.sid).fetch().activity_name == "Offline"


# ------------------------------------------------------------------ errors


def test_missing_sids_raise_20404(client):
    q = build_quickstart(client)
    missing = {
        "workspace": lambda: client.taskrouter.v1.workspaces("WS" + "0" * 32).fetch(),
        "task": lambda: q.w.tasks("WT" + "0" * 32).fetch(),
        "worker": lambda: q.w.workers("WK" + "0" * 32).fetch(),
        "queue": lambda: q.w.task_queues("WQ" + "0" * 32).fetch(),
        "workflow": lambda: q.w.workflows("WW" + "0" * 32).fetch(),
        "activity": lambda: q.w.activities("WA" + "0" * 32).fetch(),
        "channel": lambda: q.w.task_channels("TC" + "0" * 32).fetch(),
        "event": lambda: q.w.events("EV" + "0" * 32).fetch(),
        "delete task": lambda: q.w.tasks("WT" + "0" * 32).delete(),
        "update worker": lambda: q.w.workers("WK" + "0" * 32).update(friendly_name="x"),
    }
    for what, call in missing.items():
        with pytest.raises(TwilioRestException) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (404, 20404), what
        assert "was not found" in raised.value.msg, what


def test_wrong_credentials_give_401_20003(emulator):
    good, _ = make_client(emulator)
    ws = good.taskrouter.v1.workspaces.create(friendly_name="Guarded")
    bad_token, _ = make_client(emulator, token="not-the-token")
    with pytest.raises(TwilioRestException) as raised:
        bad_token.taskrouter.v1.workspaces(ws.sid).fetch()
    assert (raised.value.status, raised.value.code) == (401, 20003)
    # A list page that is not a 200 makes twilio-python raise its base exception with the
    # response attached, not a TwilioRestException.
    with pytest.raises(TwilioException) as raised:
        bad_token.taskrouter.v1.workspaces.list()
    assert raised.value.args[1].status_code == 401
    assert json.loads(raised.value.args[1].text)["code"] == 20003
    other_account, _ = make_client(emulator, account_sid="AC" + "1" * 32)
    with pytest.raises(TwilioRestException) as raised:
        other_account.taskrouter.v1.workspaces.create(friendly_name="nope")
    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_api_key_credentials():
    key, secret = "SK" + "5" * 32, "compat-api-secret"
    with running_emulator({"TWILIO_API_KEY": key, "TWILIO_API_SECRET": secret}) as running:
        # The library's API-key form: the key as username, the account SID beside it.
        http = EmulatorHttpClient(running.base_url)
        with_key = Client(key, secret, running.account_sid, http_client=http)
        ws = with_key.taskrouter.v1.workspaces.create(friendly_name="Keyed")
        assert with_key.taskrouter.v1.workspaces(ws.sid).fetch().friendly_name == "Keyed"
        # The development token still works beside the key; a wrong secret does not.
        token_client, _ = make_client(running)
        assert [w.sid for w in token_client.taskrouter.v1.workspaces.list()] == [ws.sid]
        wrong = Client(key, "wrong", running.account_sid, http_client=EmulatorHttpClient(running.base_url))
        with pytest.raises(TwilioRestException) as raised:
            wrong.taskrouter.v1.workspaces(ws.sid).fetch()
        assert (raised.value.status, raised.value.code) == (401, 20003)


def test_refused_state_changes_and_deletes(client):
    q = build_quickstart(client)
    w = q.w
    task = w.tasks.create(task_queue_sid=q.spanish.sid, attributes="{}")
    refusals = {
        "wrap a pending task": lambda: w.tasks(task.sid).update(assignment_status="wrapping"),
        "complete a pending task": lambda: w.tasks(task.sid).update(assignment_status="completed"),
        "reserve by hand": lambda: w.tasks(task.sid).update(assignment_status="reserved"),
        "unknown status": lambda: w.tasks(task.sid).update(assignment_status="bogus"),
        "delete the default activity": lambda: w.activities(q.activities["Offline"].sid).delete(),
        "delete a queue a workflow targets": lambda: w.task_queues(q.spanish.sid).delete(),
        "duplicate queue name": lambda: w.task_queues.create(friendly_name="Spanish", target_workers="1==1"),
        "bad target expression": lambda: w.task_queues.create(friendly_name="Bad", target_workers="languages HAS"),
        "negative priority": lambda: w.tasks.create(task_queue_sid=q.spanish.sid, priority=-1),
        "unknown activity": lambda: w.workers.create(friendly_name="Carol", activity_sid="WA" + "0" * 32),
    }
    for what, call in refusals.items():
        with pytest.raises(TwilioRestException) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (400, 20001), what
    assert w.tasks(task.sid).fetch().assignment_status == "pending"
    w.workers(q.bob.sid).update(activity_sid=q.on_break.sid)
    with pytest.raises(TwilioRestException) as raised:
        w.activities(q.on_break.sid).delete()
    assert raised.value.status == 400 and q.bob.sid in raised.value.msg


def test_invalid_attributes_give_400(client):
    q = build_quickstart(client)
    calls = {
        "task create": lambda: q.w.tasks.create(workflow_sid=q.workflow.sid, attributes="not-json"),
        "worker create": lambda: q.w.workers.create(friendly_name="Carol", attributes="not-json"),
        "worker update": lambda: q.w.workers(q.alice.sid).update(attributes="not-json"),
        "workflow create": lambda: q.w.workflows.create(
            friendly_name="Broken", configuration="not-json"
        ),
    }
    for what, call in calls.items():
        with pytest.raises(TwilioRestException) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (400, 20001), what
        assert raised.value.msg, what
    # Nothing half-created.
    assert [w.friendly_name for w in q.w.workers.list()] == ["Alice", "Bob"]
    assert q.w.tasks.list() == []


def test_if_match_mismatch_gives_412(client):
    q = build_quickstart(client)
    task = q.w.tasks.create(
        workflow_sid=q.workflow.sid, attributes=json.dumps({"selected_language": "en"})
    )
    q.w.tasks(task.sid).update(priority=1)
    with pytest.raises(TwilioRestException) as raised:
        q.w.tasks(task.sid).update(priority=2, if_match="0")
    assert (raised.value.status, raised.value.code) == (412, 20412)
    assert q.w.tasks(task.sid).update(priority=3, if_match="1").priority == 3
    with pytest.raises(TwilioRestException) as raised:
        q.w.workers(q.alice.sid).update(friendly_name="x", if_match="7")
    assert (raised.value.status, raised.value.code) == (412, 20412)

    # twilio-python 9.13.0's TaskContext._delete builds the If-Match header and then
    # overwrites it with an empty dict, so `delete(if_match=...)` sends no header. Check
    # the emulator's side with the header sent by hand.
    url = f"{TWILIO_HOST}/v1/Workspaces/{q.ws.sid}/Tasks/{task.sid}"
    response = client.request("DELETE", url, headers={"If-Match": "0"})
    assert (response.status_code, json.loads(response.text)["code"]) == (412, 20412)
    fetched = client.request("GET", url)
    assert fetched.headers["ETag"] == "2"
    assert client.request("DELETE", url, headers={"If-Match": "2"}).status_code == 204


def test_every_resource_type_was_checked_against_the_wire():
    """Runs last (file order): the wrapped classes that the tests above exercised."""
    unchecked = {cls.__name__ for cls in _resource_classes()} - set(WIRE_CHECKED)
    assert unchecked == set(), sorted(unchecked)
