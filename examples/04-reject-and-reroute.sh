#!/usr/bin/env bash
# Not in the quickstart: an English task is offered to Alice, she rejects it (moving to
# Offline), and TaskRouter offers it to Bob instead.
. "$(dirname "$0")/common.sh"
load_state

"$TRCTL" worker update Bob --activity Offline >/dev/null
"$TRCTL" worker update Alice --activity Available >/dev/null
task=$("$TRCTL" task create --workflow "$WORKFLOW" --attributes '{"selected_language": "en"}' \
  --fields sid --output tsv | tail -n 1)
wait_for reserved field task get "$task" --fields assignment_status
echo "task $task: offered to $(field reservation list --task "$task" --fields worker_name)"

"$TRCTL" worker update Bob --activity Available >/dev/null
"$TRCTL" reservation reject --task "$task" --activity Offline --fields worker_name,reservation_status
wait_for Bob field reservation list --task "$task" --status pending --fields worker_name
echo "task $task: now offered to Bob"
"$TRCTL" reservation accept --task "$task" --fields worker_name,reservation_status
"$TRCTL" task complete "$task" --reason "rerouted example" >/dev/null
"$TRCTL" reservation list --task "$task" --fields worker_name,reservation_status
