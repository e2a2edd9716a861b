#!/usr/bin/env python3
"""Shrinks disagreeing pairs by greedy one-step removals while the disagreement stays the same.

    ORACLE="bash oracle.sh" minimize.py PAIRS.ndjson LINE...

Prints each line's two verdicts and the smallest pair found.
"""
import json, subprocess, sys, copy, os
TRIP = os.environ.get('TRIPLINE', os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../.build/release/tripline'))
ORACLE = os.environ['ORACLE'].split()
def run(cmd, lines):
    out = subprocess.run(cmd, input='\n'.join(lines) + '\n', capture_output=True, text=True).stdout.splitlines()
    return [json.loads(l) for l in out]
def verdict(o): return ('err:' + o['error'].split(':')[0][:30] + o['error'][-25:]) if 'error' in o and 'Exception' in o['error'] else ('err' if 'error' in o else o.get('matches'))
def both(pairs):
    lines = [json.dumps(p) for p in pairs]
    a = run([TRIP, 'test-pattern', '--batch'], lines)
    b = run(ORACLE, lines)
    return [(verdict(x), verdict(y)) for x, y in zip(a, b)]
def variants(v):
    """One-step smaller versions of a JSON value."""
    if isinstance(v, dict):
        for k in list(v):
            if len(v) > 1:
                w = dict(v); del w[k]; yield w
            for sub in variants(v[k]):
                w = dict(v); w[k] = sub; yield w
    elif isinstance(v, list):
        for i in range(len(v)):
            if len(v) > 1:
                yield v[:i] + v[i+1:]
            for sub in variants(v[i]):
                yield v[:i] + [sub] + v[i+1:]
def minimize(pair, target):
    while True:
        cands = [{"pattern": p, "event": pair["event"]} for p in variants(pair["pattern"])] + \
                [{"pattern": pair["pattern"], "event": e} for e in variants(pair["event"])]
        if not cands: return pair
        res = both(cands)
        for c, r in zip(cands, res):
            if r == target:
                pair = c; break
        else:
            return pair
lines = open(sys.argv[1]).read().splitlines()
for n in sys.argv[2:]:
    pair = json.loads(lines[int(n) - 1])
    target = both([pair])[0]
    m = minimize(pair, target)
    print(target, json.dumps(m, ensure_ascii=False))
