#!/usr/bin/env python3
"""Random EventBridge pattern/event pairs for differential runs.

    gen_pairs.py SEED COUNT > pairs.ndjson

One {"pattern": ..., "event": ...} per line. Patterns use every operator, nested objects and $or
(fields named again inside $or included); events mostly follow the pattern's shape so that about
a fifth match. Keys include dotted and canonically equivalent spellings ("\u00e9" / "e\u0301",
"K" / the Kelvin sign), values include IP addresses, case-folding corners and numbers at the
edges of what a double holds.
"""
import json, random, sys

seed, n = int(sys.argv[1]), int(sys.argv[2])
R = random.Random(seed)
KEYS = ["a", "b", "c", "d", "a.b", "\u00e9", "e\u0301", "K", "\u212a"]
STRS = ["", "x", "X", "abc", "ABC", "Abc", "abcd", "xabc", "a*c", "a\\*c", "a\\c", "a\\\\c", "*", "foo.bar", "bar",
        "straße", "STRASSE", "strasse", "σ", "Σ", "ς", "é", "É", "e\u0301", "K", "\u212a", "k", "ǅ", "ǆ", "Ǆ", "ﬀ", "FF", "İ", "i", "ı", "I",
        "1", "1.0", "300", "true", "null", "10.0.0.1", "10.0.0.255", "10.1.2.3", "192.168.1.1", "010.0.0.1", "::1",
        "2001:db8::1", "2001:DB8::ff", "::ffff:10.0.0.1", "1.2.3.4/8", "0.0.0.0", "255.255.255.255", "a b", "ab*",
        "prefix-value", "value-suffix", "日本", "日本語", "😀", "a\"b", "a/b", "ab", "aB", "Ab", "AB"]
NUMS = [0, -0.0, 1, 1.0, 1.5, -1, -1.5, 2, 10, 100, 300, 3e2, 300.0, 1e-6, 0.000001, 1e-7, 5e9, -5e9, 5000000001, 1e10,
        123456789.123456, 0.1, 0.3, 9007199254740993, 9007199254740992, 12345678901234567890, 10**20, 18014398509481985,
        0.30000000000000004, 1e300, -1e300, 2.5, 42]

def scalar(allow_weird=True):
    r = R.random()
    if r < 0.55: return R.choice(STRS)
    if r < 0.85: return R.choice(NUMS)
    if r < 0.92: return R.choice([True, False])
    return None

def ev_value(depth):
    r = R.random()
    if depth < 3 and r < 0.18: return ev_object(depth + 1)
    if depth < 3 and r < 0.32:
        k = R.randint(0, 3)
        if R.random() < 0.5: return [ev_object(depth + 1) for _ in range(k)]
        return [scalar() if R.random() < 0.85 else ([scalar()] if R.random() < .5 else ev_object(depth+1)) for _ in range(k)]
    return scalar()

def ev_object(depth):
    keys = R.sample(KEYS, R.randint(0, 4))
    return {k: ev_value(depth) for k in keys}

def str_or_num():
    return R.choice(STRS) if R.random() < 0.6 else R.choice(NUMS)

def num_range():
    ops = R.choice([["="], ["<"], ["<="], [">"], [">="], [">", "<"], [">=", "<="], [">", "<="], [">=", "<"]])
    vals = sorted(R.choice([0, 1, 1.5, -1, 10, 100, 300, 1e-6, 5e9, -5e9, 2.5, 42, 0.3]) for _ in ops)
    out = []
    for o, v in zip(ops, vals): out += [o, v]
    return out

def wildcard():
    return R.choice(["*", "a*", "*c", "a*c", "*b*", "ab*", "a\\*c", "a\\\\c", "*\\**", "x", "", "str*e", "*.bar", "10.*",
                     "a*b*c", "*日*", "A*C", "*c*", "a**c" if R.random() < 0.05 else "a*c"])

def cidr():
    return R.choice(["10.0.0.0/8", "10.0.0.0/24", "10.0.0.1/32", "0.0.0.0/0", "192.168.0.0/16", "2001:db8::/32", "::/0",
                     "::1/128", "10.0.0.0/33" if R.random() < 0.05 else "10.1.0.0/16", "2001:db8::/64"])

def matcher():
    r = R.randint(0, 16)
    if r <= 4: return scalar()
    if r == 5: return {"prefix": R.choice(STRS) if R.random() < .8 else {"equals-ignore-case": R.choice(STRS)}}
    if r == 6: return {"suffix": R.choice(STRS) if R.random() < .8 else {"equals-ignore-case": R.choice(STRS)}}
    if r == 7: return {"equals-ignore-case": R.choice(STRS)}
    if r == 8: return {"wildcard": wildcard()}
    if r == 9: return {"numeric": num_range()}
    if r == 10: return {"exists": R.choice([True, False])}
    if r == 11: return {"cidr": cidr()}
    if r <= 13:
        k = R.randint(0, 6)
        if k == 0: return {"anything-but": str_or_num()}
        if k == 1: return {"anything-but": [str_or_num() for _ in range(R.randint(1, 3))]}
        if k == 2: return {"anything-but": {"prefix": R.choice(STRS) or "a"}}
        if k == 3: return {"anything-but": {"suffix": R.choice(STRS) or "c"}}
        if k == 4: return {"anything-but": {"equals-ignore-case": R.choice(STRS) if R.random() < .5 else R.sample(STRS, 2)}}
        if k == 5: return {"anything-but": {"wildcard": wildcard() if R.random() < .6 else [wildcard(), wildcard()]}}
        return {"anything-but": {"prefix": [R.choice(STRS) or "a", R.choice(STRS) or "b"]}}
    return R.choice(STRS) if R.random() < .5 else R.choice(NUMS)

def leaf():
    return [matcher() for _ in range(R.randint(1, 3))]

def pat_object(depth):
    out = {}
    for k in R.sample(KEYS, R.randint(1, 3)):
        out[k] = pat_object(depth + 1) if depth < 2 and R.random() < 0.35 else leaf()
    if depth < 2 and R.random() < 0.12:
        out["$or"] = [pat_object(depth + 1) for _ in range(R.randint(2, 3))]
    return out

def shape_event_like(p, depth=0):
    """An event that follows the pattern's shape (so matches are not all false)."""
    ev = {}
    for k, v in p.items():
        if k == "$or":
            for alt in v:
                for kk, vv in shape_event_like(alt, depth + 1).items(): ev.setdefault(kk, vv)
            continue
        if isinstance(v, dict):
            sub = lambda: shape_event_like(v, depth + 1)
            r = R.random()
            ev[k] = [sub() for _ in range(R.randint(0, 3))] if r < 0.3 else sub()
        else:
            if R.random() < 0.1: continue
            m = R.choice(v)
            def val():
                if isinstance(m, dict):
                    op, arg = next(iter(m.items()))
                    if op in ("prefix", "suffix", "equals-ignore-case") and isinstance(arg, str):
                        c = R.random()
                        if c < .3: return arg + R.choice(STRS) if op == "prefix" else (R.choice(STRS) + arg if op == "suffix" else arg.upper())
                    if op == "numeric" and len(arg) >= 2: return arg[1] + R.choice([0, 0.5, -0.5, 1e-7])
                    if op == "cidr": return R.choice(["10.0.0.1", "10.0.0.7", "10.1.200.3", "192.168.4.4", "2001:db8::5", "::1", "0.0.0.0"])
                    return scalar()
                return m if R.random() < .6 else scalar()
            r = R.random()
            ev[k] = [val() for _ in range(R.randint(0, 3))] if r < 0.25 else val()
    for k in KEYS:
        if k not in ev and R.random() < 0.2: ev[k] = ev_value(depth + 1)
    return ev

for i in range(n):
    p = pat_object(0)
    e = shape_event_like(p) if R.random() < 0.8 else ev_object(0)
    print(json.dumps({"pattern": p, "event": e}, ensure_ascii=R.random() < 0.3))
