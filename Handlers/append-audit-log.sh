#!/bin/sh
# Appends the event read from standard input, as one line of JSON, to an audit log:
# $TRIPLINE_AUDIT_LOG if set, else ./.tripline/audit.ndjson (relative to where tripline runs).
#
# Idempotent: the delivery's TRIPLINE_IDEMPOTENCY_KEY is recorded in "<log>.keys", and a delivery
# whose key is already there (a retry, or the same file read twice) is not appended again.
# Concurrent runs are serialised with flock(1) when it is installed.
set -eu

log="${TRIPLINE_AUDIT_LOG:-./.tripline/audit.ndjson}"
keys="$log.keys"
key="${TRIPLINE_IDEMPOTENCY_KEY:-}"

mkdir -p "$(dirname "$log")"

# JSON never contains raw CR or LF inside strings, so removing them compacts it to one line safely.
line=$(tr -d '\r\n')
[ -n "$line" ] || { echo "append-audit-log: empty event on standard input" >&2; exit 2; }

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
