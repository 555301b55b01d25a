#!/usr/bin/env python3
"""What each policy header pulls in, checked by preprocessing (the compiler's -M list).

Every policy header is free of the signal collection (the recorder, the collector, <thread>,
<fstream>): a policy reads the Signals vocabulary only. The anchor policies, policy.hpp, the
governor, anchors.hpp and the SLO policy also pull neither Eigen nor Boost, nor do the core
umbrella, the signals vocabulary and the latency model with its sizing. The check is shown to bite first: the collector
header itself must be seen to pull the recorder and <thread>, or the detection is broken.

usage: check_header_deps.py CXX INCLUDE_DIR [EXTRA_INCLUDE_DIR...]
"""
import pathlib
import re
import subprocess
import sys

COLLECTION = re.compile(r"llmscale/signals/(recorder|collector)\.hpp|/thread(\s|$)|/fstream(\s|$)")
HEAVY = re.compile(r"/Eigen/|/eigen3/|/boost/")
LIGHT = {"hpa.hpp", "kpa.hpp", "ray_serve.hpp", "aibrix_apa.hpp", "llmd_saturation.hpp", "policy.hpp",
         "governor.hpp", "anchors.hpp", "slo.hpp"}
# headers outside policy/ that must stay light too: the core umbrella and the signals vocabulary
# (neither collection nor Eigen/Boost), and the latency model the SLO sizing reads (no Eigen)
LEAN = ["core/core.hpp", "signals/snapshot.hpp", "model/latency_profile.hpp", "model/replica_sizing.hpp"]


def deps(cxx, includes, header):
    cmd = [cxx, "-std=c++17", "-M", "-x", "c++", str(header)] + [f"-I{d}" for d in includes if d]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"header-deps: {header.name} does not compile alone:\n{r.stderr[-2000:]}")
    return r.stdout.replace("\\\n", " ")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cxx = sys.argv[1]
    includes = [d for arg in sys.argv[2:] for d in arg.split(";") if d]  # a CMake list arrives whole
    root = pathlib.Path(includes[0]) / "llmscale"
    probe = deps(cxx, includes, root / "signals" / "collector.hpp")
    if not (re.search(r"llmscale/signals/recorder\.hpp", probe) and re.search(r"/thread(\s|$)", probe)):
        sys.exit("header-deps: the collector is not seen to pull the recorder and <thread>: the check is broken")
    problems, checked = [], 0
    for header in sorted((root / "policy").glob("*.hpp")):
        d = deps(cxx, includes, header)
        checked += 1
        hit = COLLECTION.search(d)
        if hit:
            problems.append(f"{header.name} pulls {hit.group(0).strip()} (a policy reads signals/snapshot.hpp only)")
        if header.name in LIGHT:
            hit = HEAVY.search(d)
            if hit:
                problems.append(f"{header.name} pulls Eigen or Boost ({hit.group(0)})")
    for rel in LEAN:
        d = deps(cxx, includes, root / rel)
        checked += 1
        hit = COLLECTION.search(d) or HEAVY.search(d)
        if hit:
            problems.append(f"{rel} pulls {hit.group(0).strip()} (it must stay free of the collection, Eigen and Boost)")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"header-deps: {checked} headers free of the collection; {len(LIGHT) + len(LEAN)} free of Eigen and Boost")


if __name__ == "__main__":
    main()
