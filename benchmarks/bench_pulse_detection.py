"""Pulse detection on REAL pulse waves against the R peaks of the ECG recorded with them.

Records of ``../shared/data/wfdb`` that hold an ECG lead and a pulse wave together: CinC 2015 a103l
(lead II + PLETH, 330 s, with artefacts and a stretch of pulsus alternans), MIMIC 03700181 (MCL1 +
ABP, 600 s) and multi-segment 041s (lead III + PLETH and ABP, 16 s; its lead I is too noisy for a reference). The reference is one pulse per
heart beat: each R peak (biosig's ECG detector) expects a pulse at R + the detector's own arrival
delay (median R -> next pulse; so a detector that marks the pulse later is not penalised), and its
cell runs half-way to the neighbouring expected pulses. Per detector, the share of cells with exactly
one pulse (higher is better), none (a missed pulse) and two or more (a doubled one: dicrotic wave,
artefact).

Detectors: NeuroKit2's ``ppg_findpeaks`` (via :func:`biosig.measures.detect_events`: the baseline),
biosig's :func:`biosig.quality.detect_beats` (PPG: systolic peaks 0.6 dominant periods apart), and
the in-graph detector of the beat tokenizer (``encoders/beat_tokens.py``, what ppg-tiny's tokens
see; 10 s windows after the checkpoint's out-of-graph pipeline). Rows ``baseline | ours | ratio``
with the exactly-one share, baseline = NeuroKit2.

    .venv/bin/python benchmarks/bench_pulse_detection.py
"""
from __future__ import annotations

import sys

import numpy as np

import _common
from _common import DATA

CASES = (("a103l", "II", "PLETH"), ("03700181", "MCL1", "ABP"),
         ("multi-segment/041s/041s", "III", "PLETH"), ("multi-segment/041s/041s", "III", "ABP"))


def pulse_delay_s(pulses_s: np.ndarray, r_s: np.ndarray) -> float:
    """The detector's pulse arrival delay: median time from an R peak to the first pulse after it."""
    i = np.searchsorted(pulses_s, r_s)
    ok = i < len(pulses_s)
    d = pulses_s[i[ok]] - r_s[ok]
    d = d[d < 1.0]
    return float(np.median(d)) if len(d) else 0.2


def interval_counts(pulses_s: np.ndarray, r_s: np.ndarray, end_s: float, delay_s: float) -> np.ndarray:
    """Number of pulses around each R peak's expected pulse (R + ``delay_s``): from half-way to the
    previous expected pulse to half-way to the next; interior R peaks whose cell ends before ``end_s``."""
    e = r_s + delay_s
    lo = 0.5 * (e[:-2] + e[1:-1])
    hi = 0.5 * (e[1:-1] + e[2:])
    keep = hi <= end_s
    return np.array([np.sum((pulses_s >= a) & (pulses_s < b)) for a, b in zip(lo[keep], hi[keep])], dtype=int)


def tokenizer_pulses(enc, x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, float]:
    """Pulse times (s) of the tokenizer on consecutive windows, and the span they cover (s)."""
    import torch

    from biosig.record import Record
    rec = Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("PLETH",), modality="ppg")
    outside, _ = enc.pipeline.split_in_model()
    p = np.nan_to_num(np.asarray(outside.apply(rec).samples, np.float32))
    fs = enc.config.input_fs_hz
    T = int(round(enc.window_s * fs))
    n = p.shape[1] // T
    if n == 0:
        return np.zeros(0), 0.0
    w = torch.from_numpy(np.stack([p[:1, i * T:(i + 1) * T] for i in range(n)]))
    beats = enc.model.frontend.beats(w)
    return np.concatenate([(i * T + b[0]) / fs for i, b in enumerate(beats)]), n * T / fs


def main() -> int:
    import warnings

    import biosig
    import encoders
    from biosig.measures import detect_events
    from biosig.quality import detect_beats

    if not (DATA / "wfdb" / "a103l.hea").exists():
        print(f"shared data absent ({DATA / 'wfdb'}); nothing to benchmark")
        return 0
    enc = encoders.load("ppg-tiny")
    print(f"{'record / pulse channel':<26} | {'detector':<22} | exactly one | none  | two+  | beats")
    rows = []
    for name, ecg_ch, pulse_ch in CASES:
        rec = biosig.read(str(DATA / "wfdb" / name))
        fs = rec.fs_hz
        ecg = np.nan_to_num(rec.samples[rec.channels.index(ecg_ch)].astype(np.float64))
        pulse = np.nan_to_num(rec.samples[rec.channels.index(pulse_ch)].astype(np.float64))
        r_s = detect_beats(ecg, fs, "ecg")[0] / fs
        tok_s, span_s = tokenizer_pulses(enc, pulse, fs)
        one = rec.select([pulse_ch]).replace(modality="ppg")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nk_s = detect_events(one, "ppg", 0) / fs
        found = {"NeuroKit2 (baseline)": nk_s, "biosig detect_beats": detect_beats(pulse, fs, "ppg")[0] / fs,
                 "beat tokenizer (graph)": tok_s}
        shares = {}
        for det, p in found.items():
            c = interval_counts(p, r_s, span_s, pulse_delay_s(p, r_s))
            shares[det] = float(np.mean(c == 1)) if len(c) else float("nan")
            print(f"{name.split('/')[-1] + ' / ' + pulse_ch:<26} | {det:<22} | {shares[det]:11.3f} | "
                  f"{np.mean(c == 0):.3f} | {np.mean(c >= 2):.3f} | {len(c)}")
        rows.append((name.split("/")[-1] + " " + pulse_ch, shares))
    print()
    print(f"{'exactly-one share':<26} | {'NeuroKit2':>9} | {'biosig':>9} | ratio | {'tokenizer':>9} | ratio")
    for label, s in rows:
        b = s["NeuroKit2 (baseline)"]
        print(f"{label:<26} | {b:9.3f} | {s['biosig detect_beats']:9.3f} | {s['biosig detect_beats'] / b:5.2f} | "
              f"{s['beat tokenizer (graph)']:9.3f} | {s['beat tokenizer (graph)'] / b:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
