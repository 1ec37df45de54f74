#!/usr/bin/env bash
# Compatibility tests: Twilio's official Python helper library against `trctl emulator`.
#
#   bash tests/compat/run.sh [pytest args...]
#
# Creates (once) a virtualenv at .venv-compat in the repository root with the pinned
# packages of tests/compat/requirements.txt, reinstalling only when that file (or the
# Python version) changes; builds the debug binary unless TRCTL_BIN names one; runs
# pytest and exits with its status. "No tests collected" (pytest's 5) is a failure.
# Quiet when all is well: setup output is kept in a log and shown only if a step fails.
# Needs python3 (3.8+, with venv and pip) and, without TRCTL_BIN, cargo.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

python="${PYTHON:-python3}"
venv="$root/.venv-compat"
stamp="$venv/.requirements-hash"
log="$(mktemp "${TMPDIR:-/tmp}/trctl-compat.XXXXXX")"
trap 'rm -f "$log"' EXIT

fail() {
    echo "tests/compat: $1" >&2
    if [ -s "$log" ]; then
        echo "---- output ----" >&2
        tail -n 60 "$log" >&2
    fi
    exit 1
}

command -v "$python" >/dev/null 2>&1 || fail "$python not found (set PYTHON to a Python 3 interpreter)"

# The hash covers the pins and the interpreter, so a new Python rebuilds the venv too.
want="$("$python" - "$here/requirements.txt" <<'EOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read() + sys.version.encode()
print(hashlib.sha256(data).hexdigest())
EOF
)"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c '' >/dev/null 2>&1 \
    || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" >>"$log" 2>&1 || fail "could not create $venv with $python -m venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --no-input -q \
        -r "$here/requirements.txt" >>"$log" 2>&1 \
        || fail "pip install -r tests/compat/requirements.txt failed"
    echo "$want" >"$stamp"
fi

if [ -z "${TRCTL_BIN:-}" ]; then
    cargo build --quiet >>"$log" 2>&1 || fail "cargo build failed"
fi

set +e
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest "$here" -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "tests/compat: pytest collected no tests; treating that as a failure" >&2
    exit 1
fi
exit "$status"
