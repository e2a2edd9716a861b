#!/usr/bin/env python3
"""Compares two result files of `test-pattern --batch` shape, line by line.

    compare.py PAIRS.ndjson OURS.ndjson REFERENCE.ndjson

Prints the disagreements grouped by kind (our verdict, theirs, the start of each error), with the
first line numbers of each group, and exits 1 when there are any. Kinds that README.md documents
as deliberate differences and that the reference reports as errors are counted separately (KNOWN).
"""
import collections, json, re, sys

ZERO_BLOCK = re.compile(r'"cidr":\s*"(0\.0\.0\.0|::)/0"|"0\.0\.0\.0"')

OPERATORS = {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"}

def field_operators(pair):
    """Per field path of the line's pattern (joined across `$or` branches), the kinds of value
    tests its lists hold: operator names, `anything-but <name>` for those inside `anything-but`,
    `exact string` for a plain string and `several exact strings` once there is another."""
    fields = collections.defaultdict(set)
    def visit(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$or" and isinstance(value, list):
                    for branch in value:
                        visit(branch, path)
                elif isinstance(value, list):
                    for member in value:
                        if isinstance(member, str):
                            kinds = fields[path + (key,)]
                            kinds.add("several exact strings" if "exact string" in kinds else "exact string")
                        elif isinstance(member, dict):
                            for name, operand in member.items():
                                fields[path + (key,)].add(name)
                                if name == "anything-but" and isinstance(operand, dict):
                                    fields[path + (key,)].update("anything-but " + k for k in operand)
                else:
                    visit(value, path + (key,))
    try:
        visit(json.loads(pair)["pattern"], ())
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return fields

def wildcard_beside_ignore_case(pair):
    """Whether one field holds a case-insensitive operator (`equals-ignore-case`, also inside
    `anything-but`) beside a `wildcard` (also inside `anything-but`) or a `numeric` range, in one
    list or in different `$or` branches: event-ruler's shared automaton for those combinations
    errs both ways (README, "Semantics")."""
    for found in field_operators(pair).values():
        beside = "wildcard" in found or "anything-but wildcard" in found or "numeric" in found
        if beside and ("equals-ignore-case" in found or "anything-but equals-ignore-case" in found):
            return True
    return False

def exact_beside_numeric_and_string_operator(pair):
    """Whether one field holds an exact string beside a `numeric` range and another string test
    (a second exact string, `prefix`, `suffix`, `wildcard`, `equals-ignore-case`): event-ruler then
    misses the exact string in some or all runs, depending on the strings (README, "Semantics")."""
    for found in field_operators(pair).values():
        if "exact string" in found and "numeric" in found and \
                found & {"several exact strings", "prefix", "suffix", "wildcard", "equals-ignore-case"}:
            return True
    return False

def ignore_case_beyond_bmp(pair):
    """Whether an `equals-ignore-case` operand (alone, or inside `prefix`, `suffix` or
    `anything-but`) holds a character outside the Basic Multilingual Plane, which event-ruler
    folds one UTF-16 half at a time (README, "Semantics")."""
    def operands(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "equals-ignore-case":
                    yield from (value if isinstance(value, list) else [value])
                yield from operands(value)
        elif isinstance(node, list):
            for value in node:
                yield from operands(value)
    try:
        pattern = json.loads(pair)["pattern"]
    except (ValueError, KeyError, TypeError):
        return False
    return any(isinstance(text, str) and any(ord(c) > 0xFFFF for c in text) for text in operands(pattern))

# Documented choices (README, "Semantics decided where ..."), recognised by the reference's error,
# or by the pattern and the two verdicts: (pair line, ours, reference) -> bool.
KNOWN = {
    "cidr /32 and /128 accepted": lambda pair, ours, ref: "mask bits must be <" in ref.get("error", ""),
    "numbers a double does not hold exactly": lambda pair, ours, ref: "Cannot compare number" in ref.get("error", ""),
    # event-ruler compares a /0 block as a range of hex strings, which other families' addresses
    # and numbers fall into; Tripline's IPv4 blocks take only IPv4 addresses, IPv6 only IPv6.
    "0.0.0.0 or a /0 block matching another family or a number": lambda pair, ours, ref:
        ours.get("matches") is False and ref.get("matches") is True and ZERO_BLOCK.search(pair) is not None,
    # event-ruler matches some non-ASCII values it should not, and misses values a leading-`*`
    # wildcard's neighbour `anything-but` + `equals-ignore-case` lets through (or lets through what
    # an `anything-but` wildcard excludes).
    "a case-insensitive operator beside a wildcard or numeric": lambda pair, ours, ref:
        "matches" in ours and "matches" in ref and wildcard_beside_ignore_case(pair),
    "an exact string beside a numeric range and another string test": lambda pair, ours, ref:
        ours.get("matches") is True and ref.get("matches") is False and exact_beside_numeric_and_string_operator(pair),
    "equals-ignore-case beyond the Basic Multilingual Plane": lambda pair, ours, ref:
        "matches" in ours and "matches" in ref and ignore_case_beyond_bmp(pair),
}

def verdict(result):
    return "error" if "error" in result else result.get("matches")

def main(pairs_path, ours_path, theirs_path):
    pairs = open(pairs_path, encoding="utf-8").read().splitlines()
    ours = [json.loads(l) for l in open(ours_path, encoding="utf-8")]
    theirs = [json.loads(l) for l in open(theirs_path, encoding="utf-8")]
    if not (len(pairs) == len(ours) == len(theirs)):
        sys.exit(f"line counts differ: {len(pairs)} pairs, {len(ours)} ours, {len(theirs)} reference")
    groups, known = collections.defaultdict(list), collections.Counter()
    for number, (pair, a, b) in enumerate(zip(pairs, ours, theirs), start=1):
        if verdict(a) == verdict(b):
            continue
        reason = next((name for name, test in KNOWN.items() if test(pair, a, b)), None)
        if reason:
            known[reason] += 1
            continue
        key = (verdict(a), verdict(b), a.get("error", "")[:50], b.get("error", "")[:60])
        groups[key].append(number)
    print(f"{len(pairs)} pairs; documented differences: {dict(known) or 'none'}")
    for key, lines in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(lines):6}  ours={key[0]!s:5} reference={key[1]!s:5} {key[2]!r} {key[3]!r}  lines {lines[:8]}")
    return 1 if groups else 0

if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
