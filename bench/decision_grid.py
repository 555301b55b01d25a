#!/usr/bin/env python3
"""The decision-quality grid of bench/RESULTS.md, measured by llmscale-replay.

Runs every contestant on the development run and on the built-in chat-day, code-bursts and
flash-crowd at cold starts of 60, 300 and 1,200 s (one frozen configuration per policy: the
defaults), and prints the Markdown that RESULTS.md keeps: per load a table policy x cold start
(attainment, GPU-hours as a multiple of the oracle's and of static-best's, scale events), then
the llmscale policies' misses split into those before the first cold start has passed, those in
minutes whose arrivals exceed 1.25x the mean per-minute arrivals of the cold start before them
(a rise faster than a cold start can follow), and the rest.

    python3 bench/decision_grid.py --replay build/demo/tools/llmscale-replay \
        [--data ../shared/data] [--loads dev,chat-day,code-bursts,flash-crowd] \
        [--cold-starts 60,300,1200] [--work DIR [--reuse]] > grid.md

Run it from the project root (the replay finds its default profile there too). The development
run needs ../shared/data/azure_llm_2023_conv.csv: without it that load is skipped with a message.
"""
import argparse
import collections
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

DEV = "--trace {data}/azure_llm_2023_conv.csv --trace-format azure --rate-scale 20 --slo-ttft 2 --slo-tpot 0.1"
TITLES = {"dev": "The development run", "chat-day": "chat-day", "code-bursts": "code-bursts", "flash-crowd": "flash-crowd"}
LABELS = {"dev": "development run"}  # in the misses table


def replay(exe, load, data, cold_starts, work, reuse):
    args = DEV.format(data=data).split() if load == "dev" else ["--scenario", load]
    js, ts = os.path.join(work, f"{load}.json"), os.path.join(work, f"{load}.csv")
    if reuse and os.path.exists(js) and os.path.exists(ts):
        print(f"decision_grid: reading {js} and {ts} (--reuse)", file=sys.stderr)
        return json.load(open(js)), ts
    cmd = [exe, *args, "--cold-start", cold_starts, "--policies", "all", "--json", js, "--timeseries", ts]
    print(f"decision_grid: {' '.join(cmd)}", file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.load(open(js)), ts


def pct(x):
    return f"{100 * x:.2f} %"


def grid(doc):
    by = collections.OrderedDict()
    for r in doc["results"]:
        by.setdefault(r["policy"], {})[r["cold_start_s"]] = r
    css = sorted({r["cold_start_s"] for r in doc["results"]})
    oracle, static = by["oracle"], by["static-best"]
    opening = ", ".join(f"{by['llmscale-predictive'][cs]['initial_replicas']} at {cs:g} s" for cs in css if "llmscale-predictive" in by)
    lines = [f"(opening fleet {opening}; each cell: attainment, GPU-hours as a multiple of the oracle's and of "
             "static-best's, scale events)", "", "| policy | " + " | ".join(f"cold start {cs:g} s" for cs in css) + " |",
             "|---|" + "---|" * len(css)]
    for name, cells in by.items():
        if name in ("oracle", "static-best"):
            continue
        row = []
        for cs in css:
            r = cells[cs]
            cell = (f"{pct(r['slo_attainment'])}, {r['gpu_hours'] / oracle[cs]['gpu_hours']:.2f}xO, "
                    f"{r['gpu_hours'] / static[cs]['gpu_hours']:.2f}xS, {r['scale_events']}")
            if r.get("at_max_replicas"):
                cell += " (at max)"
            if r.get("beats_oracle"):
                cell += " **FLAG: beats the oracle**"
            row.append(cell)
        bold = f"**{name}**" if name.startswith("llmscale-") else name
        lines.append(f"| {bold} | " + " | ".join(row) + " |")
    lines.append("| static-best | " + " | ".join(
        f"{pct(static[cs]['slo_attainment'])}, {static[cs]['gpu_hours']:.1f} GPU-h ({static[cs]['initial_replicas']} replicas)"
        + (" **FLAG: beats the oracle**" if static[cs].get("beats_oracle") else "") for cs in css) + " |")
    lines.append("| oracle | " + " | ".join(
        f"{pct(oracle[cs]['slo_attainment'])}, {oracle[cs]['gpu_hours']:.1f} GPU-h, {oracle[cs]['scale_events']}" for cs in css) + " |")
    return lines, by, css


def split_misses(ts_path, css):
    """Per (policy, cold start): misses before the first cold start, in fast rises, other."""
    arrivals = collections.defaultdict(lambda: collections.defaultdict(int))  # cold start -> minute -> arrivals (one policy's view)
    misses = collections.defaultdict(list)  # (policy, cold start) -> [(t, misses)]
    first_policy = {}
    with open(ts_path) as f:
        for row in csv.DictReader(f):
            policy, cs, t = row["policy"], float(row["cold_start_s"]), float(row["time_s"])
            if not policy.startswith("llmscale-"):
                continue
            if first_policy.setdefault(cs, policy) == policy:
                arrivals[cs][int(t // 60)] += int(row["arrivals"])
            m = int(row["misses"])
            if m:
                misses[(policy, cs)].append((t, m))
    out = {}
    for (policy, cs), ms in misses.items():
        per_min = arrivals[cs]
        back = max(1, math.ceil(cs / 60))
        rising = set()
        for minute, n in per_min.items():
            prior = [per_min.get(k, 0) for k in range(minute - back, minute)]
            if minute >= back and n > 1.25 * (sum(prior) / back):
                rising.add(minute)
        before = sum(m for t, m in ms if t < cs)
        rise = sum(m for t, m in ms if t >= cs and int(t // 60) in rising)
        total = sum(m for _, m in ms)
        out[(policy, cs)] = (total, before, rise, total - before - rise)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replay", required=True, help="the llmscale-replay executable")
    ap.add_argument("--data", default="../shared/data", help="the folder with azure_llm_2023_conv.csv")
    ap.add_argument("--loads", default="dev,chat-day,code-bursts,flash-crowd")
    ap.add_argument("--cold-starts", default="60,300,1200")
    ap.add_argument("--work", help="where the JSON and time series go (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="read the JSON and time series an earlier run left in --work")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="llmscale-grid-")
    os.makedirs(work, exist_ok=True)
    split_rows = ["| load | cold start | policy | misses | before the first cold start | in rises faster than a cold start | other |",
                  "|---|---:|---|---:|---:|---:|---:|"]
    for load in a.loads.split(","):
        if load == "dev" and not os.path.exists(os.path.join(a.data, "azure_llm_2023_conv.csv")):
            print(f"decision_grid: {a.data}/azure_llm_2023_conv.csv is absent: the development run is skipped", file=sys.stderr)
            continue
        doc, ts = replay(a.replay, load, a.data, a.cold_starts, work, a.reuse)
        lines, by, css = grid(doc)
        print(f"**{TITLES.get(load, load)}** " + lines[0])
        print("\n".join(lines[1:]))
        print()
        split = split_misses(ts, css)
        for cs in css:
            for policy in sorted(p for p in by if p.startswith("llmscale-")):
                total, before, rise, other = split.get((policy, cs), (0, 0, 0, 0))
                split_rows.append(f"| {LABELS.get(load, load)} | {cs:g} s | {policy} | {total} | {before} | {rise} | {other} |")
    print("\n".join(split_rows))


if __name__ == "__main__":
    main()
