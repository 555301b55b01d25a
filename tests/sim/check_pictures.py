#!/usr/bin/env python3
"""llmscale-replay's pictures end to end. Run from the project root:

check_pictures.py EXE svg|report|x_axis|render|record

svg     the SVG parses; every policy has a point per cold start, one label and a panel; no text
        lies outside the viewBox and nothing is moved by a transform; no two point labels
        overlap (boxes from the text length at 0.6 em a character, the font size and anchor).
report  the HTML page parses with every element closed; it holds the configuration (trace,
        profile, cold start, SLO, opening fleet), every policy, the picture inline, each
        llmscale policy's worst minutes with decisions, and loads nothing from outside.
x_axis  on every built-in scenario the panels' x-axis ends within one minute after the last
        arrival the JSON reports (a run draining a backlog past it does not stretch the axis).
render  rsvg-convert (Debian librsvg2-bin) renders the SVG to PNG: the image is not blank and
        every panel has drawn pixels inside its frame (exit 77, skipped, without rsvg-convert).
record  an llmscale record with ready counts: every panel draws the recorded ready replicas
        with its legend entry, the recorded fleet is a triangle, the TTFT p99 panel draws the
        observed and simulated windows and the target; no text outside the viewBox; a picture
        of a load that is not a record has none of it.
"""
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
import xml.etree.ElementTree as ET

exe, mode = sys.argv[1], sys.argv[2]
if not os.path.exists("../shared/data/profile_splitwise_perf_model.csv"):
    print("skipped: no ../shared/data")
    sys.exit(0)
tmp = tempfile.mkdtemp()
NS = "{http://www.w3.org/2000/svg}"
POLICIES = ["kpa", "llmscale-slo", "llmscale-predictive", "static-best", "oracle"]


def replay(*args):
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"llmscale-replay {' '.join(args)} failed ({r.returncode}): {r.stderr[-400:]}")
    return r.stdout


def flash_crowd(*extra):
    replay("--scenario", "flash-crowd", "--rate-scale", "0.2", "--policies", ",".join(POLICIES),
           "--plot", f"{tmp}/p.svg", "--report", f"{tmp}/p.html", "--json", f"{tmp}/p.json", *extra)
    return ET.parse(f"{tmp}/p.svg").getroot()  # raises on malformed XML


def box(t):
    size = float(t.get("font-size", "12"))
    w = 0.6 * size * len("".join(t.itertext()))
    x, y = float(t.get("x")), float(t.get("y"))
    anchor = t.get("text-anchor", "start")
    x0 = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
    return (x0, y - 0.75 * size, x0 + w, y + 0.2 * size)


if mode == "svg":
    root = flash_crowd("--cold-start", "60,300")
    if root.tag != NS + "svg":
        sys.exit(f"root element is {root.tag}")
    vb = [float(v) for v in root.get("viewBox").split()]
    moved = [e.tag for e in root.iter() if e.get("transform")]
    if moved:
        sys.exit(f"elements moved by a transform: {moved[:3]}")
    texts = list(root.iter(NS + "text"))
    outside = []
    for t in texts:
        x0, y0, x1, y1 = box(t)
        if x0 < vb[0] - 1 or y0 < vb[1] - 1 or x1 > vb[0] + vb[2] + 1 or y1 > vb[1] + vb[3] + 1:
            outside.append(("".join(t.itertext())[:40], round(x0), round(y0), round(x1), round(y1)))
    if outside:
        sys.exit(f"{len(outside)} texts reach outside the viewBox {vb}: {outside[:3]}")
    points = [(e.get("data-point"), e.get("data-cold-start")) for e in root.iter() if e.get("data-point")]
    for p in POLICIES:
        got = sorted(cs for name, cs in points if name == p)
        if got != ["300", "60"]:
            sys.exit(f"{p}: points at cold starts {got}, want 60 and 300")
    series = [e.get("data-series") for e in root.iter(NS + "polyline") if e.get("data-series")]
    if sorted(series) != sorted(POLICIES):
        sys.exit(f"cold-start series {series}, want one per policy")
    labels = [t for t in texts if t.get("data-label")]
    if sorted(t.get("data-label") for t in labels) != sorted(POLICIES):
        sys.exit(f"point labels {[t.get('data-label') for t in labels]}, want one per policy")
    panels = [g.get("data-panel") for g in root.iter(NS + "g") if g.get("data-panel")]
    if panels != POLICIES:
        sys.exit(f"panels {panels}, want {POLICIES}")
    boxes = [(t.get("data-label"), box(t)) for t in labels]
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            if ba[0] < bb[2] and bb[0] < ba[2] and ba[1] < bb[3] and bb[1] < ba[3]:
                sys.exit(f"labels {a} and {b} overlap: {ba} {bb}")
    views = [v.get("id") for v in root.iter(NS + "view")]
    if views != ["cost-quality", "panels"]:
        sys.exit(f"views {views}")
    one = flash_crowd()  # one cold start: the fluid floor is drawn, static-best is a square, the oracle a path
    if not [e for e in one.iter(NS + "line") if e.get("data-floor")]:
        sys.exit("one cold start: no fluid floor line")
    shapes = {e.get("data-point"): e.tag.replace(NS, "") for e in one.iter() if e.get("data-point")}
    if shapes.get("static-best") != "rect" or shapes.get("oracle") != "path" or shapes.get("kpa") != "circle":
        sys.exit(f"marks: {shapes}")
    print(f"SVG parses; {len(POLICIES)} policies with points at 2 cold starts, a label and a panel each; "
          f"{len(texts)} texts inside the viewBox; {len(labels)} labels apart")
elif mode == "report":
    flash_crowd()
    page = open(f"{tmp}/p.html").read()
    void = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    class Page(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.text, self.outside, self.problems = [], [], [], []

        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k in ("src", "href") and v and re.match(r"^(https?:)?//", v):
                    self.outside.append(v)
            if tag == "script":
                self.problems.append("a <script>")
            if tag not in void:
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            pass  # <br/> and SVG's self-closed elements

        def handle_endtag(self, tag):
            if tag in void:
                return
            if not self.stack or self.stack[-1] != tag:
                self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            else:
                self.stack.pop()

        def handle_data(self, d):
            self.text.append(d)

    p = Page()
    p.feed(page)
    p.close()
    if p.stack:
        p.problems.append(f"unclosed {p.stack[-3:]}")
    if p.problems:
        sys.exit(f"report: {p.problems[:3]}")
    if p.outside:
        sys.exit(f"report loads from outside: {p.outside[:2]}")
    text = " ".join(p.text)
    # the configuration table's rows, by their header cells
    rows = dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]*)</td></tr>", page))
    for want in ("load", "profile", "cold start", "SLO", "opening fleet"):
        if not rows.get(want):
            sys.exit(f"report's configuration lacks a '{want}' row (has {sorted(rows)})")
    if "flash-crowd" not in rows["load"] or "profile_splitwise_perf_model.csv" not in rows["profile"]:
        sys.exit(f"report's configuration: load {rows['load']!r}, profile {rows['profile']!r}")
    if "binding constraint, reason" not in page:
        sys.exit("report: the worst minutes' table lacks the binding constraint and reason")
    for pol in POLICIES:
        if pol not in text:
            sys.exit(f"report lacks {pol}")
    if page.count("<svg") != 1 or 'data-panel="oracle"' not in page:
        sys.exit("report: want the picture inline, once")
    for pol in ("llmscale-slo", "llmscale-predictive"):
        m = re.search(rf'<h3 data-policy="{pol}">(.*?)(?=<h3|</body>)', page, re.S)
        if not m:
            sys.exit(f"report: no worst minutes for {pol}")
        att = [r for r in json.load(open(f"{tmp}/p.json"))["results"] if r["policy"] == pol][0]["slo_attainment"]
        constraints = "none|min_replicas|max_replicas|tolerance|rate_limit|stabilization|cooldown|pending|scale_to_zero|activation|stale_signals|ignored_tick"
        decisions = re.findall(rf"\d+:\d\d:\d\d &nbsp; \d+ &rarr; \d+(?: \(proposed \d+\))? &nbsp; (?:{constraints}) &nbsp; \S", m.group(1))
        minutes = len(re.findall(r"<tr><td>\d+:\d\d:\d\d</td>", m.group(1)))
        if att < 1 and (not decisions or not 1 <= minutes <= 5):
            sys.exit(f"report: {pol} missed the SLO; want 1-5 worst minutes ({minutes}) with decisions: time, current -> desired, binding, reason")
    print(f"report parses, {len(page) // 1024} kB, every policy, the configuration, the picture and the worst minutes")
elif mode == "x_axis":
    for scenario in ("chat-day", "code-bursts", "flash-crowd"):
        replay("--scenario", scenario, "--rate-scale", "0.1", "--policies", "kpa,llmscale-slo", "--plot", f"{tmp}/{scenario}.svg",
               "--json", f"{tmp}/{scenario}.json")
        last = max(r["last_arrival_s"] for r in json.load(open(f"{tmp}/{scenario}.json"))["results"])
        root = ET.parse(f"{tmp}/{scenario}.svg").getroot()
        ends = [float(g.get("data-x-end-s")) for g in root.iter(NS + "g") if g.get("data-panel")]
        if len(ends) != 2:
            sys.exit(f"{scenario}: {len(ends)} panels")
        for e in ends:
            if not (last <= e <= last + 60):
                sys.exit(f"{scenario}: the x-axis ends at {e:.0f} s, the last arrival is at {last:.0f} s")
        print(f"{scenario}: the x-axis ends {ends[0] - last:.1f} s after the last arrival ({last:.0f} s)")
elif mode == "render":
    rsvg = shutil.which("rsvg-convert")
    if not rsvg:
        print("skipped: no rsvg-convert (Debian: librsvg2-bin)")
        sys.exit(77)
    root = flash_crowd()
    subprocess.run([rsvg, "-o", f"{tmp}/p.png", f"{tmp}/p.svg"], check=True)
    data = open(f"{tmp}/p.png", "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("rsvg-convert wrote no PNG")
    pos, chunks, idat = 8, {}, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            chunks["IHDR"] = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", chunks["IHDR"][:10])
    if depth != 8 or colour not in (2, 6):
        sys.exit(f"unexpected PNG format depth {depth} colour {colour}")
    bpp = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line

    def drawn(x, y):  # darker than the light grid (#eee) and not transparent
        px = rows[y][x * bpp:(x + 1) * bpp]
        return (bpp == 3 or px[3] > 128) and min(px[:3]) < 200

    scale = w / float(root.get("viewBox").split()[2])
    total = sum(drawn(x, y) for y in range(0, h, 3) for x in range(0, w, 3))
    if total < 0.01 * (w // 3) * (h // 3):
        sys.exit(f"the image is nearly blank ({total} drawn samples)")
    for r in root.iter(NS + "rect"):
        if not r.get("data-frame"):
            continue
        x0, y0 = float(r.get("x")) * scale, float(r.get("y")) * scale
        x1, y1 = x0 + float(r.get("width")) * scale, y0 + float(r.get("height")) * scale
        inside = sum(drawn(x, y) for y in range(int(y0) + 3, int(y1) - 2) for x in range(int(x0) + 3, int(x1) - 2))
        if inside < 50:
            sys.exit(f"panel {r.get('data-frame')}: {inside} drawn pixels inside its frame")
    print(f"rendered {w}x{h}: not blank, every panel drawn inside its frame")
elif mode == "record":
    head = ("window_start_s,window_s,arrivals,prompt_tokens_mean,prompt_tokens_sd,output_tokens_mean,output_tokens_sd,"
            "interarrival_cv,ready,starting,queued,running,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,desired")
    rows = ["# llmscale-record 1", head]
    for i in range(30):  # 2 ready replicas at 4 req/s, 4 at 10, a 5-minute gap, 3 at 6
        ready, arrivals = (2, 240) if i < 10 else (4, 600) if i < 20 else (3, 360)
        rows.append(f"{1765065600 + 60 * i + (300 if i >= 20 else 0)},60,{arrivals},1020,800,211,150,,{ready},0,0,8,0.2,1.1,0.03,0.08,{ready}")
    open(f"{tmp}/record.csv", "w").write("\n".join(rows) + "\n")
    replay("--trace", f"{tmp}/record.csv", "--trace-format", "llmscale", "--cold-start", "60", "--policies",
           "kpa,llmscale-slo,oracle,recorded", "--plot", f"{tmp}/r.svg")
    root = ET.parse(f"{tmp}/r.svg").getroot()
    vb = [float(v) for v in root.get("viewBox").split()]
    texts = list(root.iter(NS + "text"))
    outside = [("".join(t.itertext())[:40]) for t in texts
               if box(t)[0] < vb[0] - 1 or box(t)[1] < vb[1] - 1 or box(t)[2] > vb[0] + vb[2] + 1 or box(t)[3] > vb[1] + vb[3] + 1]
    if outside:
        sys.exit(f"{len(outside)} texts reach outside the viewBox: {outside[:3]}")
    legend = [g for g in root.iter(NS + "g") if g.get("data-legend") == "recorded"]
    if len(legend) != 1 or "the cluster's ready replicas" not in "".join(legend[0].itertext()):
        sys.exit("no legend entry for the recorded ready replicas")
    panels = {g.get("data-panel"): g for g in root.iter(NS + "g") if g.get("data-panel")}
    if sorted(panels) != sorted(["kpa", "llmscale-slo", "oracle", "recorded"]):
        sys.exit(f"panels {sorted(panels)}")
    for name, g in panels.items():
        lines = [e for e in g.iter(NS + "path") if e.get("data-recorded-in") == name]
        if len(lines) != 1 or "stroke-dasharray" not in lines[0].attrib or lines[0].get("d").count("M") != 2:
            sys.exit(f"panel {name}: want the recorded ready replicas as one dashed line broken at the gap")
    shapes = {e.get("data-point"): e.tag.replace(NS, "") for e in root.iter() if e.get("data-point")}
    if shapes.get("recorded") != "path" or shapes.get("oracle") != "path" or shapes.get("kpa") != "circle":
        sys.exit(f"marks: {shapes}")
    latency = [g for g in root.iter(NS + "g") if g.get("data-record-panel") == "ttft-p99"]
    if len(latency) != 1:
        sys.exit("no TTFT p99 panel")
    drawn = {k for e in latency[0].iter() for k in e.attrib if k in ("data-observed-ttft-p99", "data-simulated-ttft-p99", "data-ttft-target")}
    if len(drawn) != 3:
        sys.exit(f"the TTFT p99 panel draws {sorted(drawn)}, want observed, simulated and the target")
    plain = flash_crowd()
    marks = [e for e in plain.iter() if {"data-legend", "data-recorded-in", "data-record-panel"} & set(e.attrib)]
    if marks:
        sys.exit(f"a load that is not a record: {len(marks)} record elements drawn")
    print(f"record: {len(panels)} panels with the recorded ready replicas, the legend, the TTFT p99 panel; "
          f"{len(texts)} texts inside the viewBox; none on a scenario")
else:
    sys.exit(f"unknown mode {mode}")
