"""Linear-probe evaluation of every shipped encoder against its baselines, in one run.

For each task: record-level mean of the window embeddings (the training window of the model),
standardised L2 logistic regression (C = 1; ``--C auto`` chooses it per training fold by an
inner 5-fold CV on log-loss over a fixed grid), the SAME folds for every row, and per baseline a row
``baseline | ours | diff [95% paired bootstrap CI]`` (AUROC; ours minus baseline, the same
resampled records for both). Baselines: the same architecture with random weights (3 seeds), the
handcrafted features of ``encoders.baselines`` (HRV / IBI / MFCC) and, for ECG, HRV + embedding vs
HRV alone.

Tasks
-----
* ``ecg``: AF vs the rest on the 200 CinC 2017 records in ``../shared/data/cinc2017``
  (REFERENCE.csv; one record per patient), stratified 5-fold, seed 0.
* ``ecg-syn``: **synthetic** AF vs sinus ECG that differ in rhythm only (``synthetic_rhythm_ecg``;
  40 + 40 records of 30 s at 250 Hz): the model-selection task of the issue-14 pretraining runs,
  so that checkpoints are not chosen on CinC 2017. Not in the default ``--tasks``.
* ``ecg-atrial-syn``: **synthetic** AF vs irregular non-AF ECG with the same RR model, differing
  in atrial activity only (``synthetic_atrial_ecg``; 40 + 40 records of 30 s at 250 Hz): what an
  ECG embedding can add to HRV. Model selection only; not in the default ``--tasks``.
* ``ppg``: **synthetic** AF vs sinus-rhythm PPG (``synthetic_af_ppg`` below: 60 + 60 records of
  30 s at 100 Hz; AF = irregular intervals and beat-to-beat pulse amplitude, sinus = regular rhythm
  with respiratory sinus arrhythmia). Clearly not real data: the held-out real PPG rhythm sets are
  re-checked by the project owners.
* ``ppg-rhythm``: **synthetic** 6-class PPG rhythm task (``synthetic_rhythm_ppg``: 30 records of 30 s
  at 100 Hz per class; sinus, AF, frequent ectopy, bigeminy, sinus bradycardia, sinus tachycardia;
  the pulse model of ``ppg``; the first four share 55-100 bpm), macro one-vs-rest AUROC: the synthetic
  counterpart of the owners' real 6-rhythm PPG task. Not in the default ``--tasks``.
* ``audio``: COVID-19 positive vs negative on the 120 coughs in ``../shared/data/cough``, grouped
  folds by participant (one recording per participant: the file). All positives come from the
  call-center source, so ``--audio-call-center-only`` restricts to call-center recordings (60 vs 22)
  to take the recording channel out of the comparison.
* ``spiro``: **synthetic** blow acceptability (ATS/ERS 2019): 60 clean forced expirations vs 60 with
  a cough in the first second, an abrupt stop, variable effort or a slow start (15 each), from a
  flow-volume generator independent of spiro-tiny's pretraining data (``benchmarks/spiro_tasks.py``);
  baseline: the ATS/ERS spirometry indices.
* ``spiro-pattern``: **synthetic** clean blows, normal / obstructive / restrictive (40 each),
  macro one-vs-rest AUROC; same generator and baseline.
* ``spiro-dev``: **synthetic** clean vs artefact blows of spiro-tiny's pretraining generator
  (``biosig.synthetic.simulate_spiro``) on held-out seeds: model selection only, never ``spiro``.
  Not in the default ``--tasks``.

Usage: ``python benchmarks/eval_probe.py [--tasks ecg ppg audio spiro spiro-pattern] [--json out.json]``.
Data: PhysioNet/CinC Challenge 2017 (Clifford et al. 2017, ODC-BY); covid19-cough (CC0).
"""
from __future__ import annotations

import argparse
import json
import logging
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))   # spiro_tasks
DATA = ROOT.parent / "shared" / "data"
log = logging.getLogger("eval_probe")


def _ppg_from_beats(beats, mean_rr: float, t: np.ndarray, seconds: float, resp_hz: float, resp_phase: float,
                    rng) -> np.ndarray:
    """One SYNTHETIC PPG trace (float64) from ``beats`` = [(time_s, preceding interval_s), ...]: a
    systolic + diastolic Gaussian wave per beat (random widths, delay and ratio per record), smaller
    after a shorter interval (``min(rr / mean_rr, 1.4) ** 1.5``: less filling time), plus respiratory
    baseline wander, white noise and Poisson(1) motion bursts of 1-3 s. Draws from ``rng`` in a fixed order."""
    n = len(t)
    x = np.zeros(n)
    w1, w2, d2, a2 = rng.uniform(0.08, 0.12), rng.uniform(0.12, 0.18), rng.uniform(0.25, 0.35), rng.uniform(0.3, 0.6)
    for tb, rr in beats:
        amp = min(rr / mean_rr, 1.4) ** 1.5    # shorter filling time, smaller pulse (every rhythm)
        x += amp * (np.exp(-0.5 * ((t - tb) / w1) ** 2) + a2 * np.exp(-0.5 * ((t - tb - d2) / w2) ** 2))
    x += 0.3 * np.sin(2 * np.pi * resp_hz * t + resp_phase) + rng.normal(0, rng.uniform(0.05, 0.3), n)
    for _ in range(rng.poisson(1.0)):   # motion artefacts: 1-3 s bursts of low-frequency noise
        a, dur = rng.uniform(0, seconds - 3), rng.uniform(1, 3)
        sel = (t >= a) & (t < a + dur)
        x[sel] += np.cumsum(rng.normal(0, 0.15, sel.sum()))
    return x


def _ppg_record(x: np.ndarray, fs_hz: float, name: str):
    from biosig.record import Record
    return Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("PLETH",), units=("a.u.",),
                  modality="ppg", metadata={"record": name})


def synthetic_af_ppg(n_per_class: int = 60, seconds: float = 30.0, fs_hz: float = 100.0, seed: int = 1000):
    """SYNTHETIC PPG records and labels (1 = AF): pulses (systolic + diastolic Gaussian waves) at
    beat times from a regular rhythm with respiratory modulation (sinus) or i.i.d. irregular
    intervals with interval-dependent pulse amplitude (AF); baseline wander and noise on both."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    for i in range(2 * n_per_class):
        af = i % 2
        hr = rng.uniform(60, 110) if af else rng.uniform(55, 95)
        mean_rr = 60.0 / hr
        beats, tb = [], -rng.uniform(0, mean_rr)
        resp_hz, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
        while tb < seconds + 1:
            if af:   # irregularly irregular, moderately (CV 6-14 %)
                rr = mean_rr * (1 + rng.normal(0, rng.uniform(0.06, 0.14)))
            else:    # respiratory sinus arrhythmia, and a premature beat with its pause now and then
                rr = mean_rr * (1 + rng.uniform(0.02, 0.08) * np.sin(2 * np.pi * resp_hz * tb + resp_phase)
                                + rng.normal(0, 0.02))
                if rng.random() < 0.06:
                    beats.append((tb + 0.7 * rr, 0.7 * rr))
                    tb, rr = tb + 0.7 * rr, 1.3 * rr
            rr = max(rr, 0.3)
            tb += rr
            beats.append((tb, rr))
        x = _ppg_from_beats(beats, mean_rr, t, seconds, resp_hz, resp_phase, rng)
        records.append(_ppg_record(x, fs_hz, f"synthetic-ppg-{i}"))
        labels.append(af)
    return records, np.array(labels)


# the six classes of ``synthetic_rhythm_ppg`` (label = index) and their sinus / mean rate ranges (bpm):
# the four rhythm classes share 55-100 bpm so that rate alone separates only brady- and tachycardia
PPG_RHYTHMS = ("sinus", "AF", "ectopy", "bigeminy", "bradycardia", "tachycardia")
PPG_RHYTHM_BPM = ((55, 100), (55, 100), (55, 100), (55, 100), (38, 55), (105, 150))


def rhythm_ppg_beats(label: int, seconds: float, rng):
    """Beat times of one record of class ``label`` (see :data:`PPG_RHYTHMS`):
    ``(beats [(time_s, preceding interval_s), ...], mean_rr_s, resp_hz, resp_phase)``.

    Sinus, brady- and tachycardia: respiratory sinus arrhythmia (2-8 % of the interval; 1-4 % for
    tachycardia) plus 2 % jitter. AF: i.i.d. intervals, CV 6-14 %. Ectopy: sinus with 10-25 % of the
    beats premature (coupling 55-75 % of the sinus interval) followed by a full compensatory pause
    (premature + pause = two sinus intervals). Bigeminy: every sinus beat followed by a premature beat
    (fixed coupling 55-75 % per record) and its compensatory pause, so intervals alternate short-long.
    Every class draws the same parameters in the same order (fixed number of draws before the beats)."""
    mean_rr = 60.0 / rng.uniform(*PPG_RHYTHM_BPM[label])
    resp_hz, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
    rsa = rng.uniform(0.01, 0.04) if label == 5 else rng.uniform(0.02, 0.08)
    cv, frac, coupling = rng.uniform(0.06, 0.14), rng.uniform(0.10, 0.25), rng.uniform(0.55, 0.75)
    beats, tb = [], -rng.uniform(0, mean_rr)
    while tb < seconds + 1:
        if label == 1:
            rr = mean_rr * (1 + rng.normal(0, cv))
        else:
            rr = mean_rr * (1 + rsa * np.sin(2 * np.pi * resp_hz * tb + resp_phase) + rng.normal(0, 0.02))
            # ectopy: a premature beat in a fraction q of the sinus cycles is frac = q / (1 + q) of all beats
            c = None
            if label == 2 and rng.random() < frac / (1 - frac):
                c = rng.uniform(0.55, 0.75)
            elif label == 3:
                c = coupling
            if c is not None:
                beats.append((tb + c * rr, c * rr))
                tb, rr = tb + c * rr, (2 - c) * rr
        rr = max(rr, 0.3)
        tb += rr
        beats.append((tb, rr))
    return beats, mean_rr, resp_hz, resp_phase


def synthetic_rhythm_ppg(n_per_class: int = 30, seconds: float = 30.0, fs_hz: float = 100.0, seed: int = 5000):
    """SYNTHETIC 6-class PPG rhythm records and labels 0..5 (:data:`PPG_RHYTHMS`: sinus, AF, ectopy,
    bigeminy, bradycardia, tachycardia; beat times from :func:`rhythm_ppg_beats`), rendered by the pulse
    model of :func:`synthetic_af_ppg` (the same per-record shape, noise and motion draws). Record ``i``
    has label ``i % 6``; one generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    records, labels = [], []
    for i in range(len(PPG_RHYTHMS) * n_per_class):
        label = i % len(PPG_RHYTHMS)
        beats, mean_rr, resp_hz, resp_phase = rhythm_ppg_beats(label, seconds, rng)
        x = _ppg_from_beats(beats, mean_rr, t, seconds, resp_hz, resp_phase, rng)
        records.append(_ppg_record(x, fs_hz, f"synthetic-ppg-rhythm-{i}"))
        labels.append(label)
    return records, np.array(labels)


def synthetic_rhythm_ecg(n_per_class: int = 40, seconds: float = 30.0, fs_hz: float = 250.0, seed: int = 2000):
    """SYNTHETIC single-lead ECG records and labels (1 = AF) that differ in rhythm only: the same
    Gaussian QRS-T beat model (biosig.synthetic_af.ecg_from_beats) and the same random f-wave level
    (0-0.04 mV) in both classes; beat times from a regular rhythm with respiratory sinus arrhythmia
    and occasional premature beats (sinus) or i.i.d. irregular intervals (AF, CV 6-14 %); baseline
    wander and noise on both. The model-selection task of issue 14 (never CinC 2017)."""
    from biosig.record import Record
    from biosig.synthetic_af import ecg_from_beats
    rng = np.random.default_rng(seed)
    records, labels = [], []
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    for i in range(2 * n_per_class):
        af = i % 2
        mean_rr = 60.0 / (rng.uniform(60, 110) if af else rng.uniform(55, 95))
        resp_hz, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
        beats, tb = [], -rng.uniform(0, mean_rr) - 1.0
        while tb < seconds + 1:
            if af:
                rr = mean_rr * (1 + rng.normal(0, rng.uniform(0.06, 0.14)))
            else:
                rr = mean_rr * (1 + rng.uniform(0.02, 0.08) * np.sin(2 * np.pi * resp_hz * tb + resp_phase)
                                + rng.normal(0, 0.02))
                if rng.random() < 0.06:
                    beats.append(tb + 0.7 * rr)
                    tb, rr = tb + 0.7 * rr, 1.3 * rr
            tb += max(rr, 0.3)
            beats.append(tb)
        x = ecg_from_beats(np.asarray(beats), n, fs_hz, 1, rng, fwave_mv=rng.uniform(0.0, 0.04))[0]
        x = x * rng.uniform(0.6, 1.6) + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * resp_hz * t + resp_phase)
        x = x + rng.normal(0, rng.uniform(0.01, 0.06), n)
        records.append(Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("ECG",)))
        labels.append(af)
    return records, np.asarray(labels)


def synthetic_atrial_ecg(n_per_class: int = 40, seconds: float = 30.0, fs_hz: float = 250.0, seed: int = 3000):
    """SYNTHETIC single-lead ECG records and labels (1 = AF) whose RR series come from the SAME
    irregular model (i.i.d. intervals, CV 5-25 %, 0-30 % premature beats; encoders.data.atrial_rhythm_beats)
    and differ in atrial activity only: AF = no P waves + f-waves (0-0.10 mV), rest = a P wave
    before every beat (irregular non-AF rhythm: sinus arrhythmia, frequent premature atrial beats).
    HRV cannot separate them; an embedding that encodes atrial activity can. Seeds ``seed + i``,
    not used in pretraining (those are 20_000+); model selection of the issue-14 fourth round."""
    from biosig.record import Record
    from biosig.synthetic_af import ecg_from_beats
    from encoders.data import atrial_rhythm_beats
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    records, labels = [], []
    for i in range(2 * n_per_class):
        af = 1 - i % 2
        rng = np.random.default_rng(seed + i)
        beats, opts = atrial_rhythm_beats("irregular-no-P" if af else "irregular+P", seconds, rng)
        x = ecg_from_beats(beats, n, fs_hz, 1, rng, **opts)[0]
        x = x * rng.uniform(0.6, 1.6) + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t)
        x = x + rng.normal(0, rng.uniform(0.01, 0.06), n)
        records.append(Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("ECG",)))
        labels.append(af)
    return records, np.asarray(labels)


def load_task(task: str, call_center_only: bool = False):
    """(records, y, groups or None, description)."""
    from biosig.readers import read
    if task == "ecg":
        import polars as pl
        d = DATA / "cinc2017"
        ref = pl.read_csv(d / "REFERENCE.csv")
        names = sorted(ref["record"].to_list())
        label = dict(zip(ref["record"].to_list(), ref["label"].to_list()))
        y = np.array([int(label[n] == "A") for n in names])
        return [read(d / n) for n in names], y, None, "CinC 2017, AF vs rest, stratified 5-fold"
    if task == "ecg-syn":
        recs, y = synthetic_rhythm_ecg()
        return recs, y, None, "SYNTHETIC AF vs sinus ECG, rhythm only (250 Hz, 30 s), stratified 5-fold"
    if task == "ecg-atrial-syn":
        recs, y = synthetic_atrial_ecg()
        return recs, y, None, ("SYNTHETIC AF vs irregular non-AF ECG, same RR model, atrial activity only "
                               "(250 Hz, 30 s), stratified 5-fold")
    if task == "ppg":
        recs, y = synthetic_af_ppg()
        return recs, y, None, "SYNTHETIC AF vs sinus PPG (100 Hz, 30 s), stratified 5-fold"
    if task == "ppg-rhythm":
        recs, y = synthetic_rhythm_ppg()
        return recs, y, None, ("SYNTHETIC 6-class PPG rhythm (" + ", ".join(f"{k} {c}" for k, c in enumerate(PPG_RHYTHMS))
                               + "; 100 Hz, 30 s), macro one-vs-rest AUROC, stratified 5-fold")
    if task == "audio":
        d = DATA / "cough"
        meta = json.loads((d / "metadata.json").read_text())
        if call_center_only:
            meta = [m for m in meta if m.get("source") == "call-center"]
        recs = [read(d / "raw" / m["filename"]) for m in meta]
        y = np.array([int(bool(m["covid19"])) for m in meta])
        groups = np.array([m["filename"] for m in meta])
        which = "call-center only" if call_center_only else "all sources"
        return recs, y, groups, f"cough COVID-19 +/- ({which}), folds grouped by participant"
    if task == "spiro":
        from spiro_tasks import synthetic_spiro_quality
        recs, y = synthetic_spiro_quality()
        return recs, y, None, ("SYNTHETIC blow acceptability: clean vs cough / abrupt stop / variable effort / "
                               "slow start (100 Hz, 15 s), stratified 5-fold")
    if task == "spiro-dev":
        from spiro_tasks import pretraining_generator_quality
        recs, y = pretraining_generator_quality()
        return recs, y, None, ("SYNTHETIC clean vs artefact blows of the PRETRAINING generator, held-out seeds "
                               "(model selection only), stratified 5-fold")
    if task == "spiro-pattern":
        from spiro_tasks import PATTERNS, synthetic_spiro_pattern
        recs, y = synthetic_spiro_pattern()
        return recs, y, None, ("SYNTHETIC clean blows, " + ", ".join(f"{k} {p}" for k, p in enumerate(PATTERNS))
                               + " (100 Hz, 15 s), macro one-vs-rest AUROC, stratified 5-fold")
    raise ValueError(task)


TASKS = {"ecg": ("ecg-tiny", ("hrv",)), "ecg-syn": ("ecg-tiny", ("hrv",)), "ecg-atrial-syn": ("ecg-tiny", ("hrv",)), "ppg": ("ppg-tiny", ("ibi",)),
         "ppg-rhythm": ("ppg-tiny", ("ibi",)), "audio": ("audio-tiny", ("mfcc",)),
         "spiro": ("spiro-tiny", ("spirometry",)), "spiro-pattern": ("spiro-tiny", ("spirometry",)),
         "spiro-dev": ("spiro-tiny", ("spirometry",))}


def run_task(task: str, args) -> dict:
    import encoders
    from encoders.baselines import baseline_features, embedding_mean, impute_median
    from encoders.probe import compare, cv_folds, format_rows
    t0 = time.perf_counter()
    records, y, groups, desc = load_task(task, args.audio_call_center_only)
    model, handcrafted = TASKS[task]
    model = getattr(args, f"{task.split('-')[0]}_model") or model
    enc = encoders.load(model)
    ours = f"{enc.model_id}"
    feats = {ours: np.stack([embedding_mean(enc, r) for r in records])}
    for s in args.random_seeds:
        feats[f"same architecture, random weights, seed {s}"] = baseline_features("random", records, model=model, seed=s)
    for kind in handcrafted:
        X, n_bad = impute_median(baseline_features(kind, records, modality=enc.config.modality))
        feats[f"{kind} features" + (f" ({n_bad} imputed)" if n_bad else "")] = X
    folds = cv_folds(y, args.folds, args.seed, groups)
    res = compare(feats, y, folds, reference=ours, n_boot=args.bootstrap, seed=args.seed, C=args.C, groups=groups)
    counts = "/".join(str(c) for c in np.bincount(y)) + " per class" if y.max() > 1 else f"{int(y.sum())} positive"
    print(f"\n## {task}: {desc}; {len(y)} records ({counts}); ours = {ours} "
          f"(window {enc.window_s:g} s)")
    for row in format_rows(res, ours):
        print(row)
    out = {"task": desc, "model": ours, "results": res}
    if task.startswith("ecg"):   # does the embedding add to HRV? reference: HRV + embedding
        hrv_name = next(k for k in feats if k.startswith("hrv"))
        both = f"HRV + {ours}"
        res2 = compare({both: np.hstack([feats[hrv_name], feats[ours]]), hrv_name: feats[hrv_name]},
                       y, folds, reference=both, n_boot=args.bootstrap, seed=args.seed, C=args.C, groups=groups)
        print(f"# HRV + embedding vs HRV alone (ours = {both})")
        for row in format_rows(res2, both):
            print(row)
        out["hrv_plus_embedding"] = res2
        res = {**res, both: res2[both]}
    if args.C == "auto":
        print("# C per fold (nested CV): " + "; ".join(f"{k} {' '.join(f'{c:g}' for c in r['C'])}"
                                                     for k, r in res.items()))
    print(f"# {task}: {time.perf_counter() - t0:.0f} s")
    return out


def _C_arg(text: str):
    from encoders.probe import parse_C
    try:
        return parse_C(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["ecg", "ppg", "audio", "spiro", "spiro-pattern"],
                    choices=list(TASKS),
                    help="ecg: CinC 2017; ecg-syn: synthetic rhythm-only ECG (model selection); ecg-atrial-syn: "
                         "synthetic AF vs irregular non-AF ECG, atrial activity only (model selection); ppg; ppg-rhythm: synthetic 6-class PPG rhythm "
                         "(macro AUROC); audio; spiro: synthetic blow acceptability; spiro-pattern: synthetic "
                         "normal / obstructive / restrictive blows; spiro-dev: model selection (pretraining generator)")
    ap.add_argument("--ecg-model", default=None, help="checkpoint dir or name (default ecg-tiny)")
    ap.add_argument("--ppg-model", default=None, help="checkpoint dir or name (default ppg-tiny)")
    ap.add_argument("--audio-model", default=None, help="checkpoint dir or name (default audio-tiny)")
    ap.add_argument("--spiro-model", default=None, help="checkpoint dir or name (default spiro-tiny)")
    ap.add_argument("--audio-call-center-only", action="store_true",
                    help="cough task on call-center recordings only (all positives are call-center)")
    ap.add_argument("--random-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--C", type=_C_arg, default=1.0, metavar="C|auto",
                    help="probe regularisation strength (default 1, the protocol of every reported table); auto "
                         "picks C per training fold by an inner 5-fold CV (log-loss, grid 1e-3..10, the same for "
                         "every row)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    reg = "C by nested 5-fold CV per training fold" if args.C == "auto" else f"C = {args.C:g}"
    print(f"# linear probe (standardised L2 logistic regression, {reg}), record-mean embeddings, AUROC; "
          f"{args.folds}-fold CV seed {args.seed}; 95% bootstrap CIs ({args.bootstrap}), diff CIs paired")
    t = time.perf_counter()
    results = {task: run_task(task, args) for task in args.tasks}
    print(f"# total {time.perf_counter() - t:.0f} s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
