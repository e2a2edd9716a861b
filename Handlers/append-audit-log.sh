#!/bin/sh
# Appends the event read from standard input, as one line of JSON, to an audit log:
# $TRIPLINE_AUDIT_LOG if set, else ./.tripline/audit.ndjson (relative to where tripline runs).
#
# Idempotent: the delivery's TRIPLINE_IDEMPOTENCY_KEY is recorded in "<log>.keys", and a delivery
# whose key is already there (a retry, or the same file read twice) is not appended again.
# Concurrent runs are serialised with flock(1) when it is installed.
#
# Input that is not one JSON object (not JSON, empty, text from an InputTransformer template, the
# null an InputPath to a missing field sends) can never be recorded: exits 65 ("can never be
# handled", no retry) with one line on standard error. The check uses jq, else python3, else only
# looks at the first and last character ({ and }).
set -eu

unusable() {
    echo "append-audit-log: cannot record this input: $*" >&2
    exit 65
}

log="${TRIPLINE_AUDIT_LOG:-./.tripline/audit.ndjson}"
keys="$log.keys"
key="${TRIPLINE_IDEMPOTENCY_KEY:-}"

# JSON never contains raw CR or LF inside strings, so removing them compacts it to one line safely.
line=$(tr -d '\r\n')
case "$line" in
    *[![:space:]]*) ;;
    *) unusable "empty input; expected the event as a JSON object" ;;
esac
if command -v jq >/dev/null 2>&1; then
    printf '%s' "$line" | jq -e -s 'length == 1 and (.[0] | type) == "object"' >/dev/null 2>&1 ||
        unusable "not a JSON object"
elif command -v python3 >/dev/null 2>&1; then
    printf '%s' "$line" | python3 -c 'import json, sys; sys.exit(0 if isinstance(json.loads(sys.stdin.read()), dict) else 1)' 2>/dev/null ||
        unusable "not a JSON object"
else
    trimmed=$(printf '%s\n' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    case "$trimmed" in
        "{"*"}") ;;
        *) unusable "not a JSON object" ;;
    esac
fi

mkdir -p "$(dirname "$log")"

append() {
    if [ -n "$key" ] && [ -f "$keys" ] && grep -Fxq -- "$key" "$keys"; then
        echo "already recorded: $key"
        return 0
    fi
    printf '%s\n' "$line" >>"$log"
    if [ -n "$key" ]; then printf '%s\n' "$key" >>"$keys"; fi
    echo "recorded ${TRIPLINE_EVENT_ID:-event} in $log"
}

if command -v flock >/dev/null 2>&1; then
    exec 9>>"$log.lock"
    flock 9
    append
else
    append
fi
