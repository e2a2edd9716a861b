#!/usr/bin/env python3
"""A handler template in Python: copy it, rename it, point a rule's Function target at it.

Contract (Handlers/README.md has it all): the event JSON arrives on standard input (after the
target's Input/InputPath/InputTransformer); TRIPLINE_RULE, TRIPLINE_TARGET, TRIPLINE_EVENT_ID,
TRIPLINE_IDEMPOTENCY_KEY and TRIPLINE_ATTEMPT are set; exit 0 means delivered, anything else is a
failure (and is retried or dead-lettered). Treat event data as untrusted input.
"""
import json
import os
import sys


def main() -> int:
    try:
        event = json.load(sys.stdin)
    except ValueError as error:
        print(f"not JSON: {error}", file=sys.stderr)
        return 2
    record = event.get("detail", event) if isinstance(event, dict) else {}
    if not isinstance(record, dict):
        record = {}
    identity = record.get("userIdentity") or {}
    # No [rule/target] tag: 'tripline run' prefixes every line a handler prints with it.
    print(f"{record.get('eventName', event.get('detail-type', 'unknown') if isinstance(event, dict) else 'unknown')} "
          f"by {identity.get('arn') or identity.get('type') or 'unknown'} "
          f"(key {os.environ.get('TRIPLINE_IDEMPOTENCY_KEY', 'none')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
