#!/usr/bin/env bash
# Part 2, step 4: `trctl serve` answers the assignment callback with
# {"instruction": "accept"}, so the second task is assigned the moment Alice is available.
. "$(dirname "$0")/common.sh"
load_state

log=$(mktemp)
"$TRCTL" serve --port 0 --instruction accept 2>"$log" >"$log.out" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true; rm -f "$log" "$log.out"' EXIT
wait_for yes sh -c "grep -q 'assignment callback URL' '$log.out' && echo yes || echo no"
callback=$(grep 'assignment callback URL' "$log.out" | awk '{print $NF}')
"$TRCTL" workflow update "$WORKFLOW" --assignment-callback-url "$callback" >/dev/null
echo "assignment callbacks go to $callback"

"$TRCTL" worker update Alice --activity Offline >/dev/null
# Alice still holds the first task; give her a second slot on the default channel.
"$TRCTL" worker channel update Alice default --capacity 2 >/dev/null
task=$("$TRCTL" task create --workflow "$WORKFLOW" --attributes '{"selected_language": "es"}' \
  --fields sid --output tsv | tail -n 1)
echo "task $task: $(field task get "$task" --fields assignment_status)"
"$TRCTL" worker update Alice --activity Available >/dev/null
wait_for assigned field task get "$task" --fields assignment_status
echo "task $task: assigned by the callback's instruction"
echo "TASK_ACCEPTED_BY_CALLBACK=$task" >> "$STATE"

# Put the workflow back, then complete both tasks.
"$TRCTL" workflow update "$WORKFLOW" --assignment-callback-url "" >/dev/null
for done in "${TASK_ACCEPTED_BY_REST:-}" "$task"; do
  [ -n "$done" ] && "$TRCTL" task complete "$done" --reason "quickstart done" --fields sid,assignment_status
done
