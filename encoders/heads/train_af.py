"""Train the shipped AF heads: ``ecg-af`` on the CinC 2017 ECGs, ``ppg-af`` on synthetic PPG.

    python -m encoders.heads.train_af ecg --data ../shared/data/cinc2017 --out encoders/heads/ecg-af
    python -m encoders.heads.train_af ppg --out encoders/heads/ppg-af

Both heads are measure-only (no embedding, ``encoder_id: null``): regularised logistic regression
on RR-irregularity features of 10 s windows (:data:`FEATURES`; ECG also the P-wave consistency,
:data:`ECG_FEATURES`), which transfer to unseen ECGs
better than anything fitted to 200 records' morphology. Windows are preprocessed exactly as in
``serve``/``score`` with the ECG-tiny / PPG-tiny causal pipeline (see :mod:`encoders.heads.features`).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import pathlib
import sys
import time

import numpy as np

from biosig import json_text
from encoders.heads import train as T
from encoders.heads.af_card import card
from encoders.heads.af_recipe import (BASELINE_FEATURE, C, CINC2017_AF_RECORDS, ECG_FEATURES, ECG_TRANSFORMS,
                                      FEATURES, HOP_S, PPG_HR_BPM, SWEEP_HR_BPM, TRANSFORMS, VERSIONS,
                                      WINDOW_S, WITHHELD)
from encoders.heads.features import record_window_measures

log = logging.getLogger(__name__)
CKPT = pathlib.Path(__file__).resolve().parents[1] / "checkpoints"


def _pipeline(model: str):
    from encoders.weights import pipeline_from_dict   # as loading a checkpoint reads it (hash checked)
    return pipeline_from_dict(json.loads((CKPT / model / "pipeline.json").read_text()))


def cinc2017(data: pathlib.Path):
    """(names, CinC label per record (N, A, O or ~; AF = "A"), window measures per record) of the CinC 2017 subset."""
    from biosig.readers import read
    pipe = _pipeline("ecg-tiny")
    rows = list(csv.DictReader(open(data / "REFERENCE.csv")))
    names, labels, measures = [], [], []
    t = time.time()
    for k, r in enumerate(rows):
        rec = read(str(data / f"{r['record']}.hea"))
        measures.append(record_window_measures(rec.samples[:1], rec.fs_hz, rec.channels[:1], "ecg", pipe,
                                               WINDOW_S, HOP_S, 1, n_windows=1))
        names.append(r["record"])
        labels.append(r["label"])
        if time.time() - t > 5:
            log.info("measured %d/%d records", k + 1, len(rows))
            t = time.time()
    return names, np.array(labels), measures


def synthetic_ppg(n_per_class: int = 80, seconds: float = 30.0, seed: int = 0):
    """Synthetic PPG: sinus (NeuroKit2 ``ppg_simulate`` and Gaussian pulses on beats with
    respiratory sinus arrhythmia) and AF (:mod:`biosig.synthetic_af`, CV 0.1-0.3), heart rates
    uniform over :data:`PPG_HR_BPM` for both classes (rate alone tells nothing)."""
    from biosig.synthetic import simulate
    from biosig.synthetic_af import ppg_from_beats
    pipe = _pipeline("ppg-tiny")
    rng = np.random.default_rng(seed)
    names, labels, measures = [], [], []
    for k in range(2 * n_per_class):
        af = k % 2 == 1
        hr = float(rng.uniform(*PPG_HR_BPM))
        s = seed * 1000 + k
        if af:
            rec = simulate("ppg", seconds, seed=s, heart_rate_bpm=hr, rhythm="af", af_cv=float(rng.uniform(0.1, 0.3)))
            x, fs = rec.samples, rec.fs_hz
        elif k % 4 == 0:
            rec = simulate("ppg", seconds, seed=s, heart_rate_bpm=hr)
            x, fs = rec.samples, rec.fs_hz
        else:
            fs = 125.0
            mean = 60.0 / hr
            t, beats = -2.0, []
            while t < seconds + 2:
                beats.append(t)
                t += mean * (1 + 0.05 * np.sin(2 * np.pi * 0.25 * t) + 0.01 * rng.standard_normal())
            n = int(seconds * fs)
            x = (ppg_from_beats(np.array(beats), n, fs) + rng.normal(0, 0.01, n))[None]
        measures.append(record_window_measures(x, fs, ("PLETH",), "ppg", pipe, WINDOW_S, HOP_S, 1))
        names.append(f"synthetic-{'af' if af else 'sinus'}-{k}")
        labels.append(af)
    return names, np.array(labels), measures


def mix_calibration(y, oof, kinds, head) -> dict:
    """Does reading at another prevalence make the probability right there? The out-of-fold record
    probabilities of the covered records, re-weighted to the CinC 2017 training set's classes (AF 738,
    N / O / ~ as :data:`encoders.probe_subgroups.CINC2017_MIX`): the weighted mean predicted AF
    probability and Brier score as fitted and read at the AF share of the covered records there."""
    from encoders.probe_subgroups import CINC2017_MIX, mix_weights
    y = np.asarray(y, bool)
    w = mix_weights(y, kinds, CINC2017_MIX)
    w[y] = CINC2017_AF_RECORDS / y.sum()
    cov = np.isfinite(oof)
    w, yc, pc = w[cov], y[cov].astype(float), oof[cov]
    q = float((w * yc).sum() / w.sum())
    rows = [(name, float((w * p).sum() / w.sum()), float((w * (p - yc) ** 2).sum() / w.sum()))
            for name, p in (("as fitted", pc), (f"read at {q:.1%}", T.prior_shift(pc, head.training_prevalence, q)))]
    return {"observed": q, "rows": rows}


def by_kind(y, p, base_scores, kinds, n_boot: int = 1000) -> dict:
    """The head's out-of-fold record probabilities ``p`` (records without a usable window at the
    prevalence, as in the card's other tables) and the baseline's scores (missing ones at their
    median, as :func:`encoders.heads.train.evaluate` scores them) per kind of negative (AF vs N, O, ~)
    and at the CinC 2017 training set's class mix (:mod:`encoders.probe_subgroups`)."""
    from encoders.probe_subgroups import CINC2017_MIX, subgroup_table
    y = np.asarray(y, int)
    b = np.where(np.isfinite(base_scores), base_scores, float(np.nanmedian(base_scores)))
    probas = {"head": (np.array([0, 1]), np.c_[1 - p, p]), "baseline": (np.array([0, 1]), np.c_[-b, b])}
    return subgroup_table(probas, y, kinds, [("head", "baseline")], CINC2017_MIX, "CinC 2017 mix", n_boot=n_boot)


def baseline_oof(measures, feature: str) -> np.ndarray:
    """Record score of the simple baseline: the mean of one feature over usable windows."""
    out = np.full(len(measures), np.nan)
    for i, ms in enumerate(measures):
        v = [m[feature] for m in ms if m["ok"] and m.get(feature) is not None]
        if v:
            out[i] = float(np.mean(v))
    return out


def rate_subgroups(y, oof, measures, split_bpm: float = 80.0) -> list[dict]:
    """Sensitivity at 95 % specificity (threshold over all negatives) for the positives below and
    above ``split_bpm`` (record mean of ``hr_bpm``): the heads read heart rate as one feature."""
    y = np.asarray(y, bool)
    p = np.where(np.isfinite(oof), oof, float(y.mean()))
    hr = baseline_oof(measures, "hr_bpm")
    thr = np.quantile(p[~y], 0.95, method="higher")
    rows = []
    for lo, hi in ((0.0, split_bpm), (split_bpm, np.inf)):
        s = y & (hr >= lo) & (hr < hi)
        rows.append({"hr_bpm": (lo, hi), "n": int(s.sum()), "sens_at_95_spec": float(np.mean(p[s] > thr)) if s.any() else None})
    return rows


def rate_sweep(head, modality: str, seeds=(100, 101), seconds: float = 60.0) -> list[dict]:
    """The head on SYNTHETIC sinus and AF records (RR CV 0.15) at each of :data:`SWEEP_HR_BPM`:
    median window ``af_prob``, the share of usable windows above 0.5 (no smoothing) and the share
    of all windows withheld (:data:`WITHHELD`: low quality, or an ECG window with uncertain beats)."""
    from biosig.synthetic import simulate
    pipe = _pipeline(f"{modality}-tiny")
    rows = []
    for rhythm in ("sinus", "af"):
        for hr in SWEEP_HR_BPM:
            p, n, n_withheld = [], 0, 0
            for seed in seeds:
                kw = {"rhythm": "af", "af_cv": 0.15} if rhythm == "af" else {}
                rec = simulate(modality, seconds, seed=seed, heart_rate_bpm=float(hr), **kw)
                ms = record_window_measures(rec.samples[:1], rec.fs_hz, rec.channels[:1], modality, pipe,
                                            WINDOW_S, HOP_S, 1)
                p += [v for v in (head.predict(m) for m in ms if m["ok"]) if v is not None]
                n, n_withheld = n + len(ms), n_withheld + sum(m["missing"] in WITHHELD for m in ms)
            rows.append({"rhythm": rhythm, "hr_bpm": hr, "n": len(p), "median": float(np.median(p)) if p else None,
                         "above_half": float(np.mean(np.array(p) > 0.5)) if p else None,
                         "withheld": n_withheld / max(n, 1)})
    return rows


def run(task: str, out_dir: pathlib.Path, data: pathlib.Path | None, folds: int = 5) -> dict:
    kinds = None
    if task == "ecg":
        names, kinds, measures = cinc2017(data)
        y = np.array([k == "A" for k in kinds])
        meta = dict(name="ecg-af", version=VERSIONS["ecg"], modality="ecg", output="af_prob", encoder_id=None,
                    training=(f"PhysioNet/CinC Challenge 2017 subset in ../shared/data/cinc2017: {len(y)} single-lead "
                              f"AliveCor ECGs at 300 Hz (50 AF, 50 normal, 50 other rhythm, 50 noisy; AF = positive, "
                              "all others negative); 10 s windows every 5 s after the ecg-tiny causal pipeline "
                              "(resample 250 Hz, band-pass 0.5-40 Hz, notch 50 Hz, z-score)"))
    else:
        names, y, measures = synthetic_ppg()
        meta = dict(name="ppg-af", version=VERSIONS["ppg"], modality="ppg", output="af_prob", encoder_id=None,
                    training=(f"SYNTHETIC data only: {len(y)} 30 s PPG records from biosig.synthetic "
                              "(sinus: NeuroKit2 ppg_simulate and Gaussian pulses with respiratory sinus "
                              "arrhythmia; AF: biosig.synthetic_af, RR CV 0.1-0.3), HR %g-%g bpm; 10 s windows "
                              "every 5 s after the ppg-tiny causal pipeline. Not validated on real PPG." % PPG_HR_BPM))
    # the shortest window fitted on (a CinC record shorter than 10 s is one short window): predict
    # gives no probability below it
    meta["min_window_s"] = math.floor(100 * min(r["window_s"] for ms in measures for r in ms)) / 100
    prior = float(y.mean())
    features, transforms = (ECG_FEATURES, ECG_TRANSFORMS) if task == "ecg" else (FEATURES, TRANSFORMS)
    seeds = [T.cross_validate(measures, y, features, transforms, C, folds, seed) for seed in range(3)]
    metrics = T.evaluate(y, seeds[0], prior, seeds)
    base_scores = baseline_oof(measures, BASELINE_FEATURE)
    base = T.evaluate(y, base_scores, float(np.nanmedian(base_scores)))
    X, g, w = T.design(measures, features)
    head = T.fit(X, y[g], w, features, transforms, C, metrics={
        "cv": f"{folds}-fold stratified by record, seed 0 (AUROC for seeds 0-2 listed)", **metrics,
        **T.fit_population(y, g, w),
        "baseline": {"feature": BASELINE_FEATURE, "auroc": base["auroc"], "auroc_ci95": base["auroc_ci95"],
                     "sens_at_95_spec": base["sens_at_95_spec"]}, "trained": T.today()}, **meta)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = np.where(np.isfinite(seeds[0]), seeds[0], prior)
    rel = T.reliability(y, p, out_dir / "reliability.png", f"{meta['name']}: {folds}-fold CV, per record")
    T.write_head(head, out_dir)
    rates = rate_subgroups(y, seeds[0], measures)
    sweep = rate_sweep(head, head.modality)
    kind_table = by_kind(y, p, base_scores, kinds) if kinds is not None else None
    check = mix_calibration(y, seeds[0], kinds, head) if kinds is not None else None
    (out_dir / "MODEL_CARD.md").write_text(card(head, metrics, base, rel, folds, names, y, seeds[0], rates, sweep,
                                                kind_table, check))
    return {"metrics": metrics, "baseline": base}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m encoders.heads.train_af", description=__doc__.split("\n")[0])
    p.add_argument("task", choices=("ecg", "ppg"), help="ecg: CinC 2017 ECGs; ppg: synthetic PPG")
    p.add_argument("--data", type=pathlib.Path, help="the cinc2017 folder (REFERENCE.csv + WFDB records), for ecg")
    p.add_argument("--out", type=pathlib.Path, required=True, help="head folder to write")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.task == "ecg" and (args.data is None or not (args.data / "REFERENCE.csv").is_file()):
        print(f"error: --data must be the cinc2017 folder with REFERENCE.csv (got {args.data})", file=sys.stderr)
        return 2
    res = run(args.task, args.out, args.data, args.folds)
    print(json_text.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
