"""The live view's cost in a real browser with many streams (``biosig dashboard``).

A runtime (``--tap``, no encoders: score lines from the signal measures) is fed by ``N`` simulated
ECG beds (:func:`streams.simulate.make_ward`, 0.1 s frames, in real time: ``--streams``) and by
mixed wards (``--mixes BEDS:COUCHES``: every bed an ECG, a PPG and a RESP stream, every treatment
couch a marker stream the runtime forecasts, :func:`streams.simulate.make_couches`); a
:class:`streams.dashboard.Dashboard` reads its output and a headless Chromium (selenium, as the
browser tests) opens the page. Measured from the browser, over ``--seconds`` once every panel is up:

- main-thread busy fraction: CDP ``Performance.getMetrics`` ``TaskDuration`` over wall time;
- frame time p50 / p99: intervals between ``requestAnimationFrame`` callbacks (16.7 ms at 60 Hz);
- JSON bytes per second: the server-sent events' ``data`` as the page receives them;
- chart redraws per second (each uPlot redraw begins with a ``clearRect`` of its canvas).

Baseline: the page as it was at ``--baseline-rev`` (its ``streams/static`` files, from git) and
the server's JSON as it was (series values as full float64 reprs, :func:`old_columns`; every field
of every stream in every update, :func:`old_changed_fields`), served by the same server in the
same run; ours: the page and :mod:`streams.dashboard_state` of the working tree. Runs alternate
(baseline, ours) per ward. The window is ``--window`` pixels (a ward at 50 beds scrolls). Where git
or the revision is not at hand (a source tarball has no .git), one line says so and only the
working tree's page is measured (``--baseline-rev none`` asks for that).

Usage: .venv/bin/python benchmarks/bench_dashboard.py [--streams 10,50] [--mixes 4:1,16:2] [--seconds 10]
                                                      [--warm-s 5] [--baseline-rev 5e2616a] [--window 1400x1000]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import _common  # noqa: F401  (repo root on sys.path)

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BIOSIG_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BIOSIG_CHROMEDRIVER", "/usr/bin/chromedriver")
WINDOW_S = 10.0           # the runtime's ECG windows (a score line a second per stream)
BASELINE_REV = "5e2616a"   # the page before it drew on requestAnimationFrame, only what changed and is on screen

# run in the page before its own scripts: count the bytes of every server-sent event, the frame
# intervals, and the canvas redraws (each uPlot redraw starts with a clearRect of its canvas)
PROBE = r"""
(() => {
  const B = window.__bench = { bytes: 0, messages: 0, frames: [], clears: 0, t0: performance.now() };
  const ES = window.EventSource;
  window.EventSource = function (url, opts) {
    const es = new ES(url, opts);
    es.addEventListener("message", ev => { B.bytes += ev.data.length; B.messages++; });
    return es;
  };
  window.EventSource.prototype = ES.prototype;
  const clear = CanvasRenderingContext2D.prototype.clearRect;
  CanvasRenderingContext2D.prototype.clearRect = function (...a) { B.clears++; return clear.apply(this, a); };
  let last = null;
  const tick = t => { if (last !== null) B.frames.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  B.reset = () => { B.bytes = 0; B.messages = 0; B.frames = []; B.clears = 0; B.t0 = performance.now(); };
})();
"""


def baseline_static(rev: str, root: pathlib.Path = ROOT) -> tuple[pathlib.Path | None, str]:
    """``(folder, "")``: the page's files at ``rev`` in a temporary folder; ``(None, why)`` where
    git, the repository (a tarball has no .git) or the revision is not at hand (``rev`` "none":
    not asked for)."""
    from streams.dashboard import STATIC_FILES
    if rev.lower() == "none":
        return None, "--baseline-rev none"
    if shutil.which("git") is None:
        return None, "git is not installed"
    out = pathlib.Path(tempfile.mkdtemp(prefix="biosig-dash-baseline-"))
    for name in STATIC_FILES:
        try:
            r = subprocess.run(["git", "show", f"{rev}:streams/static/{name}"], cwd=root, capture_output=True,
                               timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            r = subprocess.CompletedProcess([], 1, b"", str(e).encode())
        if r.returncode != 0:
            shutil.rmtree(out, ignore_errors=True)
            why = (r.stderr.decode(errors="replace").strip().splitlines() or [f"exit {r.returncode}"])[-1]
            return None, f"streams/static/{name} at {rev} not readable from git ({why})"
        (out / name).write_bytes(r.stdout)
    return out, ""


def old_columns(rows: list) -> list:
    """The baseline's series columns: every float as Python's repr of it (17 digits)."""
    return [list(c) for c in zip(*rows)]


def old_changed_fields(held, full: dict) -> dict:
    """The baseline's streams: every field in every update."""
    return full


def browser(window: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        sys.exit(f"bench_dashboard: {', '.join(missing)} missing (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="biosig-chromium-")
    opts = webdriver.ChromeOptions()
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--window-size={window.replace('x', ',')}", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    driver.execute_cdp_cmd("Performance.enable", {"timeDomain": "timeTicks"})
    return driver, profile


def _metrics(driver) -> dict:
    return {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}


def measure(driver, url: str, n: int, seconds: float, warm_s: float) -> dict:
    """The page's costs once ``n`` panels (streams and couches) are up."""
    driver.get(url)
    end = time.monotonic() + 60
    while time.monotonic() < end:   # every stream's panel is up and drawn once
        if driver.execute_script("return document.querySelectorAll('.panel').length") >= n:
            break
        time.sleep(0.2)
    else:
        sys.exit(f"bench_dashboard: the page showed fewer than {n} panels after 60 s")
    time.sleep(warm_s)
    driver.execute_script("window.__bench.reset()")
    m0 = _metrics(driver)
    time.sleep(seconds)
    m1 = _metrics(driver)
    b = driver.execute_script("const B = window.__bench; return {bytes: B.bytes, messages: B.messages, "
                              "frames: B.frames, clears: B.clears, ms: performance.now() - B.t0}")
    wall_s = m1["Timestamp"] - m0["Timestamp"]
    frames = np.array(b["frames"] or [np.nan])
    return {"busy": (m1["TaskDuration"] - m0["TaskDuration"]) / wall_s,
            "script": (m1["ScriptDuration"] - m0["ScriptDuration"]) / wall_s,
            "frame_p50_ms": float(np.percentile(frames, 50)), "frame_p99_ms": float(np.percentile(frames, 99)),
            "kB_per_s": b["bytes"] / (b["ms"] / 1e3) / 1e3, "updates_per_s": b["messages"] / (b["ms"] / 1e3),
            "redraws_per_s": b["clears"] / (b["ms"] / 1e3)}


def run(ward: "Ward", args, old_static: pathlib.Path | None) -> dict:
    """``{"baseline": costs, "ours": costs}`` of one ward (no "baseline" without ``old_static``)."""
    import streams.dashboard as dashboard
    import streams.dashboard_state as dashboard_state
    from streams.config import Endpoints, RuntimeConfig
    from streams.runtime import Runtime
    from streams.simulate import make_couches, make_ward, start_thread
    ep = Endpoints(*(f"tcp://127.0.0.1:{_port()}" for _ in range(3)))
    rt = Runtime(RuntimeConfig(endpoints=ep, models={}, windows={m: (WINDOW_S, 1.0) for m in ward.streams},
                               tap_signals=True, status_every_s=0.5)).start()
    pubs, sources = make_ward(ward.beds, ward.streams, endpoint=ep.ingest, loop_s=10.0, variants=2)
    if ward.couches:
        c_pubs, c_sources, _ = make_couches(ward.couches, endpoint=ep.ingest,
                                            seconds=WINDOW_S + 30.0 + 2 * (args.warm_s + args.seconds + 60.0))
        pubs, sources = pubs + c_pubs, sources + c_sources
    stop = threading.Event()
    sim = start_thread(sources, stop=stop)
    new = dashboard.STATIC, dashboard_state.columns, dashboard_state.changed_fields
    pages = ([("baseline", (old_static, old_columns, old_changed_fields))] if old_static is not None else []) + \
        [("ours", new)]
    out = {}
    try:
        with dashboard.Dashboard(ep.output, port=0) as dash:
            time.sleep(WINDOW_S + 2.0)   # every stream has its score line before either page opens
            for label, served in pages:
                dashboard.STATIC, dashboard_state.columns, dashboard_state.changed_fields = served
                driver, profile = browser(args.window)
                try:
                    out[label] = measure(driver, dash.url, ward.panels, args.seconds, args.warm_s)
                finally:
                    driver.quit()
                    shutil.rmtree(profile, ignore_errors=True)
    finally:
        dashboard.STATIC, dashboard_state.columns, dashboard_state.changed_fields = new
        stop.set()
        sim.join(5)
        for p in pubs:
            p.close()
        rt.stop()
    return out


class Ward:
    """``beds`` beds of ``streams`` each and ``couches`` treatment couches: ``panels`` on the page."""

    def __init__(self, beds: int, streams: tuple, couches: int = 0):
        self.beds, self.streams, self.couches = beds, tuple(streams), couches
        self.panels = beds * len(self.streams) + couches

    @property
    def label(self) -> str:
        if self.streams == ("ecg",) and not self.couches:
            return f"{self.beds} ECG streams"
        return (f"{self.beds} beds x {'+'.join(m.upper() for m in self.streams)} + {self.couches} couch(es): "
                f"{self.panels} panels")


def parse_wards(streams: str, mixes: str) -> list[Ward]:
    """The wards of ``--streams 10,50`` (ECG only) and ``--mixes 4:1,16:2`` (beds:couches, every bed
    ECG + PPG + RESP); one clear line (SystemExit) for anything else."""
    wards = []
    try:
        wards += [Ward(int(x), ("ecg",)) for x in streams.split(",") if x.strip()]
        for x in (m for m in mixes.split(",") if m.strip()):
            beds, _, couches = x.partition(":")
            wards.append(Ward(int(beds), ("ecg", "ppg", "resp"), int(couches or 0)))
    except ValueError:
        sys.exit(f"bench_dashboard: --streams takes whole numbers (10,50) and --mixes BEDS:COUCHES pairs (4:1,16:2); "
                 f"got --streams {streams!r} --mixes {mixes!r}")
    if not wards or any(w.beds < 0 or w.couches < 0 or w.panels < 1 for w in wards):
        sys.exit(f"bench_dashboard: every ward needs at least one stream; got --streams {streams!r} --mixes {mixes!r}")
    return wards


def _port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", default="10,50", help="numbers of simulated ECG streams, comma-separated (default 10,50)")
    p.add_argument("--mixes", default="4:1,16:2",
                   help="mixed wards BEDS:COUCHES, comma-separated: every bed ECG + PPG + RESP, every couch a forecast "
                        "marker stream (default 4:1,16:2; '' for none)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per page (default 10)")
    p.add_argument("--warm-s", type=float, default=5.0, help="seconds after every panel is up before measuring (default 5)")
    p.add_argument("--baseline-rev", default=BASELINE_REV,
                   help=f"git revision whose streams/static is the baseline page (default {BASELINE_REV}; "
                        "none: the working tree's page only)")
    p.add_argument("--window", default="1400x1000", help="browser window, WIDTHxHEIGHT pixels (default 1400x1000)")
    args = p.parse_args()
    wards = parse_wards(args.streams, args.mixes)
    old_static, why = baseline_static(args.baseline_rev)
    if old_static is None:
        print(f"bench_dashboard: no baseline page ({why}); measuring the working tree's page only", file=sys.stderr)
    rows = [("main-thread busy", "busy", "", 1.0), ("  of which script", "script", "", 1.0),
            ("frame time p50", "frame_p50_ms", "ms", 1.0), ("frame time p99", "frame_p99_ms", "ms", 1.0),
            ("JSON received", "kB_per_s", "kB/s", 1.0), ("page updates", "updates_per_s", "/s", 1.0),
            ("chart redraws", "redraws_per_s", "/s", 1.0)]
    try:
        for ward in wards:
            r = run(ward, args, old_static)
            print(f"\n{ward.label} ({args.window} window, {args.seconds:g} s)")
            print(f"{'':<22} |  baseline      |      ours      | ratio")
            for name, key, unit, _ in rows:
                b = r["ours"][key]
                if "baseline" in r:
                    a = r["baseline"][key]
                    ratio = b / a if a else float("nan")
                    print(f"{name:<22} | {a:9.3f} {unit:<4} | {b:9.3f} {unit:<4} | {ratio:5.2f}", flush=True)
                else:
                    print(f"{name:<22} | {'-':>9} {'':<4} | {b:9.3f} {unit:<4} |     -", flush=True)
    finally:
        if old_static is not None:
            shutil.rmtree(old_static, ignore_errors=True)


if __name__ == "__main__":
    main()
