#!/usr/bin/env python3
"""A handler template in Python: copy it, rename it, point a rule's Function target at it.

Contract (Handlers/README.md has it all): the event JSON arrives on standard input (after the
target's Input/InputPath/InputTransformer); TRIPLINE_RULE, TRIPLINE_TARGET, TRIPLINE_EVENT_ID,
TRIPLINE_IDEMPOTENCY_KEY and TRIPLINE_ATTEMPT are set; exit 0 means delivered, 65 means "this
event can never be handled" (dead-lettered at once, never retried), anything else is a failure
that is retried. Treat event data as untrusted input.

Input that is not what this handler needs (not JSON, empty, not an object, no event name: e.g. an
InputTransformer with a text template, or an InputPath to a missing field, which sends null) can
never be handled, however often it is retried: exit 65 with one line on standard error.
"""
import json
import os
import sys

EX_DATAERR = 65  # "this event can never be handled": no retry, straight to the dead letters


def unusable(message: str) -> int:
    print(f"template.py: cannot handle this input: {message}", file=sys.stderr)
    return EX_DATAERR


def main() -> int:
    try:
        text = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as error:
        return unusable(f"not UTF-8 ({error})")
    if not text.strip():
        return unusable("empty input; expected an event as JSON")
    try:
        event = json.loads(text)
    except ValueError as error:
        return unusable(f"not JSON ({error})")
    if not isinstance(event, dict):
        kinds = {str: "a string", list: "an array", bool: "a boolean", int: "a number", float: "a number"}
        return unusable(f"expected a JSON object, got {kinds.get(type(event), 'null')}")
    record = event.get("detail", event)
    if not isinstance(record, dict):
        return unusable("\"detail\" is not an object")
    name = record.get("eventName") or event.get("detail-type")
    if not isinstance(name, str) or not name:
        return unusable("no eventName (or detail-type) in the event")
    identity = record.get("userIdentity")
    if not isinstance(identity, dict):
        identity = {}
    # No [rule/target] tag: 'tripline run' prefixes every line a handler prints with it.
    print(f"{name} by {identity.get('arn') or identity.get('type') or 'unknown'} "
          f"(key {os.environ.get('TRIPLINE_IDEMPOTENCY_KEY', 'none')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
