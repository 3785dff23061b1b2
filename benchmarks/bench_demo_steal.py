"""Does the hypervisor's steal explain the demo's slowest forecasts?

Runs ``biosig demo`` (a subprocess, its own endpoints and output folder) while this process reads
the ``steal`` column of ``/proc/stat`` every 5 ms (a sampler outside every process the demo
measures). Then, per forecast of ``forecast_latency.csv`` (the time it was received and its latency
from the device timestamp): was the steal counter advanced within +-10 / 20 / 50 ms of it? The slow
forecasts (at or above the run's p99) are compared with the fast ones (below the median); where steal
is unrelated to latency both shares are alike. The counter moves in ticks (10 ms of stolen time
each, USER_HZ 100), so a stall of a few ms shows only when it completes a tick: the shares are lower
bounds.

    .venv/bin/python benchmarks/bench_demo_steal.py [--seconds 60]

Rows ``fast forecasts | slow forecasts | ratio``.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.steal import StealSampler  # noqa: E402  (the demo's own sampler)

WINDOWS_S = (0.01, 0.02, 0.05)


def share_near_steal(times_s: np.ndarray, steal: np.ndarray, window_s: float) -> float:
    """Share of ``times_s`` with a steal increment within +-``window_s``."""
    t, ticks = steal[1:, 0], np.diff(steal[:, 1])
    moved = t[ticks > 0]
    if len(times_s) == 0:
        return float("nan")
    return float(np.mean([np.any(np.abs(moved - x) <= window_s) for x in times_s]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="demo length (default 60, as make demo)")
    args = ap.parse_args(argv)
    if not os.path.exists("/proc/stat"):
        print("no /proc/stat on this machine; nothing to measure")
        return 0
    out = pathlib.Path(tempfile.mkdtemp(prefix="biosig-steal-")) / "demo-out"
    base = 7000 + os.getpid() % 1000 * 3
    eps = [f"tcp://127.0.0.1:{base + i}" for i in range(3)]
    sampler = StealSampler().start()
    r = subprocess.run([sys.executable, "-m", "biosig.cli", "demo", "--seconds", str(args.seconds), "--out", str(out),
                        "--ingest", eps[0], "--output", eps[1], "--status", eps[2]],
                       cwd=ROOT, capture_output=True, text=True)
    steal = sampler.stop()
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:], sep="\n")
        return r.returncode
    print(next((ln.strip() for ln in r.stdout.splitlines() if "forecast p99" in ln), "no forecast p99 line"))
    parts = np.loadtxt(out / "forecast_latency.csv", delimiter=",", skiprows=1, ndmin=2)
    received, latency = parts[:, 0], parts[:, 2]
    p50, p99 = np.percentile(latency, [50, 99])
    slow, fast = received[latency >= p99], received[latency < p50]
    print(f"{len(parts)} forecasts; slow: >= p99 {p99:.2f} ms ({len(slow)}), fast: < p50 {p50:.2f} ms ({len(fast)}); "
          f"steal {steal[-1, 1] - steal[0, 1]:.0f} ticks over {steal[-1, 0] - steal[0, 0]:.0f} s, "
          f"sampled every {1e3 * np.median(np.diff(steal[:, 0])):.1f} ms")
    print(f"{'forecasts with a steal tick within':<38} | {'fast':>6} | {'slow':>6} | ratio")
    for w in WINDOWS_S:
        a, b = share_near_steal(fast, steal, w), share_near_steal(slow, steal, w)
        ratio = f"{b / a:5.1f}" if a > 0 else ("  inf" if b > 0 else "    -")
        print(f"{f'+-{w * 1e3:.0f} ms':<38} | {a:6.3f} | {b:6.3f} | {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
