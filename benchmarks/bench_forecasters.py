"""Microseconds per step (learn_one + predict_one) of every online forecaster, Numba vs NumPy twin.

Sizes follow issue 3: (q, L) = (30, 12), (60, 30), (180, 60) with 9 coordinates at 10 Hz (RTRL at
q = 10, 25, 40 with the same L), horizon 5 steps.  Each configuration is warmed up (JIT, caches)
and then timed step by step; the median step is reported (robust to other load on the machine)
together with the p99.  Rows print as ``method q L | numpy us | numba us | ratio``; the target is
SnAp-1, UORO and DNI under 100 us at (180, 60) and every method 100x faster than the MATLAB
table of Pohl et al. (RTRL 10.1 ms, UORO 2.05, SnAp-1 1.52, DNI 1.04, LMS 0.014 ms/step).
``uoro16`` is UORO with 16 averaged estimates (``estimates=16``), the variant the default
evaluation grid uses; its paper column is the single-estimate UORO time.  ``rls`` (one
exponentially weighted RLS, O(m^2) per step for m = 9 L + 1 inputs) and ``mix`` (12 RLS experts
over the whole and the newest half of the window, a kernel-RLS expert on 64 random Fourier
features, the analogue and shape-analogue experts, aggregated by two-level exponential weights, the
runtime default; each RLS expert on at most 8 of the L frames, so 73 inputs at any L, timed with
its two 1024-window analogue memories full; the whole step is two Numba calls,
``kernels.mixstep.mix_train`` / ``mix_predict``) ignore q; the target for mix is <= 200 us/step at
(q, L) = (180, 60).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_forecasters.py [--steps 400] [--methods snap1,uoro]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from realtime import make_forecaster  # noqa: E402
from realtime.mixture import MIX_ANALOG_MEMORY  # noqa: E402

SIZES = [(30, 12), (60, 30), (180, 60)]
RTRL_Q = [10, 25, 40]
PAPER_MS = {"rtrl": 10.1, "uoro": 2.05, "snap1": 1.52, "dni": 1.04, "lms": 0.014}


def _signal(n_steps: int, n_coords: int = 9, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps) * 0.1
    phase = rng.uniform(0, 2 * np.pi, n_coords)
    amp = rng.uniform(1, 10, n_coords)
    return amp * np.sin(2 * np.pi * t[:, None] / 4.0 + phase) + 0.1 * rng.normal(size=(n_steps, n_coords))


VARIANTS = {"uoro16": ("uoro", {"estimates": 16})}


def time_per_step(method: str, q: int, L: int, backend: str, steps: int) -> tuple[float, float]:
    """(median, p99) microseconds of learn_one + predict_one after warm-up."""
    name, options = VARIANTS.get(method, (method, {}))
    f = make_forecaster(name, horizon_steps=5, lookback=L, hidden=q, lr=0.01, seed=0, n_coords=9,
                        norm_steps=50, backend=backend, **options)
    # mix is timed with its analogue memory full (its slowest steady state)
    warm = L + 60 + (MIX_ANALOG_MEMORY if name == "mix" else 0)
    X = _signal(steps + warm)
    for x in X[:warm]:
        f.learn_one(x)
        f.predict_one()
    dts = np.empty(steps)
    for i, x in enumerate(X[warm:]):
        t0 = time.perf_counter_ns()
        f.learn_one(x)
        f.predict_one()
        dts[i] = time.perf_counter_ns() - t0
    return float(np.median(dts) / 1e3), float(np.percentile(dts, 99) / 1e3)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="timed steps per configuration")
    ap.add_argument("--methods", default="rtrl,uoro,uoro16,snap1,dni,lms,rls,mix",
                    help="comma list of methods (default rtrl,uoro,uoro16,snap1,dni,lms,rls,mix)")
    args = ap.parse_args(argv)
    print(f"{'method':7s} {'q':>4s} {'L':>3s} | {'numpy us':>9s} | {'numba us':>9s} | {'ratio':>6s} | "
          f"{'numba p99':>9s} | {'paper ms':>8s} | {'x paper':>7s}")
    for method in args.methods.split(","):
        sizes = [(q, L) for q, (_, L) in zip(RTRL_Q, SIZES)] if method == "rtrl" else SIZES
        for q, L in sizes:
            steps = max(20, args.steps // 10) if method == "rtrl" and q >= 25 else args.steps
            ref, _ = time_per_step(method, q, L, "numpy", max(20, steps // 3))
            ours, p99 = time_per_step(method, q, L, "numba", steps)
            paper = PAPER_MS.get(VARIANTS.get(method, (method,))[0], float("nan"))
            print(f"{method:7s} {q:4d} {L:3d} | {ref:9.1f} | {ours:9.1f} | {ref / ours:6.1f} | {p99:9.1f} | "
                  f"{paper:8.3f} | {paper * 1e3 / ours:7.0f}", flush=True)


if __name__ == "__main__":
    main()
