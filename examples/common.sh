# Shared by the example scripts: which trctl to run, where the SIDs of 01-setup.sh are
# kept, and small helpers. Source it; don't run it.
#
# The scripts talk to whatever TRCTL_BASE_URL / TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN
# point at: `trctl emulator` on this machine (see run-all.sh), or a real account.
set -euo pipefail

TRCTL="${TRCTL:-trctl}"
STATE="${TRCTL_EXAMPLES_STATE:-./quickstart.env}"

# Wait until a command's output equals the expected value (the emulator and Twilio both
# work in the background: callbacks, routing).
wait_for() {
  local expected="$1"; shift
  for _ in $(seq 1 100); do
    if [ "$("$@")" = "$expected" ]; then return 0; fi
    sleep 0.05
  done
  echo "timed out waiting for '$*' to print '$expected' (last: '$("$@")')" >&2
  return 1
}

# One field of a resource, as text.
field() {
  "$TRCTL" "$@" --output tsv | tail -n 1
}

load_state() {
  if [ ! -f "$STATE" ]; then
    echo "no $STATE: run 01-setup.sh first" >&2
    exit 1
  fi
  # shellcheck disable=SC1090
  . "$STATE"
  export TWILIO_WORKSPACE_SID
}
