"""Start-up cost of the CLI: ``biosig info``, ``embed`` and ``score`` on one record, as fresh processes.

Rows (``before | ours | ratio``), each the median of ``--repeat`` runs after one untimed warm-up
(which fills the ONNX export cache and the OS file cache):

- ``info 100 wall`` / ``cpu``: ``biosig info`` of MIT-BIH 100 (30 min, 2 leads, 2274 beat
  annotations) with its quality summary. Target: <= 0.8 s wall.
- ``embed 1 rec``: ``biosig embed`` of one 30-s CinC 2017 record with ``ecg-tiny``.
- ``score 1 rec``: ``biosig score`` of the same record with ``ecg-tiny`` (``--backend auto``: includes
  the backend timing probe). Target: <= 4 s wall.
- ``score 1 rec ort``: the same with ``--backend onnxruntime``: the difference to the row above is
  what the ``auto`` probe costs.

``cpu`` rows are user+system CPU seconds of the child, which other jobs on a shared machine do not
inflate as much as wall time. ``before`` is the same command run from another checkout (``--before
DIR``, e.g. a clone of main before this change); without it the column holds the targets.

    .venv/bin/python benchmarks/bench_startup.py [--before /path/to/old/checkout] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from _common import DATA, ROOT, row

TARGETS_S = {"info 100": 0.8, "score 1 rec": 4.0}


def _run(checkout, args, env) -> tuple[float, float]:
    """(wall s, cpu s) of ``python -m biosig.cli ARGS`` run from ``checkout``."""
    e = dict(env, PYTHONPATH=str(checkout))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "biosig.cli", *args], cwd=str(checkout), env=e,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode not in (0, 1):
        raise SystemExit(f"{checkout}: biosig {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cell(checkout, make_args, env, repeat) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        _run(checkout, make_args(tmp, "warm"), env)
        runs = [_run(checkout, make_args(tmp, str(i)), env) for i in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=None, metavar="DIR", help="checkout to compare against")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per cell (default 3)")
    args = ap.parse_args()
    rec100, cinc = DATA / "wfdb" / "100.hea", DATA / "cinc2017" / "A00020.hea"
    if not rec100.exists() or not cinc.exists():
        print(f"shared data absent ({DATA}); nothing to benchmark")
        return 0
    cache = tempfile.mkdtemp(prefix="bench-startup-cache-")
    env = dict(os.environ, BIOSIG_CACHE_DIR=cache, NUMBA_CACHE_DIR=os.path.join(cache, "numba"))
    cases = {
        "info 100": lambda tmp, i: ["info", str(rec100)],
        "embed 1 rec": lambda tmp, i: ["embed", str(cinc), "--model", "ecg-tiny", "--out", f"{tmp}/e{i}.parquet"],
        "score 1 rec": lambda tmp, i: ["score", str(cinc), "--model", "ecg-tiny", "--out", f"{tmp}/s{i}"],
        "score 1 rec ort": lambda tmp, i: ["score", str(cinc), "--model", "ecg-tiny", "--backend", "onnxruntime",
                                           "--out", f"{tmp}/o{i}"],
    }
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of {args.repeat} runs")
    print(f"{'case':<24} | {'before':>11} | {'ours':>11} | ratio")
    for name, make in cases.items():
        ours = _cell(ROOT, make, env, args.repeat)
        if args.before:
            base = _cell(args.before, make, env, args.repeat)
            row(f"{name} wall", base[0], ours[0], width=24)
            row(f"{name} cpu", base[1], ours[1], width=24)
        else:
            target = TARGETS_S.get(name, float("nan"))
            row(f"{name} wall (target)", target, ours[0], width=24)
            print(f"{name + ' cpu':<24} | {'':>11} | {ours[1]:9.4f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
