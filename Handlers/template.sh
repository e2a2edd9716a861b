#!/usr/bin/env bash
# A handler template in bash: copy it, rename it, point a rule's Function target at it.
#
# Contract (Handlers/README.md has it all): the event JSON arrives on standard input (after the
# target's Input/InputPath/InputTransformer); TRIPLINE_RULE, TRIPLINE_TARGET, TRIPLINE_EVENT_ID,
# TRIPLINE_IDEMPOTENCY_KEY and TRIPLINE_ATTEMPT are set; exit 0 means delivered, 65 means "this
# event can never be handled" (dead-lettered at once, never retried), anything else is a failure
# that is retried. Never eval or interpolate event data into a command line: treat it as untrusted
# input.
#
# Input that is not what this handler needs (not JSON, empty, not an object, no event name: e.g. an
# InputTransformer with a text template, or an InputPath to a missing field, which sends null) can
# never be handled, however often it is retried: exit 65 with one line on standard error.
# Needs jq to read the event: without it, every delivery fails alike, so that exits 65 too.
set -euo pipefail

EX_DATAERR=65
unusable() {
    echo "template.sh: cannot handle this input: $*" >&2
    exit "$EX_DATAERR"
}

if ! command -v jq >/dev/null 2>&1; then
    # A missing tool does not appear by itself: retrying for a day cannot help, so the delivery is
    # dead-lettered at once (65); install jq, then 'tripline dlq redrive' brings it back.
    echo "template.sh: jq is needed to read the event and is not on PATH ($PATH); install jq, then run 'tripline dlq redrive'" >&2
    exit "$EX_DATAERR"
fi

event=$(cat)
[[ -n ${event//[[:space:]]/} ]] || unusable "empty input; expected an event as JSON"

# One jq call checks the input and pulls the fields out: the event name and the caller, one per line
# (the CloudTrail record is under .detail). jq exits 1 on input that is not JSON.
fields=$(jq -r -s '
    if length != 1 then error("expected one JSON value, got \(length)") else .[0] end
    | if type != "object" then error("expected a JSON object, got \(type)") else . end
    | (if (.detail | type) == "object" then .detail else . end) as $record
    | ($record.eventName // ."detail-type") as $name
    | if ($name | type) != "string" or $name == "" then error("no eventName (or detail-type) in the event") else . end
    | $name, ($record.userIdentity | if type == "object" then .arn // .type // "unknown" else "unknown" end)
    | tostring | gsub("[\n\r]"; " ")' <<<"$event" 2>&1) || {
    fields=${fields//$'\n'/ }
    unusable "${fields#jq: error (at <stdin>:*): }"
}
{ read -r name; read -r who; } <<<"$fields"

# Deliveries are at least once: use the idempotency key to do the work only once.
# No [rule/target] tag: 'tripline run' prefixes every line a handler prints with it.
echo "${name} by ${who} (key ${TRIPLINE_IDEMPOTENCY_KEY:-none})"
