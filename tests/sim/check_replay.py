#!/usr/bin/env python3
"""llmscale-replay end to end: a cold-start list gives the same numbers as separate runs; it
runs from any folder (any_folder); --tune
picks the cheapest setting that meets the target among independent runs of each; the demo's
table is the committed fixture (demo_table, slow); every frozen -tuned constant is what --tune
prints on the development run (slow); on every built-in scenario the oracle and static-best
meet the target and no contestant beats the oracle (slow); on an llmscale record with ready
counts --policies all runs the recorded fleet and prints and writes the simulator against the
cluster, a trace that is not a record neither (record_check). Run from the project root:
check_replay.py EXE cold_start_list|any_folder|tune|tuned_frozen|oracle_unbeaten|demo_table|record_check
(the pictures: check_pictures.py)"""
import json, os, re, subprocess, sys, tempfile

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
elif mode == "any_folder":
    # run from a folder with no ../shared/data: the default profile is found beside the sources;
    # LLMSCALE_DATA_DIR pointing nowhere is named in the error (exit 2)
    args = [os.path.abspath(exe), "--scenario", "flash-crowd", "--rate-scale", "0.1", "--policies", "kpa"]
    r = subprocess.run(args, capture_output=True, text=True, cwd=tmp)
    if r.returncode != 0 or "kpa" not in r.stdout:
        sys.exit(f"from {tmp}: exit {r.returncode}: {r.stderr[-300:]}")
    used = re.search(r"latency profile (\S+)", r.stderr)
    if not used or not os.path.samefile(used.group(1), "../shared/data/profile_splitwise_perf_model.csv"):
        sys.exit(f"from {tmp}: want the profile it used named on stderr (the source tree's), got {r.stderr[-300:]}")
    env = dict(os.environ, LLMSCALE_DATA_DIR=f"{tmp}/nowhere")
    r = subprocess.run(args, capture_output=True, text=True, cwd=tmp, env=env)
    if r.returncode != 2 or f"{tmp}/nowhere/profile_splitwise_perf_model.csv" not in r.stderr:
        sys.exit(f"LLMSCALE_DATA_DIR=nowhere: exit {r.returncode}, {r.stderr[-300:]}")
    print("the replay finds its profile from any folder; LLMSCALE_DATA_DIR is obeyed")
elif mode == "demo_table":
    # the demo's table against tests/sim/data/demo_table.txt: a refactoring changes no decision;
    # a commit that means to change decisions regenerates the fixture and says so
    import difflib
    out = replay("--policies", "all")
    want = open("tests/sim/data/demo_table.txt").read()
    if out != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), out.splitlines(True), "demo_table.txt", "now"))
        sys.exit(f"the demo table changed:\n{diff}\nregenerate (from the project root): "
                 f"llmscale-replay --policies all > tests/sim/data/demo_table.txt, and say why in the commit")
    print(f"the demo table is the fixture's ({len(want.splitlines())} lines)")
elif mode == "tune":
    # the sweep --tune prints, checked against one independent run per value
    common = ["--trace", "tests/sim/data/poisson_600.csv", "--trace-format", "csv", "--cold-start", "60"]
    out = replay(*common, "--tune", "ray-serve")
    rows = re.findall(r"^ray-serve\[target_ongoing_requests=(\S+)\]\s+\d+\s+\d+\s+\d+\s+\d+\s+([0-9.]+)%\s+\S+\s+\S+\s+\S+\s+([0-9.]+)", out, re.M)
    if len(rows) < 5:
        sys.exit(f"want a sweep of >= 5 values, got {rows}\n{out}")
    sets = re.findall(r"--set\s+(\S+=\S+)", out)
    if len(sets) != 1:
        sys.exit(f"want one --set to reproduce, got {sets}")
    chosen = sets[0].split("=", 1)[1]
    independent = {}
    for value, _, _ in rows:
        replay(*common, "--policies", "ray-serve", "--set", f"ray_serve.target_ongoing_requests={value}", "--json", f"{tmp}/t.json")
        r = json.load(open(f"{tmp}/t.json"))["results"][0]
        independent[value] = (r["slo_attainment"], r["gpu_hours"])
    meeting = [v for v, (a, g) in independent.items() if a >= 0.99]
    want = min(meeting, key=lambda v: independent[v][1]) if meeting else max(independent, key=lambda v: independent[v][0])
    if independent[chosen] != independent[want]:
        sys.exit(f"--tune chose {chosen} {independent[chosen]}, the independent runs say {want} {independent[want]}")
    for value, att, gpu in rows:
        a, g = independent[value]
        if abs(float(att) - 100 * a) > 0.006 or abs(float(gpu) - g) > 0.06:
            sys.exit(f"sweep row {value}: {att} % {gpu} GPU-h, alone {a} {g}")
    print(f"--tune ray-serve chose {chosen} ({'meets 99 %' if meeting else 'best attainment'}), as {len(rows)} independent runs say")
elif mode == "tuned_frozen":
    data = "../shared/data/azure_llm_2023_conv.csv"
    dev = ["--trace", data, "--trace-format", "azure", "--rate-scale", "20", "--cold-start", "300", "--slo-ttft", "2", "--slo-tpot", "0.1"]
    header = open("include/llmscale/sim/contestants.hpp").read()
    frozen = {"hpa-tuned": ("hpa_tuned.target_1", "hpa_tuned_target"),
              "kpa-tuned": ("kpa_tuned.target_utilization", "kpa_tuned_target_utilization"),
              "ray-serve-tuned": ("ray_serve_tuned.target_ongoing_requests", "ray_serve_tuned_target"),
              "aibrix-tuned": ("aibrix_tuned.target_kv_utilization", "aibrix_tuned_target"),
              "llmd-tuned": ("llmd_tuned.kv_threshold", "llmd_tuned_kv_threshold")}
    for name, (knob, constant) in frozen.items():
        m = re.search(rf"{constant} = ([0-9.]+);", header)
        if not m:
            sys.exit(f"no {constant} in contestants.hpp")
        out = replay(*dev, "--tune", name)
        sets = re.findall(r"--set\s+(\S+)=(\S+)", out)
        if len(sets) != 1 or sets[0][0] != knob:
            sys.exit(f"--tune {name}: want one --set {knob}=V, got {sets}")
        if float(sets[0][1]) != float(m.group(1)):
            sys.exit(f"{name}: --tune prints {knob}={sets[0][1]} on the development run, the frozen constant is {m.group(1)}")
        print(f"{name}: {knob}={sets[0][1]} as frozen")
elif mode == "oracle_unbeaten":
    for scenario in ("chat-day", "code-bursts", "flash-crowd"):
        replay("--scenario", scenario, "--policies", "all", "--json", f"{tmp}/{scenario}.json")
        res = {r["policy"]: r for r in json.load(open(f"{tmp}/{scenario}.json"))["results"]}
        oracle, static = res["oracle"], res["static-best"]
        for ref in (oracle, static):
            if ref["slo_attainment"] < 0.99:
                sys.exit(f"{scenario}: {ref['policy']} misses 99 % ({ref['slo_attainment']:.4f})")
            if ref["at_max_replicas"]:
                sys.exit(f"{scenario}: {ref['policy']} reached --max-replicas")
        beaten = [k for k, r in res.items() if k != "oracle" and r["slo_attainment"] >= oracle["slo_attainment"]
                  and r["gpu_hours"] < oracle["gpu_hours"]]
        if beaten:
            sys.exit(f"{scenario}: the oracle ({oracle['slo_attainment']:.4f}, {oracle['gpu_hours']:.1f} GPU-h) is beaten by {beaten}")
        print(f"{scenario}: oracle {oracle['slo_attainment']:.4f} at {oracle['gpu_hours']:.1f} GPU-h, unbeaten by {len(res) - 1}")
    # at the shortest and longest cold starts: the oracle meets the target wherever static-best
    # does, and costs no more (holding a fleet, then shrinking it, is one of its plans);
    # code-bursts at 1,200 s is where the windows' plan alone missed (85.7 %: every burst is
    # shorter than the cold start) and holding alone cost static-best's 64.0 GPU-h (61.0 now)
    for scenario in ("chat-day", "code-bursts", "flash-crowd"):
        replay("--scenario", scenario, "--policies", "static-best,oracle", "--cold-start", "60,1200", "--json", f"{tmp}/{scenario}-cs.json")
        by = {}
        for r in json.load(open(f"{tmp}/{scenario}-cs.json"))["results"]:
            by.setdefault(r["cold_start_s"], {})[r["policy"]] = r
        for cs, res in sorted(by.items()):
            oracle, static = res["oracle"], res["static-best"]
            if static["slo_attainment"] >= 0.99 and oracle["slo_attainment"] < 0.99:
                sys.exit(f"{scenario} at {cs:g} s: static-best meets 99 %, the oracle does not ({oracle['slo_attainment']:.4f})")
            if oracle["gpu_hours"] > static["gpu_hours"]:
                sys.exit(f"{scenario} at {cs:g} s: the oracle costs {oracle['gpu_hours']:.1f} GPU-h, static-best {static['gpu_hours']:.1f}")
            print(f"{scenario} at {cs:g} s: oracle {oracle['slo_attainment']:.4f} / {oracle['gpu_hours']:.1f}, "
                  f"static-best {static['slo_attainment']:.4f} / {static['gpu_hours']:.1f}")
elif mode == "record_check":
    # 30 minutes of windows: 2 ready replicas at 4 req/s, 4 at 10, a 5-minute gap (the scaler
    # down), 3 at 6; every window observed TTFT p50 0.2 s, p99 1.1 s (blank in one), TPOT 0.03 and 0.08 s
    head = ("window_start_s,window_s,arrivals,prompt_tokens_mean,prompt_tokens_sd,output_tokens_mean,output_tokens_sd,"
            "interarrival_cv,ready,starting,queued,running,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,desired")

    def record(path, with_ready=True):
        rows = ["# llmscale-record 1", head]
        for i in range(30):
            start = 1765065600 + 60 * i + (300 if i >= 20 else 0)
            ready, arrivals = (2, 240) if i < 10 else (4, 600) if i < 20 else (3, 360)
            p99 = "" if i == 5 else "1.1"
            rows.append(f"{start},60,{arrivals},1020,800,211,150,,{ready if with_ready else ''},0,0,8,0.2,{p99},0.03,0.08,{ready}")
        open(path, "w").write("\n".join(rows) + "\n")

    record(f"{tmp}/record.csv")
    common = ["--trace", f"{tmp}/record.csv", "--trace-format", "llmscale", "--cold-start", "60"]
    out = replay(*common, "--policies", "all", "--json", f"{tmp}/record.json")
    result = json.load(open(f"{tmp}/record.json"))
    names = [r["policy"] for r in result["results"]]
    if names[-3:] != ["static-best", "oracle", "recorded"]:
        sys.exit(f"--policies all on a record: want the recorded fleet after the oracle, got {names}")
    if not re.search(r"^recorded +\d+ +\d+ ", out, re.M):
        sys.exit(f"the table has no recorded row:\n{out}")
    check = result.get("record_check")
    if not check or check["policy"] != "recorded" or check["cold_start_s"] != 60:
        sys.exit(f"no record_check for the recorded fleet at 60 s: {check}")
    # the record's values are the same in every window: the weighted median is that value
    for key, observed, windows in (("ttft_p50", 0.2, 30), ("ttft_p99", 1.1, 29), ("tpot_p50", 0.03, 30), ("tpot_p99", 0.08, 30)):
        q = check[key]
        if q["observed"] != observed or q["windows"] != windows or not q["simulated"] or q["simulated"] <= 0:
            sys.exit(f"record_check {key}: {q}, want observed {observed} over {windows} windows and a simulated value")
        if abs(q["difference"] - (q["simulated"] / q["observed"] - 1)) > 1e-6:
            sys.exit(f"record_check {key}: difference {q['difference']} is not simulated / observed - 1")
    # 2 x 600 s + 4 x 540 s + 4 x 360 s (the gap held) + 3 x 600 s replica-seconds, x 4 GPUs
    gpu = check["gpu_hours"]
    recorded = [r for r in result["results"] if r["policy"] == "recorded"][0]
    if abs(gpu["recorded"] - 4 * 6600 / 3600) > 1e-6 or gpu["simulated"] != recorded["gpu_hours"]:
        sys.exit(f"record_check gpu_hours {gpu}, want recorded {4 * 6600 / 3600:.4f}, simulated {recorded['gpu_hours']}")
    line = re.search(r"^simulator vs cluster at the recorded fleet: TTFT p50 [0-9.]+ s simulated / 0\.20 s observed \([+-][0-9]+ %\), "
                     r"p99 [0-9.]+ s / 1\.10 s \([+-][0-9]+ %\); TPOT p50 [0-9.]+ s / 0\.030 s \([+-][0-9]+ %\), p99 [0-9.]+ s / "
                     r"0\.080 s \([+-][0-9]+ %\); GPU-h [0-9.]+ simulated / 7\.3 recorded \([+-][0-9]+ %\)$", out, re.M)
    if not line:
        sys.exit(f"no comparison block under the table:\n{out}")
    # the recorded fleet alone
    only = replay(*common, "--policies", "recorded")
    if not re.search(r"^recorded ", only, re.M) or "simulator vs cluster" not in only:
        sys.exit(f"--policies recorded:\n{only}")
    # a record without ready counts, and a trace that is not a record: no recorded fleet, no check
    record(f"{tmp}/no_ready.csv", with_ready=False)
    for trace, fmt in ((f"{tmp}/no_ready.csv", "llmscale"), ("tests/sim/data/poisson_600.csv", "csv")):
        out = replay("--trace", trace, "--trace-format", fmt, "--cold-start", "60", "--policies", "all", "--json", f"{tmp}/other.json")
        other = json.load(open(f"{tmp}/other.json"))
        if "recorded" in [r["policy"] for r in other["results"]] or "record_check" in other or "simulator vs cluster" in out:
            sys.exit(f"{trace} ({fmt}): want no recorded fleet and no record_check")
        r = subprocess.run([exe, "--trace", trace, "--trace-format", fmt, "--policies", "recorded"], capture_output=True, text=True)
        if r.returncode != 2 or "--policies recorded: replays the fleet an llmscale record holds" not in r.stderr:
            sys.exit(f"--policies recorded on {trace}: exit {r.returncode}, {r.stderr[-300:]}")
    print(f"the recorded fleet ran beside {len(names) - 1} contestants; simulated TTFT p99 {check['ttft_p99']['simulated']:.2f} s "
          f"against 1.10 s observed; GPU-h {gpu['simulated']:.2f} against {gpu['recorded']:.2f}; none on other traces")
else:
    sys.exit(f"unknown mode {mode}")
