"""Linear-probe evaluation of every shipped encoder against its baselines, in one run.

For each task: record-level mean of the window embeddings (the training window of the model),
standardised L2 logistic regression (C = 1; ``--C auto`` chooses it per training fold by an
inner 5-fold CV on log-loss over a fixed grid), the SAME folds for every row, and per baseline a row
``baseline | ours | diff [95% paired bootstrap CI]`` (AUROC; ours minus baseline, the same
resampled records for both). Baselines: the same architecture with random weights (3 seeds), the
handcrafted features of ``encoders.baselines`` (HRV / IBI / MFCC / spirometry) and, per task, the
handcrafted features + the embedding vs the handcrafted features alone (does the embedding add to
HRV?), two ways: the blocks concatenated into one probe, and late fusion (one probe per block, the
mean of their out-of-fold log-odds; ``encoders.probe.LateFusion``), next to the handcrafted features
fused the same way with each random-weight embedding (the control).

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
* ``ppg``: **synthetic** AF vs sinus-rhythm PPG (``synthetic_af_ppg`` in ``probe_synthetic.py``: 60 + 60 records of
  30 s at 100 Hz; AF = irregular intervals and beat-to-beat pulse amplitude, sinus = regular rhythm
  with respiratory sinus arrhythmia). Clearly not real data: the held-out real PPG rhythm sets are
  re-checked by the project owners.
* ``ppg-rhythm``: **synthetic** 6-class PPG rhythm task (``synthetic_rhythm_ppg``: 30 records of 30 s
  at 100 Hz per class; sinus, AF, frequent ectopy, bigeminy, sinus bradycardia, sinus tachycardia;
  the pulse model of ``ppg``; the first four share 55-100 bpm), macro one-vs-rest AUROC: the synthetic
  counterpart of the owners' real 6-rhythm PPG task. Not in the default ``--tasks``.
* ``ppg-arrhythmia-syn``: **synthetic** 6-class PPG arrhythmia task (``synthetic_arrhythmia_ppg``: 40 records
  of 10 s at 100 Hz per class; sinus rhythm, PVC, PAC, VT, SVT, AF from textbook beat models, with
  compensatory / non-compensatory pauses, pulse deficits and tachycardia pulse shapes; its own pulse model,
  independent of the pretraining generator), macro one-vs-rest AUROC: the synthetic counterpart of the
  owners' real "PPG, 6 rhythm classes" task (Liu et al. 2022 style). Not in the default ``--tasks``.
* ``audio``: COVID-19 positive vs negative on the 120 coughs in ``../shared/data/cough``, grouped
  folds by participant (one recording per participant: the file). All positives come from the
  call-center source, so ``--audio-call-center-only`` restricts to call-center recordings (60 vs 22)
  to take the recording channel out of the comparison.
* ``audio-lung-syn``: **synthetic** auscultation, any adventitious sound (wheeze, rhonchus, crackles)
  vs none (``synthetic_lung_sounds``: 60 + 60 records of 15 s at 16 kHz): the synthetic analogue of
  the owners' normal vs disease lung-sound task, from the generator of audio-tiny's auscultation
  pretraining records on other seeds (an in-domain check). Not in the default ``--tasks``.
* ``spiro``: **synthetic** blow acceptability (ATS/ERS 2019): 60 clean forced expirations vs 60 with
  a cough in the first second, an abrupt stop, variable effort or a slow start (15 each), from a
  flow-volume generator independent of spiro-tiny's pretraining data (``benchmarks/spiro_tasks.py``);
  baseline: the ATS/ERS spirometry indices.
* ``spiro-pattern``: **synthetic** clean blows, normal / obstructive / restrictive (40 each),
  macro one-vs-rest AUROC; same generator and baseline.
* ``spiro-dev``: **synthetic** clean vs artefact blows of spiro-tiny's pretraining generator
  (``biosig.synthetic.simulate_spiro``) on held-out seeds: model selection only, never ``spiro``.
  Not in the default ``--tasks``.

For the real tasks (``ecg``, ``audio``) a last table scores the same out-of-fold predictions of the
embedding, its random-weight twins, the handcrafted features and both combinations per kind of
negative (CinC 2017: AF vs N, vs O, vs ~; cough: the positives vs the negatives of each source) and,
for CinC 2017, on all records re-weighted to the class mix of the challenge's training set
(``encoders.probe_subgroups``; JSON key ``<baseline>_by_kind``): the shared subset has 50 records per
class, a third of its negatives noisy, the training set 3.6 %.

Usage: ``python benchmarks/eval_probe.py [--tasks ecg ppg audio spiro spiro-pattern] [--data DIR] [--jobs N] [--json out.json]``.
``--invert all|half`` sign-inverts every ECG / PPG record (or a random half) before any row sees it: the
polarity robustness of the model next to its baselines, on the same folds.
The features of every row are computed in ``--jobs`` worker processes (default: the CPUs this process may use,
at most 8; ``encoders/probe_features.py``), one torch thread each, so the numbers do not depend on N.
The real sets are read by ``probe_data.py`` (rows it cannot use are listed under the table), the synthetic
ECG / PPG tasks come from ``probe_synthetic.py`` and the spirogram tasks from ``spiro_tasks.py``.
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

from probe_synthetic import (PPG_ARRHYTHMIAS, PPG_RHYTHM_BPM, PPG_RHYTHMS,  # noqa: E402,F401 (re-exported)
                             arrhythmia_ppg_beats, rhythm_ppg_beats, synthetic_af_ppg, synthetic_arrhythmia_ppg,
                             synthetic_atrial_ecg, synthetic_lung_sounds, synthetic_rhythm_ecg, synthetic_rhythm_ppg)


def _progress(what: str, total: int):
    """A tqdm bar on a terminal, a log line every 10 s otherwise (biosig.cli._common.ProgressLog)."""
    from biosig.cli._common import ProgressLog
    return ProgressLog(f"eval_probe: {what}", total, bar=True)


def load_task(task: str, call_center_only: bool = False, data_dir: pathlib.Path = DATA, lung_seed: int = 600_000):
    """(records, y, groups or None, description, note on left-out rows or "", the kind of each record
    or None: CinC 2017 its label, cough its source)."""
    from probe_data import load_cinc2017, load_cough
    if task == "ecg":
        s = load_cinc2017(data_dir, _progress)
        desc = f"CinC 2017 ({data_dir / 'cinc2017'}), AF vs rest, stratified 5-fold"
    elif task == "audio":
        s = load_cough(data_dir, call_center_only, _progress)
        which = "call-center only" if call_center_only else "all sources"
        desc = f"cough COVID-19 +/- ({which}; {data_dir / 'cough'}), folds grouped by participant"
    else:
        return (*_load_synthetic(task, lung_seed), "", None)
    return s.records, s.y, s.groups, desc, s.skipped_text(), s.subgroups


INVERTIBLE = ("ecg", "ppg")   # task prefixes whose records --invert may sign-flip
INVERT_TEXT = {"all": "EVERY record sign-inverted", "half": "a random half of the records sign-inverted"}


def invert_records(records: list, how: str, seed: int = 0) -> list:
    """The records with their samples negated: ``all`` of them, or a random ``half`` (``seed``): an
    inverted lead (ECG electrode swap, a downward lead such as MCL1) or a PPG front end that reports
    absorbance rather than transmitted light. The labels, folds and every row are unchanged."""
    flip = np.ones(len(records), bool) if how == "all" else np.random.default_rng(seed).random(len(records)) < 0.5
    return [r.replace(samples=-r.samples) if f else r for r, f in zip(records, flip)]


def _load_synthetic(task: str, lung_seed: int = 600_000):
    """(records, y, groups None, description) of a synthetic task."""
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
    if task == "ppg-arrhythmia-syn":
        recs, y = synthetic_arrhythmia_ppg()
        return recs, y, None, ("SYNTHETIC 6-class PPG arrhythmia: " + ", ".join(PPG_ARRHYTHMIAS)
                               + " (100 Hz, 10 s), macro one-vs-rest AUROC, stratified 5-fold")
    if task == "audio-lung-syn":
        recs, y = synthetic_lung_sounds(seed=lung_seed)
        return recs, y, None, ("SYNTHETIC auscultation, any adventitious sound vs none (16 kHz, 15 s; the generator "
                               f"of the auscultation pretraining records, seeds {lung_seed}+), stratified 5-fold")
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
         "ppg-rhythm": ("ppg-tiny", ("ibi",)), "ppg-arrhythmia-syn": ("ppg-tiny", ("ibi",)),
         "audio": ("audio-tiny", ("mfcc",)),
         "audio-lung-syn": ("audio-tiny", ("mfcc",)),
         "spiro": ("spiro-tiny", ("spirometry",)), "spiro-pattern": ("spiro-tiny", ("spirometry",)),
         "spiro-dev": ("spiro-tiny", ("spirometry",))}


def run_task(task: str, args) -> dict:
    import encoders
    from encoders.baselines import undefined_rows
    from encoders.errors import EncoderError
    from encoders.probe import compare, cv_folds, format_C, format_rows
    from encoders.probe_features import FeatureSpec, all_features
    from probe_data import ProbeDataError, fold_count
    t0 = time.perf_counter()
    records, y, groups, desc, left_out, kinds = load_task(task, args.audio_call_center_only, args.data, args.lung_seed)
    n_folds, fewer = fold_count(y, args.folds, groups)   # before the features: no error after the long part
    try:
        folds = cv_folds(y, n_folds, args.seed, groups)
    except EncoderError as exc:   # grouped folds that cannot hold every class
        raise ProbeDataError(str(exc)) from None
    desc = desc.replace("5-fold", f"{n_folds}-fold")
    if args.invert != "none":
        records, desc = invert_records(records, args.invert, args.seed), f"{desc}; {INVERT_TEXT[args.invert]}"
    model, handcrafted = TASKS[task]
    model = getattr(args, f"{task.split('-')[0]}_model") or model
    enc = encoders.load(model)
    ours = f"{enc.model_id}"
    specs = {ours: FeatureSpec("model", model)}
    for s in args.random_seeds:
        specs[f"same architecture, random weights, seed {s}"] = FeatureSpec("random", model, seed=s)
    for kind in handcrafted:
        specs[f"{kind} features"] = FeatureSpec(kind, model, modality=enc.config.modality)
    t_feat = time.perf_counter()
    raw = all_features(specs, records, args.jobs, lambda what, n: _progress(f"{task}: {what}", n))
    t_feat = time.perf_counter() - t_feat
    feats = {}
    for name, X in raw.items():
        if specs[name].kind in ("model", "random"):
            feats[name] = X
        else:
            X, n_bad = undefined_rows(X)
            feats[name + (f" ({n_bad} imputed)" if n_bad else "")] = X
    probas = {}   # every row's out-of-fold predictions (the by-kind table reads them, refitting nothing)
    res = compare(feats, y, folds, reference=ours, n_boot=args.bootstrap, seed=args.seed, C=args.C, groups=groups,
                  probas_out=probas)
    counts = "/".join(str(c) for c in np.bincount(y)) + " per class" if y.max() > 1 else f"{int(y.sum())} positive"
    print(f"\n## {task}: {desc}; {len(y)} records ({counts}); ours = {ours} "
          f"(window {enc.window_s:g} s)")
    if left_out:
        print(f"# {left_out}")
    if fewer:
        print(f"# {fewer}")
    for row in format_rows(res, ours):
        print(row)
    out = {"task": desc, "model": ours, "results": res, "left_out": left_out, "folds": n_folds, "folds_note": fewer}
    for kind in handcrafted:   # does the embedding add to the handcrafted features? two ways
        added, names = plus_embedding(kind, feats, ours, specs, y, folds, args, groups, probas)
        out[f"{kind}_plus_embedding"] = added
        res = {**res, **{names[how]: r[names[how]] for how, r in added.items()}}
        if kinds is not None:
            try:
                out[f"{kind}_by_kind"] = by_kind(task, kind, probas, ours, specs, names, y, kinds, args, groups)
            except EncoderError as exc:   # a kind too small to bootstrap: the tables above stand, said
                print(f"# {task} by kind of negative: left out ({exc})")
                out[f"{kind}_by_kind"] = {"left out": str(exc)}
    if args.C == "auto":
        print("# C per fold (nested CV): " + "; ".join(f"{k} {format_C(r['C'])}"
                                                     for k, r in res.items()))
    print(f"# {task}: {time.perf_counter() - t0:.0f} s (features {t_feat:.0f} s on {args.jobs} "
          f"process{'es' if args.jobs > 1 else ''})")
    return out


BASELINE_LABEL = {"hrv": "HRV", "ibi": "IBI", "mfcc": "MFCC", "spirometry": "spirometry"}


def plus_embedding(kind: str, feats: dict, ours: str, specs: dict, y, folds, args, groups,
                   probas_out: dict | None = None) -> tuple[dict, dict]:
    """The handcrafted features of ``kind`` + the embedding against the handcrafted features alone
    (:func:`encoders.probe.compare_combined`: concatenated, and late fusion with the handcrafted
    features fused the same way with each random-weight embedding as the control). Prints both
    tables; returns (``{how: compare result}``, ``{how: the combination's name}``); ``probas_out``
    receives the out-of-fold predictions of every row."""
    from encoders.probe import COMBINATIONS, compare_combined, format_rows
    base = next(k for k in feats if k.startswith(f"{kind} features"))   # "... (1 imputed)" where some were
    label = BASELINE_LABEL.get(kind, kind)
    names = {how: f"{label} + {ours} ({how})" for how in COMBINATIONS}
    controls = {f"{label} + random weights, seed {spec.seed} (late fusion)": feats[k]
                for k, spec in specs.items() if spec.kind == "random"}
    out = compare_combined(base, feats[base], feats[ours], names, y, folds, controls, n_boot=args.bootstrap,
                           seed=args.seed, C=args.C, groups=groups, probas_out=probas_out)
    for how, res in out.items():
        print(f"# {label} + embedding vs {label} alone, {how} (ours = {names[how]})")
        for row in format_rows(res, names[how]):
            print(row)
    return out, names


# tasks whose negatives are re-weighted to a published class mix in the by-kind table
TASK_MIX = {"ecg": ("CinC 2017 mix", "the negatives of the 8528-record CinC 2017 training set")}


def by_kind(task: str, kind: str, probas: dict, ours: str, specs: dict, names: dict, y, kinds, args,
            groups=None) -> dict:
    """The out-of-fold predictions of the embedding, its random-weight twins, the ``kind`` features and
    both combinations (``probas``, as the tables above fitted them; ``names`` = the combinations'),
    scored on the positives against each kind of negative (CinC 2017: N, O, ~; cough: the source) and,
    for CinC 2017, re-weighted to the challenge's class mix (:mod:`encoders.probe_subgroups`). Prints
    the table; returns it."""
    from encoders.probe_subgroups import CINC2017_MIX, format_subgroup_rows, mix_text, subgroup_table
    base = next(k for k in probas if k.startswith(f"{kind} features"))
    label = BASELINE_LABEL.get(kind, kind)
    randoms = {f"random weights, seed {spec.seed}": probas[k] for k, spec in specs.items() if spec.kind == "random"}
    fused = {f"{label} + ours ({how})": probas[names[how]] for how in ("concatenated", "late fusion")}
    rows = {"ours": probas[ours], **randoms, label: probas[base], **fused}
    pairs = [("ours", k) for k in (*randoms, label)] + [(k, label) for k in reversed(fused)]
    mix_name, mix_what = TASK_MIX.get(task, (None, None))
    table = subgroup_table(rows, y, kinds, pairs, CINC2017_MIX if mix_name else None, mix_name or "mix",
                           n_boot=args.bootstrap, seed=args.seed, groups=groups)
    mix = f", and all records re-weighted to {mix_what}, {mix_text(CINC2017_MIX, ' : ')}" if mix_name else ""
    print(f"# {task} by kind of negative (ours = {ours}): AUROC of the same out-of-fold predictions, the positives "
          f"against each kind (n negatives){mix}; then differences [95% paired bootstrap CI]")
    absent = [k for k in (CINC2017_MIX if mix_name else ()) if k not in set(map(str, kinds))]
    if absent:   # the re-weighting can only weigh the kinds the set holds
        print(f"# the {mix_name} column re-weights the kinds present only: no {', '.join(absent)} record in this set")
    for row in format_subgroup_rows(table):
        print(row)
    return table


def _C_arg(text: str):
    from encoders.probe import parse_C
    try:
        return parse_C(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv=None) -> argparse.Namespace:
    """The command line, validated, with --jobs resolved to a number (what run_task expects)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["ecg", "ppg", "audio", "spiro", "spiro-pattern"],
                    choices=list(TASKS),
                    help="ecg: CinC 2017; ecg-syn: synthetic rhythm-only ECG (model selection); ecg-atrial-syn: "
                         "synthetic AF vs irregular non-AF ECG, atrial activity only (model selection); ppg; ppg-rhythm: synthetic 6-class PPG rhythm "
                         "(macro AUROC); ppg-arrhythmia-syn: synthetic 6-class PPG arrhythmia, sinus / PVC / PAC / "
                         "VT / SVT / AF, 10 s (macro AUROC); audio; audio-lung-syn: synthetic lung sounds, "
                         "adventitious vs none (in-domain check); "
                         "spiro: synthetic blow acceptability; spiro-pattern: synthetic "
                         "normal / obstructive / restrictive blows; spiro-dev: model selection (pretraining generator)")
    ap.add_argument("--ecg-model", default=None, help="checkpoint dir or name (default ecg-tiny)")
    ap.add_argument("--ppg-model", default=None, help="checkpoint dir or name (default ppg-tiny)")
    ap.add_argument("--audio-model", default=None, help="checkpoint dir or name (default audio-tiny)")
    ap.add_argument("--spiro-model", default=None, help="checkpoint dir or name (default spiro-tiny)")
    ap.add_argument("--audio-call-center-only", action="store_true",
                    help="cough task on call-center recordings only (all positives are call-center)")
    ap.add_argument("--lung-seed", type=int, default=600_000, metavar="S",
                    help="audio-lung-syn: first record seed (default 600000; the auscultation pretraining records "
                         "are 50000+, audio_pretext's held-out ones 550000+): another value draws another record set")
    ap.add_argument("--invert", choices=("none", "all", "half"), default="none",
                    help="ECG / PPG tasks: sign-invert every record (all) or a random half (seed --seed), the same "
                         "records for every row: how much an inverted lead or pulse wave costs (default none)")
    ap.add_argument("--random-seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="a random-weight row of each model's architecture per seed (default 0 1 2)")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the folds, the bootstrap and --invert half (default 0)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    ap.add_argument("--C", type=_C_arg, default=1.0, metavar="C|auto",
                    help="probe regularisation strength (default 1, the protocol of every reported table); auto "
                         "picks C per training fold by an inner 5-fold CV (log-loss, grid 1e-3..10, the same for "
                         "every row)")
    ap.add_argument("--jobs", type=int, default=None, metavar="N",
                    help="worker processes for the features (default: the CPUs this process may use, at most 8); each "
                         "runs torch on one thread, so the numbers do not depend on N")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--data", type=pathlib.Path, default=DATA, metavar="DIR",
                    help="the folder holding cinc2017/ and cough/ (default ../shared/data); a larger set with "
                         "the same layout works, rows that cannot be used are listed under the table")
    args = ap.parse_args(argv)
    if args.invert != "none" and any(not t.startswith(INVERTIBLE) for t in args.tasks):
        ap.error("--invert applies to the ECG and PPG tasks only; drop it or use --tasks "
                 + " ".join(t for t in TASKS if t.startswith(INVERTIBLE)))
    if args.json and not pathlib.Path(args.json).absolute().parent.is_dir():   # said now, not after the work
        ap.error(f"--json {args.json}: no folder {pathlib.Path(args.json).absolute().parent}")
    if args.jobs is not None and args.jobs < 1:
        ap.error(f"--jobs must be >= 1, got {args.jobs}")
    from encoders.probe_features import default_jobs
    args.jobs = args.jobs or default_jobs()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    reg = "C by nested 5-fold CV per training fold" if args.C == "auto" else f"C = {args.C:g}"
    print(f"# linear probe (standardised L2 logistic regression, {reg}), record-mean embeddings, AUROC; "
          f"{args.folds}-fold CV seed {args.seed}; 95% bootstrap CIs ({args.bootstrap}), diff CIs paired")
    t = time.perf_counter()
    from probe_data import ProbeDataError, check_sets
    try:   # every set the tasks read is there, before the first task's work
        check_sets(args.tasks, args.data)   # the real tasks' (ecg, audio) sets
    except ProbeDataError as exc:
        print(f"eval_probe: error: {exc}", file=sys.stderr)
        return 2
    from encoders.errors import EncoderError
    results, failed = {}, {}
    for task in args.tasks:   # a task that cannot run is said and the others still run and are written
        try:
            results[task] = run_task(task, args)
        except (ProbeDataError, EncoderError) as exc:
            failed[task] = str(exc)
            print(f"eval_probe: error: {task}: {exc}; task skipped", file=sys.stderr)
    print(f"# total {time.perf_counter() - t:.0f} s"
          + (f"; {len(failed)} task(s) skipped: {', '.join(failed)} (see the errors above)" if failed else ""))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({**results, **({"skipped_tasks": failed} if failed else {})},
                                                      indent=1))
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
