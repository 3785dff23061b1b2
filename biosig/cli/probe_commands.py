"""``biosig probe``: a cross-validated linear probe on embeddings, with baselines on the same folds.

polars, numpy and encoders are imported inside the handlers so ``biosig --version`` stays fast.
"""
from __future__ import annotations

import argparse
import logging

from biosig import json_text
from biosig.cli._common import fold_count as _folds, int_in_range, positive_int as _positive_int
from biosig.cli._common import quality_0_1 as _quality
from biosig.interrupts import polars_io

log = logging.getLogger(__name__)


def _probe_C(text: str):
    """``auto`` (nested cross-validation) or a positive inverse regularisation strength."""
    from encoders.probe import parse_C
    try:
        return parse_C(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fmax_hz(text: str):
    """``--mfcc-fmax-hz``: ``common`` or a frequency in Hz, above 0 and at most 8000."""
    import argparse

    from biosig.cli.encoder_options import audio_band_arg
    hz = audio_band_arg(text)
    if hz != "common" and hz > 8000:   # the MFCCs are of the sound resampled to 16 kHz
        raise argparse.ArgumentTypeError(f"{text!r}: give a frequency in Hz, 0 < HZ <= 8000 (e.g. 1800), or common")
    return hz


def _fold_seed(text: str) -> int:
    """``--seed``: scikit-learn's folds and NumPy's legacy seeding take 0 .. 2**32 - 1 (-1 was a ValueError
    traceback)."""
    return int_in_range(text, 0, 2 ** 32 - 1, expected="a seed from 0 to 2**32 - 1")


def _weights_seed(text: str) -> int:
    """``--random-seed``: a seed of the random weights, 0 .. 2**63 - 1 (encoders.arguments.MAX_SEED), said at once
    rather than after the baseline features were computed."""
    return int_in_range(text, 0, 2 ** 63 - 1, expected="a seed from 0 to 2**63 - 1")


def _audio_band(text: str):
    """``--audio-fmax-hz``: as embed's (:func:`biosig.cli.encoder_options.audio_band_arg`)."""
    from biosig.cli.encoder_options import audio_band_arg
    return audio_band_arg(text)


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
    q.add_argument("--seed", type=_fold_seed, default=0,
                   help="seed of the folds and the bootstrap, 0 .. 2**32 - 1 (default 0)")
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
    q.add_argument("--mfcc-fmax-hz", type=_fmax_hz, default=None, metavar="HZ|common",
                   help="with --baseline mfcc: the top of its mel filter bank in Hz, or common: the band every "
                        "recording's rate holds (0.45 x the lowest rate, at most 8000; the row says which); default "
                        "8000 Hz, which tells recordings made at several rates apart by their rates")
    q.add_argument("--audio-fmax-hz", type=_audio_band, default=None, metavar="HZ|common",
                   help="with --baseline random (audio models) and mfcc: every recording low-passed to 0-HZ at the "
                        "model's rate before the random-weight rows, or common: the band every recording's rate holds "
                        "(0.45 x the lowest rate); the mfcc row takes the same band unless --mfcc-fmax-hz gives one; "
                        "the rows say which. Default: the band embed --audio-fmax-hz made the embeddings on (recorded "
                        "in the file), else the whole band")
    q.add_argument("--combined", action="store_true",
                   help="with --baseline hrv|ibi|mfcc|spirometry: also probe the handcrafted features + the embeddings against "
                        "the handcrafted features alone (does the embedding add to HRV?), same folds, paired CI; two "
                        "ways: the two blocks concatenated into one probe, and late fusion (one probe per block, "
                        "the mean of their out-of-fold log-odds; with --baseline random, each random-weight row is "
                        "fused with the handcrafted features too, as the control)")
    q.add_argument("--model", default=None, metavar="NAME|DIR",
                   help="architecture for --baseline random (default: the model that made the embeddings, as "
                        "biosig embed records it in the file, on the same window grid)")
    q.add_argument("--random-seed", type=_weights_seed, nargs="+", default=[0], metavar="SEED",
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
                        "25 records; 1 computes them in this process, on one torch thread too); the numbers do "
                        "not depend on N")
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
    from encoders.probe_labels import id_hint, label_key

    def some(names):
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    unlabelled = [keys[i] for i in sorted(set(range(len(keys))) - set(kept))]
    key_column = args.key_column or labels.columns[0]
    embedded = set(keys)
    unembedded = sorted({label_key(k, embedded) for k in labels[key_column].to_list()} - embedded - {""})
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
    from biosig.cli.probe_report import (by_label, class_names, classes_text, cv_kind, print_bootstrap,
                                         print_by_label, print_rest, with_class_names)
    from encoders.probe import METRICS, format_C, probe
    from encoders.probe_labels import check_finite, join_labels, label_value, record_features, record_key
    import os
    if not os.path.exists(args.embeddings):   # polars' own words ended the line: "(os error 2): emb.parqet"
        raise BiosigError(f"{args.embeddings}: no such file (the Parquet file `biosig embed --out` wrote)")
    if os.path.isdir(args.embeddings):
        raise BiosigError(f"{args.embeddings}: a folder; give the embeddings' Parquet file (`biosig embed --out`)")
    try:
        emb = polars_io(pl.read_parquet, args.embeddings)
    except (OSError, pl.exceptions.PolarsError) as exc:
        first = (str(exc).strip().splitlines() or ["no details"])[0]
        raise BiosigError(f"{args.embeddings}: cannot read embeddings: not a Parquet file ({first})") from None
    missing = {"source", "embedding"} - set(emb.columns)
    if missing:
        raise BiosigError(f"{args.embeddings}: missing columns {sorted(missing)} (write it with biosig embed)")
    labels = _read_labels(args)
    missing = [c for c in (args.label_column, args.key_column, args.group_column) if c and c not in labels.columns]
    if missing:
        hint = ("" if args.no_header or args.label_column in labels.columns else
                "; if the file has no header line (as PhysioNet's REFERENCE.csv), add "
                "--no-header and name the columns by number (--label-column 2)")
        raise BiosigError(f"{args.labels}: no column {missing[0]!r}; columns: {', '.join(labels.columns)}{hint}")
    keys, X = record_features(emb, args.min_quality)
    kept, y = join_labels(keys, labels, args.label_column, args.key_column)
    _refuse_id_labels(args, labels, y)
    check_finite(keys, X, kept)
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
            alike = [str(v) for v in sorted(map(str, set(y))) if str(v).casefold() == str(args.positive).casefold()]
            hint = f" (labels are compared with their letter case: --positive {alike[0]}?)" if alike else ""
            if _in_label_file(labels, args.label_column, args.positive):   # every such record left out
                raise BiosigError(
                    f"--positive {args.positive!r}: none of the records labelled {args.positive} in {args.labels} is "
                    f"left to probe (not in {args.embeddings}"
                    + (f", or no window at or above --min-quality {args.min_quality:g}" if args.min_quality > 0
                       else "") + f"); the records probed are labelled {', '.join(sorted(map(str, set(y))))}")
            raise BiosigError(f"--positive {args.positive!r} is not a label value; values: "
                              f"{', '.join(sorted(map(str, set(y))))}{hint}")
        y = (y == args.positive).astype(int)
    if args.mix:
        _check_mix(args, values)
    groups = None
    if args.group_column is not None:
        _, groups = join_labels([keys[i] for i in kept], labels, args.group_column, args.key_column,
                                as_number=False, say_no_id=False)   # ids as written: patients 007 and 7 are two
        if len(groups) != len(kept):
            raise BiosigError(f"--group-column {args.group_column}: {len(kept) - len(groups)} labelled record(s) have "
                              "no group id (empty, or missing-value text such as NaN or NA); give each one")
    if args.mfcc_fmax_hz is not None and "mfcc" not in args.baseline:
        raise BiosigError("--mfcc-fmax-hz applies to --baseline mfcc; add it or drop --mfcc-fmax-hz")
    if args.audio_fmax_hz is not None and not {"random", "mfcc"} & set(args.baseline):
        raise BiosigError("--audio-fmax-hz applies to --baseline random and mfcc (the embeddings' band is embed's "
                          "--audio-fmax-hz); add one or drop --audio-fmax-hz")
    if args.combined and not set(args.baseline) - {"random"}:
        raise BiosigError("--combined needs a handcrafted --baseline (hrv, ibi, mfcc or spirometry) to add the embeddings to")
    if args.baseline:
        from biosig.cli.probe_baselines import probe_with_baselines
        return probe_with_baselines(args, emb, keys, kept, X, y, groups, values)
    probas = {}
    res = probe(X[kept], y, seed=args.seed, n_boot=args.bootstrap, C=args.C, n_splits=args.folds, groups=groups,
                probas_out=probas, class_names=class_names(args.positive))   # the folds of probe_with_baselines
    if args.by_label:
        res["by label"] = by_label(args, {"embeddings": probas["X"]}, [], y, values, groups)
    if args.json:
        print(json_text.dumps(with_class_names(res, args.positive)))
        return 0
    kind = cv_kind(groups)
    print(f"{res['n']} records, {classes_text(y, args.positive)}, {res['folds']}-fold {kind} CV, "
          f"C per fold {format_C(res['C'])}")
    print_rest(values, args.positive)
    for m in METRICS:
        r = res[m]
        print(f"{m:18s} {r['value']:.3f}  (95% CI {r['ci_low']:.3f}-{r['ci_high']:.3f})")
    print_bootstrap(res)
    print_by_label(res.get("by label"), args)
    return 0


def _in_label_file(labels, label_column: str, value) -> bool:
    """Whether ``value`` is a label of the labels table at all (compared as the probe compares labels): a
    --positive that only --min-quality or the embeddings left out is not a misspelt one."""
    from encoders.probe_labels import label_value
    return any(label_value(v if v is None else str(v)) == value for v in labels[label_column].to_list())


def _refuse_id_labels(args, labels, y) -> None:
    """One line when every labelled record has a label value of its own (as many classes as records):
    --label-column names the record ids (or a measurement), not classes; the probe said only that
    "the rarest class (A00020) has 1 examples"."""
    from biosig.errors import BiosigError
    values = [str(v) for v in y]
    if len(values) >= 3 and len(set(values)) == len(values):
        raise BiosigError(f"--label-column {args.label_column}: each of the {len(values)} labelled records has a "
                          f"value of its own ({', '.join(map(repr, values[:3]))}, ...): a column of record ids "
                          f"(or of measurements), not of classes? name the column of classes (columns: "
                          f"{', '.join(labels.columns)})")


def _read_labels(args):
    """The labels table (comma, semicolon or tab separated; columns named 1, 2, ... under --no-header;
    header names without spaces around them), or one line saying why it cannot be read: a row with
    more fields than the header names its line."""
    import csv

    import polars as pl

    from biosig.errors import BiosigError
    from biosig.readers.csv_dialect import sniff
    _refuse_utf16(args.labels)
    try:
        dialect = sniff(args.labels)   # Excel's "sep=;" line skipped; a head that is not UTF-8 read as cp1252
        separator = dialect.separator
        options = {k: v for k, v in dialect.polars_options().items() if k != "decimal_comma"}   # labels are text
        labels = polars_io(pl.read_csv, args.labels, infer_schema_length=0, has_header=not args.no_header, **options)
    except UnicodeDecodeError as exc:   # a binary file (a .parquet or .mat given for the CSV) was a traceback
        raise BiosigError(f"{args.labels}: cannot read labels: not a text table (byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start} is neither UTF-8 nor cp1252 text); give the labels as a CSV file"
                          ) from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "more fields" in why:
            with open(args.labels, newline="", encoding=dialect.encoding, errors="replace") as f:
                rows = csv.reader(f, delimiter=separator)
                for _ in range(dialect.skip_rows):
                    next(rows, None)
                width = len(next(rows, []))
                line = next((n for n, row in enumerate(rows, 2 + dialect.skip_rows) if len(row) > width), None)
            where = f"line {line}" if line else "a row"
            why = (f"{where} has more fields than the {width} of the first row; give every row the same "
                   f"columns (a {separator!r} inside a value needs quotes)")
        raise BiosigError(f"{args.labels}: cannot read labels: {why}") from None
    if args.no_header:
        return labels.rename({c: str(i + 1) for i, c in enumerate(labels.columns)})
    stripped = [c.strip() for c in labels.columns]   # "record , label": the columns record and label
    if stripped != labels.columns and len(set(stripped)) == len(stripped):
        labels = labels.rename(dict(zip(labels.columns, stripped)))
    return labels


def _refuse_utf16(path) -> None:
    """One line for a UTF-16 labels file (Excel's "Unicode Text", PowerShell's ``>``): it was read as
    cp1252, so the error named columns such as "\xff\xfer e c o r d" and no label column was found."""
    from biosig.errors import BiosigError
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:   # said by the reader below, as for any labels file
        return
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise BiosigError(f"{path}: cannot read labels: UTF-16 text (Excel's \"Unicode Text\" or PowerShell's >); "
                          "save it as CSV UTF-8 (comma delimited), or convert it: iconv -f UTF-16 -t UTF-8")


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
