"""Microseconds per forecaster step spent on the range-of-motion check (``realtime.base``,
``FORECAST_REACH``): widen the range seen by the new sample, then test the forecast against the
band. Baseline: the NumPy twin (``kernels.twins.widen_range`` / ``outside_range``, the code of
``Forecaster._step`` until 2026-12-05); ours: the Numba kernels (``kernels.linalg``). Then the
whole ``learn_one`` step of the runtime's methods at the stream defaults (lookback 12, horizon 3,
9 coordinates) with each implementation, so that the saving is seen against the step it is part
of. Rows print as ``name | baseline us | ours us | ratio``; medians of ``--repeat`` passes over a
breathing-like 9-coordinate trace (the range stops growing after the first breaths, as on a real
session).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_forecast_reach.py [--steps 20000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common  # noqa: E402,F401  (puts the repo root on sys.path)
import numpy as np  # noqa: E402

from kernels import linalg, twins  # noqa: E402
from realtime import base, make_forecaster  # noqa: E402


def _trace(steps: int, n: int = 9, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(steps) * 0.1
    amp = rng.uniform(0.5, 2.0, n)
    return amp * np.sin(2 * np.pi * t[:, None] / 4.0 + rng.uniform(0, 2 * np.pi, n)) + 0.05 * rng.normal(size=(steps, n))


def check_us(kern, Z: np.ndarray, Y: np.ndarray) -> float:
    """Microseconds per step of the check alone (the loop's own cost included, as in ``_step``)."""
    n = Z.shape[1]
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    low, high = np.full(n, np.nan), np.full(n, np.nan)
    widen, outside = kern.widen_range, kern.outside_range
    t = time.perf_counter()
    for k in range(Z.shape[0]):
        widen(Z[k], lo, hi, low, high, base.FORECAST_REACH)
        outside(Y[k], low, high)
    return (time.perf_counter() - t) / Z.shape[0] * 1e6


def step_us(method: str, kern, X: np.ndarray) -> float:
    """Median microseconds per ``learn_one`` of ``method`` (numba backend) with ``kern`` doing the check."""
    f = make_forecaster(method, horizon_steps=3, lookback=12, n_coords=X.shape[1], norm_steps=50)
    f._kern = _Swap(f._kern, kern)
    warm = 200
    for x in X[:warm]:
        f.learn_one(x)
    us = np.empty(X.shape[0] - warm)
    clock = time.perf_counter
    for k, x in enumerate(X[warm:]):   # the median step: robust to other load on the machine
        t = clock()
        f.learn_one(x)
        us[k] = clock() - t
    return float(np.median(us)) * 1e6


class _Swap:
    """The backend module ``kern`` with the range check taken from ``check``."""

    def __init__(self, kern, check):
        self.__dict__.update({k: getattr(kern, k) for k in dir(kern) if not k.startswith("__")})
        self.widen_range, self.outside_range = check.widen_range, check.outside_range


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20000, help="forecaster steps timed per run (default 20000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per row; the median is printed (default 5)")
    ap.add_argument("--methods", default="last,lms,rls,mix",
                    help="comma list of forecasters whose learn_one is timed (default last,lms,rls,mix)")
    args = ap.parse_args(argv)
    Z = _trace(args.steps)
    Y = Z + 0.1 * np.random.default_rng(1).normal(size=Z.shape)
    check_us(linalg, Z[:100], Y[:100])   # compile (or load the cache)
    print(f"{'per step, 9 coordinates':<26} | {'baseline':>12} | {'ours':>12} | ratio")
    rows = [("range check", lambda k: check_us(k, Z, Y))]
    X = 10.0 * _trace(min(args.steps, 5000), seed=2)
    rows += [(f"{m} learn_one", (lambda m: lambda k: step_us(m, k, X))(m)) for m in args.methods.split(",")]
    for name, fn in rows:
        b, o = [], []
        for _ in range(args.repeat):   # interleaved: a load change on the machine hits both
            b.append(fn(twins))
            o.append(fn(linalg))
        b, o = statistics.median(b), statistics.median(o)
        print(f"{name:<26} | {b:9.2f} us | {o:9.2f} us | {o / b:5.2f}")


if __name__ == "__main__":
    main()
