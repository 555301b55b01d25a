#!/usr/bin/env python3
"""deploy/grafana/llmscale.json against a live llmscale-scaler: the dashboard is valid JSON of
Grafana's shape (panels on a 24-column grid without overlap, each with a Prometheus query), it
draws what an operator needs (desired, current and ready replicas, the signals, the binding
constraint, TTFT and TPOT against the SLO), and every llmscale_* metric it queries is on the
/metrics page of a scaler started with its defaults (llmd-saturation, no --state-file), so no
panel shows "no data" for a name the scaler never writes.

usage: check_dashboard.py LLMSCALE_SCALER_EXE   (from the project root)
"""
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

scaler = sys.argv[1]
dash = json.load(open("deploy/grafana/llmscale.json"))
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


panels = [p for p in dash["panels"] if p["type"] != "row"]
check(dash.get("uid") and dash.get("title") and dash.get("schemaVersion", 0) >= 36, "uid, title and a schemaVersion >= 36")
cells = set()
for p in dash["panels"]:
    g = p["gridPos"]
    check(0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, f"panel '{p['title']}' fits the 24-column grid")
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            check((x, y) not in cells, f"panel '{p['title']}' overlaps another at {x},{y}")
            cells.add((x, y))
exprs = []
for p in panels:
    targets = p.get("targets", [])
    check(targets and all(t.get("expr") for t in targets), f"panel '{p['title']}' has queries")
    check(p.get("datasource", {}).get("uid") == "${datasource}", f"panel '{p['title']}' uses the datasource variable")
    exprs += [t["expr"] for t in targets]
    for t in targets:
        for var in re.findall(r"\$(\w+)", t["expr"]):
            check(var in [v["name"] for v in dash["templating"]["list"]], f"'{t['expr']}' uses an undefined ${var}")
text = "\n".join(exprs)
for name in ("llmscale_desired_replicas", "llmscale_current_replicas", "llmscale_ready_replicas", "llmscale_signal",
             "llmscale_binding_constraint", "vllm:time_to_first_token_seconds_bucket", "vllm:time_per_output_token_seconds_bucket",
             "$slo_ttft", "$slo_tpot"):
    check(name in text, f"the dashboard queries {name}")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
proc = subprocess.Popen([scaler, "--endpoints", "127.0.0.1:9/metrics", "--http-listen", f"127.0.0.1:{port}",
                         "--grpc-listen", "127.0.0.1:0", "--run-for", "20", "--quiet"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
live = ""
try:
    for _ in range(40):
        time.sleep(0.25)
        try:
            live = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            if "llmscale_desired_replicas" in live:
                break
        except OSError:
            pass
finally:
    proc.terminate()
    proc.wait(timeout=10)
check(live, "the scaler's /metrics could be read")
exposed = {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"^(llmscale_[a-z0-9_]+)", live, re.M)}
used = set(re.findall(r"llmscale_[a-z0-9_]+", json.dumps(dash)))
for name in sorted(used):
    check(re.sub(r"_(bucket|sum|count)$", "", name) in exposed, f"{name} is on a default scaler's /metrics")
if failures:
    sys.exit(f"{len(failures)} problems")
print(f"dashboard: {len(panels)} panels, {len(used)} llmscale metrics, all on a live scaler's /metrics")
