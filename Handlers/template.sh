#!/usr/bin/env bash
# A handler template in bash: copy it, rename it, point a rule's Function target at it.
#
# Contract (Handlers/README.md has it all): the event JSON arrives on standard input (after the
# target's Input/InputPath/InputTransformer); TRIPLINE_RULE, TRIPLINE_TARGET, TRIPLINE_EVENT_ID,
# TRIPLINE_IDEMPOTENCY_KEY and TRIPLINE_ATTEMPT are set; exit 0 means delivered, anything else is a
# failure. Never eval or interpolate event data into a command line: treat it as untrusted input.
set -euo pipefail

event=$(cat)

# Pull fields out with jq when it is installed (the CloudTrail record is under .detail).
if command -v jq >/dev/null 2>&1; then
    name=$(jq -r '.detail.eventName // ."detail-type" // "unknown"' <<<"$event")
    who=$(jq -r '.detail.userIdentity.arn // .detail.userIdentity.type // "unknown"' <<<"$event")
else
    name="unknown"; who="unknown"
fi

# Deliveries are at least once: use the idempotency key to do the work only once.
# No [rule/target] tag: 'tripline run' prefixes every line a handler prints with it.
echo "${name} by ${who} (key ${TRIPLINE_IDEMPOTENCY_KEY:-none})"
