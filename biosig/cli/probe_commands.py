"""``biosig probe``: a cross-validated linear probe on embeddings, with baselines on the same folds.

polars, numpy and encoders are imported inside the handlers so ``biosig --version`` stays fast.
"""
from __future__ import annotations

import argparse
import logging

from biosig import json_text
from biosig.cli._common import fold_count as _folds, positive_int as _positive_int, quality_0_1 as _quality

log = logging.getLogger(__name__)


def _probe_C(text: str):
    """``auto`` (nested cross-validation) or a positive inverse regularisation strength."""
    from encoders.probe import parse_C
    try:
        return parse_C(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    q = subparsers.add_parser(
        "probe", help="cross-validated logistic-regression probe on embeddings",
        description="Average window embeddings per record (source file name without extension), join "
                    "the labels on their key column, fit a standardised L2 logistic regression with "
                    "stratified K-fold CV and print AUROC, balanced accuracy and macro-F1 with 95 % "
                    "bootstrap confidence intervals.")
    q.add_argument("--embeddings", required=True, metavar="FILE.parquet", help="the output of biosig embed")
    q.add_argument("--labels", required=True, metavar="CSV",
                   help="labels, one row per record: a record id column and a label column")
    q.add_argument("--label-column", required=True, metavar="COL", help="the column holding the label")
    q.add_argument("--no-header", action="store_true",
                   help="the labels CSV has no header line (as PhysioNet's REFERENCE.csv): its columns are "
                        "then named 1, 2, ... (e.g. --label-column 2)")
    q.add_argument("--key-column", default=None, metavar="COL", help="record id column (default: the first)")
    q.add_argument("--positive", default=None, metavar="VALUE",
                   help="one-vs-rest: this label value is the positive class, all others negative")
    q.add_argument("--folds", type=_folds, default=5, help="cross-validation folds, >= 2 (default 5)")
    q.add_argument("--seed", type=int, default=0, help="seed of the folds and the bootstrap (default 0)")
    q.add_argument("--bootstrap", type=_positive_int, default=1000, metavar="N",
                   help="bootstrap resamples of the confidence intervals (default 1000)")
    q.add_argument("--C", type=_probe_C, default=1.0, metavar="C|auto",
                   help="inverse L2 regularisation strength of the standardised features (default 1), or auto: "
                        "chosen per training fold by an inner stratified (grouped) 5-fold CV on log-loss over "
                        "1e-3 .. 10, the same grid for every feature set")
    q.add_argument("--min-quality", type=_quality, default=0.0,
                   help="drop windows below this quality, 0..1 (default 0: keep all)")
    q.add_argument("--baseline", action="append", default=[], choices=("hrv", "ibi", "mfcc", "spirometry", "random"),
                   help="also probe these features on the same records and folds (repeatable): neurokit2 HRV, "
                        "inter-beat-interval statistics, MFCC mean/std, ATS/ERS spirometry indices, or --model with "
                        "random weights; prints "
                        "baseline | ours | diff with a paired bootstrap CI")
    q.add_argument("--combined", action="store_true",
                   help="with --baseline hrv|ibi|mfcc|spirometry: also probe the handcrafted features + the embeddings against "
                        "the handcrafted features alone (does the embedding add to HRV?), same folds, paired CI; two "
                        "ways: the two blocks concatenated into one probe, and late fusion (one probe per block, "
                        "the mean of their out-of-fold log-odds; with --baseline random, each random-weight row is "
                        "fused with the handcrafted features too, as the control)")
    q.add_argument("--model", default=None, metavar="NAME|DIR",
                   help="architecture for --baseline random (default: the model that made the embeddings, as "
                        "biosig embed records it in the file, on the same window grid)")
    q.add_argument("--random-seed", type=int, nargs="+", default=[0], metavar="SEED",
                   help="seed(s) of the random weights, one row each (default 0; e.g. --random-seed 0 1 2)")
    q.add_argument("--group-column", default=None, metavar="COL",
                   help="label-table column with a group id (e.g. patient): stratified grouped folds, and "
                        "confidence intervals that resample whole groups (cluster bootstrap)")
    q.add_argument("--by-label", action="store_true",
                   help="with --positive: also score the same out-of-fold predictions of every row on the positives "
                        "against each other label value on its own (CinC 2017: A vs N, A vs O, A vs ~), with paired "
                        "CIs of ours minus each row and of each combination minus its handcrafted features alone")
    q.add_argument("--mix", type=_mix, default=None, metavar="LABEL=SHARE,...",
                   help="with --by-label: also score all records with the negatives re-weighted to these shares "
                        "(e.g. N=5050,O=2456,~=284, the CinC 2017 training set), the class mix of a target population")
    q.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="worker processes for the --baseline features, one torch thread each (default: the "
                        "cores free right now, i.e. CPUs minus the 1-minute load average, at most 8 and one per "
                        "25 records; 1 computes them in this process); the numbers do not depend on N")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(handler=probe_command)


def _mix(text: str) -> dict:
    """``N=5050,O=2456`` -> {"N": 5050.0, "O": 2456.0} (shares > 0)."""
    out = {}
    for part in text.split(","):
        label, sep, share = part.partition("=")
        try:
            value = float(share)
        except ValueError:
            value = float("nan")
        if not sep or not label.strip() or not value > 0:
            raise argparse.ArgumentTypeError(f"{part!r}: expected LABEL=SHARE with SHARE > 0 (e.g. N=5050,O=2456)")
        out[label.strip()] = value
    return out


def _report_unmatched(keys, kept, labels, args, all_keys=None) -> None:
    """Say which embedded records have no label and which labelled records no embedding (both
    are left out of the probe): a misspelt key must not shrink the data set unnoticed. ``all_keys``:
    the records in the file before --min-quality (those only it left out are said apart)."""
    from encoders.probe_labels import id_hint, record_key

    def some(names):
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    unlabelled = [keys[i] for i in sorted(set(range(len(keys))) - set(kept))]
    key_column = args.key_column or labels.columns[0]
    embedded = set(keys)
    unembedded = sorted({record_key(k) for k in labels[key_column].to_list()} - embedded - {""})
    in_file = set() if all_keys is None else set(unembedded) & set(all_keys)   # all windows below --min-quality
    low = [k for k in unembedded if k in in_file]
    unembedded = [k for k in unembedded if k not in in_file]
    if unlabelled:
        log.warning("%d of %d embedded record(s) have no %s in %s and are left out: %s", len(unlabelled),
                    len(keys), args.label_column, args.labels, some(unlabelled))
    if low:
        log.warning("%d labelled record(s) of %s have no window at or above the quality threshold "
                    "--min-quality %g in %s and are left out: %s", len(low), args.labels, args.min_quality,
                    args.embeddings, some(low))
    if unembedded:
        log.warning("%d labelled record(s) of %s are not in %s: %s%s", len(unembedded), args.labels,
                    args.embeddings, some(unembedded), id_hint(unembedded, unlabelled))


def probe_command(args) -> int:
    import polars as pl

    from biosig.errors import BiosigError
    from biosig.readers.csv_dialect import sniff
    from encoders.probe import METRICS, format_C, probe
    from encoders.probe_labels import join_labels, label_value, record_features, record_key
    try:
        emb = pl.read_parquet(args.embeddings)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise BiosigError(f"{args.embeddings}: cannot read embeddings: {exc}") from None
    missing = {"source", "embedding"} - set(emb.columns)
    if missing:
        raise BiosigError(f"{args.embeddings}: missing columns {sorted(missing)} (write it with biosig embed)")
    try:
        labels = pl.read_csv(args.labels, infer_schema_length=0, has_header=not args.no_header,
                             separator=sniff(args.labels).separator)   # comma, semicolon or tab
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise BiosigError(f"{args.labels}: cannot read labels: {exc}") from None
    if args.no_header:
        labels = labels.rename({c: str(i + 1) for i, c in enumerate(labels.columns)})
    missing = [c for c in (args.label_column, args.key_column, args.group_column) if c and c not in labels.columns]
    if missing:
        hint = ("" if args.no_header else "; if the file has no header line (as PhysioNet's REFERENCE.csv), add "
                "--no-header and name the columns by number (--label-column 2)")
        raise BiosigError(f"{args.labels}: no column {missing[0]!r}; columns: {', '.join(labels.columns)}{hint}")
    keys, X = record_features(emb, args.min_quality)
    kept, y = join_labels(keys, labels, args.label_column, args.key_column)
    all_keys = None
    if args.min_quality > 0 and "quality" in emb.columns:   # records whose every window is below it
        all_keys = {record_key(s) for s in emb["source"].unique().to_list()}
    _report_unmatched(keys, kept, labels, args, all_keys)
    if (args.by_label or args.mix) and args.positive is None:
        raise BiosigError("--by-label and --mix need --positive (the breakdown is the positives against each other label)")
    if args.mix and not args.by_label:
        raise BiosigError("--mix re-weights the --by-label breakdown: add --by-label")
    values = [str(v) for v in y]   # the label of each record, before --positive makes them 0 / 1 (--by-label)
    if args.positive is not None:
        args.positive = label_value(args.positive)   # --positive 1.0 is the label 1, as 1.0 in the file is
        if args.positive not in set(y):
            raise BiosigError(f"--positive {args.positive!r} is not a label value; values: "
                              f"{', '.join(sorted(map(str, set(y))))}")
        y = (y == args.positive).astype(int)
    if args.mix:
        _check_mix(args, values)
    groups = None
    if args.group_column is not None:
        _, groups = join_labels([keys[i] for i in kept], labels, args.group_column, args.key_column,
                                as_number=False)   # ids as written: patients 007 and 7 are two
        if len(groups) != len(kept):
            raise BiosigError(f"--group-column {args.group_column}: {len(kept) - len(groups)} labelled record(s) have "
                              "no group id (empty, or missing-value text such as NaN or NA); give each one")
    if args.combined and not set(args.baseline) - {"random"}:
        raise BiosigError("--combined needs a handcrafted --baseline (hrv, ibi, mfcc or spirometry) to add the embeddings to")
    if args.baseline:
        return _probe_with_baselines(args, emb, keys, kept, X, y, groups, values)
    probas = {}
    from encoders.probe import cv_folds   # the folds of _probe_with_baselines, said with the class names
    res = probe(X[kept], y, seed=args.seed, n_boot=args.bootstrap, C=args.C,
                folds=cv_folds(y, args.folds, args.seed, groups, _class_names(args.positive)), groups=groups,
                probas_out=probas)
    if args.by_label:
        res["by label"] = _by_label(args, {"embeddings": probas["X"]}, [], y, values, groups)
    if args.json:
        print(json_text.dumps(_with_class_names(res, args.positive)))
        return 0
    kind = _cv_kind(groups)
    print(f"{res['n']} records, {_classes(y, args.positive)}, {res['folds']}-fold {kind} CV, "
          f"C per fold {format_C(res['C'])}")
    _print_rest(values, args.positive)
    for m in METRICS:
        r = res[m]
        print(f"{m:18s} {r['value']:.3f}  (95% CI {r['ci_low']:.3f}-{r['ci_high']:.3f})")
    _print_by_label(res.get("by label"), args)
    return 0


def _cv_kind(groups) -> str:
    """The folds' kind as the header line says it (with the number of groups when grouped)."""
    return f"stratified grouped ({len(set(groups))} groups)" if groups is not None else "stratified"


#: The recordings each handcrafted baseline is made for (hrv: R-R intervals; ibi: pulse or beat
#: intervals; mfcc: sound; spirometry: ATS/ERS indices of a blow).
BASELINE_MODALITIES = {"hrv": ("ecg",), "ibi": ("ppg", "ecg"), "mfcc": ("audio",), "spirometry": ("spiro",)}


def _probe_with_baselines(args, emb, keys, kept, X, y, groups, values) -> int:
    """Baseline features on the records behind the embeddings, same folds, paired CIs."""
    from biosig.cli._common import ProgressLog, free_cores
    from biosig.errors import BiosigError, ReadError
    from biosig.readers import record_exists
    from encoders.baselines import undefined_rows
    from encoders.embeddings_file import read_provenance
    from encoders.errors import EncoderError
    from encoders.probe_features import MAX_DEFAULT_JOBS, FeatureSpec, RecordFile, all_features
    from encoders.probe import compare, compare_combined, cv_folds, format_C, format_rows
    from encoders.probe_labels import id_hint, record_key
    folds = cv_folds(y, args.folds, args.seed, groups, _class_names(args.positive))   # said before any feature
    prov = read_provenance(args.embeddings)   # what made the embeddings: model, window, read options
    model = args.model or prov.get("model")
    if "random" in args.baseline and model is None:
        raise BiosigError(f"--baseline random needs --model NAME|DIR (the architecture): {args.embeddings} does "
                          "not say which model made it (written before biosig embed recorded that)")
    window_s = _embeddings_window_s(prov, emb) if "random" in args.baseline else None
    if "random" in args.baseline and args.model and prov.get("model") and \
            args.model not in (prov["model"], prov.get("model_id")):
        log.warning("--model %s: the embeddings were made by %s (%s); the random-weight row is %s's architecture "
                    "on their %s s windows", args.model, prov["model"], prov.get("model_id", "?"), args.model,
                    f"{window_s:g}" if window_s else "?")
    read_options = prov.get("read_options") or {}
    src = {}
    for s in emb["source"].to_list():
        src.setdefault(record_key(s), s)
    records = [RecordFile(src[keys[i]], read_options) for i in kept]   # read where used, one at a time
    try:
        modality = records[0].load().modality if records else None
    except BiosigError as exc:
        raise BiosigError(f"--baseline needs the recordings behind the embeddings: {exc}") from None
    except TypeError as exc:   # read options of a newer biosig than this one
        raise BiosigError(f"{args.embeddings}: read options {read_options} are not understood here ({exc})") from None
    missing = [r.path for r in records if not record_exists(r.path)]
    if missing:   # said before minutes of features, not after
        raise BiosigError(f"--baseline needs the recordings behind the embeddings: {len(missing)} of {len(records)} "
                          f"are not there, e.g. {missing[0]} (run probe where biosig embed ran, or with the "
                          "same relative paths)")
    ours = "embeddings"
    feats = {ours: X[kept]}
    specs = {}
    for kind in dict.fromkeys(args.baseline):
        if kind == "random":
            specs.update({f"random seed {seed}": FeatureSpec("random", model, seed, window_s=window_s,
                                                              min_quality=args.min_quality)
                          for seed in dict.fromkeys(args.random_seed)})
        else:
            if modality and modality not in BASELINE_MODALITIES[kind]:   # computable, but not what it is for
                log.warning("--baseline %s is a baseline for %s recordings; these are %s (the usual one: %s)", kind,
                            " / ".join(BASELINE_MODALITIES[kind]), modality,
                            ", ".join(k for k, m in BASELINE_MODALITIES.items() if modality in m) or "random")
            specs[kind] = FeatureSpec(kind, model, modality=modality)
    # default: the free cores, at most 8 (each worker holds torch and a model: ~0.3-0.5 GB) and one per
    # 25 records (a worker takes seconds to start; a small set is done sooner in this process)
    jobs = args.jobs or max(1, min(free_cores(), MAX_DEFAULT_JOBS, len(records) // 25))
    try:
        raw = all_features(specs, records, jobs, lambda what, n: ProgressLog(f"probe --baseline {what}", n, bar=True))
    except BiosigError as exc:
        if isinstance(exc, ReadError):
            raise BiosigError(f"--baseline needs the recordings behind the embeddings: {exc}") from None
        if "random" in args.baseline and args.model is None and isinstance(exc, EncoderError):
            raise BiosigError(f"{exc} (the model {args.embeddings} was made with; give --model NAME|DIR)") from None
        raise
    for name, F in raw.items():
        F, n_bad = undefined_rows(F)
        if n_bad:
            log.warning("--baseline %s: %d record(s) had undefined features (imputed with the training folds' median)", name, n_bad)
        feats[name] = F
    probas = {}   # the out-of-fold predictions of every row, for --by-label
    res = compare(feats, y, folds, reference=ours, n_boot=args.bootstrap, seed=args.seed, C=args.C, groups=groups,
                  probas_out=probas)
    combined = {}
    pairs = [(ours, name) for name in feats if name != ours]   # --by-label: ours - each row, each fusion - its kind
    if args.combined:   # handcrafted + embeddings (reference) vs the handcrafted features alone
        for kind in dict.fromkeys(k for k in args.baseline if k != "random"):
            names = {"concatenated": f"{kind} + embeddings", "late fusion": f"{kind} + embeddings (late fusion)"}
            controls = {f"{kind} + {name} (late fusion)": feats[name]   # the random-weight rows, fused the same way
                        for name in feats if name.startswith("random seed ")}
            added = compare_combined(kind, feats[kind], feats[ours], names, y, folds, controls, n_boot=args.bootstrap,
                                     seed=args.seed, C=args.C, groups=groups, probas_out=probas)
            combined.update({names[how]: r for how, r in added.items()})
            pairs += [(names["late fusion"], kind), (names["concatenated"], kind)]
    by_label = None
    if args.by_label:
        rows = list(feats) + list(combined)
        by_label = _by_label(args, {name: probas[name] for name in rows}, pairs, y, values, groups)
    if args.json:
        extra = {"by label": by_label} if by_label is not None else {}
        named = {k: _with_class_names(r, args.positive) for k, r in res.items()}
        named.update({f"combined: {k}": {name: _with_class_names(r, args.positive) for name, r in v.items()}
                      for k, v in combined.items()})
        print(json_text.dumps({**named, **extra}))
        return 0
    kind = _cv_kind(groups)
    made_by = (f" ({prov['model_id']}{', random weights' if prov.get('random_weights') else ''}"
               + (f", window {prov['window_s']:g} s" if prov.get("window_s") else "") + ")") if prov.get("model_id") else ""
    print(f"{len(y)} records, {_classes(y, args.positive)}, {len(folds)}-fold {kind} CV; "
          f"ours = {args.embeddings}{made_by}")
    _print_rest(values, args.positive)
    for row in format_rows(res, ours):
        print(row)
    for both, r in combined.items():
        print(f"# {both} vs {both.split(' + ')[0]} alone (ours = {both})")
        for row in format_rows(r, both):
            print(row)
    print("C per fold: " + "; ".join(f"{name} {format_C(r['C'])}" for name, r in res.items()))
    _print_by_label(by_label, args)
    return 0


def _embeddings_window_s(prov: dict, emb) -> float | None:
    """The window the embeddings were made on, for the random-weight rows: embed's --window-s, else
    the grid it recorded (the training window of ITS model, which another --model need not share),
    else, in a file without provenance, the length of its windows (t1_s - t0_s), not the --model's
    training window: a row on other windows than the embeddings' compares more than the weights."""
    given = prov.get("window_s_given") or prov.get("window_s")
    if given:
        return float(given)
    if not {"t0_s", "t1_s"} <= set(emb.columns) or len(emb) == 0:
        return None
    lengths = (emb["t1_s"] - emb["t0_s"]).round(6)
    window_s = float(lengths.mode().max())
    log.info("%g s windows in the embeddings (a file without biosig embed's provenance): the random-weight rows "
             "use them", window_s)
    return window_s if window_s > 0 else None


def _by_label(args, probas: dict, pairs: list, y, values: list, groups=None) -> dict:
    """:func:`encoders.probe_subgroups.subgroup_table` of the rows' out-of-fold predictions ``probas``
    (those of the tables above) over the label values of the negatives, re-weighted to --mix."""
    from biosig.errors import BiosigError
    from encoders.errors import EncoderError
    from encoders.probe_subgroups import subgroup_table
    try:
        return subgroup_table(probas, y, values, pairs, args.mix, "re-weighted (--mix)", n_boot=args.bootstrap,
                              seed=args.seed, groups=groups)
    except EncoderError as exc:
        raise BiosigError(f"--mix: {exc}") from None


def _print_by_label(table, args) -> None:
    if table is None or args.json:
        return
    from encoders.probe_subgroups import format_subgroup_rows, mix_text
    mix = ", and all records with the negatives re-weighted to " + mix_text(args.mix) if args.mix else ""
    print(f"# by label: the same out-of-fold predictions, {args.positive} against each other label (n){mix}; "
          "then differences [95% paired bootstrap CI]")
    for row in format_subgroup_rows(table):
        print(row)


def _classes(y, positive) -> str:
    """The classes with their record counts: ``A (50) vs rest (150)`` for ``--positive A``."""
    import numpy as np
    values, counts = np.unique(np.asarray(y), return_counts=True)
    if positive is not None:
        n = dict(zip(values.tolist(), counts.tolist()))
        return f"{positive} ({n.get(1, 0)}) vs rest ({n.get(0, 0)})"
    return "classes " + ", ".join(f"{v} ({c})" for v, c in zip(values.tolist(), counts.tolist()))


def _print_rest(values, positive) -> None:
    """Under --positive, the label values counted as the negatives (``rest: N 50, O 50, ~ 50``): a
    misspelt positive (``AF`` among ``A``) or a stray value is a negative, and is seen here."""
    if positive is None:
        return
    from collections import Counter
    rest = Counter(v for v in values if v != str(positive))
    print("rest: " + ", ".join(f"{v} {n}" for v, n in sorted(rest.items())))


def _class_names(positive) -> dict | None:
    """{class: name} of the 0 / 1 classes of ``--positive`` (for messages), None without it."""
    return None if positive is None else {1: str(positive), 0: f"non-{positive}"}


def _with_class_names(row: dict, positive) -> dict:
    """A result row with ``positive`` (the --positive label) and ``class names`` (those of its
    ``classes``, 0 / 1 under --positive: ``["rest", "A"]``) added."""
    if positive is None:
        return row
    names = {"0": "rest", "1": str(positive)}
    return {**row, "positive": str(positive), "class names": [names.get(c, c) for c in row["classes"]]}


def _check_mix(args, values) -> None:
    """--mix names label values (compared as the labels are: ``1.0`` is the label 1), and gives a
    share to every label of the negatives: one line naming what is wrong, before any probe is fitted."""
    from biosig.errors import BiosigError
    from encoders.probe_labels import label_value
    args.mix = {label_value(k): v for k, v in args.mix.items()}
    labels = sorted(set(values))
    others = [v for v in labels if v != args.positive]
    problems = []
    unknown = [k for k in args.mix if k not in labels]
    if unknown:
        problems.append(f"{', '.join(map(repr, unknown))} {'is not a label' if len(unknown) == 1 else 'are not labels'}"
                        f" of {args.labels} (labels: {', '.join(labels)})")
    if args.positive in args.mix:
        problems.append(f"{args.positive!r} is the --positive label, not a kind of negative")
    missing = [v for v in others if v not in args.mix]
    if missing:
        problems.append(f"negatives of kind {', '.join(map(repr, missing))} have no share")
    if problems:
        raise BiosigError("--mix: " + "; ".join(problems) + f" (give LABEL=SHARE for each of {', '.join(others)}: "
                          f"every label other than --positive {args.positive})")
