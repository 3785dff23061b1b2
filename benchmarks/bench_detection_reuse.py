"""The score thread's ECG work per window: how many QRS detections, and how long.

For every ECG window the runtime's score thread runs the quality gate (``block_quality``: one
detection per lead), the measures (``window_measures``: the first lead) and the doubt check (the
first lead again). ``biosig.ecg_beats.ecg_detection`` keeps this thread's recent detections so that
equal samples are detected once. With one entry kept (the baseline, before 2026-12-02) a two-lead
window cost three detections: the gate's second lead pushed out the first, which the measures then
detected again. With :data:`biosig.ecg_beats.REUSE_ENTRIES` entries it costs two.

Windows: 10 s at 250 Hz of ``biosig.synthetic`` ECG (distinct seeds, so no window repeats), one and
two leads; the median of 5 passes over 40 windows. Prints ``baseline | ours | ratio`` rows of
detections per window and milliseconds per window. Measured on the 2-core test VM: one lead 1 -> 1
detection and 0.74 ms per window either way; two leads 3 -> 2 detections and 1.47 -> 1.19 ms per
window.

    .venv/bin/python benchmarks/bench_detection_reuse.py [--windows 40]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import _common
from _common import row


def _windows(n: int, leads: int) -> list[np.ndarray]:
    from biosig.synthetic import simulate
    return [np.stack([simulate("ecg", 10, seed=1000 * lead + i).samples[0].astype(np.float64)
                      for lead in range(leads)]) for i in range(n)]


def _score_thread_work(windows, fs_hz: float = 250.0) -> None:
    from biosig.measures_window import window_measures
    from biosig.quality import block_quality
    for x in windows:
        q = block_quality(x, fs_hz, "ecg")
        window_measures(x, fs_hz, "ecg", quality=q)


def _measure(windows, entries: int) -> tuple[float, float]:
    """(detections per window, seconds per window) with ``entries`` detections kept."""
    import biosig.ecg_beats as ecg_beats
    saved, real = ecg_beats.REUSE_ENTRIES, ecg_beats._detect
    calls = [0]

    def counted(x, fs_hz):
        calls[0] += 1
        return real(x, fs_hz)
    ecg_beats.REUSE_ENTRIES, ecg_beats._detect = entries, counted
    try:
        ecg_beats._recent.entries = []
        _score_thread_work(windows)
        per_window = calls[0] / len(windows)
        ecg_beats._recent.entries = []
        seconds = _common.timed(lambda: _score_thread_work(windows), repeat=5, warmup=True)
    finally:
        ecg_beats.REUSE_ENTRIES, ecg_beats._detect = saved, real
    return per_window, seconds / len(windows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--windows", type=int, default=40, help="distinct 10 s windows per pass (default 40)")
    args = p.parse_args(argv)
    if args.windows < 1:
        p.error("--windows must be at least 1")
    import biosig.ecg_beats as ecg_beats
    print(f"score-thread ECG work per 10 s window (gate + measures + doubt check), {args.windows} windows; "
          f"baseline: 1 detection kept, ours: {ecg_beats.REUSE_ENTRIES}")
    print(f"{'':<30} | {'baseline':>12} | {'ours':>12} | ratio")
    for leads in (1, 2):
        windows = _windows(args.windows, leads)
        (n0, t0), (n1, t1) = _measure(windows, 1), _measure(windows, ecg_beats.REUSE_ENTRIES)
        row(f"{leads} lead(s): detections", n0, n1, unit="", width=30)
        row(f"{leads} lead(s): time per window", 1e3 * t0, 1e3 * t1, unit="ms", width=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
