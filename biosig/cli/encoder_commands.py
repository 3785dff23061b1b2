"""``biosig pretrain``, ``biosig embed`` and ``biosig probe``.

torch, encoders and polars are imported inside the handlers so ``biosig --version`` stays fast.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from biosig.cli._common import (add_modality_arguments, add_threads_argument, fold_count as _folds,
                                non_negative_int as _non_negative_int, positive_float as _positive_float,
                                positive_int as _positive_int, quality_0_1 as _quality)

log = logging.getLogger(__name__)

ENCODER_MODALITIES = ("ecg", "ppg", "audio", "spiro")
PRESETS = ("tiny", "small", "base")


def _probe_C(text: str):
    """``auto`` (nested cross-validation) or a positive inverse regularisation strength."""
    from encoders.probe import parse_C
    try:
        return parse_C(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")   # mirrors encoders.backends.KINDS
PRECISIONS = ("fp32", "bf16", "fp16")                     # mirrors encoders.backends.TORCH_PRECISIONS


def device_arg(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` (argparse type)."""
    t = text.strip().lower()
    if t in ("cpu", "cuda") or (t.startswith("cuda:") and t[5:].isdigit()):
        return t
    raise argparse.ArgumentTypeError(f"{text!r} is not a device; use cpu, cuda or cuda:N")


def add_backend_args(p, default_backend="auto", default_help="auto") -> None:
    """``--backend``, ``--device`` and ``--precision``: the same three flags on embed, score and serve."""
    p.add_argument("--backend", choices=BACKENDS, default=default_backend,
                   help=f"inference backend (default {default_help}): torch, onnxruntime, tensorrt (a .plan "
                        "engine) or auto (the fastest available; on a CPU measured once per model and machine)")
    p.add_argument("--device", type=device_arg, default=None, metavar="cpu|cuda[:N]",
                   help="where the backend runs (default: a CUDA GPU when one is visible, else cpu)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="torch backend: fp32 (default), or bf16/fp16 autocast (for CUDA GPUs; tolerances in "
                        "docs/gpu.md). Exported graphs keep their export precision (fp32 or int8)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pretrain", help="pretrain a masked-autoencoder encoder (ecg, ppg, audio, spiro)",
        description="Masked-autoencoder pretraining of a windowed sparse-attention encoder on "
                    "recordings in any format biosig reads, or on synthetic signals. Writes a "
                    "checkpoint (config, preprocessing pipeline, weights) plus metrics.jsonl and "
                    "train_state.pt into --out; --resume continues exactly where it stopped. Under "
                    "torchrun every process takes batch-size / world-size windows per step.")
    p.add_argument("--modality", required=True, choices=ENCODER_MODALITIES,
                   help="what the encoder embeds: " + ", ".join(ENCODER_MODALITIES))
    p.add_argument("--data", nargs="+", metavar="PATH", default=(), help="recordings, record names or folders")
    p.add_argument("--synthetic", action="store_true", help="train on biosig.synthetic signals")
    p.add_argument("--synthetic-records", type=_positive_int, default=32, metavar="N",
                   help="number of synthetic records (default 32)")
    p.add_argument("--synthetic-seconds", type=_positive_float, default=60.0, metavar="S",
                   help="length of each synthetic record in s (default 60)")
    p.add_argument("--synthetic-rhythm-records", type=_non_negative_int, default=0, metavar="N",
                   help="ECG: also N synthetic records with one beat model and rhythms from regular to "
                        "irregularly irregular (encoders.data.synthetic_rhythm_records; no label used; default 0); "
                        "PPG: N synthetic pulse records with varied rhythms and pulse shapes "
                        "(encoders.data.synthetic_pulse_records)")
    p.add_argument("--synthetic-rhythm-atrial", action="store_true",
                   help="make those records regular or irregular WITH P waves or WITHOUT (f-waves instead), "
                        "independently (encoders.data.synthetic_atrial_records)")
    p.add_argument("--synthetic-blow-records", type=_non_negative_int, default=0, metavar="N",
                   help="spiro: also N synthetic forced expirations of the three patterns, every other one with a "
                        "cough, variable effort, early stop or slow start (encoders.data.synthetic_blow_records; "
                        "no label used; default 0)")
    p.add_argument("--synthetic-lung-records", type=_non_negative_int, default=0, metavar="N",
                   help="audio: also N synthetic auscultation records: breath sounds, wheezes, crackles and heart "
                        "sounds through a stethoscope (encoders.data.synthetic_lung_records; no label used; default 0)")
    p.add_argument("--preset", choices=PRESETS, default="tiny",
                   help="model size: " + ", ".join(PRESETS) + " (default tiny)")
    p.add_argument("--steps", type=_positive_int, default=200, help="optimizer steps (default 200)")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="global batch (all processes)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="peak AdamW learning rate (default 1e-3)")
    p.add_argument("--warmup-steps", type=_non_negative_int, default=10,
                   help="linear learning-rate warm-up steps (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, data order and masks (default 0)")
    p.add_argument("--ckpt-every", type=_positive_int, default=50, metavar="N", help="checkpoint every N steps")
    p.add_argument("--window-s", type=_positive_float, default=None, metavar="S",
                   help="training window length (default: the modality's default window)")
    p.add_argument("--hop-s", type=_positive_float, default=None, metavar="S", help="hop between training windows")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model config field (JSON value), e.g. --set depth=2 --set mask_mode='\"span\"'")
    p.add_argument("--objective", choices=("mae", "contrastive", "mae+contrastive", "clocs", "mae+clocs",
                                                "descriptors", "mae+descriptors", "mae+contrastive+descriptors"), default=None,
                   help="pretraining objective saved in the checkpoint (default: the model config's, mae): "
                        "masked reconstruction, InfoNCE between two augmented crops of each window, or both; "
                        "clocs: InfoNCE between two windows of the same recording at different times; "
                        "descriptors: a linear head regresses rhythm/morphology descriptors of the window (beat tokens; "
                        "audio: log-mel band, spectral-shape, RMS-envelope and zero-crossing descriptors)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="checkpoint folder; one that already holds a checkpoint needs --resume")
    p.add_argument("--resume", action="store_true", help="continue from DIR/train_state.pt")
    p.add_argument("--init-from", default=None, metavar="DIR",
                   help="start from the weights of this checkpoint (same architecture; new optimizer and objective)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--log-every", type=_positive_int, default=None, metavar="N",
                   help="write metrics (means over N steps) every N steps and at checkpoints; the only "
                        "host synchronisation of the loop (default 1 on a CPU, 25 on CUDA)")
    p.add_argument("--compile", action="store_true", help="run the forward pass under torch.compile")
    p.set_defaults(handler=pretrain_command)

    e = subparsers.add_parser(
        "embed", help="embed recordings with an encoder, one parquet row per window",
        description="Apply the model's stored preprocessing pipeline, cut each recording into the "
                    "modality's default windows and write source, channels, t0_s, t1_s, quality and "
                    "embedding (list of float32) per window. Identical input gives identical output. "
                    "A bad input is reported on stderr and the others are still written (exit code 1; "
                    "2 when none could be embedded). Threads: --threads, default the free cores.")
    e.add_argument("inputs", nargs="+", metavar="INPUT", help="recordings, record names or folders")
    e.add_argument("--model", required=True, metavar="NAME|DIR|FILE",
                   help="shipped model name (ecg-tiny, ...), checkpoint dir, or an exported .onnx / .plan "
                        "(preprocessing from its metadata; no checkpoint needed)")
    e.add_argument("--out", required=True, metavar="FILE.parquet", help="output Parquet file (one row per window)")
    e.add_argument("--batch-size", type=_positive_int, default=64, help="windows per model call (default 64)")
    e.add_argument("--random-weights", action="store_true",
                   help="use the architecture NAME with random (seeded) weights: a baseline")
    add_backend_args(e, default_backend=None, default_help="torch for a name or checkpoint, auto for a file")
    add_threads_argument(e)
    add_modality_arguments(e)
    e.add_argument("--window-s", type=_positive_float, default=None, metavar="S",
                   help="embedding window in s (default: the window the model was trained on)")
    e.set_defaults(handler=embed_command)

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
                        "the handcrafted features alone (does the embedding add to HRV?), same folds, paired CI")
    q.add_argument("--model", default=None, metavar="NAME|DIR", help="architecture for --baseline random")
    q.add_argument("--random-seed", type=int, default=0, help="seed of the random weights (default 0)")
    q.add_argument("--group-column", default=None, metavar="COL",
                   help="label-table column with a group id (e.g. patient): stratified grouped folds")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(handler=probe_command)


def _overrides(items) -> dict:
    from biosig.errors import BiosigError
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BiosigError(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def pretrain_command(args) -> int:
    from encoders.pretrain import TrainConfig, pretrain
    from biosig.errors import BiosigError
    if not (args.data or args.synthetic or args.synthetic_rhythm_records or args.synthetic_blow_records
            or args.synthetic_lung_records):
        raise BiosigError("no training data: give --data PATH... or --synthetic")
    cfg = TrainConfig(modality=args.modality, out_dir=args.out, preset=args.preset, data=tuple(args.data),
                      synthetic=args.synthetic, synthetic_records=args.synthetic_records,
                      synthetic_seconds=args.synthetic_seconds,
                      synthetic_rhythm_records=args.synthetic_rhythm_records,
                      synthetic_rhythm_atrial=args.synthetic_rhythm_atrial,
                      synthetic_blow_records=args.synthetic_blow_records,
                      synthetic_lung_records=args.synthetic_lung_records, steps=args.steps, batch_size=args.batch_size,
                      lr=args.lr, warmup_steps=args.warmup_steps, seed=args.seed, ckpt_every=args.ckpt_every,
                      window_s=args.window_s, hop_s=args.hop_s, resume=args.resume, init_from=args.init_from,
                      progress=not args.no_progress,
                      overrides={**_overrides(args.set), **({"objective": args.objective} if args.objective else {})},
                      log_every=args.log_every, compile=args.compile)
    try:
        metrics = pretrain(cfg)
    except (MemoryError, RuntimeError) as exc:   # torch.OutOfMemoryError is a RuntimeError
        text = str(exc)
        if not isinstance(exc, MemoryError) and "out of memory" not in text.lower() \
                and "can't allocate memory" not in text:
            raise
        raise BiosigError(f"out of memory at --batch-size {args.batch_size} (preset {args.preset}); use a smaller "
                          "--batch-size, --window-s or --preset") from None
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        print(json.dumps(metrics))
    return 0


def embed_command(args) -> int:
    """Embed each input; like ``score``, a bad input is reported on stderr (one line) and the
    good ones are still written. Exit code 0: all embedded; 1: some inputs failed; 2: usage
    error or nothing could be embedded."""
    import pathlib

    from biosig.cli._common import ProgressLog, apply_threads, pick_threads, read_options
    from biosig.errors import BiosigError
    threads = pick_threads(args.threads)
    apply_threads(threads)  # before torch is imported: default torch threads oversubscribe a busy host
    opts = read_options(args)
    if pathlib.Path(args.out).suffix != ".parquet":
        raise BiosigError(f"--out {args.out}: expected a .parquet file")
    from biosig.outputs import check_output_file
    out = check_output_file(args.out, "--out", (".parquet",))   # before the model loads and the work starts
    import polars as pl

    from biosig.readers import discover, read
    from encoders.inference import open_model
    backend = args.backend or ("auto" if pathlib.Path(args.model).suffix.lower() in (".onnx", ".plan") else "torch")
    enc = open_model(args.model, backend, device=args.device, precision=args.precision,
                     random_weights=args.random_weights, threads=threads)
    apply_threads(threads)
    said = opts.get("modality")
    if said and said != enc.config.modality:   # the user said what the recordings are: not this model's input
        raise BiosigError(f"--modality {said}: {enc.model_id} embeds {enc.config.modality} recordings; use a model "
                          f"for {said} recordings (--model {said}-tiny where one is shipped) or drop --modality")
    log.info("embed: %d intra-op thread(s)", threads)
    if args.window_s is not None:
        from encoders.config import min_input_samples, short_window_problem
        problem = short_window_problem(args.window_s, float(enc.config.input_fs_hz), min_input_samples(enc.config),
                                       enc.model_id)
        if problem:
            raise BiosigError(problem)
    enc.window_s_override = args.window_s
    paths = discover(args.inputs)
    if not paths:
        raise BiosigError(f"no readable recordings in {', '.join(args.inputs)}")
    it = paths
    if sys.stderr.isatty():
        from tqdm import tqdm
        it = tqdm(paths, desc=f"embed {enc.model_id}", unit="rec")
    progress = ProgressLog("embed", len(paths))
    frames, failed = [], 0
    for p in it:
        try:
            frames.append(enc.embed(read(p, **opts), source=str(p), batch_size=args.batch_size))
            progress.update(True)
        except BiosigError as exc:
            failed += 1
            progress.update(False)
            text = str(exc)
            print(f"biosig embed: error: {text if str(p) in text else f'{p}: {text}'}", file=sys.stderr)
        except (ValueError, ArithmeticError, IndexError, KeyError) as exc:  # a bug of ours on odd input
            failed += 1
            progress.update(False)
            log.debug("embed %s failed", p, exc_info=True)
            print(f"biosig embed: error: {p}: cannot be embedded ({str(exc).splitlines()[0] if str(exc) else 'internal error'})",
                  file=sys.stderr)
    if not frames:
        print(f"biosig embed: error: none of the {len(paths)} recording(s) could be embedded; nothing written",
              file=sys.stderr)
        return 2
    df = pl.concat(frames)
    from encoders.scoring.outputs import atomic_write_parquet
    atomic_write_parquet(df, out)   # an interrupted write leaves the previous file, never half of one
    print(f"{len(df)} windows from {len(frames)} recording{'' if len(frames) == 1 else 's'} -> {out} ({enc.model_id})"
          + (f"; {failed} recording(s) failed (see above)" if failed else ""))
    return 1 if failed else 0


def probe_command(args) -> int:
    import polars as pl

    from biosig.errors import BiosigError
    from encoders.probe import METRICS, join_labels, probe, record_features
    try:
        emb = pl.read_parquet(args.embeddings)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise BiosigError(f"{args.embeddings}: cannot read embeddings: {exc}") from None
    missing = {"source", "embedding"} - set(emb.columns)
    if missing:
        raise BiosigError(f"{args.embeddings}: missing columns {sorted(missing)} (write it with biosig embed)")
    try:
        labels = pl.read_csv(args.labels, infer_schema_length=0, has_header=not args.no_header)
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
    if args.positive is not None:
        if args.positive not in set(y):
            raise BiosigError(f"--positive {args.positive!r} is not a label value; values: "
                              f"{', '.join(sorted(map(str, set(y))))}")
        y = (y == args.positive).astype(int)
    groups = None
    if args.group_column is not None:
        _, groups = join_labels([keys[i] for i in kept], labels, args.group_column, args.key_column)
        if len(groups) != len(kept):
            raise BiosigError(f"--group-column {args.group_column}: empty group for some records")
    if args.combined and not set(args.baseline) - {"random"}:
        raise BiosigError("--combined needs a handcrafted --baseline (hrv, ibi, mfcc or spirometry) to add the embeddings to")
    if args.baseline:
        return _probe_with_baselines(args, emb, keys, kept, X, y, groups)
    if groups is not None:
        from encoders.probe import cv_folds
        res = probe(X[kept], y, seed=args.seed, n_boot=args.bootstrap, C=args.C,
                    folds=cv_folds(y, args.folds, args.seed, groups), groups=groups)
    else:
        res = probe(X[kept], y, n_splits=args.folds, seed=args.seed, n_boot=args.bootstrap, C=args.C)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"{res['n']} records, classes {res['classes']}, {res['folds']}-fold stratified CV, "
          f"C per fold {_fmt_C(res['C'])}")
    for m in METRICS:
        r = res[m]
        print(f"{m:18s} {r['value']:.3f}  (95% CI {r['ci_low']:.3f}-{r['ci_high']:.3f})")
    return 0


def _probe_with_baselines(args, emb, keys, kept, X, y, groups) -> int:
    """Baseline features on the records behind the embeddings, same folds, paired CIs."""
    import numpy as np

    from biosig.cli._common import ProgressLog
    from biosig.errors import BiosigError
    from biosig.readers import read
    from encoders.baselines import baseline_features, impute_median
    from encoders.probe import compare, cv_folds, format_rows, record_key
    if "random" in args.baseline and args.model is None:
        raise BiosigError("--baseline random needs --model NAME|DIR (the architecture)")
    src = {}
    for s in emb["source"].to_list():
        src.setdefault(record_key(s), s)
    paths = [src[keys[i]] for i in kept]
    try:
        records = [read(p) for p in paths]
    except BiosigError as exc:
        raise BiosigError(f"--baseline needs the recordings behind the embeddings: {exc}") from None
    modality = records[0].modality if records else None
    ours = "embeddings"
    feats = {ours: X[kept]}
    for kind in args.baseline:
        progress = ProgressLog(f"probe --baseline {kind}", len(records), bar=True)
        F = baseline_features(kind, records, model=args.model, seed=args.random_seed, modality=modality,
                              progress=progress.update)
        progress.close()
        F, n_bad = impute_median(F)
        if n_bad:
            log.warning("--baseline %s: %d record(s) had undefined features (median-imputed)", kind, n_bad)
        feats[f"{kind}" + (f" seed {args.random_seed}" if kind == "random" else "")] = F
    folds = cv_folds(y, args.folds, args.seed, groups)
    res = compare(feats, y, folds, reference=ours, n_boot=args.bootstrap, seed=args.seed, C=args.C, groups=groups)
    combined = {}
    if args.combined:   # handcrafted + embeddings (reference) vs the handcrafted features alone
        for kind in dict.fromkeys(k for k in args.baseline if k != "random"):
            both = f"{kind} + embeddings"
            combined[both] = compare({both: np.hstack([feats[kind], feats[ours]]), kind: feats[kind]}, y, folds,
                                     reference=both, n_boot=args.bootstrap, seed=args.seed, C=args.C, groups=groups)
    if args.json:
        print(json.dumps({**res, **{f"combined: {k}": v for k, v in combined.items()}}))
        return 0
    kind = "stratified grouped" if groups is not None else "stratified"
    print(f"{len(y)} records, classes {res[ours]['classes']}, {len(folds)}-fold {kind} CV; ours = {args.embeddings}")
    for row in format_rows(res, ours):
        print(row)
    for both, r in combined.items():
        print(f"# {both} vs {both.split(' + ')[0]} alone (ours = {both})")
        for row in format_rows(r, both):
            print(row)
    print("C per fold: " + "; ".join(f"{name} {_fmt_C(r['C'])}" for name, r in res.items()))
    return 0


def _fmt_C(values) -> str:
    return " ".join(f"{c:g}" for c in values)
