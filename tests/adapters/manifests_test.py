#!/usr/bin/env python3
"""deploy/*.yaml parse as YAML and agree with each other and with llmscale-scaler itself:
the ScaledObject's scalerAddress names the scaler's Service and its gRPC port, which is the
container port the scaler listens on; the scaled Deployment and the Service the sidecar lists
exist; the sidecar writes the file the scaler reads, with the engines' real port; the probes
are HTTP GETs of /healthz; the worst-case memory fits the limit; the HPA's behaviour is opened
up (no stabilization, any step within a period) and its tolerance is the scaler's
--hpa-tolerance; the shadow variant decides with --shadow, records onto a persistent volume and
names no ScaledObject; and the scaler accepts both manifests' own arguments (it is started with
them, on loopback ports).

usage: manifests_test.py LLMSCALE_SCALER_EXE   (from the project root; exit 77: no PyYAML)
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

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


def main():
    exe = sys.argv[1]
    docs = []
    for path in sorted(glob.glob("deploy/*.yaml")):
        with open(path) as f:
            docs += [(path, d) for d in yaml.safe_load_all(f) if d]
    check(len(docs) >= 8, f"{len(docs)} objects in deploy/*.yaml")
    objects = {(d["kind"], d["metadata"]["name"]): d for _, d in docs}

    def get(kind, name):
        o = objects.get((kind, name))
        check(o is not None, f"no {kind} {name}")
        return o or {}

    so = next((d for _, d in docs if d["kind"] == "ScaledObject"), None)
    check(so is not None and so["apiVersion"] == "keda.sh/v1alpha1", "a keda.sh/v1alpha1 ScaledObject")
    ns = so["metadata"]["namespace"]
    trigger = so["spec"]["triggers"][0]
    check(trigger["type"] == "external", "the trigger is external")
    check(trigger.get("metricType", "AverageValue") == "AverageValue", "AverageValue (the HPA divides by target 1)")
    host, port = trigger["metadata"]["scalerAddress"].rsplit(":", 1)
    svc_name = host.split(".")[0]
    check(host in (f"{svc_name}.{ns}", f"{svc_name}.{ns}.svc", f"{svc_name}.{ns}.svc.cluster.local"),
          f"scalerAddress host {host} is a Service in namespace {ns}")
    fb = so["spec"].get("fallback", {})
    check(fb.get("failureThreshold", 0) >= 1 and fb.get("behavior") == "currentReplicasIfHigher",
          "a fallback that never scales down")

    # The scaler's Service and the port KEDA dials.
    svc = get("Service", svc_name)
    check(svc["metadata"]["namespace"] == ns, "the scaler's Service is in the ScaledObject's namespace")
    grpc_port = next((p for p in svc["spec"]["ports"] if p["port"] == int(port)), None)
    check(grpc_port is not None, f"Service {svc_name} has port {port}")
    if grpc_port is None:
        return 1
    dep = next(d for _, d in docs if d["kind"] == "Deployment" and d["spec"]["selector"]["matchLabels"] == svc["spec"]["selector"])
    pod = dep["spec"]["template"]["spec"]
    scaler = next(c for c in pod["containers"] if c["name"] == "scaler")
    named = {p["name"]: p["containerPort"] for p in scaler["ports"]}
    target = grpc_port["targetPort"]
    container_port = named.get(target) if isinstance(target, str) else target
    args = dict(a[2:].split("=", 1) for a in scaler["args"])
    check(args["grpc-listen"].endswith(f":{container_port}"), f"--grpc-listen {args['grpc-listen']} is the Service's target port {container_port}")
    check(args["http-listen"].endswith(f":{named['http']}"), "--http-listen is the http container port")
    for kind in ("readinessProbe", "livenessProbe"):
        probe = scaler.get(kind, {}).get("httpGet", {})
        # liveness over HTTP, not TCP: the kernel accepts connections for a process whose loops are stuck
        check(probe.get("path") == "/healthz" and probe.get("port") in ("http", named["http"]), f"{kind} is an HTTP GET of /healthz")

    # Memory: the scaler's worst case (docs/kubernetes.md, "Memory") fits the container's limit:
    # --scrape-concurrency pages of --max-page-bytes in flight (x2 while a page grows, plus the
    # wire buffer) and as many buffers kept between rounds (<= 1 MiB each at typical pages),
    # plus 64 MiB for the rest (the process, HTTP and gRPC).
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    limit = scaler["resources"]["limits"]["memory"]
    limit_mib = float(limit[:-2]) * units[limit[-2:]]
    concurrency = int(args.get("scrape-concurrency", 32))
    page_mib = int(args.get("max-page-bytes", 8 << 20)) / (1 << 20)
    worst_mib = concurrency * (2 * page_mib + 0.25 + 1 + 0.0625) + 64
    check(worst_mib <= limit_mib, f"worst-case memory {worst_mib:.0f} MiB fits the limit {limit}")
    # and a round of scrapes fits in a tick even at --max-replicas
    waves = -(-int(args["max-replicas"]) // concurrency)
    check(waves * float(args["scrape-timeout"]) < float(args["tick"]),
          f"{waves} waves of --scrape-timeout {args['scrape-timeout']} fit in --tick {args['tick']}")
    check(int(args["min-replicas"]) == so["spec"]["minReplicaCount"], "--min-replicas = minReplicaCount")
    check(int(args["max-replicas"]) == so["spec"]["maxReplicaCount"], "--max-replicas = maxReplicaCount")

    # The HPA KEDA creates is opened up (llmscale's governor has applied the stabilization and
    # rate limits already), and its tolerance is the one the scaler counts swallowed decisions by.
    behavior = so["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
    up, down = behavior.get("scaleUp", {}), behavior.get("scaleDown", {})
    max_replicas = so["spec"]["maxReplicaCount"]
    check(up.get("stabilizationWindowSeconds") == 0 and down.get("stabilizationWindowSeconds") == 0,
          "no HPA stabilization on either side")
    check(any(p["type"] == "Pods" and p["value"] >= max_replicas or p["type"] == "Percent" and p["value"] >= 100 * max_replicas
              for p in up.get("policies", [])),
          f"a scale-up policy lets any step up to maxReplicaCount {max_replicas} through in one period")
    check(any(p["type"] == "Percent" and p["value"] >= 100 for p in down.get("policies", [])),
          "a scale-down policy lets any step through in one period")
    tolerance = float(args.get("hpa-tolerance", 0.1))
    for side, b in (("scaleUp", up), ("scaleDown", down)):
        check(float(b.get("tolerance", 0.1)) == tolerance,
              f"behavior.{side}.tolerance {b.get('tolerance', 0.1)} is the scaler's --hpa-tolerance {tolerance}")

    # The scaled Deployment, its Service, and what the sidecar writes.
    target_name = so["spec"]["scaleTargetRef"]["name"]
    vllm = get("Deployment", target_name)
    check("replicas" not in vllm["spec"], "the scaled Deployment leaves replicas to the HPA")
    vllm_port = next(p["containerPort"] for c in vllm["spec"]["template"]["spec"]["containers"] for p in c["ports"])
    sidecar = next(c for c in pod["containers"] if c["name"] == "endpoints")
    script = sidecar["args"][0]
    listed = re.search(r"kubernetes\.io/service-name=(\S+)", script).group(1)
    vllm_svc = get("Service", listed)
    check(vllm_svc["spec"].get("clusterIP") == "None", "the engines' Service is headless")
    check(vllm_svc["spec"]["selector"] == vllm["spec"]["selector"]["matchLabels"], "the engines' Service selects the scaled pods")
    check(f":{vllm_port}/metrics" in script, f"the sidecar writes the engines' port {vllm_port}")
    check(f"mv /run/llmscale/endpoints.tmp {args['endpoints-file']}" in script, "the sidecar replaces the file the scaler reads")
    role = get("Role", "llmscale-scaler-endpoints")
    check(any("endpointslices" in r["resources"] for r in role.get("rules", [])), "the sidecar may list EndpointSlices")

    # The scaler takes the manifest's arguments as they are (files and ports made local).
    with tempfile.TemporaryDirectory() as tmp:
        endpoints = os.path.join(tmp, "endpoints")
        with open(endpoints, "w") as f:
            f.write("127.0.0.1:9/metrics\nstarting 1\n")
        argv = [exe] + [a for a in scaler["args"] if not a.startswith(("--endpoints-file", "--grpc-listen", "--http-listen"))]
        argv += [f"--endpoints-file={endpoints}", "--grpc-listen=127.0.0.1:0", "--http-listen=127.0.0.1:0",
                 "--run-for=0.3", "--quiet"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"llmscale-scaler runs with the manifest's arguments (exit {r.returncode}: {r.stderr.strip()})")
        help_text = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout

        # The shadow variant: --shadow, a record on a persistent volume, no ScaledObject naming it.
        shadow = get("Deployment", "llmscale-scaler-shadow")
        spod = shadow.get("spec", {}).get("template", {}).get("spec", {})
        sscaler = next((c for c in spod.get("containers", []) if c["name"] == "scaler"), {})
        sargs = sscaler.get("args", [])
        check("--shadow" in sargs, "the shadow Deployment runs with --shadow")
        record = next((a.split("=", 1)[1] for a in sargs if a.startswith("--record=")), "")
        mounts = {m["mountPath"]: m["name"] for m in sscaler.get("volumeMounts", [])}
        volume = next((mounts[m] for m in mounts if record.startswith(m + "/")), None)
        claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in spod.get("volumes", [])}
        check(volume is not None and claims.get(volume) is not None and get("PersistentVolumeClaim", claims.get(volume)),
              f"--record {record} is on a persistent volume")
        check(all(d["spec"]["triggers"][0]["metadata"]["scalerAddress"].split(".")[0] != "llmscale-scaler-shadow"
                  for _, d in docs if d["kind"] == "ScaledObject"), "no ScaledObject names the shadow scaler")
        profile = os.path.join("..", "shared", "data", "profile_splitwise_perf_model.csv")
        if os.path.exists(profile):
            local = {"--endpoints-file": endpoints, "--grpc-listen": "127.0.0.1:0", "--http-listen": "127.0.0.1:0",
                     "--profile": profile, "--record": os.path.join(tmp, "record.csv"),
                     "--state-file": os.path.join(tmp, "state")}
            sargv = [exe] + [a if "=" not in a or a.split("=", 1)[0] not in local else f"{a.split('=', 1)[0]}={local[a.split('=', 1)[0]]}"
                             for a in sargs] + ["--run-for=1.5"]
            r = subprocess.run(sargv, capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, f"llmscale-scaler runs with the shadow manifest's arguments (exit {r.returncode}: {r.stderr.strip()})")
            check("shadow:" in r.stderr, "the shadow scaler logs its summary")
        else:
            print(f"note: {profile} is absent: the shadow manifest's arguments are not run")
        check(f"default 0.0.0.0:{container_port}" in help_text, f"the scaler's default gRPC port is the manifest's {container_port}")

    if failures:
        print(f"{len(failures)} failed")
        return 1
    print(f"manifests agree: {len(docs)} objects; KEDA -> {host}:{port} -> container port {container_port}; "
          f"engines {listed}:{vllm_port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
