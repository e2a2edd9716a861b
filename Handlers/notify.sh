#!/bin/sh
# Prints a one-line human summary of the event read from standard input, e.g.
#   2023-07-10T12:01:02Z signin:ConsoleLogin by arn:aws:iam::1234:root from 1.2.3.4 in us-east-1
# No rule name in it: 'tripline run' prefixes every line a handler prints with [rule/target].
# Works on EventBridge events (the CloudTrail record is in .detail) and on bare records.
# Uses jq when installed, else python3, else prints the payload as it is.
set -eu

payload=$(cat)

if command -v jq >/dev/null 2>&1; then
    printf '%s' "$payload" | jq -r '
        def d: if type == "object" and (.detail | type) == "object" then .detail else . end;
        def s: if . == null then "?" else tostring end;
        if type != "object" then tostring
        else
          [ (d.eventTime // .time | s),
            ((d.eventSource // .source | s | sub("\\.amazonaws\\.com$"; "")) + ":" + (d.eventName // ."detail-type" | s)),
            "by", (d.userIdentity.arn // d.userIdentity.principalId // d.userIdentity.type | s),
            "from", (d.sourceIPAddress | s),
            "in", (d.awsRegion // .region | s)
          ]
          + (if d.errorCode then ["error=" + (d.errorCode | s)] else [] end)
          | join(" ")
        end' 2>/dev/null && exit 0
    # Not JSON: fall through.
fi

if command -v python3 >/dev/null 2>&1; then
    printf '%s' "$payload" | python3 -c '
import json, sys
text = sys.stdin.read()
try:
    e = json.loads(text)
except ValueError:
    print(" ".join(text.split()))
    sys.exit(0)
if not isinstance(e, dict):
    print(json.dumps(e)); sys.exit(0)
d = e["detail"] if isinstance(e.get("detail"), dict) else e
def s(v): return "?" if v is None else str(v)
ident = d.get("userIdentity") or {}
src = s(d.get("eventSource") or e.get("source"))
if src.endswith(".amazonaws.com"): src = src[: -len(".amazonaws.com")]
parts = [s(d.get("eventTime") or e.get("time")), src + ":" + s(d.get("eventName") or e.get("detail-type")),
         "by", s(ident.get("arn") or ident.get("principalId") or ident.get("type")),
         "from", s(d.get("sourceIPAddress")), "in", s(d.get("awsRegion") or e.get("region"))]
if d.get("errorCode"): parts.append("error=" + s(d["errorCode"]))
print(" ".join(parts))
' && exit 0
fi

printf '%s\n' "$payload" | tr '\n' ' ' | sed 's/ $//'
echo
