#!/usr/bin/env bash
# Differential run of Tripline's matcher against a reference implementation.
#
#   ORACLE="bash /path/to/oracle.sh" scripts/differential/run.sh [SEED] [COUNT]
#
# ORACLE reads {"pattern","event"} lines on stdin and answers like `tripline test-pattern --batch`
# ({"matches": bool} or {"error": "..."}), for example a harness around aws/event-ruler's
# Machine.rulesForJSONEvent. Without ORACLE the run is skipped, saying so.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seed="${1:-1}"; count="${2:-20000}"
if [ -z "${ORACLE:-}" ]; then
    echo "differential: skipped (set ORACLE to a reference command, see scripts/differential/README.md)"
    exit 0
fi
tripline="$root/.build/release/tripline"
[ -x "$tripline" ] || { echo "differential: build first (make build)"; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 "$here/gen_pairs.py" "$seed" "$count" > "$work/pairs.ndjson"
"$tripline" test-pattern --batch < "$work/pairs.ndjson" > "$work/ours.ndjson"
$ORACLE < "$work/pairs.ndjson" > "$work/reference.ndjson"
python3 "$here/compare.py" "$work/pairs.ndjson" "$work/ours.ndjson" "$work/reference.ndjson"
