#!/usr/bin/env python3
"""llmscale-replay end to end: a cold-start list gives the same numbers as separate runs, and
the picture is well-formed XML with one series per policy. Run from the project root:
check_replay.py EXE cold_start_list|svg"""
import json, os, subprocess, sys, tempfile
import xml.etree.ElementTree as ET

exe, mode = sys.argv[1], sys.argv[2]
if not os.path.exists("../shared/data/profile_splitwise_perf_model.csv"):
    print("skipped: no ../shared/data")
    sys.exit(0)
tmp = tempfile.mkdtemp()


def replay(*args):
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"llmscale-replay {' '.join(args)} failed ({r.returncode}): {r.stderr[-400:]}")
    return r.stdout


if mode == "cold_start_list":
    common = ["--trace", "tests/sim/data/poisson_600.csv", "--trace-format", "csv", "--policies", "kpa,llmscale-predictive,oracle"]
    replay(*common, "--cold-start", "60,180", "--json", f"{tmp}/list.json")
    together = {(r["policy"], r["cold_start_s"]): r for r in json.load(open(f"{tmp}/list.json"))["results"]}
    if len(together) != 6:
        sys.exit(f"want 3 policies x 2 cold starts, got {sorted(together)}")
    for cs in ("60", "180"):
        replay(*common, "--cold-start", cs, "--json", f"{tmp}/{cs}.json")
        for r in json.load(open(f"{tmp}/{cs}.json"))["results"]:
            t = together[(r["policy"], float(cs))]
            for k, v in r.items():
                if t[k] != v:
                    sys.exit(f"{r['policy']} at {cs} s: {k} is {t[k]} in the list, {v} alone")
    print("cold-start list == separate runs for 3 policies x 2 cold starts")
elif mode == "svg":
    policies = ["kpa", "llmscale-slo", "static-best", "oracle"]
    out = replay("--scenario", "flash-crowd", "--rate-scale", "0.2", "--policies", ",".join(policies),
                 "--cold-start", "60,300", "--plot", f"{tmp}/p.svg")
    root = ET.parse(f"{tmp}/p.svg").getroot()  # raises on malformed XML
    ns = "{http://www.w3.org/2000/svg}"
    if root.tag != ns + "svg":
        sys.exit(f"root element is {root.tag}")
    lines = [e.get("data-policy") for e in root.iter(ns + "polyline") if e.get("data-policy")]
    scatter = [e.get("data-scatter") for e in root.iter(ns + "polyline") if e.get("data-scatter")]
    demand = [e for e in root.iter(ns + "polygon") if e.get("data-series") == "demand"]
    if sorted(lines) != sorted(policies):
        sys.exit(f"timeline series {lines}, want one per policy {policies}")
    if sorted(scatter) != sorted(policies):
        sys.exit(f"cold-start series {scatter}, want one per policy {policies}")
    if len(demand) != 1:
        sys.exit("no demand series")
    for e in root.iter(ns + "polyline"):
        if e.get("data-scatter") and len(e.get("points").split()) != 2:
            sys.exit(f"{e.get('data-scatter')}: want a point per cold start")
    print(f"SVG parses; one timeline and one cold-start series for each of {len(policies)} policies")
else:
    sys.exit(f"unknown mode {mode}")
