"""ECGSYN (biosig.synthetic_ecgsyn) before and after session 67, every trace the same float.

Rows ``baseline | ours | ratio``:

- one 40 s lead at 250 Hz integrated afresh: the old right-hand side (a loop over the five waves,
  2 pi / RR divided at each call, written out below) with NeuroKit2's ``signal_resample``, against
  :func:`~biosig.synthetic_ecgsyn.ecgsyn_derivs` and ``resample_rr`` (median of ``--repeat``);
- the same lead asked for again in the process: made afresh against the kept trace's copy;
- ``biosig simulate ecg --seconds 10`` in a new process: with NeuroKit2 imported (as ``ecgsyn``
  imported it for ``signal_resample``) against without.

    .venv/bin/python benchmarks/bench_ecgsyn.py
"""
from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time

import numpy as np

import _common
from biosig.synthetic_ecgsyn import AI, ATOL, BI, RESP_HZ, RTOL, TI_DEG, hold_rr_per_beat, rr_process

SIMULATE = ("import sys; {pre}from biosig.cli import main; "
            "sys.exit(main(['simulate', 'ecg', '--seconds', '10', '--out', sys.argv[1], '--force']))")


def old_derivs(t, s, rrn, fs_hz, waves):
    """ECGSYN's right-hand side as it was before ``ecgsyn_derivs`` (the baseline here, and the oracle of
    tests/test_synthetic67_ecgsyn_same_floats.py)."""
    x, y, z = s
    theta = math.atan2(y, x)
    a0 = 1.0 - math.sqrt(x * x + y * y)
    w0 = 2 * math.pi / rrn[min(int(math.floor(t * fs_hz)), len(rrn) - 1)]
    dz = -(z - 0.005 * math.sin(2 * math.pi * RESP_HZ * t))
    for ti, ai, bi in waves:
        d = (theta - ti) - round((theta - ti) / 2 / math.pi) * 2 * math.pi
        dz -= ai * d * math.exp(-0.5 * (d / bi) ** 2)
    return np.array([a0 * x - w0 * y, a0 * y + w0 * x, dz])


def old_ecgsyn(duration_s, length, fs_hz, heart_rate_bpm, heart_rate_std_bpm, seed, ai=AI, bi=BI):
    """ecgsyn as it was before session 67, line for line (the baseline here, and the oracle of
    tests/test_synthetic67_ecgsyn_same_floats.py)."""
    import neurokit2 as nk
    from scipy.integrate import solve_ivp

    rng = np.random.RandomState(seed)
    n_beats = int(np.round(duration_s * (heart_rate_bpm / 60)))
    hrfact = np.sqrt(heart_rate_bpm / 60)
    hrfact2 = np.sqrt(hrfact)
    bi = hrfact * np.asarray(bi, dtype=np.float64)
    ti = np.array([hrfact2, hrfact, 1, hrfact, hrfact2]) * (np.asarray(TI_DEG) * np.pi / 180)
    ai = np.asarray(ai, dtype=np.float64)
    n = 2 ** (np.ceil(np.log2(n_beats * (60 / heart_rate_bpm))))
    rr = nk.signal_resample(rr_process(heart_rate_bpm, heart_rate_std_bpm, n, rng), sampling_rate=1,
                            desired_sampling_rate=fs_hz)
    rrn, ip = hold_rr_per_beat(rr, fs_hz)
    dt = 1 / fs_hz
    waves = tuple(zip(ti.tolist(), ai.tolist(), bi.tolist()))
    sol = solve_ivp(lambda t, s: old_derivs(t, s, rrn, float(fs_hz), waves), [0, (ip - 1) * dt],
                    np.array([1.0, 0.0, 0.04]), t_eval=np.linspace(0, (ip - 1) * dt, ip), rtol=RTOL, atol=ATOL)
    z = sol.y[2]
    z = (z - z.min()) * 1.6 / (z.max() - z.min()) - 0.4
    return z[:length]


def _process_s(pre: str, out: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", SIMULATE.format(pre=pre), out], check=True, capture_output=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per row, median taken (default 3)")
    args = ap.parse_args(argv)
    from biosig.synthetic_ecgsyn import _ecgsyn, ecgsyn, forget_kept_traces

    fresh = (42.0, 40 * 250, 250, 70.0, 1.0, 1, AI, BI)
    assert old_ecgsyn(*fresh).tobytes() == _ecgsyn(*fresh).tobytes()   # the same floats
    print(f"{'case':<32} | {'baseline':>11} | {'ours':>11} | ratio")
    _common.row("ecgsyn 40 s at 250 Hz, afresh", _common.timed(lambda: old_ecgsyn(*fresh), args.repeat),
                _common.timed(lambda: _ecgsyn(*fresh), args.repeat), width=32)
    forget_kept_traces()
    ecgsyn(*fresh)
    _common.row("the same 40 s asked again", _common.timed(lambda: _ecgsyn(*fresh), args.repeat),
                _common.timed(lambda: ecgsyn(*fresh), args.repeat), width=32)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        base = _common.timed(lambda: _process_s("import neurokit2; ", f"{tmp}/a.csv"), args.repeat)
        ours = _common.timed(lambda: _process_s("", f"{tmp}/b.csv"), args.repeat)
    _common.row("biosig simulate ecg 10 s process", base, ours, width=32)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
