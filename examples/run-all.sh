#!/usr/bin/env bash
# Run every example script against a fresh `trctl emulator` on a free loopback port,
# then stop the emulator. Used by CI; also a quick way to watch the whole walkthrough.
#   TRCTL=path/to/trctl examples/run-all.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TRCTL="${TRCTL:-trctl}"
work=$(mktemp -d)
cd "$work"
# Only the emulator's own credentials: ignore any real account in the environment.
unset TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_API_KEY TWILIO_API_SECRET TWILIO_WORKSPACE_SID TRCTL_BASE_URL
"$TRCTL" emulator --port 0 >emulator.out 2>emulator.err &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true; cd /; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q TWILIO_AUTH_TOKEN emulator.out 2>/dev/null && break; sleep 0.05; done
set -a
# shellcheck disable=SC1091
. <(grep -E '^(TRCTL_BASE_URL|TWILIO_ACCOUNT_SID|TWILIO_AUTH_TOKEN)=' emulator.out)
set +a
export TRCTL TRCTL_EXAMPLES_STATE="$work/quickstart.env"
for script in "$here"/0*.sh; do
  echo "== $(basename "$script")"
  bash "$script"
done
echo "== all examples passed"
