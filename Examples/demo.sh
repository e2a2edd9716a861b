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
Rules:   Rules/*.json: EventBridge event patterns, each with a local handler target and a
         Slack target (on when SLACK_WEBHOOK_URL is set; here a local receiver plays Slack).
What happens: every record is wrapped in the envelope EventBridge delivers
         ("detail-type": "AWS API Call via CloudTrail", "detail": <the record>), matched against
         every rule at once, and each match runs the rule's handlers (Handlers/*.sh) with the
         event on standard input. Handler output is shown as [rule/target] ...; a summary follows.
===========================================================================================

TEXT

# A local webhook receiver stands in for Slack: the shipped rules alert to ${SLACK_WEBHOOK_URL}.
state=.build/demo-state
rm -rf "$state" .tripline/security-alerts.ndjson
mkdir -p "$state"
receiver_log="$state/receiver.log"
"$tripline" receive --port 0 > "$receiver_log" 2>&1 &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q "listening on" "$receiver_log" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$receiver_log" | head -1)"
export SLACK_WEBHOOK_URL="$url/slack-demo"
export NO_PROXY=127.0.0.1

echo "(a local receiver at $url stands in for Slack: SLACK_WEBHOOK_URL points at it)"
echo "\$ $tripline run --rules Rules --state-dir $state Examples/cloudtrail"
echo
status=0
"$tripline" run --rules Rules --state-dir "$state" Examples/cloudtrail || status=$?
echo
sleep 0.3
echo "== The security-alerts topic fanned each alert out to a log file and to Slack ================="
echo "$(wc -l < .tripline/security-alerts.ndjson 2>/dev/null || echo 0) alerts in .tripline/security-alerts.ndjson (the topic's file subscription)"
echo
echo "== What the local Slack receiver got (one line per alert: the message's text) =============="
grep -v "^listening on" "$receiver_log" || echo "(nothing)"
echo
echo "\$ $tripline status --state-dir $state"
"$tripline" status --state-dir "$state" || true
echo
case "$status" in
    0) echo "demo: done: every event was read and every delivery succeeded." ;;
    1) echo "demo: done, with some bad records or failed deliveries (see above)." ;;
    *) echo "demo: tripline run exited with status $status." >&2; exit "$status" ;;
esac
