#!/usr/bin/env bash
# Benchmarks: trctl side by side with what a TaskRouter developer would otherwise run,
# all in one run, written to BENCHMARKS.md (README links it).
#
#   bash scripts/bench.sh                 # everything (10 to 13 minutes on 2 cores, builds included)
#   BENCH_ONLY="callbacks oneshot" bash scripts/bench.sh   # a subset: callbacks oneshot lifecycle engine expr limits
#   BENCH_ROUNDS=5 bash scripts/bench.sh  # more rounds per comparison (default 3)
#
# Builds the release binary and the benchmark programs, installs what the comparison
# needs into .bench/ (a Python venv with Flask, gunicorn and twilio from
# benches/compare/requirements.txt; twilio-cli 6.2 from the npm registry under an npm
# prefix; nothing global), runs the criterion benches (engine, expressions), then
# benches/compare/run.py, which starts every server on 127.0.0.1, runs the comparisons
# with their contenders alternating, stops what it started and writes BENCHMARKS.md and
# .bench/results.json. Needs cargo, python3 (venv, pip), npm and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
work="$root/.bench"
mkdir -p "$work"
only="${BENCH_ONLY:-callbacks oneshot lifecycle engine expr limits}"
rounds="${BENCH_ROUNDS:-3}"
log="$work/setup.log"
: > "$log"

step() { echo "== $*"; }
fail() {
    echo "scripts/bench.sh: $1" >&2
    tail -n 40 "$log" >&2 || true
    exit 1
}

for tool in cargo python3 npm curl; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed and was not found"
done

step "build (release): trctl, benches/bare_axum.rs, benches/lifecycle.rs, benches/stall.rs, benches/memory.rs"
cargo build --release >>"$log" 2>&1 || fail "cargo build --release failed"
artifacts="$(cargo build --release --bench bare_axum --bench lifecycle --bench stall --bench memory --message-format=json 2>>"$log")" \
    || fail "building the benchmark programs failed"
exe() {
    printf '%s\n' "$artifacts" | python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == want:
        print(m["executable"])
' "$1" | tail -n 1
}
bare_axum="$(exe bare_axum)"
lifecycle="$(exe lifecycle)"
stall="$(exe stall)"
memory="$(exe memory)"
[ -x "$bare_axum" ] && [ -x "$lifecycle" ] && [ -x "$stall" ] && [ -x "$memory" ] || fail "could not find the benchmark executables"

step "comparison tools into .bench/ (venv: Flask, gunicorn, twilio; npm: twilio-cli)"
venv="$work/venv"
want="$(sha256sum benches/compare/requirements.txt | cut -d' ' -f1)-$(python3 -V 2>&1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >>"$log" 2>&1 || fail "python3 -m venv failed"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/compare/requirements.txt >>"$log" 2>&1 \
        || fail "pip install failed"
    echo "$want" > "$venv/.stamp"
fi
node_prefix="$work/node"
if [ ! -x "$node_prefix/node_modules/.bin/twilio" ]; then
    mkdir -p "$node_prefix"
    npm install --no-audit --no-fund --loglevel=error --prefix "$node_prefix" twilio-cli@6.2.4 >>"$log" 2>&1 \
        || fail "npm install twilio-cli failed"
fi

case " $only " in
*" engine "*|*" expr "*)
    step "criterion: cargo bench --bench engine / --bench expr"
    for bench in engine expr; do
        case " $only " in *" $bench "*)
            cargo bench --bench "$bench" -- --noplot 2>&1 | grep -E '^[a-z_]+/|time:' || fail "cargo bench --bench $bench failed"
        esac
    done
    ;;
esac

case " $only " in
*" limits "*)
    # The costliest requests the limits allow (expr::limits); benches/stall.rs runs from run.py.
    step "criterion: the worst cases within the limits (engine at_limits, expr *_at_limits)"
    cargo bench --bench engine -- at_limits --noplot 2>&1 | grep -E '^[a-z_]+/|time:' || fail "cargo bench --bench engine -- at_limits failed"
    cargo bench --bench expr -- _at_limits --noplot 2>&1 | grep -E '^[a-z_]+/|time:' || fail "cargo bench --bench expr -- _at_limits failed"
    ;;
esac

step "comparisons (benches/compare/run.py)"
# shellcheck disable=SC2086
"$venv/bin/python" benches/compare/run.py \
    --trctl "$root/target/release/trctl" --bare-axum "$bare_axum" --lifecycle "$lifecycle" --stall "$stall" --memory "$memory" \
    --venv "$venv" --node-prefix "$node_prefix" --rounds "$rounds" \
    --only $only
