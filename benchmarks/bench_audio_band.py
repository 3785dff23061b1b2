"""Can the features tell a 4 kHz recording from a 44.1 kHz one, without and with one band?

An ICBHI-like lung-sound set mixes recorders at 4, 10 and 44.1 kHz; resampled to 16 kHz a 4 kHz
file holds nothing above 2 kHz, and a diagnosis probed on such a set can be the recording device.
Records: synthetic auscultation sounds (``biosig.synthetic_sounds``, ``kind="auscultation"``,
distinct seeds: no sound twice), half written at 44.1 kHz and half through a 4 kHz recorder
(``resample_poly`` 40/441). The label is the rate, so an AUROC above 0.5 is the rate alone. Each
row probes the record-mean features (``encoders.probe.probe``, 5-fold stratified CV, C 1): audio-tiny,
its random-weight twin (seed 0) and the MFCC baseline, on the whole band (baseline: embed's
default) and on the common band (ours: ``--audio-fmax-hz common`` = 0-1800 Hz, through
``encoders.probe_features.features`` as ``probe`` computes them; the MFCC row with
``--mfcc-fmax-hz common``). Prints ``baseline | ours | ratio`` rows (rate AUROC).

Measured on the 2-core test VM (whole band -> 0-1800 Hz), 75 + 75 records of 6 s (``--records 75
--seconds 6``, 80 s): audio-tiny 0.928 -> 0.474, random weights 0.976 -> 0.530, mfcc 0.997 -> 0.452;
the default 40 + 40 of 4 s (25 s): 0.811 -> 0.349, 0.869 -> 0.473, 0.988 -> 0.371. On the band the
rows are at chance (below 0.5 is cross-validation on a few records with nothing to learn).

    .venv/bin/python benchmarks/bench_audio_band.py [--records 40] [--seconds 4]
"""
from __future__ import annotations

import argparse

import numpy as np

import _common  # noqa: F401 (puts the repo root on sys.path)
from _common import row


def _records(n: int, seconds: float):
    from scipy import signal

    from biosig.record import Record
    from biosig.synthetic_sounds import simulate_audio
    recs, rates = [], []
    for i in range(2 * n):
        x = simulate_audio(seconds, 700_000 + i, fs_hz=44100, kind="auscultation").samples[0].astype(np.float64)
        fs = 44100 if i % 2 == 0 else 4000
        if fs == 4000:
            x = signal.resample_poly(x, 40, 441)
        recs.append(Record(samples=x.astype(np.float32)[None], fs_hz=float(fs), channels=("mono",), units=("FS",),
                           modality="audio"))
        rates.append(int(fs == 4000))
    return recs, np.array(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=40, help="records at each rate (default 40)")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds a record (default 4)")
    args = ap.parse_args()
    import torch

    from biosig.audio_band import common_fmax_hz
    from encoders.probe import probe
    from encoders.probe_features import FeatureSpec, features
    torch.set_num_threads(1)
    recs, y = _records(args.records, args.seconds)
    band = common_fmax_hz([r.fs_hz for r in recs])
    print(f"# {len(recs)} records ({args.records} at 44.1 kHz, {args.records} at 4 kHz), {args.seconds:g} s; "
          f"rate AUROC, 5-fold CV; ours: 0-{band:g} Hz")
    print(f"{'features':<22} | {'whole band':>11} | {'common band':>11} | ratio")
    for name, kind, model in (("audio-tiny", "model", "audio-tiny"), ("random seed 0", "random", "audio-tiny"),
                              ("mfcc", "mfcc", None)):
        auroc = []
        for fmax_hz in (None, band):
            X = features(FeatureSpec(kind, model, 0, fmax_hz=fmax_hz), recs)
            auroc.append(probe(X, y, n_splits=5, seed=0, n_boot=100)["auroc"]["value"])
        row(name, auroc[0], auroc[1], unit="")


if __name__ == "__main__":
    main()
