#!/usr/bin/env bash
# Part 1 of the TaskRouter quickstart: a workspace with two workers (Alice speaks English
# and Spanish, Bob English), a queue per language, and a workflow routing on the task's
# `selected_language`. Writes the SIDs to $TRCTL_EXAMPLES_STATE (./quickstart.env).
. "$(dirname "$0")/common.sh"

ws=$("$TRCTL" workspace create --name "TaskRouter Quickstart" --fields sid --output tsv | tail -n 1)
export TWILIO_WORKSPACE_SID="$ws"

"$TRCTL" worker create --name Alice --attributes '{"languages": ["en", "es"]}' >/dev/null
"$TRCTL" worker create --name Bob --attributes '{"languages": ["en"]}' >/dev/null

spanish=$("$TRCTL" queue create --name "Customer Care Requests - Spanish" \
  --target-workers 'languages HAS "es"' --fields sid --output tsv | tail -n 1)
english=$("$TRCTL" queue create --name "Customer Care Requests - English" \
  --target-workers 'languages HAS "en"' --fields sid --output tsv | tail -n 1)

config=$(cat <<JSON
{"task_routing": {"filters": [
  {"filter_friendly_name": "Spanish", "expression": "selected_language == \"es\"", "targets": [{"queue": "$spanish"}]},
  {"filter_friendly_name": "English", "expression": "selected_language == \"en\"", "targets": [{"queue": "$english"}]}
]}}
JSON
)
# A long reservation timeout: the next script accepts by hand.
workflow=$("$TRCTL" workflow create --name "Incoming Customer Care Requests" \
  --config "$config" --task-reservation-timeout 1200 --fields sid --output tsv | tail -n 1)

cat > "$STATE" <<ENV
TWILIO_WORKSPACE_SID=$ws
WORKFLOW=$workflow
SPANISH_QUEUE=$spanish
ENGLISH_QUEUE=$english
ENV
echo "workspace $ws: workers Alice and Bob, queues Spanish and English, workflow $workflow"
"$TRCTL" worker list --fields friendly_name,activity_name,attributes
