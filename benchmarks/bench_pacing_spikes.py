"""What :func:`biosig.ecg_pacing.without_pacing_spikes` costs per 10 s ECG window, the first step of every
QRS detection (:func:`biosig.ecg_beats.ecg_detection`).

*baseline* is the step as it was, reproduced here: the running median of spans over 5 samples (above
500 Hz) by ``np.median`` of the sliding views. *ours* is today's
(:func:`biosig.ecg_pacing._running_median`): the middle of a partition per row where the samples are
finite, the same numbers (checked here on every window before timing). Spans of 3 and 5 samples (500 Hz
and under) are unchanged: the rows at those rates show the noise of the measurement. Windows: ECGSYN-like simulated ECG (:func:`biosig.synthetic.simulate`),
72 /min, with 5 mV pacing spikes at 72 /min, 125-1000 Hz. Prints ``baseline | ours | ratio`` in ms
per window (median of ``--repeat`` runs of ``--number`` calls; 2 shared cores: noisy).

    .venv/bin/python benchmarks/bench_pacing_spikes.py [--number 100] [--repeat 5]
"""
from __future__ import annotations

import argparse

import numpy as np

import _common  # noqa: F401 (puts the repository on the path)
from _common import row, timed


def _baseline(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    from biosig import ecg_pacing as p
    half = 1 if fs_hz < 200 else max(2, int(np.ceil(p.PACE_SPIKE_S * fs_hz)))
    if half > 2:   # as it was: np.median of the views (spans of 3 and 5 samples: unchanged)
        y = np.pad(x, half, mode="edge")
        med = np.median(np.lib.stride_tricks.sliding_window_view(y, 2 * half + 1), axis=1)
    else:
        med = p._running_median(x, half)
    resid = np.abs(x - med)
    noise = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    floor = max(p.PACE_OVER_NOISE * noise, p.PACE_MIN_REL * float(np.ptp(med)))
    cand = np.flatnonzero(resid > floor)
    if not len(cand):
        return x, cand
    d = max(1, int(round(p.PACE_LOCAL_S * fs_hz)))
    idx = np.clip(cand[:, None] + np.arange(-d, d + 1)[None, :], 0, len(x) - 1)
    spike = cand[resid[cand] > p.PACE_OVER_LOCAL * (med[idx].max(axis=1) - med[idx].min(axis=1))]
    if not len(spike):
        return x, spike
    wide = np.unique(np.clip(np.concatenate([spike - 1, spike, spike + 1]), 0, len(x) - 1))
    out = x.copy()
    out[wide] = med[wide]
    return out, spike


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--number", type=int, default=100, help="calls per timed run")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs (the median is printed)")
    args = ap.parse_args()
    from biosig.ecg_pacing import without_pacing_spikes
    from biosig.synthetic import simulate
    for fs_hz in (125.0, 250.0, 360.0, 500.0, 1000.0):
        x = simulate("ecg", 10, seed=1, fs_hz=fs_hz, heart_rate_bpm=72).samples[0].astype(np.float64)
        x[(np.arange(0.11, 10, 60 / 72) * fs_hz).astype(int)] += 5.0
        a, b = _baseline(x, fs_hz), without_pacing_spikes(x, fs_hz)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), fs_hz
        base = timed(lambda: [_baseline(x, fs_hz) for _ in range(args.number)], args.repeat, warmup=True)
        ours = timed(lambda: [without_pacing_spikes(x, fs_hz) for _ in range(args.number)], args.repeat, warmup=True)
        row(f"10 s window, {fs_hz:g} Hz", 1e3 * base / args.number, 1e3 * ours / args.number, "ms")


if __name__ == "__main__":
    main()
