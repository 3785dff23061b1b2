"""The forecasting protocol on recordings beyond the 4 shared marker sessions (issue 13).

The owners test on unseen 10 Hz marker sessions and 30 Hz 1-D patient surrogates; to check that
a method generalises before they do, this runs ``realtime.evaluation.evaluate`` (causal, z-score
on the first 30 s, selection on 30-60 s, delayed update) on:

* the RESP (respiration) channel of ``../shared/data/wfdb/03700181`` (125 Hz, 10 min, PhysioNet),
  resampled to the rate with ``scipy.signal.resample_poly`` and cut into three 200 s sessions;
* three 180 s synthetic marker sessions (``biosig.synthetic.simulate_motion``, seeds 100-102).

    OMP_NUM_THREADS=1 python benchmarks/eval_forecast_extra.py --rate-hz 10 --horizons 1-21
    OMP_NUM_THREADS=1 python benchmarks/eval_forecast_extra.py --rate-hz 30 --horizons 3,9,15,30

Prints nRMSE, mean max and p95 error per method and the nRMSE per session.
"""
from __future__ import annotations

import argparse
import logging
import pathlib
from fractions import Fraction

import numpy as np

from realtime.evaluation import Protocol, evaluate
from realtime.grids import parse_int_list
from realtime.metrics import marker_groups
from realtime.sessions import Session

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def extra_sessions(rate_hz: float) -> list[Session]:
    import wfdb
    from scipy.signal import resample_poly

    from biosig.synthetic import simulate_motion

    out = []
    path = DATA / "wfdb" / "03700181"
    if path.with_suffix(".hea").is_file():
        rec = wfdb.rdrecord(str(path), channel_names=["RESP"], smooth_frames=False)
        fr = Fraction(rate_hz / 125.0).limit_denominator(100)
        y = resample_poly(np.asarray(rec.e_p_signal[0], float), fr.numerator, fr.denominator) * 10.0
        seg = int(200 * rate_hz)
        for i in range(len(y) // seg):
            out.append(Session(name=f"resp03700181_{i}", X=y[i * seg:(i + 1) * seg, None],
                               t_s=np.arange(seg) / rate_hz, channels=("amp",), units=("a.u.",), groups=[[0]]))
    else:
        logging.warning("%s not found: only the synthetic sessions", path)
    for seed in range(3):
        r = simulate_motion(180, seed=100 + seed, fs_hz=rate_hz)
        X = np.asarray(r.samples, float).T
        out.append(Session(name=f"synmotion{seed}", X=X, t_s=np.arange(len(X)) / rate_hz, channels=r.channels,
                           units=r.units, groups=marker_groups(r.channels)))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate-hz", type=float, default=10.0, help="rate the traces are resampled to (default 10)")
    ap.add_argument("--horizons", default="1-21", help="horizons in steps: ranges and comma lists (default 1-21)")
    ap.add_argument("--methods", default="mix,rls,lms,last", help="comma list (default mix,rls,lms,last)")
    ap.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    args = ap.parse_args(argv)
    methods = args.methods.split(",")
    sessions = extra_sessions(args.rate_hz)
    rep = evaluate(sessions, methods, parse_int_list(args.horizons), Protocol(rate_hz=args.rate_hz, seeds=1,
                                                                               select_seeds=1),
                   workers=args.workers)
    av = rep["averages"]
    base = av["rls"]["nrmse"] if "rls" in av else float("nan")
    print(f"{len(sessions)} sessions at {args.rate_hz:g} Hz, horizons {args.horizons}, {rep['wall_s']:.0f} s")
    print(f"{'method':8s} | nRMSE | / rls | mean max | p95")
    for m in methods:
        print(f"{m:8s} | {av[m]['nrmse']:.3f} | {av[m]['nrmse'] / base:.3f} | {av[m]['max']:8.2f} | {av[m]['p95']:.2f}")
    for s, d in rep["session_averages"].items():
        print(s, " ".join(f"{m}={d[m]['nrmse']:.3f}" for m in methods))
    ha = rep["horizon_averages"]
    if "last" in methods:
        for m in methods:
            worse = [h for h in ha[m] if ha[m][h] > ha["last"][h]]
            print(f"{m}: horizons worse than last: {worse or 'none'}")


if __name__ == "__main__":
    main()
