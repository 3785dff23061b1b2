"""Hold-and-confirm of a suspicious step (``realtime.jumps.HOLD_RATIO``) on the four shared marker
sessions: baseline is the rule before it (a step of up to ``JUMP_INSIDE_RATIO`` times a coordinate's
largest change learnt at once: ``HOLD_RATIO`` set to ``JUMP_INSIDE_RATIO`` makes no sample held),
ours the current ``HOLD_RATIO``.  For each session, method (mix, the runtime's default, and RLS) and
horizon it runs the real session (held samples, glitches dropped, published forecast RMSE and worst
error over the steps from 60 s on, held fraction), then the session with one-sample in-band glitches
injected (every 100 samples from 60 s on, coordinates in turn, ``r`` times that coordinate's largest
one-step change before it, the next sample back on the real trace) and scores the published forecasts
against the real (unglitched) positions.  Rows print as ``name | baseline | ours | ratio``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_forecast_confirm.py [--horizons 5] [--methods mix,rls]
"""
from __future__ import annotations

import argparse
import logging
import os
import pathlib

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common  # noqa: E402,F401  (puts the repo root on sys.path)
import numpy as np  # noqa: E402

from realtime import jumps, make_forecaster  # noqa: E402
from realtime.config import frozen_steps  # noqa: E402
from realtime.sessions import load_sessions  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "resp_motion"
TEST_FROM = 600   # 60 s at 10 Hz, as evaluate's test steps


def run(method, Y, h, hold_ratio, L=12):
    """Published forecasts P (row t: forecast of step t + h, NaN where held) and the forecaster."""
    jumps.HOLD_RATIO = hold_ratio
    return published(method, Y, h, L)


def published(method, Y, h, L=12):
    """Run ``method`` over ``Y`` as the runtime does (learn, then predict while ready): the forecasts
    it publishes, P (row t: forecast of step t + h, NaN where held), and the forecaster."""
    f = make_forecaster(method, horizon_steps=h, lookback=L, n_coords=Y.shape[1], norm_steps=300,
                        max_frozen_steps=frozen_steps(2.0, 10.0))
    P = np.full(Y.shape, np.nan)
    for t in range(len(Y) - h):
        f.learn_one(Y[t])
        if f.ready:
            P[t] = f.predict_one()
    return P, f


def scores(P, X, h, steps):
    """RMSE and worst error (mm, any coordinate) of the published forecasts at ``steps``, held fraction."""
    steps = np.asarray([t for t in steps if t + h < len(X)])
    err = P[steps] - X[steps + h]
    ok = np.isfinite(err).all(axis=1)
    e = err[ok]
    return float(np.sqrt(np.mean(e ** 2))), float(np.max(np.abs(e))), 1.0 - ok.mean()


def glitched(X, r, seed=0):
    """X with one-sample glitches of ``r`` times the coordinate's largest change before it; their steps."""
    Y, at = X.copy(), []
    sign = np.random.default_rng(seed).choice([-1.0, 1.0], size=len(X))
    for j, k in enumerate(range(TEST_FROM, len(X) - 50, 100)):
        c = j % X.shape[1]
        largest = float(np.nanmax(np.abs(np.diff(X[:k, c]))))
        Y[k, c] += sign[k] * r * largest
        at.append(k)
    return Y, at


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--horizons", default="5", help="comma list of horizons in steps (default 5)")
    ap.add_argument("--methods", default="mix,rls", help="comma list of methods (default mix,rls)")
    ap.add_argument("--ratios", default="2,3", help="glitch sizes, times the largest change (default 2,3)")
    a = ap.parse_args(argv)
    if not DATA.is_dir():
        raise SystemExit(f"no shared marker sessions at {DATA}: nothing to measure")
    logging.disable(logging.WARNING)
    ours_ratio, base_ratio = jumps.HOLD_RATIO, jumps.JUMP_INSIDE_RATIO
    names = sorted({p.name.split("-")[0] for p in DATA.glob("*.csv")})
    print(f"HOLD_RATIO baseline {base_ratio:g} | ours {ours_ratio:g}")
    for name in names:
        X = load_sessions(sorted(DATA.glob(f"{name}-*.csv")), 10.0)[0].X
        test = range(TEST_FROM, len(X))
        for method in a.methods.split(","):
            for h in (int(v) for v in a.horizons.split(",")):
                P0, f0 = run(method, X, h, base_ratio)
                P1, f1 = run(method, X, h, ours_ratio)
                (r0, w0, d0), (r1, w1, d1) = scores(P0, X, h, test), scores(P1, X, h, test)
                same = np.array_equal(np.isfinite(P0) & np.isfinite(P1), np.isfinite(P1))
                both = np.isfinite(P0).all(1) & np.isfinite(P1).all(1)
                ident = bool(np.array_equal(P0[both], P1[both]))
                tag = f"{name} {method} h{h}"
                print(f"{tag} real: held {f0.n_held} | {f1.n_held} (dropped {f1.n_dropped}, jumps "
                      f"{f0.n_jumps}/{f1.n_jumps}); forecasts where both publish identical: {ident} {same}")
                print(f"{tag} real RMSE mm | {r0:.4f} | {r1:.4f} | {r1 / r0:.4f}")
                print(f"{tag} real worst mm | {w0:.3f} | {w1:.3f} | {w1 / w0:.3f}")
                print(f"{tag} real hold fraction | {d0:.4f} | {d1:.4f} |")
                for r in (float(v) for v in a.ratios.split(",")):
                    Y, at = glitched(X, r)
                    near = sorted({t for k in at for t in range(k - h, k + 50)})
                    G0, g0 = run(method, Y, h, base_ratio)
                    G1, g1 = run(method, Y, h, ours_ratio)
                    (q0, v0, e0), (q1, v1, e1) = scores(G0, X, h, near), scores(G1, X, h, near)
                    _, vr, _ = scores(P0, X, h, near)
                    print(f"{tag} {len(at)} glitches x{r:g}: held {g1.n_held}, dropped {g1.n_dropped}, "
                          f"jumps {g0.n_jumps}/{g1.n_jumps}; unglitched worst there {vr:.3f} mm")
                    print(f"{tag} glitch x{r:g} RMSE mm (5 s after) | {q0:.4f} | {q1:.4f} | {q1 / q0:.3f}")
                    print(f"{tag} glitch x{r:g} worst mm (5 s after) | {v0:.3f} | {v1:.3f} | {v1 / v0:.3f}")
                    print(f"{tag} glitch x{r:g} hold fraction (5 s after) | {e0:.4f} | {e1:.4f} |", flush=True)


if __name__ == "__main__":
    main()
