#!/usr/bin/env python3
"""Writes Benchmarks/RESULTS.md from the NDJSON the benchmarks print (see run.sh).

  report.py MATCH SCALING COUNTS [PIPELINE [DELIVERY [WEBHOOK]]] > RESULTS.md
      the whole report; an input that is missing or empty leaves its section out.
  report.py --update RESULTS.md [--delivery DELIVERY] [--webhook WEBHOOK]
      replaces (or appends) only the "Durable delivery" and "Webhooks" sections of an existing
      report, keeping everything else: for running `bench delivery` / `bench webhook` alone.
"""
import json, os, platform, re, sys, datetime

# Reference figures from issue 2: aws/event-ruler, one thread, this 2-core machine kind.
REFERENCE = {"EXACT": 490_000, "WILDCARD": 350_000, "PREFIX": 470_000, "SUFFIX": 455_000,
             "EQUALS_IGNORE_CASE": 410_000, "NUMERIC": 258_000, "ANYTHING-BUT": 270_000,
             "ANYTHING-BUT-IGNORE-CASE": 270_000, "ANYTHING-BUT-PREFIX": 270_000,
             "ANYTHING-BUT-SUFFIX": 270_000, "ANYTHING-BUT-WILDCARD": 270_000, "COMPLEX_ARRAYS": 72_000}
# The webhook target's throughput goal (issue 5): deliveries per second to a fast local receiver.
WEBHOOK_TARGET = 5_000
STATE_LABELS = {"memory": "in memory (`--ephemeral`)",
                "durable-normal": "state directory, `--synchronous normal`",
                "durable-full": "state directory, `synchronous=FULL` (the default)"}
STATE_ORDER = ["memory", "durable-normal", "durable-full"]


def lines(path):
    if not path or not os.path.exists(path):
        return []
    out = []
    for l in open(path):
        l = l.strip()
        if l.startswith("{"):
            try:
                out.append(json.loads(l))
            except ValueError:
                pass
    return out


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def delivery_section(path):
    records = lines(path)
    pipeline = {r["state"]: r for r in records if r.get("group") == "delivery"}
    journal = {r["state"]: r for r in records if r.get("group") == "delivery-journal"}
    spawn = next((r for r in records if r.get("group") == "delivery-spawn"), None)
    if not pipeline and not journal:
        return []
    any_record = next(iter(pipeline.values()), None) or next(iter(journal.values()))
    cores = any_record.get("cores", os.cpu_count())
    out = ["## Durable delivery\n"]
    if pipeline:
        p = next(iter(pipeline.values()))
        passes = p.get("passes", 1)
        out.append(f"`tripline bench delivery`: {p['deliveries']:,} NDJSON events, one rule matching them all, one function "
                   f"target (`{p.get('handler', '/bin/true')}`, `MaxConcurrency` {p.get('concurrency', 8)}, as many workers), through "
                   "`run`'s whole path: accepted into the journal in batches of 512 together with the input's checkpoint, "
                   "dispatched, one handler process per delivery, removed by group commit. Timed until the last delivery is done; "
                   f"best of {passes} interleaved pass{'es' if passes != 1 else ''}, each from an empty state directory on the "
                   f"project's disk. Machine: {cores} cores ({cpu_model()}).\n")
        out.append("| state | deliveries/s | seconds | rate vs in memory |")
        out.append("|---|---:|---:|---:|")
        for state in STATE_ORDER + sorted(set(pipeline) - set(STATE_ORDER)):
            r = pipeline.get(state)
            if not r:
                continue
            overhead = r.get("overheadVsMemoryPercent")
            vs = "—" if overhead is None else f"{-overhead:+.1f}%"
            failures = f" ({r['failures']} failed)" if r.get("failures") else ""
            out.append(f"| {STATE_LABELS.get(state, state)} | {r['deliveriesPerSecond']:,}{failures} | {r['seconds']} | {vs} |")
        out.append("")
    if journal:
        j = next(iter(journal.values()))
        out.append(f"The journal alone, without processes or threads ({j['rows']:,} deliveries: accepted in batches of "
                   f"{j.get('acceptBatch', 512)} with a checkpoint, each loaded as a worker does before its attempt, completed "
                   f"in groups of {j.get('completeBatch', 8)} as the group commit gathers them): the database's own cost per "
                   "delivery, and the ceiling it alone puts on throughput.\n")
        out.append("| state | deliveries/s (journal only) | µs per delivery |")
        out.append("|---|---:|---:|")
        for state in STATE_ORDER + sorted(set(journal) - set(STATE_ORDER)):
            r = journal.get(state)
            if r:
                out.append(f"| {STATE_LABELS.get(state, state)} | {r['rowsPerSecond']:,} | {r['microsecondsPerRow']} |")
        out.append("")
    full, memory = pipeline.get("durable-full"), pipeline.get("memory")
    jfull = journal.get("durable-full")
    notes = []
    if spawn:
        notes.append(f"Every delivery starts a process: `{spawn['handler']}` alone, run {spawn['runs']:,} times from "
                     f"{spawn['concurrency']} threads by the same `FunctionRunner` with nothing else going on, manages "
                     f"{spawn['runsPerSecond']:,} runs/s on {cores} cores; the pipeline figures are of that order, so they "
                     "measure process creation on this machine rather than routing or the database")
    if jfull and full:
        busy = full["deliveriesPerSecond"] * jfull["microsecondsPerRow"] / 1e6 * 100
        notes.append(f"the journal with `FULL` costs {jfull['microsecondsPerRow']} µs per delivery "
                     f"({jfull['rowsPerSecond']:,}/s on its own): at the durable rate above the database is busy about "
                     f"{busy:.0f}% of the run's wall time")
    if notes:
        out.append("; ".join(notes) + ".\n")
    return out


def webhook_section(path):
    records = [r for r in lines(path) if r.get("group") == "webhook"]
    if not records:
        return []
    out = ["## Webhooks\n"]
    r0 = records[0]
    out.append(f"`tripline bench webhook`: {r0['deliveries']:,} POSTs of a 256-byte JSON body per connection count, all "
               "submitted at once to `WebhookClient` (libcurl's multi interface, connections kept open) and timed until the last response, "
               "against the loopback server answering 200 at once (both in the same process). "
               f"Target: {WEBHOOK_TARGET:,} deliveries/s. Machine: {os.cpu_count()} cores.\n")
    out.append("| connections | deliveries | seconds | deliveries/s | vs the 5,000/s target |")
    out.append("|---:|---:|---:|---:|---:|")
    for r in records:
        ratio = r["deliveriesPerSecond"] / WEBHOOK_TARGET
        failures = f" ({r['failures']} failed)" if r.get("failures") else ""
        out.append(f"| {r['connections']} | {r['deliveries']:,}{failures} | {r['seconds']} | {r['deliveriesPerSecond']:,} | "
                   f"{ratio:.2f}× {'(meets it)' if ratio >= 1 else '(below)'} |")
    out.append("")
    return out


def full_report(match_path, scaling_path, counts_path, pipeline_path, delivery_path, webhook_path):
    expected = {}
    if counts_path and os.path.exists(counts_path):
        expected = json.load(open(counts_path)).get("matches", {})
    out = []
    out.append("# Benchmark results\n")
    # The figures' own time (the newest input), so that a report rewritten later does not redate them.
    measured = max((os.path.getmtime(p) for p in (match_path, scaling_path, pipeline_path) if p and os.path.exists(p)),
                   default=datetime.datetime.now().timestamp())
    when = datetime.datetime.fromtimestamp(measured, datetime.timezone.utc)
    out.append(f"Written by `make bench` from figures measured on {when:%Y-%m-%d %H:%M} UTC. "
               f"Machine: {os.cpu_count()} cores ({cpu_model()}); every matcher figure is **one thread**, release build, "
               "events held in memory, parse + match timed, best of 7 timed passes (15 for rule-count scaling) after a warm-up, taken in rounds over the groups (or rule counts) so that a slow spell of this noisy VM, where single passes vary by up to 2×, slows them alike.\n")
    match = lines(match_path)
    if match:
        out.append("Reference: aws/event-ruler on the same machine kind (figures from issue 2; ANYTHING-BUT variants 270–290k, "
                   "the lower bound shown). Counts are checked against event-ruler's counts on the same generated file.\n")
        out.append("## Citylots groups\n")
        out.append("| group | events/s | event-ruler | ratio | counts equal to reference |")
        out.append("|---|---:|---:|---:|---|")
        for r in match:
            ref = REFERENCE.get(r["group"])
            ok = expected.get(r["group"])
            same = "—" if ok is None else ("yes" if ok == r["matches"] else "**NO**: " + json.dumps(r["matches"]))
            ref_text = f"{ref:,}" if ref else "—"
            ratio_text = f"{r['eventsPerSecond'] / ref:.2f}×" if ref else "—"
            out.append(f"| {r['group']} | {r['eventsPerSecond']:,} | {ref_text} | {ratio_text} | {same} |")
        out.append("")
    scaling = lines(scaling_path)
    if scaling:
        out.append("## Rule-count scaling\n")
        out.append("The same 20,000 CloudTrail-shaped events against nested sets of generated rules of ten kinds "
                   "(exact, prefix, suffix, anything-but, numeric range, cidr, wildcard, equals-ignore-case + exists, $or, "
                   "arrays of objects), passes interleaved across rule counts. Two mixes of the same kinds, and three of "
                   "rules that are hard to index:\n")
        out.append("- **selective**: each rule is also pinned to one API call (an exact `eventName`; the prefix rule to one "
                   "user), as real CloudTrail rules are, so matches per event stay few and the cost shows what adding rules "
                   "itself costs. Issue 2's target, 10,000 rules at most 1.5× the 1-rule cost, applies here.")
        out.append("- **broad**: the kinds alone; several match a fixed share of all events, so matches per event grow with "
                   "the rule count (about 44 at 10,000) and the cost grows with the matches.")
        out.append("- **absent**: rules of broad conditions only (`anything-but` of a value, a prefix or a suffix, `exists`), "
                   "with no exact value to index them by but, for every other rule, the `detail-type` every event has; each "
                   "also needs a value on one of 100 fields that no event has "
                   "(as rules on an error detail or a rarely sent parameter lack it in most events). They match nothing; "
                   "each is examined only for events with a value on that field, so their number should not show.")
        out.append("- **shared**: rules that all test the `detail-type` every event has, each with its own bucket prefix, "
                   "`userIdentity.arn` suffix, CIDR block or narrow `durationSeconds` range (as rule packs filter on the "
                   "CloudTrail `detail-type`, then on something specific). The shared condition says nothing about which rule "
                   "may match, so it triggers none of them; the cost follows the specific conditions.")
        out.append("- **wildcard**: rules that each look for words inside one value with a wildcard of two or more stars "
                   "(`*Delete*Bucket2*`, `arn:aws:*:*:*/user-42`, `bucket-*1017*-logs`, a user agent's version "
                   "and Python release), as detections look inside user agents, ARNs and names. No exact value indexes them: "
                   "each such wildcard is found through one of its pieces, so the cost follows the words the "
                   "events hold (and the matches), not the rule count.\n")
        for mix in ("selective", "broad", "absent", "shared", "wildcard"):
            rows = [r for r in scaling if r.get("mix", "broad") == mix]
            if not rows:
                continue
            out.append(f"### {mix}\n")
            out.append("| rules | ns/event | events/s | matches/event | cost vs 1 rule |")
            out.append("|---:|---:|---:|---:|---:|")
            for r in rows:
                out.append(f"| {r['rules']:,} | {r['nsPerEvent']:,} | {r['eventsPerSecond']:,} | {r['matchesPerEvent']} | {r['relativeToOneRule']}× |")
            out.append("")
            by_count = {r["rules"]: r["nsPerEvent"] for r in rows}
            if mix == "selective" and 1 in by_count and 10 in by_count and 10000 in by_count:
                out.append(f"The 1-rule run names few fields, so nearly the whole event is skipped unread; ten rules name "
                           f"most of the fields the kinds use, which are then read and looked up. That step, "
                           f"{by_count[10] / by_count[1]:.2f}×, is the event's fields, not the rule count: from 10 to 10,000 "
                           f"rules the cost grows {by_count[10000] / by_count[10]:.2f}×, for the work the events bring: at 10,000 "
                           f"rules an event's API call is named by about nine rules, each a candidate whose other conditions are "
                           f"tested (2.5 of them match), and the tables those lookups reach no longer fit the core's 512 KB L2 "
                           f"cache. An upper bound on what a better candidate check could win (callgrind, 4,000 events, "
                           f"2026-11-27): per event, 1 rule runs 10.6k instructions, 10 rules 14.1k, 10,000 rules 19.4k; with "
                           f"the candidate check removed altogether (and so `requestParameters` never read), 10,000 rules "
                           f"still run 14.9k, 1.41× the 1-rule count. A 1.5× cost would leave under a tenth of the 1-rule cost "
                           f"(about 75 ns) for checking nine candidates and reading `requestParameters`; the 1→10 step, "
                           f"reading the fields the kinds name, takes most of the budget before any rule is added. "
                           f"In wall-clock time (2026-11-27, a build that could skip parts of the check, best of 5 runs of 5 passes "
                           f"each, the variants interleaved): 10,000 rules ran 1,256 ns per event with the candidate check "
                           f"skipped (already about 1.5× the 1-rule run: the read alone, with its larger tables, uses the whole budget), "
                           f"1,419 ns when the candidates' records were only read (+163 ns), 1,909 ns with the whole check "
                           f"(+490 ns for testing the ~9 candidates' conditions), and 2,184 ns when the same check ran a second "
                           f"time straight after (+275 ns): the check costs about 650 ns cold and 275 ns warm, so a little over "
                           f"half of it is cold memory and branch history, the rest the tests' own work. Requesting every line "
                           f"of a trigger's records the moment it fires during the read (1,978 vs 1,938 ns), or all of them "
                           f"before the check (1,926 vs 1,909 ns), changed nothing; nor did keeping each event's satisfied "
                           f"predicates in a bitmap that fits the first-level cache (same simulated misses and time). None "
                           f"was kept. A lower bound (2026-11-27, same build, three interleaved rounds of 5 passes): with the "
                           f"check skipped but every field the rules name read at once (no subtree deferred, so "
                           f"`requestParameters` too), 10,000 rules ran 1,400–1,537 ns per event against 804–842 ns for "
                           f"1 rule, 1.72–1.86×: no candidate check, however cheap, brings the total to 1.5×; only reading "
                           f"named fields far more cheaply than now (nearly as cheaply as skipping them) can. Real prefetch "
                           f"instructions (`__builtin_prefetch` through a C header) for a trigger's records the moment it "
                           f"fires did not help either (2,039–2,236 vs 2,071–2,363 ns, within this machine's noise). "
                           f"For comparison, aws/event-ruler's "
                           f"`rulesForJSONEvent` on the same generated events and rules (`bench scaling --write-inputs`, "
                           f"measured on this machine) costs 2.8–3.1× at 10,000 rules what it costs at 1 rule, at "
                           f"12.8–16.3 µs per event for 1 rule.\n")
    pipeline = lines(pipeline_path)
    if pipeline:
        p = pipeline[0]
        out.append("## End-to-end pipeline\n")
        out.append(f"`tripline run` over {p['files']} gzipped CloudTrail log files ({p['events']:,} records, the invictus-ir "
                   f"dataset copied 10 times, each copy with its own event ids so that no record is a duplicate of another) with 50 rules (the shipped pack plus selective generated ones), every match "
                   f"delivered to a no-op function (`/bin/true`, one process per delivery):\n")
        out.append("| events | matched | seconds | events/s | MB/s gzipped | MB/s uncompressed |")
        out.append("|---:|---:|---:|---:|---:|---:|")
        out.append(f"| {p['events']:,} | {p['matched']:,} | {p['seconds']} | {p['eventsPerSecond']:,} | {p['compressedMBPerSecond']} | {p['uncompressedMBPerSecond']} |")
        out.append("")
    out += delivery_section(delivery_path)
    out += webhook_section(webhook_path)
    return "\n".join(out).rstrip("\n") + "\n"


def replace_section(text, heading, body):
    """Replaces the `## heading` section of `text` (up to the next `## ` heading) by `body`, or appends it."""
    pattern = re.compile(r"^## " + re.escape(heading) + r"\s*\n.*?(?=^## |\Z)", re.S | re.M)
    block = "\n".join(body).rstrip("\n") + "\n\n" if body else ""
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return (text.rstrip("\n") + "\n\n" + block) if block else text


def update(path, delivery_path, webhook_path):
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    if delivery_path:
        text = replace_section(text, "Durable delivery", delivery_section(delivery_path))
    if webhook_path:
        text = replace_section(text, "Webhooks", webhook_section(webhook_path))
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def main(argv):
    if argv and argv[0] == "--update":
        if len(argv) < 2:
            sys.exit(__doc__)
        options = dict(zip(argv[2::2], argv[3::2]))
        unknown = set(options) - {"--delivery", "--webhook"}
        if unknown or len(argv[2:]) % 2:
            sys.exit(__doc__)
        update(argv[1], options.get("--delivery"), options.get("--webhook"))
        return
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    paths = (argv + [""] * 6)[:6]
    sys.stdout.write(full_report(*paths))


if __name__ == "__main__":
    main(sys.argv[1:])
