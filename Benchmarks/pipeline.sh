#!/usr/bin/env bash
# End-to-end ingestion throughput: gzipped CloudTrail log files through read + normalize + match
# against 50 rules, matches delivered to a no-op function (/bin/true). Prints one JSON line.
# Usage: Benchmarks/pipeline.sh SHARED_DIR OUT_DIR [COPIES]
set -euo pipefail
SHARED=$1; OUT=$2; COPIES=${3:-20}
BIN=.build/release/tripline
SRC="$SHARED/data/cloudtrail/invictus-ir-aws_dataset"
[ -d "$SRC" ] || { echo "pipeline: $SRC not found; skipping" >&2; exit 0; }
WORK="$OUT/pipeline"
if [ ! -f "$WORK/.ready-distinct-$COPIES" ]; then
  rm -rf "$WORK"; mkdir -p "$WORK/Rules"
  # Each copy's records get their own eventID: identical records would be one event (delivered once,
  # the rest skipped as duplicates), and the benchmark would no longer deliver every match.
  python3 - "$SRC" "$WORK/AWSLogs/218007301253/CloudTrail/us-east-1/2023/07" "$COPIES" <<'PY'
import gzip, os, sys
src, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = sorted(n for n in os.listdir(src) if n.endswith(".json.gz"))
for c in range(1, copies + 1):
    day = os.path.join(out, f"{c:0{len(str(copies))}d}")
    os.makedirs(day, exist_ok=True)
    for name in names:
        data = gzip.open(os.path.join(src, name)).read()
        data = data.replace(b'"eventID":"', f'"eventID":"copy{c}-'.encode()).replace(b'"eventID": "', f'"eventID": "copy{c}-'.encode())
        with gzip.open(os.path.join(day, name), "wb") as f:
            f.write(data)
PY
  # The shipped rules with their targets replaced by a no-op function, plus generated ones to 50.
  python3 - "$WORK/Rules" Rules <<'PY'
import json, os, sys
out, shipped = sys.argv[1], sys.argv[2]
noop = [{"Id": "noop", "Function": {"Handler": "/bin/true"}}]
rules = []
for name in sorted(os.listdir(shipped)):
    if name.endswith(".json"):
        rule = json.load(open(os.path.join(shipped, name)))
        if "EventPattern" not in rule:
            continue   # a topic file: every target here is the no-op function
        rule["Targets"] = noop
        rule.pop("Tests", None)
        rules.append(rule)
# Alerting-style rules: selective, as real ones are (most events match nothing).
names = ["CreateUser", "RunInstances", "ModifySnapshotAttribute", "SendCommand", "CreateBucket", "DeleteBucket",
         "CreateLoginProfile", "UpdateAssumeRolePolicy", "PutBucketVersioning", "ModifyImageAttribute",
         "DeleteFlowLogs", "LeaveOrganization", "CreateKeyPair", "ImportKeyPair", "DisableKey"]
i = 0
while len(rules) < 50:
    n = names[i % len(names)]
    pattern = [{"detail": {"eventName": [n]}},
               {"source": [{"prefix": "aws."}], "detail": {"eventName": [{"prefix": n[:8]}], "errorCode": [{"exists": True}]}},
               {"detail": {"userIdentity": {"type": ["IAMUser"]}, "eventName": [{"suffix": n[-9:]}], "readOnly": [False]}},
               {"detail": {"eventName": [{"wildcard": n[:3] + "*" + n[-4:]}], "sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}}][i % 4]
    rules.append({"Name": f"generated-{i:02d}", "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
                  "EventPattern": pattern, "Targets": noop})
    i += 1
for k, rule in enumerate(rules):
    json.dump(rule, open(os.path.join(out, f"{k:02d}-{rule['Name']}.json"), "w"))
PY
  touch "$WORK/.ready-distinct-$COPIES"
fi
compressed=$(du -cb "$WORK"/AWSLogs/*/*/*/*/*/*/*.json.gz | tail -1 | cut -f1)
uncompressed=$(for f in "$WORK"/AWSLogs/*/*/*/*/*/*/*.json.gz; do gzip -dc "$f"; done | wc -c)
# A fresh state directory each time: checkpoints would otherwise skip every file already read.
rm -rf "$WORK/state"
start=$(date +%s.%N)
summary=$("$BIN" run --rules "$WORK/Rules" --state-dir "$WORK/state" --log-format json "$WORK/AWSLogs" 2>/dev/null | tail -1)
end=$(date +%s.%N)
python3 - "$summary" "$start" "$end" "$compressed" "$uncompressed" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); t = float(sys.argv[3]) - float(sys.argv[2])
print(json.dumps({"benchmark": "pipeline", "rules": 50, "files": s.get("sources"), "events": s["eventsRead"],
  "matched": s["eventsMatched"], "seconds": round(t, 3),
  "eventsPerSecond": round(s["eventsRead"] / t), "compressedMBPerSecond": round(int(sys.argv[4]) / t / 1e6, 2),
  "uncompressedMBPerSecond": round(int(sys.argv[5]) / t / 1e6, 2)}))
PY
