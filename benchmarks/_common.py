"""Helpers shared by the benchmark scripts: repo paths and ``sys.path``, median timing, table rows.

Each script stays runnable as ``.venv/bin/python benchmarks/bench_x.py`` from the repo root: Python
puts ``benchmarks/`` first on ``sys.path``, so ``import _common`` finds this file, and importing it
puts the repo root on ``sys.path`` so that ``biosig`` and friends import from the checkout.
"""
from __future__ import annotations

import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def timed(fn, repeat: int = 3, warmup: bool = False) -> float:
    """Median wall time of ``repeat`` calls of ``fn`` (after one untimed call when ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def row(name: str, baseline: float, ours: float, unit: str = "s", width: int = 22) -> None:
    """One ``name | baseline | ours | ratio`` line (ratio = ours / baseline)."""
    print(f"{name:<{width}} | {baseline:9.4f} {unit} | {ours:9.4f} {unit} | {ours / baseline:6.2f}")
