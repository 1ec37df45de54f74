#!/usr/bin/env bash
# Compatibility tests: Twilio's official helper libraries against `trctl emulator`.
#
#   bash tests/compat/run.sh [python] [pytest args...]   twilio-python (test_*.py)
#   bash tests/compat/run.sh node5                        twilio-node 5.x (pinned)
#   bash tests/compat/run.sh node3.84                     twilio-node 3.84.1 (last 3.x)
#   bash tests/compat/run.sh node3.40                     twilio-node 3.40.0 (multipart bodies)
#   bash tests/compat/run.sh node                         the three Node suites
#
# Python: creates (once) a virtualenv at .venv-compat in the repository root with the
# pinned packages of tests/compat/requirements.txt, reinstalling only when that file (or
# the Python version) changes; runs pytest and exits with its status. "No tests
# collected" (pytest's 5) is a failure.
# Node: installs the exact versions of tests/compat/node/<suite>/package-lock.json with
# `npm ci` into .node-compat/<suite> in the repository root (nothing global; again only
# when the lock file or the Node version changes) and runs tests/compat/node/*.js for
# that suite with `node --test`.
# Either builds the debug binary unless TRCTL_BIN names one.
# Quiet when all is well: setup output is kept in a log and shown only if a step fails.
# Needs python3 (3.8+, with venv and pip) or node (18+) with npm and, without TRCTL_BIN,
# cargo.
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

build() {
    if [ -z "${TRCTL_BIN:-}" ]; then
        cargo build --quiet >>"$log" 2>&1 || fail "cargo build failed"
    fi
}

# One Node suite: its directory under tests/compat/node, the twilio-node version the lock
# pins, the request body encoding that version sends, then its test files.
node_suite() {
    local dir="$1" version="$2" body="$3"
    shift 3
    local node="${NODE:-node}" npm="${NPM:-npm}"
    local prefix="$root/.node-compat/$dir" pins="$here/node/$dir"
    command -v "$node" >/dev/null 2>&1 || fail "$node not found (set NODE to a Node.js binary)"
    command -v "$npm" >/dev/null 2>&1 || fail "$npm not found (set NPM to npm)"
    local want
    want="$( (cat "$pins/package.json" "$pins/package-lock.json"; timeout 30 "$node" --version) | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$prefix/.lock-hash" 2>/dev/null || true)" != "$want" ] || [ ! -d "$prefix/node_modules/twilio" ]; then
        rm -rf "$prefix"
        mkdir -p "$prefix"
        cp "$pins/package.json" "$pins/package-lock.json" "$prefix/"
        (cd "$prefix" && timeout 600 "$npm" ci --ignore-scripts --no-audit --no-fund --loglevel=error) >>"$log" 2>&1 \
            || fail "npm ci for tests/compat/node/$dir failed"
        echo "$want" >"$prefix/.lock-hash"
    fi
    build
    NODE_PATH="$prefix/node_modules" EXPECT_VERSION="$version" EXPECT_BODY="$body" \
        timeout 600 "$node" --test --test-reporter=dot "$@" \
        || { echo "tests/compat: twilio-node $version suite failed" >&2; return 1; }
}

# The current library runs everything; the 3.x ones run the lifecycle.
node5() { node_suite twilio5 5.9.0 form "$here"/node/*.test.js; }
node3_84() { node_suite twilio3.84 3.84.1 form "$here/node/lifecycle.test.js"; }
node3_40() { node_suite twilio3.40 3.40.0 multipart "$here/node/lifecycle.test.js"; }

case "${1:-python}" in
    node5) node5; exit ;;
    node3.84) node3_84; exit ;;
    node3.40) node3_40; exit ;;
    node)
        status=0
        node5 || status=1
        node3_84 || status=1
        node3_40 || status=1
        exit "$status"
        ;;
    python) if [ "$#" -gt 0 ]; then shift; fi ;;
    *) ;;
esac

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

build

set +e
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest "$here" -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "tests/compat: pytest collected no tests; treating that as a failure" >&2
    exit 1
fi
exit "$status"
