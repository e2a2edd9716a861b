#!/usr/bin/env bash
# Tripline demo: routes a few real CloudTrail log files through the shipped rules.
# Run it with `make demo` (which builds .build/release/tripline first), from the project root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tripline=.build/release/tripline
if [[ ! -x "$tripline" ]]; then
    echo "demo: $tripline not found; run 'make build' (or 'make demo') first" >&2
    exit 1
fi

cat <<'TEXT'
== Tripline demo ==========================================================================
Tripline runs Amazon EventBridge rules locally over CloudTrail logs.

Input:   Examples/cloudtrail/AWSLogs/...: four real CloudTrail log files (an attack simulation
         with Stratus Red Team, 2023-07-10; see Examples/cloudtrail/LICENSE-NOTE.md), read in
         time order as CloudTrail lays them out in S3.
Rules:   Rules/*.json: EventBridge event patterns, each with local handler targets.
What happens: every record is wrapped in the envelope EventBridge delivers
         ("detail-type": "AWS API Call via CloudTrail", "detail": <the record>), matched against
         every rule at once, and each match runs the rule's handlers (Handlers/*.sh) with the
         event on standard input. Handler output is shown as [rule/target] ...; a summary follows.
===========================================================================================

TEXT

echo "\$ $tripline run --rules Rules Examples/cloudtrail"
echo
status=0
"$tripline" run --rules Rules Examples/cloudtrail || status=$?
echo
case "$status" in
    0) echo "demo: done: every event was read and every delivery succeeded." ;;
    1) echo "demo: done, with some bad records or failed deliveries (see above)." ;;
    *) echo "demo: tripline run exited with status $status." >&2; exit "$status" ;;
esac
