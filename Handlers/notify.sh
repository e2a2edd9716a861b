#!/bin/sh
# Prints a one-line human summary of the event read from standard input, e.g.
#   2023-07-10T12:01:02Z signin:ConsoleLogin by arn:aws:iam::1234:root from 1.2.3.4 in us-east-1
# No rule name in it: 'tripline run' prefixes every line a handler prints with [rule/target].
# Works on EventBridge events (the CloudTrail record is in .detail), on bare records and on
# Tripline's own blocking events (User Blocked, User Block Refused, User Unblocked: the principal is
# .detail.principal, or .detail.userIdentity when a refusal could not name one).
# Always exactly one line: control characters in the event (newline, CR, ESC, other C0 and C1
# controls, DEL) are printed as \xNN, so event data cannot forge a second line or drive the terminal.
# Uses jq when installed, else python3, else prints the payload itself on one line (controls removed).
set -eu

payload=$(cat)

if command -v jq >/dev/null 2>&1; then
    # -s: the whole input must be one JSON value, else nothing is printed and python3 (or the
    # plain fallback) has its turn.
    printf '%s' "$payload" | jq -rs '
        def hex2: [(. / 16 | floor), (. % 16)] | map("0123456789abcdef"[.:.+1]) | add;
        def clean: [tostring | explode[] | if . < 32 or (. >= 127 and . < 160) then ("\\x" + hex2 | explode[]) else . end] | implode;
        def d: if type == "object" and (.detail | type) == "object" then .detail else . end;
        def s: if . == null then "?" else tostring end;
        def who: (.userIdentity | objects | .arn // .principalId // .type)
                 // (.principal | objects | .arn // .key // .userName);
        if length != 1 then error("not one JSON value") else .[0] end
        | if type != "object" then tostring
          else
            [ (d.eventTime // .time | s),
              ((d.eventSource // .source | s | sub("\\.amazonaws\\.com$"; "")) + ":" + (d.eventName // ."detail-type" | s)),
              "by", ((d | who) // null | s),
              "from", (d.sourceIPAddress | s),
              "in", (d.awsRegion // .region | s)
            ]
            + (if d.errorCode then ["error=" + (d.errorCode | s)] else [] end)
            | join(" ")
          end
        | clean' 2>/dev/null && exit 0
    # Not one JSON value: fall through.
fi

if command -v python3 >/dev/null 2>&1; then
    printf '%s' "$payload" | python3 -c '
import json, sys
def clean(text):
    return "".join("\\x%02x" % ord(c) if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text)
text = sys.stdin.buffer.read().decode("utf-8", "replace")
try:
    e = json.loads(text)
except ValueError:
    print(clean(" ".join(text.split())))
    sys.exit(0)
if not isinstance(e, dict):
    print(clean(json.dumps(e, ensure_ascii=False))); sys.exit(0)
d = e["detail"] if isinstance(e.get("detail"), dict) else e
def s(v): return "?" if v is None else (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v))
def who():
    ident = d.get("userIdentity")
    if isinstance(ident, dict):
        value = ident.get("arn") or ident.get("principalId") or ident.get("type")
        if value: return value
    principal = d.get("principal")
    if isinstance(principal, dict):
        return principal.get("arn") or principal.get("key") or principal.get("userName")
    return None
src = s(d.get("eventSource") or e.get("source"))
if src.endswith(".amazonaws.com"): src = src[: -len(".amazonaws.com")]
parts = [s(d.get("eventTime") or e.get("time")), src + ":" + s(d.get("eventName") or e.get("detail-type")),
         "by", s(who()),
         "from", s(d.get("sourceIPAddress")), "in", s(d.get("awsRegion") or e.get("region"))]
if d.get("errorCode"): parts.append("error=" + s(d["errorCode"]))
print(clean(" ".join(parts)))
' && exit 0
fi

# Neither jq nor python3: the payload on one line. Newlines, CR and tabs become spaces; other C0
# controls, DEL and the UTF-8 encodings of C1 controls (U+0080-U+009F) are removed.
c1=$(printf '\302[\200-\237]')
printf '%s' "$payload" | LC_ALL=C tr '\n\r\t' '   ' | LC_ALL=C tr -d '\000-\037\177' | LC_ALL=C sed "s/$c1//g; s/ *\$//"
echo
