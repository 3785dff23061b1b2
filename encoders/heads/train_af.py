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
import pathlib
import sys
import time

import numpy as np

from biosig import json_text
from encoders.heads import train as T
from encoders.heads.features import record_window_measures

log = logging.getLogger(__name__)

FEATURES = ("madsd_norm", "cvsd", "cvnn", "pnn50_pct", "pnn20_pct", "sd1_sd2", "tpr", "hr_bpm", "cvsd_trim")
TRANSFORMS = ("log", "log", "log", "identity", "identity", "log", "identity", "identity", "log")
# ECG: is there a P wave before every beat (biosig.measures_atrial)? AF has none, whatever its rate;
# without it the head read AF at a controlled rate as sinus (CinC 2017 AF under 80 /min:
# sensitivity at 95 % specificity 0.45, against 0.70 with it)
ECG_FEATURES, ECG_TRANSFORMS = FEATURES + ("p_wave_consistency",), TRANSFORMS + ("identity",)
BASELINE_FEATURE = "cvsd"   # normalised RMSSD alone: the simple baseline the head must beat
C = 0.1
WINDOW_S, HOP_S = 10.0, 5.0
# v2 (2026-12-02): retrained on the measures of the current beat detectors (the ECG bradycardia
# fix and the PPG pulse-period rules changed the features the v1 heads were fitted to); ecg-af
# also reads the P-wave consistency; ppg-af's synthetic records span 40-160 /min (v1: 50-130).
# ecg-af v3 (2026-12-02): refitted to the ECG beat detector's second pass and search back
# (biosig.ecg_beats._beat_threshold, _search_back; benchmarks/bench_beat_windows.py); ppg-af's measures
# did not change
# ecg-af v4 (2026-12-02): refitted to the windows left once an unexplained QRS-like peak between
# two beats, or a short interval next to a small beat, withholds a window
# (biosig.ecg_beats.doubtful_intervals; missing="uncertain_beats")
VERSIONS = {"ecg": 4, "ppg": 2}
PPG_HR_BPM = (40.0, 160.0)
WITHHELD = ("low_quality", "uncertain_beats")   # window measures withheld by the gates (not: too few beats)
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


# prevalences at which the card reads the head's probability (encoders.heads.train.prior_shift)
CINC2017_AF_RECORDS = 738      # of the challenge's 8528 training records (the others: probe_subgroups.CINC2017_MIX)
PREVALENCES = ((CINC2017_AF_RECORDS / 8528, "AF in the CinC 2017 training set"),
               (0.02, "about the share of adults with AF"))


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


SWEEP_HR_BPM = (40, 60, 80, 100, 120, 140, 160)


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


def sweep_table(sweep) -> list[str]:
    rates = sorted({r["hr_bpm"] for r in sweep})
    cell = {(r["rhythm"], r["hr_bpm"]): r for r in sweep}
    fmt = lambda r: "-" if r["median"] is None else f"{r['median']:.2f} ({r['above_half']:.0%})"  # noqa: E731
    return ["| rhythm | " + " | ".join(f"{h} /min" for h in rates) + " |", "|---|" + "---|" * len(rates),
            *[f"| {rh} | " + " | ".join(fmt(cell[rh, h]) for h in rates) + " |" for rh in ("sinus", "af")],
            *[f"| {rh}: windows withheld | " + " | ".join(f"{cell[rh, h]['withheld']:.0%}" for h in rates)
              + " |" for rh in ("sinus", "af")]]


def rate_limits(head, rates, sweep) -> list[str]:
    """The card's Limits lines that come from :func:`rate_subgroups` and :func:`rate_sweep`."""
    def band(lo, hi):
        return f"{lo:g}+ /min" if hi == np.inf else f"{lo:g}-{hi:g} /min"

    by_rate = "; ".join(f"{band(*r['hr_bpm'])}: {r['sens_at_95_spec']:.2f} ({r['n']} records)"
                        for r in rates if r["sens_at_95_spec"] is not None)
    lines = [f"- Heart rate is one of the features (`hr_bpm`, coefficient {head.coef[head.features.index('hr_bpm')]:+.2f} "
             "on its standardised value): a faster rhythm reads as more likely AF. Out of fold, sensitivity at "
             f"95 % specificity by the AF record's mean heart rate: {by_rate}."
             + (" AF with a controlled ventricular rate scores lower than fast AF." if head.modality == "ecg" else "")]
    sinus = [r for r in sweep if r["rhythm"] == "sinus"]
    slowest = min(sinus, key=lambda r: r["hr_bpm"]) if sinus else None
    if slowest and slowest["above_half"]:
        hr = slowest["hr_bpm"]
        lines.append(f"- Slow rhythms: a {WINDOW_S:g} s window at {hr} /min holds about {int(hr * WINDOW_S / 60) - 1} "
                     f"intervals, too few for stable statistics: {slowest['above_half']:.0%} of the synthetic sinus "
                     f"windows at {hr} /min are above 0.5 (table above); read the running mean.")
    withheld = {rh: float(np.mean([r["withheld"] for r in sweep if r["rhythm"] == rh])) for rh in ("af", "sinus")}
    if withheld["af"] > withheld["sinus"] + 0.02:
        lines.append(f"- Quality gating costs AF windows: {withheld['af']:.0%} of the synthetic AF windows are withheld "
                     f"against {withheld['sinus']:.0%} of the sinus ones (table above). Template "
                     "matching (`biosig.quality`) compares each beat with the window's average beat, and in AF a "
                     "weak beat after a short interval, overlapped by the next one, matches it poorly; the "
                     "remaining windows still carry the AF.")
    return lines


def kind_lines(table) -> list[str]:
    """The card's by-kind section (:func:`by_kind`), or nothing."""
    if table is None:
        return []
    cols = list(table)
    head = ["all records" if c == "all" else f"AF vs {c[3:]}" if c.startswith("vs ") else c for c in cols]
    cell = lambda d: f"{d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"   # noqa: E731
    from encoders.probe_subgroups import CINC2017_MIX, mix_text
    return ["## By kind of negative, and at the challenge's class mix", "",
            "The same out-of-fold record probabilities, scored on the AF records against each kind of negative "
            f"and on all records with the negatives re-weighted to the CinC 2017 training set ({mix_text(CINC2017_MIX, ' : ')}"
            "; this subset has 50 of each, `encoders.probe_subgroups`). AUROC; the difference has a paired "
            "95 % bootstrap CI.", "",
            "| | " + " | ".join(head) + " |", "|---" * (len(cols) + 1) + "|",
            f"| records (AF vs the negatives) | " + " | ".join(f"{table[c]['n_positive']} vs {table[c]['n_negative']}"
                                                          for c in cols) + " |",
            "| **head** | " + " | ".join(f"**{table[c]['auroc']['head']:.3f}**" for c in cols) + " |",
            f"| baseline: mean `{BASELINE_FEATURE}` | " + " | ".join(f"{table[c]['auroc']['baseline']:.3f}" for c in cols)
            + " |",
            "| head - baseline | " + " | ".join(cell(table[c]["diff"]["head - baseline"]) for c in cols) + " |", ""]


def prevalence_lines(head, check: dict | None = None) -> list[str]:
    """The card's section on reading the probability at another prevalence (:meth:`Head.at_prevalence`)."""
    shown = (0.1, 0.3, 0.5, 0.7, 0.9)
    prior, m = head.training_prevalence, head.metrics
    return ["## At another prevalence", "",
            f"`{head.output}` is calibrated to the records it was fitted on: the {m['n_fit_records']} of "
            f"{m['n_records']} training records with a usable window (each counting once), {prior:.1%} of them AF. "
            "Among records with fewer AF the same measurements mean less: by Bayes' rule with the measures' "
            "likelihood ratio unchanged, a probability p read at prevalence q is "
            f"p k / (p k + 1 - p), k = [q / (1 - q)] / [{prior:.4g} / {1 - prior:.4g}] "
            "(`encoders.heads.train.prior_shift`; the ranking, hence the AUROC, does not change):", "",
            f"| {head.output} as fitted | " + " | ".join(f"{v:g}" for v in shown) + " |",
            "|---" * (len(shown) + 1) + "|",
            *[f"| at {q:.1%} ({what}) | " + " | ".join(f"{x:.2f}" for x in T.prior_shift(shown, prior, q)) + " |"
              for q, what in PREVALENCES], "",
            f"`serve --af-prevalence Q`, `score --af-prevalence Q` and `embed --af-prevalence Q` publish `{head.output}` "
            f"read at Q (a share, 0.087 for 8.7 %), under the head id `{head.head_id}@prevalence=Q`; without the "
            "option they publish it as fitted.", "", *mix_check_lines(head, check)]


def mix_check_lines(head, check: dict | None) -> list[str]:
    """The card's lines on :func:`mix_calibration` (none without it)."""
    from encoders.probe_subgroups import CINC2017_MIX, mix_text
    if check is None:
        return []
    return ["Checked on the out-of-fold record probabilities (CV seed 0) of the covered records, re-weighted to "
            f"the CinC 2017 training set's classes (AF {CINC2017_AF_RECORDS}, {mix_text(CINC2017_MIX)}; "
            f"`encoders.heads.train_af.mix_calibration`). There {check['observed']:.1%} of the covered records are AF:", "",
            f"| {head.output} | mean over records | Brier |", "|---|---|---|",
            *[f"| {name} | {mean:.3f} | {brier:.4f} |" for name, mean, brier in check["rows"]],
            f"| observed AF share | {check['observed']:.3f} | - |", "",
            "Read at the right prevalence the probability is much closer on average than as fitted, but not exact: "
            "Bayes' rule assumes the measures of AF and of non-AF records are distributed as in training, and at "
            "this mix the negatives are mostly normal rhythms (easier to tell from AF than the shared subset's "
            "other rhythms and noisy records), so the moved probability comes out somewhat low.", ""]


def card(head, m, base, rel, folds, names, y, oof, rates=(), sweep=(), kinds=None, check=None) -> str:
    ci = lambda t: f"[{t[0]:.3f}, {t[1]:.3f}]"  # noqa: E731
    lines = [
        f"# Head `{head.name}` v{head.version}: atrial fibrillation probability ({head.modality.upper()})", "",
        f"- **Output**: `{head.output}`, probability of AF for one {WINDOW_S:g} s window; the stream "
        "publishes it and its mean over the last N windows (`smoothed`), `score` writes it per window and "
        "its mean over usable windows per record (`af_prob` in records.parquet).",
        "- **Model**: L2-regularised logistic regression (C = %g, scikit-learn), standardised features, "
        "windows weighted so every record counts once." % C,
        f"- **Inputs**: window measures only (no embedding, `encoder_id: null`): {', '.join(head.features)} "
        f"(see `biosig/measures_hrv.py`{', `biosig/measures_atrial.py`' if 'p_wave_consistency' in head.features else ''}). "
        "Only windows whose quality passes the modality threshold are scored.",
        f"- **Training data**: {head.training}", "",
        "## Cross-validated performance (out of fold, per record)", "",
        f"{folds}-fold stratified CV by record (no record in both train and test). Records with no usable window "
        f"(coverage {m['coverage']:.1%}) get the training prevalence as their probability and are included.", "",
        "| model | AUROC (95 % bootstrap CI) | sensitivity at 95 % specificity (95 % CI) | Brier |",
        "|---|---|---|---|",
        f"| baseline: mean `{BASELINE_FEATURE}` | {base['auroc']:.3f} {ci(base['auroc_ci95'])} | "
        f"{base['sens_at_95_spec']:.3f} {ci(base['sens_at_95_spec_ci95'])} | - |",
        f"| **{head.name}** | **{m['auroc']:.3f}** {ci(m['auroc_ci95'])} | {m['sens_at_95_spec']:.3f} "
        f"{ci(m['sens_at_95_spec_ci95'])} | {m['brier']:.3f} (prevalence-only: {m['brier_prevalence_baseline']:.3f}) |",
        "", f"AUROC over CV seeds 0-2: {', '.join(f'{a:.3f}' for a in m.get('auroc_over_cv_seeds', []))}; "
        f"AUROC on covered records only: {m['auroc_covered']:.3f}.", "",
        "## Calibration (reliability, out of fold)", "", "![reliability](reliability.png)", "",
        f"Records without a usable window carry the prevalence {float(np.mean(y)):.2f} and sit in its bin.", "",
        "| predicted bin | records | mean predicted | observed AF |", "|---|---|---|---|",
        *[f"| {r['bin']} | {r['n']} | {r['mean_pred']:.2f} | {r['observed']:.2f} |" for r in rel], "",
        *prevalence_lines(head, check),
        *kind_lines(kinds),
        "## By heart rate, on SYNTHETIC records (no smoothing)", "",
        f"Median window `af_prob` and, in brackets, the share of usable {WINDOW_S:g} s windows above 0.5, on "
        "`biosig.synthetic` sinus and AF (RR CV 0.15) records, 2 x 60 s per cell "
        "(`encoders.heads.train_af.rate_sweep`). The stream publishes the mean of the last 5 windows too.", "",
        *sweep_table(sweep), "",
        "## Limits", "",
        ("- Rhythm is judged from beat-to-beat intervals and from whether a P wave of constant shape precedes "
         "the beats (`p_wave_consistency`, 250-60 ms before each R peak): frequent ectopy and flutter with "
         "variable block still raise the probability, low-amplitude or noisy P waves read as absent."
         if "p_wave_consistency" in head.features else
         "- Rhythm is judged from beat-to-beat intervals only: other irregular rhythms (frequent ectopy, "
         "flutter with variable block) raise the probability; regular AF (rare) lowers it."),
        "- Beat detection needs >= 4 beats in a usable window; noisy windows are not scored (missing with reason).",
        *rate_limits(head, rates, sweep),
        "",
        "Data: Clifford et al., AF classification from a short single lead ECG recording: the PhysioNet/Computing "
        "in Cardiology Challenge 2017; Goldberger et al., PhysioBank, PhysioToolkit, and PhysioNet, Circulation 2000 "
        "(ODC-BY)." if head.modality == "ecg" else
        "Data: synthetic only (biosig.synthetic); the head's performance on real PPG is unknown. Synthetic AF "
        "and sinus PPG are easy to tell apart (the one-feature baseline separates them too): this head shows "
        "the PPG path end to end, it is not a validated AF detector.", "",
        f"Reproduce: `python -m encoders.heads.train_af {head.modality} "
        f"{'--data ../shared/data/cinc2017 ' if head.modality == 'ecg' else ''}--out encoders/heads/{head.name}`", ""]
    return "\n".join(lines)


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
