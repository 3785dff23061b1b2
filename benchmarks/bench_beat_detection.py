"""Beat detection on REAL recordings: R peaks against reference annotations, and pulse peaks
against the R peaks of the ECG recorded with them. Three detectors each: NeuroKit2 (via
:func:`biosig.measures.detect_events`: the baseline), biosig's :func:`biosig.quality.detect_beats`,
and the in-graph detector of the beat tokenizer (``encoders/beat_tokens.py``: what ecg-tiny's and
ppg-tiny's tokens see; 10 s windows after the checkpoint's out-of-graph pipeline); for pulse waves
both of its ``pulse_detector`` settings, ``relu`` and ``upstroke``.

ECG: MIT-BIH 100 (lead MLII, 30 min, reference: the cardiologists' beat annotations ``atr``) and
MIMIC 03700181 (lead MCL1, downward QRS, 10 min, reference: the ``sqrs`` machine annotations).
Sensitivity and positive predictivity with a 150 ms match window (ANSI/AAMI EC57), over the
stretch every detector covers.

Pulse waves: CinC 2015 a103l (lead II + PLETH, 330 s, with artefacts and a stretch of pulsus
alternans), MIMIC 03700181 (MCL1 + ABP, 600 s) and multi-segment 041s (lead III + PLETH and ABP,
16 s; its lead I is too noisy for a reference); a103l PLETH and 03700181 ABP again, sign-inverted (a
front end that reports absorbance, or a camera PPG's raw intensity, is upside down). The reference is one pulse per heart beat: each R
peak (biosig's ECG detector) expects a pulse at R + the detector's own arrival delay (median R ->
next pulse; so a detector that marks the pulse later is not penalised), and its cell runs half-way
to the neighbouring expected pulses. Per detector, the share of cells with exactly one pulse
(higher is better), none (a missed pulse) and two or more (a doubled one: dicrotic wave, artefact).

"biosig, per window" runs ``detect_beats`` on each 10 s window alone, as the tokenizer must: on a103l
it finds one pulse per beat in 0.90 of beats against 0.97 on the whole record, below the tokenizer's
``upstroke`` (0.93; 2026-12-07, 0.88 when first written). The tokenizer's remaining gap to biosig is the whole record's context (its
amplitude range and pulse period), not a detector that a window could run.

Rows ``baseline | ours | ratio`` at the end, baseline = NeuroKit2.

    .venv/bin/python benchmarks/bench_beat_detection.py
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import _common
from _common import DATA

ECG_CASES = (("100", "MLII"), ("03700181", "MCL1"))
BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")   # annotation symbols that mark a heart beat (wfdb / MIT-BIH)
MATCH_S = 0.15
CASES = (("a103l", "II", "PLETH", 1), ("03700181", "MCL1", "ABP", 1),
         ("multi-segment/041s/041s", "III", "PLETH", 1), ("multi-segment/041s/041s", "III", "ABP", 1),
         ("a103l", "II", "PLETH", -1), ("03700181", "MCL1", "ABP", -1))   # -1: the pulse wave sign-inverted


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


def matched(detected_s: np.ndarray, reference_s: np.ndarray, tol_s: float = MATCH_S) -> int:
    """Reference beats that match a detection within ``tol_s``, each detection matched at most once
    (greedy in time order)."""
    detected_s = np.sort(detected_s)
    used = np.zeros(len(detected_s), bool)
    tp = 0
    for r in reference_s:
        i = np.searchsorted(detected_s, r - tol_s)
        while i < len(detected_s) and detected_s[i] <= r + tol_s:
            if not used[i]:
                used[i] = True
                tp += 1
                break
            i += 1
    return tp


def se_ppv(detected_s: np.ndarray, reference_s: np.ndarray, tol_s: float = MATCH_S) -> tuple[float, float]:
    """(sensitivity, positive predictivity) of :func:`matched`."""
    tp = matched(detected_s, reference_s, tol_s)
    return tp / max(len(reference_s), 1), tp / max(len(detected_s), 1)


def model_windows(enc, x: np.ndarray, fs_hz: float, modality: str = "ppg") -> tuple[np.ndarray, float]:
    """Consecutive windows (n, 1, T) float32 of ``enc``'s length after its out-of-graph pipeline
    (what its tokenizer sees), and their rate."""
    from biosig.record import Record
    rec = Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("PLETH" if modality == "ppg" else "II",),
                 modality=modality)
    outside, _ = enc.pipeline.split_in_model()
    p = np.nan_to_num(np.asarray(outside.apply(rec).samples, np.float32))
    fs = enc.config.input_fs_hz
    T = int(round(enc.window_s * fs))
    n = p.shape[1] // T
    return np.stack([p[:1, i * T:(i + 1) * T] for i in range(n)]) if n else np.zeros((0, 1, T), np.float32), fs


def tokenizer_pulses(enc, x: np.ndarray, fs_hz: float, modality: str = "ppg", frontend=None) -> tuple[np.ndarray, float]:
    """Beat times (s) of the tokenizer of ``enc`` (or ``frontend``, a BeatTokens at the checkpoint's
    rate) on consecutive windows of ``enc``'s pipeline and length, and the span they cover (s)."""
    import torch

    w, fs = model_windows(enc, x, fs_hz, modality)
    if len(w) == 0:
        return np.zeros(0), 0.0
    T = w.shape[-1]
    beats = (frontend or enc.model.frontend).beats(torch.from_numpy(w))
    return np.concatenate([(i * T + b[0]) / fs for i, b in enumerate(beats)]), len(w) * T / fs


def biosig_window_pulses(enc, x: np.ndarray, fs_hz: float) -> np.ndarray:
    """Pulse times (s) of :func:`biosig.quality.detect_beats` run on each of the tokenizer's windows
    alone: biosig's design without the rest of the record (its threshold and pulse period then come
    from 10 s), the fair comparison for a detector inside the model."""
    from biosig.quality import detect_beats
    w, fs = model_windows(enc, x, fs_hz, "ppg")
    T = w.shape[-1]
    return np.concatenate([np.zeros(0)] + [(i * T + detect_beats(win[0].astype(np.float64), fs, "ppg")[0]) / fs
                                           for i, win in enumerate(w)])


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)   # --help; no options
    import warnings

    import biosig
    import encoders
    from biosig.measures import detect_events
    from biosig.quality import detect_beats

    if not (DATA / "wfdb" / "a103l.hea").exists():
        print(f"shared data absent ({DATA / 'wfdb'}); nothing to benchmark")
        return 0
    summary = []
    ecg_enc = encoders.load("ecg-tiny")
    print(f"{'record / ECG lead':<26} | {'detector':<22} | Se    | +P    | reference beats")
    for name, lead in ECG_CASES:
        rec = biosig.read(str(DATA / "wfdb" / name))
        fs = rec.fs_hz
        x = np.nan_to_num(rec.samples[rec.channels.index(lead)].astype(np.float64))
        tok_s, span_s = tokenizer_pulses(ecg_enc, x, fs, "ecg")
        ann = rec.annotations
        ref = np.array([s_ for s_, sym in zip(ann.sample, ann.symbol) if sym in BEAT_SYMBOLS]) / fs
        lo, hi = 0.5, span_s - 0.5                     # every detector covers this stretch
        ref = ref[(ref >= lo) & (ref < hi)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nk_s = detect_events(rec.select([lead]).replace(modality="ecg"), "ecg", 0) / fs
        found = {"NeuroKit2 (baseline)": nk_s, "biosig detect_beats": detect_beats(x, fs, "ecg")[0] / fs,
                 "beat tokenizer (graph)": tok_s}
        f1 = {}
        for det, d in found.items():
            se, ppv = se_ppv(d[(d >= lo - MATCH_S) & (d < hi + MATCH_S)], ref)
            f1[det] = 2 * se * ppv / max(se + ppv, 1e-12)
            print(f"{name + ' / ' + lead + ' (' + ann.source + ')':<26} | {det:<22} | {se:.3f} | {ppv:.3f} | {len(ref)}")
        summary.append((f"{name} {lead} F1", f1))
    print()
    enc = encoders.load("ppg-tiny")
    from encoders.beat_tokens import BeatTokens
    c = enc.config
    fronts = {f"tokenizer {d}": BeatTokens("ppg", c.input_fs_hz, c.beat_before_s, c.beat_after_s, c.beat_refractory_s, d)
              for d in ("relu", "upstroke")}
    shipped = f"tokenizer {getattr(c, 'pulse_detector', 'relu')}"
    print(f"# ppg-tiny ({enc.model_id}) uses the {shipped}")
    print(f"{'record / pulse channel':<29} | {'detector':<22} | exactly one | none  | two+  | beats")
    for name, ecg_ch, pulse_ch, sign in CASES:
        rec = biosig.read(str(DATA / "wfdb" / name))
        fs = rec.fs_hz
        ecg = np.nan_to_num(rec.samples[rec.channels.index(ecg_ch)].astype(np.float64))
        one = rec.select([pulse_ch])
        one = one.replace(modality="ppg", samples=sign * one.samples)   # the pulse channel, as every detector sees it
        pulse = np.nan_to_num(one.samples[0].astype(np.float64))
        label = name.split("/")[-1] + " " + pulse_ch + (" inverted" if sign < 0 else "")
        r_s = detect_beats(ecg, fs, "ecg")[0] / fs
        toks = {k: tokenizer_pulses(enc, pulse, fs, "ppg", f) for k, f in fronts.items()}
        span_s = toks[shipped][1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nk_s = detect_events(one, "ppg", 0) / fs
        found = {"NeuroKit2 (baseline)": nk_s, "biosig detect_beats": detect_beats(pulse, fs, "ppg")[0] / fs,
                 "biosig, per window": biosig_window_pulses(enc, pulse, fs),
                 **{k: t for k, (t, _) in toks.items()}}
        shares = {}
        for det, p in found.items():
            c = interval_counts(p, r_s, span_s, pulse_delay_s(p, r_s))
            shares[det] = float(np.mean(c == 1)) if len(c) else float("nan")
            print(f"{label:<29} | {det:<22} | {shares[det]:11.3f} | "
                  f"{np.mean(c == 0):.3f} | {np.mean(c >= 2):.3f} | {len(c)}")
        summary.append((label + " one/beat", shares))
    print()
    print(f"{'score':<30} | {'NeuroKit2':>9} | {'biosig':>9} | ratio | {'tokenizer':>9} | ratio | {'upstroke':>9} | ratio")
    for label, s in summary:
        b = s["NeuroKit2 (baseline)"]
        tok = s.get("beat tokenizer (graph)", s.get("tokenizer relu"))
        up = s.get("tokenizer upstroke")
        print(f"{label:<30} | {b:9.3f} | {s['biosig detect_beats']:9.3f} | {s['biosig detect_beats'] / b:5.2f} | "
              f"{tok:9.3f} | {tok / b:5.2f} | " + (f"{up:9.3f} | {up / b:5.2f}" if up is not None else "      - |     -"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
