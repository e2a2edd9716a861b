#!/usr/bin/env bash
# make bench: the matcher benchmarks (citylots groups, rule-count scaling), the end-to-end pipeline,
# durable delivery and webhooks on a release build, written to Benchmarks/RESULTS.md next to the
# reference figures (report.py --update refreshes just the delivery and webhook sections). Needs
# python3 (for the event generator and the report) and ../shared/ (skipped with a note when absent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=.build/release/tripline
SHARED=${TRIPLINE_SHARED:-../shared}
OUT=.build/bench-data
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "bench: $BIN missing; run 'make build' first" >&2; exit 1; }

if [ -f "$SHARED/data/citylots2/benchmark-rules.json" ] && [ -f "$SHARED/bench/gen_citylots.py" ]; then
  if [ ! -f "$OUT/citylots2.json.gz" ]; then
    echo "bench: generating the citylots2-shaped events into $OUT (once, ~10 s)"
    python3 "$SHARED/bench/gen_citylots.py" "$OUT/citylots2.json.gz"
  fi
  echo "bench: citylots groups (one thread, best of 7 passes)"
  "$BIN" bench match --passes 7 --rules "$SHARED/data/citylots2/benchmark-rules.json" --events "$OUT/citylots2.json.gz" | tee "$OUT/match.ndjson"
else
  echo "bench: $SHARED/data/citylots2 or $SHARED/bench not found; skipping the citylots groups" >&2
  : > "$OUT/match.ndjson"
fi

echo "bench: rule-count scaling (best of 15 passes: its per-event figures are small, so a slow spell weighs more)"
"$BIN" bench scaling --passes 15 | tee "$OUT/scaling.ndjson"

echo "bench: end-to-end pipeline (gzipped CloudTrail, 50 rules, no-op function target)"
bash Benchmarks/pipeline.sh "$SHARED" "$OUT" 10 | tee "$OUT/pipeline.ndjson"

echo "bench: durable delivery (5,000 events to a no-op function: state FULL, NORMAL, in memory; the journal alone)"
"$BIN" bench delivery --work-dir "$OUT" | tee "$OUT/delivery.ndjson"

echo "bench: webhooks (loopback server, 1 and 64 connections)"
"$BIN" bench webhook | tee "$OUT/webhook.ndjson"

python3 Benchmarks/report.py "$OUT/match.ndjson" "$OUT/scaling.ndjson" "$SHARED/bench/citylots-synth-counts.json" "$OUT/pipeline.ndjson" \
  "$OUT/delivery.ndjson" "$OUT/webhook.ndjson" > Benchmarks/RESULTS.md
echo "bench: wrote Benchmarks/RESULTS.md"
