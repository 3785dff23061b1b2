"""``Encoder.embed`` per record with and without the per-record caches (issue 14: the owners embed
thousands of records), and a check that both give the same rows bit for bit.

cProfile of ecg-tiny on 40 CinC 2017 records (one torch thread): the pipeline's Butterworth filters
were designed about 4 times a record (``biosig.filters.design_sos``: 5-8 % of the record's time) and
their streams' steady states solved again, every 10 s ECG window's QRS detector built its band gains and
one of its two spectra again (``_band``) and took a running median with ``np.median`` of 5-sample views
(the pacing-spike check, ~4 %), the beats' detrending basis (a QR) was computed for every correlation,
and a PPG window measured by ``embed`` ran the pulse detector twice on the same samples (the quality
gate's and the measures'; ~10 % of a PPG record). Now: :func:`biosig.filters._designed` (lru_cache,
read-only, each caller a copy) and :func:`biosig.filters._steady_zi`, :func:`biosig.ecg_beats._band_gain`
and the spectrum shared by both bands of ``_detect``, the 3- and 5-sample running median by minima and
maxima (:func:`biosig.ecg_pacing._median_5`), :func:`biosig.quality._detrend_basis`, the minima between
pulses by ``np.minimum.reduceat`` (:func:`biosig.pulse_beats._minima_between`; a loop was a third of the
pulse detector's time), the R peaks' refinement and the beats' segments by indexing, not a loop each
(:func:`biosig.quality._r_peaks`, :func:`biosig.quality.beat_correlations`), and the PPG beats
kept per thread as the ECG beats were (:func:`biosig.quality.detect_beats`, :func:`biosig.ecg_beats.reused`).

*baseline* switches these off in this process (the uncached functions behind the caches, ``np.median``
for the running median, the loops for the minima and the R peaks, a PPG rule key that never matches);
the spectrum shared by the two bands and the beats' segments stay, so the ratio understates the gain a
little. Records: the first ``--records`` CinC 2017 ECGs (300 Hz,
9-61 s) and Welltory camera PPGs of ``../shared/data`` where present, else synthetic ECG (30 s, 300 Hz)
and PPG (60 s, 100 Hz). Runs alternate (2 shared cores); the median of ``--repeat``. The rows of both
are compared exactly (every column, ``assert_frame_equal(check_exact=True)``).

    python benchmarks/bench_embed_record.py [--records 20] [--repeat 3]
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import _common


def records(modality: str, n: int) -> list:
    from biosig.readers import read
    if modality == "ecg" and (_common.DATA / "cinc2017").is_dir():
        return [read(p) for p in sorted((_common.DATA / "cinc2017").glob("*.hea"))[:n]]
    ppg = _common.DATA / "pretrain" / "ppg" / "welltory"
    if modality == "ppg" and ppg.is_dir():
        return [read(p, modality="ppg") for p in sorted(ppg.glob("subject_*/PPG.csv"))[:n]]
    from biosig.synthetic import simulate
    return [simulate(modality, 30.0 if modality == "ecg" else 60.0, seed=i, fs_hz=300.0 if modality == "ecg" else 100.0)
            for i in range(n)]


def _running_median_np(x, half: int):
    """``biosig.ecg_pacing._running_median`` as it was: ``np.median`` of the sliding views."""
    import numpy as np
    y = np.pad(x, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(y, 2 * half + 1), axis=1)


def _minima_between_loop(clean, idx):
    """``biosig.pulse_beats._minima_between`` as the loop it replaced."""
    import numpy as np
    return np.array([clean[a:b + 1].min() for a, b in zip(idx[:-1], idx[1:])])


def _r_peaks_loop(signal, qrs, fs_hz: float):
    """``biosig.quality._r_peaks`` as the loop it replaced."""
    import numpy as np
    r = max(1, int(0.06 * fs_hz))
    return np.unique(np.array([max(0, c - r) + int(np.argmax(np.abs(signal[max(0, c - r):c + r]))) for c in qrs],
                              np.int64))


@contextlib.contextmanager
def uncached():
    """The code path before: each cached function's undecorated body, np.median, no PPG reuse."""
    from biosig import ecg_pacing, filters, numpy_signal, pulse_beats, quality
    saved = (filters._designed, filters._steady_zi, numpy_signal._band_gain, quality._detrend_basis,
             quality._pulse_rule, ecg_pacing._running_median, pulse_beats._minima_between, quality._r_peaks)
    filters._designed, filters._steady_zi, numpy_signal._band_gain, quality._detrend_basis = (
        f.__wrapped__ for f in saved[:4])
    quality._pulse_rule = lambda: (object(),)   # a key no later call equals
    ecg_pacing._running_median = _running_median_np
    pulse_beats._minima_between = _minima_between_loop
    quality._r_peaks = _r_peaks_loop
    try:
        yield
    finally:
        (filters._designed, filters._steady_zi, numpy_signal._band_gain, quality._detrend_basis,
         quality._pulse_rule, ecg_pacing._running_median, pulse_beats._minima_between, quality._r_peaks) = saved


def embed_all(enc, recs) -> tuple[float, list]:
    t0 = time.perf_counter()
    frames = [enc.embed(r, source=str(i)) for i, r in enumerate(recs)]
    return time.perf_counter() - t0, frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20, help="records of each modality (default 20)")
    ap.add_argument("--repeat", type=int, default=3, help="alternated runs of each path, median (default 3)")
    args = ap.parse_args()
    import torch
    from polars.testing import assert_frame_equal

    from encoders.inference import open_model
    torch.set_num_threads(1)
    print(f"Encoder.embed, one torch thread, median of {args.repeat} alternated runs; ms a record")
    print(f"{'':<28} | {'baseline':>12} | {'ours':>12} | ratio")
    for name, modality in (("ecg-tiny", "ecg"), ("ppg-tiny", "ppg")):
        enc = open_model(name, "torch", threads=1)
        recs = records(modality, args.records)
        enc.embed(recs[0])   # warm up
        runs = {"base": [], "ours": []}
        for _ in range(args.repeat):
            with uncached():
                t, base = embed_all(enc, recs)
            runs["base"].append(t)
            t, ours = embed_all(enc, recs)
            runs["ours"].append(t)
        for a, b in zip(base, ours):
            assert_frame_equal(a, b, check_exact=True)
        t_base, t_ours = (1000 * statistics.median(runs[k]) / len(recs) for k in ("base", "ours"))
        _common.row(f"{name}, {len(recs)} records", t_base, t_ours, unit="ms", width=28)
    print("rows identical: True")


if __name__ == "__main__":
    main()
