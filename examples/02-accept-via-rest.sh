#!/usr/bin/env bash
# Part 2, steps 2-3: a Spanish task waits until Alice is available, she is reserved, and
# the reservation is accepted through the Reservations REST API.
. "$(dirname "$0")/common.sh"
load_state

"$TRCTL" worker update Alice --activity Offline >/dev/null
task=$("$TRCTL" task create --workflow "$WORKFLOW" --attributes '{"selected_language": "es"}' \
  --fields sid --output tsv | tail -n 1)
echo "task $task: $(field task get "$task" --fields assignment_status) in $(field task get "$task" --fields task_queue_friendly_name)"

"$TRCTL" worker update Alice --activity Available >/dev/null
wait_for reserved field task get "$task" --fields assignment_status
"$TRCTL" reservation list --task "$task"

# Without a reservation SID, accept takes the task's single pending reservation.
"$TRCTL" reservation accept --task "$task" --fields sid,reservation_status,worker_name
wait_for assigned field task get "$task" --fields assignment_status
echo "task $task: assigned to Alice"
echo "TASK_ACCEPTED_BY_REST=$task" >> "$STATE"
