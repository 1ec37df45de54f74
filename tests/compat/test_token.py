"""Access Tokens: trctl's against twilio-python's `AccessToken` with a `TaskRouterGrant`.

A token minted by `trctl token worker` must look like the library's (same header, same
claims and grant fields, apart from the times and the `jti` that carries one), and a
token minted by the library must pass `trctl token verify` (the check the emulator's
worker-SDK gateway makes). The emulator runs as the built binary with its development
credentials, whose API key pair it prints in its banner; it is stopped by PID.
"""

import base64
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant
from twilio.rest import Client

REPO_ROOT = Path(__file__).resolve().parents[2]
TWILIO_HOST = "https://taskrouter.twilio.com"
STARTUP_TIMEOUT_S = 30


def trctl_bin() -> Path:
    path = Path(os.environ.get("TRCTL_BIN") or "target/debug/trctl")
    return path if path.is_absolute() else REPO_ROOT / path


def clean_env(extra):
    """The environment without any TWILIO_/TRCTL_ variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TRCTL_"))}
    env.update(extra)
    return env


class EmulatorHttpClient(TwilioHttpClient):
    """Sends TaskRouter requests to the emulator instead of Twilio."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url == TWILIO_HOST or url.startswith(TWILIO_HOST + "/"):
            url = self.base_url + url[len(TWILIO_HOST):]
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(scope="module")
def emulator():
    """`trctl emulator --port 0` with development credentials: its banner's values."""
    binary = trctl_bin()
    if not binary.is_file():
        pytest.fail(f"no trctl binary at {binary}: run `cargo build` or set TRCTL_BIN")
    workdir = tempfile.TemporaryDirectory(prefix="trctl-compat-")
    proc = subprocess.Popen(
        [str(binary), "emulator", "--port", "0"],
        cwd=workdir.name,
        env=clean_env({}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    printed = {}
    try:
        while True:
            try:
                line = lines.get(timeout=STARTUP_TIMEOUT_S)
            except queue.Empty:
                pytest.fail(f"the emulator's banner did not end within {STARTUP_TIMEOUT_S}s")
            if line is None:
                pytest.fail(f"the emulator exited ({proc.wait()}) before its banner ended")
            if line.startswith("press Ctrl-C"):
                break
            key, sep, value = line.strip().partition("=")
            if sep:
                printed[key] = value
        yield printed
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        workdir.cleanup()


@pytest.fixture(scope="module")
def alice(emulator):
    """A workspace and a worker named Alice, created through the library with the
    development API key (so the key works for Basic auth too)."""
    client = Client(
        emulator["TWILIO_API_KEY"],
        emulator["TWILIO_API_SECRET"],
        emulator["TWILIO_ACCOUNT_SID"],
        http_client=EmulatorHttpClient(emulator["TRCTL_BASE_URL"]),
    )
    workspace = client.taskrouter.v1.workspaces.create(friendly_name="Token Compat")
    worker = client.taskrouter.v1.workspaces(workspace.sid).workers.create(friendly_name="Alice")
    return workspace.sid, worker.sid


def trctl(emulator, *args, stdin=None, account=True):
    env = {
        "TRCTL_BASE_URL": emulator["TRCTL_BASE_URL"],
        "TWILIO_API_KEY": emulator["TWILIO_API_KEY"],
        "TWILIO_API_SECRET": emulator["TWILIO_API_SECRET"],
    }
    if account:
        env["TWILIO_ACCOUNT_SID"] = emulator["TWILIO_ACCOUNT_SID"]
    with tempfile.TemporaryDirectory(prefix="trctl-compat-") as cwd:
        return subprocess.run(
            [str(trctl_bin()), *args],
            cwd=cwd,
            env=clean_env(env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )


def library_token(emulator, workspace, worker, secret=None, ttl=3600, grant=True):
    token = AccessToken(
        emulator["TWILIO_ACCOUNT_SID"],
        emulator["TWILIO_API_KEY"],
        secret or emulator["TWILIO_API_SECRET"],
        identity="Alice",
        ttl=ttl,
    )
    if grant:
        token.add_grant(TaskRouterGrant(workspace_sid=workspace, worker_sid=worker, role="worker"))
    return token.to_jwt()


def decode(token):
    """Header and claims of a JWT, without checking anything."""

    def part(text):
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))

    header, claims, _ = token.split(".")
    return part(header), part(claims)


def test_the_banner_prints_the_development_api_key(emulator):
    assert re.fullmatch(r"SK[0-9a-f]{32}", emulator["TWILIO_API_KEY"])
    assert emulator["TWILIO_API_SECRET"]
    assert emulator["TWILIO_ACCOUNT_SID"] == "AC" + "0" * 32


def test_trctl_token_matches_the_library_field_for_field(emulator, alice):
    workspace, worker = alice
    minted = trctl(emulator, "token", "worker", "Alice", "--workspace", workspace, account=False)
    assert minted.returncode == 0, minted.stderr
    ours = minted.stdout.strip()
    assert emulator["TWILIO_API_SECRET"] not in minted.stdout
    theirs = library_token(emulator, workspace, worker)

    our_header, our_claims = decode(ours)
    their_header, their_claims = decode(theirs)
    assert our_header == their_header == {"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=1"}
    # twilio-python writes nbf and no iat; twilio-node writes iat (and nbf only when
    # asked). trctl writes both, so it carries each library's claims.
    assert set(our_claims) == set(their_claims) | {"iat"}
    times = {"iat", "nbf", "exp", "jti"}
    assert {k: v for k, v in our_claims.items() if k not in times} == {
        k: v for k, v in their_claims.items() if k not in times
    }
    assert our_claims["grants"] == {
        "identity": "Alice",
        "task_router": {"workspace_sid": workspace, "worker_sid": worker, "role": "worker"},
    }
    for claims, start in ((our_claims, our_claims["iat"]), (their_claims, their_claims["nbf"])):
        assert claims["jti"] == f"{emulator['TWILIO_API_KEY']}-{start}"
        assert claims["exp"] - claims["nbf"] == 3600
    assert our_claims["iat"] == our_claims["nbf"]

    # The library's own decoder accepts ours with the secret (PyJWT checks the signature,
    # exp and nbf), and refuses it with another.
    decoded = AccessToken.from_jwt(ours, emulator["TWILIO_API_SECRET"])
    assert decoded.payload["grants"]["task_router"]["worker_sid"] == worker
    with pytest.raises(Exception):
        AccessToken.from_jwt(ours, "not-the-secret-thirty-two-bytes-long")


def test_trctl_verifies_the_library_token(emulator, alice):
    workspace, worker = alice
    theirs = library_token(emulator, workspace, worker)
    checked = trctl(emulator, "token", "verify", "-", stdin=theirs)
    assert checked.returncode == 0, checked.stderr
    claims = json.loads(checked.stdout)
    assert claims["issuer"] == emulator["TWILIO_API_KEY"]
    assert claims["account_sid"] == emulator["TWILIO_ACCOUNT_SID"]
    assert claims["workspace_sid"] == workspace
    assert claims["worker_sid"] == worker
    assert claims["role"] == "worker"
    assert claims["identity"] == "Alice"
    assert claims["issued_at"] is None
    assert claims["expires_at"] - claims["not_before"] == 3600
    # Also given as an argument.
    assert trctl(emulator, "token", "verify", theirs).returncode == 0


def test_trctl_refuses_bad_library_tokens(emulator, alice):
    workspace, worker = alice
    cases = {
        "signature": library_token(emulator, workspace, worker, secret="another-secret-thirty-two-bytes-long"),
        "TaskRouter grant": library_token(emulator, workspace, worker, grant=False),
        "24 hours": library_token(emulator, workspace, worker, ttl=24 * 3600 + 60),
        "expired": library_token(emulator, workspace, worker, ttl=-10),
    }
    for reason, token in cases.items():
        checked = trctl(emulator, "token", "verify", token)
        assert checked.returncode == 4, (reason, checked.stderr)
        assert reason in checked.stderr, (reason, checked.stderr)
        assert checked.stdout == ""
    # Another account's token.
    other = AccessToken(
        "AC" + "1" * 32, emulator["TWILIO_API_KEY"], emulator["TWILIO_API_SECRET"], identity="x"
    )
    other.add_grant(TaskRouterGrant(workspace_sid=workspace, worker_sid=worker, role="worker"))
    checked = trctl(emulator, "token", "verify", other.to_jwt())
    assert checked.returncode == 4
    assert "account" in checked.stderr
