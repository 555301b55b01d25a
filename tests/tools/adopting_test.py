#!/usr/bin/env python3
"""docs/adopting.md's commands, run: every `sh` block's llmscale-scaler and llmscale-replay
command against a fake vLLM engine on loopback (the shadow scaler records, the replay reads the
record, the tuner prints a --set), and every `console` block's kubectl line checked against
deploy/ (the files it applies exist; the Deployments it names are in them).

The guide's numbers are made local, and nothing else: the engine 127.0.0.1:8000 becomes the
fake one, --record-window 60 becomes 1 and --run-for 3600 becomes 8, --http-listen's port 0,
and profile.csv the shared latency profile.

usage: adopting_test.py LLMSCALE_SCALER LLMSCALE_REPLAY   (from the project root; exit 77 when
../shared/data's profile or PyYAML is absent)
"""
import glob
import http.server
import json
import os
import re
import shlex
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

try:
    import yaml
except ImportError:
    print("skipped: no PyYAML (Debian: python3-yaml)")
    sys.exit(77)

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def blocks(text, lang):
    """The fenced blocks of `lang`, each as its commands (backslash continuations joined)."""
    out = []
    for body in re.findall(r"```" + lang + r"\n(.*?)```", text, re.S):
        out.append([c.strip() for c in body.replace("\\\n", " ").splitlines() if c.strip() and not c.startswith("#")])
    return out


class Engine(http.server.BaseHTTPRequestHandler):
    """A vLLM page: 20 requests a second finish, TTFT 0.2 s for 90 % and 1.5 s for the rest."""
    start = time.time()

    def log_message(self, *args):
        pass

    def do_GET(self):
        n = int((time.time() - Engine.start) * 20)
        slow = n // 10
        fast = n - slow
        lines = ["vllm:num_requests_running 12", "vllm:num_requests_waiting 1", "vllm:kv_cache_usage_perc 0.4"]
        for le in (0.1, 0.25, 0.5, 1.0, 2.5):
            lines.append(f'vllm:time_to_first_token_seconds_bucket{{le="{le}"}} {(fast if le >= 0.2 else 0) + (slow if le >= 1.5 else 0)}')
        lines += [f'vllm:time_to_first_token_seconds_bucket{{le="+Inf"}} {n}',
                  f"vllm:time_to_first_token_seconds_sum {fast * 0.2 + slow * 1.5}",
                  f"vllm:time_to_first_token_seconds_count {n}",
                  f"vllm:e2e_request_latency_seconds_sum {n * 6.0}",
                  f"vllm:e2e_request_latency_seconds_count {n}",
                  f"vllm:request_prompt_tokens_sum {n * 1000}", f"vllm:request_prompt_tokens_count {n}",
                  f"vllm:request_generation_tokens_sum {n * 200}", f"vllm:request_generation_tokens_count {n}"]
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    scaler, replay = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    profile = os.path.abspath(os.path.join("..", "shared", "data", "profile_splitwise_perf_model.csv"))
    if not os.path.exists(profile):
        print(f"skipped: {profile} is absent")
        return 77
    with open("docs/adopting.md") as f:
        guide = f.read()

    # the kubectl lines: what they apply exists, the Deployments they name are in deploy/
    deployments = set()
    for path in glob.glob("deploy/*.yaml"):
        with open(path) as f:
            deployments |= {d["metadata"]["name"] for d in yaml.safe_load_all(f) if d and d.get("kind") == "Deployment"}
    console = [c for b in blocks(guide, "console") for c in b]
    check(any(c.startswith("kubectl") for c in console), "the guide has kubectl commands")
    for c in console:
        words = shlex.split(c.split("#")[0])
        for i, w in enumerate(words):
            if w == "-f":
                check(os.path.exists(words[i + 1]), f"'{c}': {words[i + 1]} exists")
            if w.startswith("deploy/") and not w.endswith(".yaml"):
                check(w.split("/", 1)[1] in deployments, f"'{c}': Deployment {w} is in deploy/*.yaml")
        if words[:4] == ["kubectl", "-n", "llm", "delete"] and words[4] == "deployment":
            check(words[5] in deployments, f"'{c}': Deployment {words[5]} is in deploy/*.yaml")

    # the local commands, in order, in a scratch folder
    with socketserver.TCPServer(("127.0.0.1", 0), Engine) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        commands = [c for b in blocks(guide, "sh") for c in b]
        check(any(c.startswith("llmscale-scaler") for c in commands) and any("--tune" in c for c in commands),
              "the guide's sh blocks hold the scaler, the replay and the tuner")
        local = [("127.0.0.1:8000", f"127.0.0.1:{port}"), ("--record-window 60", "--record-window 1"),
                 ("--run-for 3600", "--run-for 8"), ("--http-listen 127.0.0.1:8080", "--http-listen 127.0.0.1:0"),
                 ("profile.csv", profile)]
        with tempfile.TemporaryDirectory() as tmp:
            for c in commands:
                for a, b in local:
                    c = c.replace(a, b)
                words = shlex.split(c)
                exe = {"llmscale-scaler": scaler, "llmscale-replay": replay}.get(words[0])
                check(exe is not None, f"'{c}' runs an llmscale tool")
                if exe is None:
                    continue
                r = subprocess.run([exe] + words[1:], cwd=tmp, capture_output=True, text=True, timeout=600)
                check(r.returncode == 0, f"'{c}' exits 0 (exit {r.returncode}: {r.stderr.strip()[-300:]})")
                if words[0] == "llmscale-scaler":
                    check("shadow:" in r.stderr, "the shadow scaler logs its summary")
                    rows = [l for l in open(os.path.join(tmp, "record.csv")) if l[:1].isdigit()]
                    check(len(rows) >= 4, f"the record has {len(rows)} windows after 8 s at 1 s windows")
                    first = rows[0].split(",") if rows else []
                    check(len(first) == 17 and float(first[3]) == 1000 and float(first[5]) == 200,
                          f"the record's token means are the engine's: {rows[:1]}")
                    check(len(first) == 17 and 0.1 <= float(first[12]) <= 0.25, f"the record's TTFT p50 is in (0.1, 0.25]: {rows[:1]}")
                if "--json" in words:
                    out = json.load(open(os.path.join(tmp, words[words.index("--json") + 1])))
                    requests = out["results"][0]["requests"]
                    check(requests > 0, f"the replayed record has {requests} requests")
                if "--tune" in words:
                    check("--set" in r.stdout, "the tuner prints the --set that reproduces its choice")
        server.shutdown()
    if failures:
        print(f"{len(failures)} failed")
        return 1
    print(f"docs/adopting.md: {len(commands)} commands run, {len(console)} kubectl lines checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
