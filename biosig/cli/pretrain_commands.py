"""``biosig pretrain``: self-supervised pretraining of an encoder from the CLI (:mod:`encoders.pretrain`).

torch and encoders are imported inside the handler so ``biosig --version`` stays fast.
"""
from __future__ import annotations

import json
import os

from biosig import json_text
from biosig.cli._common import (non_negative_int as _non_negative_int, positive_float as _positive_float,
                                positive_int as _positive_int)
from biosig.cli.encoder_options import check_paths

ENCODER_MODALITIES = ("ecg", "ppg", "audio", "spiro")
PRESETS = ("tiny", "small", "base")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pretrain", help="pretrain an encoder (ecg, ppg, audio, spiro): masked reconstruction, "
                                    "contrastive or both (--objective)",
        description="Self-supervised pretraining (--objective: masked reconstruction, contrastive "
                    "across time or both) of a windowed sparse-attention encoder on "
                    "recordings in any format biosig reads, or on synthetic signals. Writes a "
                    "checkpoint (config, preprocessing pipeline, weights) plus metrics.jsonl and "
                    "train_state.pt into --out; --resume continues exactly where it stopped, with the "
                    "same settings (only --steps, --ckpt-every, --log-every, --compile and --no-progress may "
                    "change). A loss that is not finite (diverged training) stops the run with exit code 2 "
                    "and keeps the last checkpoint. Under torchrun every process takes batch-size / "
                    "world-size windows per step.")
    p.add_argument("--modality", required=True, choices=ENCODER_MODALITIES,
                   help="what the encoder embeds: " + ", ".join(ENCODER_MODALITIES))
    p.add_argument("--data", nargs="+", metavar="PATH", default=(),
                   help="recordings, record names or folders (searched recursively; any format biosig reads). A file "
                        "that cannot be read is skipped with a warning, and so are windows without signal (every "
                        "sample constant: a lead off); records of the project's evaluation sets "
                        "(CinC 2017, cough; found by content: the file's bytes, or its samples for a copy converted "
                        "to another format) are warned about and listed in meta.json. Every file "
                        "trained on is listed with its SHA-256 in DIR/data_manifest.json")
    p.add_argument("--channel", default=None, metavar="NAME",
                   help="train on this channel of each --data recording, by name (e.g. G of a camera PPG whose "
                        "red channel clips); a recording without it is refused with its channels listed; default: "
                        "the first channel of --modality. Recorded in meta.json and data_manifest.json")
    p.add_argument("--synthetic", action="store_true", help="train on biosig.synthetic signals")
    p.add_argument("--synthetic-records", type=_positive_int, default=None, metavar="N",
                   help="number of synthetic records (default 32)")
    p.add_argument("--synthetic-seconds", type=_positive_float, default=None, metavar="S",
                   help="length of each synthetic record in s (default 60)")
    p.add_argument("--synthetic-rhythm-records", type=_non_negative_int, default=0, metavar="N",
                   help="ECG: also N synthetic records with one beat model and rhythms from regular to "
                        "irregularly irregular (encoders.data.synthetic_rhythm_records; no label used; default 0); "
                        "PPG: N synthetic pulse records with varied rhythms and pulse shapes "
                        "(encoders.data.synthetic_pulse_records)")
    p.add_argument("--synthetic-rhythm-atrial", action="store_true",
                   help="make those records regular or irregular WITH P waves or WITHOUT (f-waves instead), "
                        "independently (encoders.data.synthetic_atrial_records)")
    p.add_argument("--synthetic-pulse-arrhythmia", action="store_true",
                   help="PPG: make those records nine kinds: the five rhythms plus premature atrial and ventricular "
                        "beats (with their pauses and pulse deficits), SVT and VT (biosig.synthetic_pulse)")
    p.add_argument("--synthetic-blow-records", type=_non_negative_int, default=0, metavar="N",
                   help="spiro: also N synthetic forced expirations of the three patterns, every other one with a "
                        "cough, variable effort, early stop or slow start (encoders.data.synthetic_blow_records; "
                        "no label used; default 0)")
    p.add_argument("--synthetic-lung-records", type=_non_negative_int, default=0, metavar="N",
                   help="audio: also N synthetic auscultation records: breath sounds, wheezes, crackles and heart "
                        "sounds through a stethoscope (encoders.data.synthetic_lung_records; no label used; default 0)")
    p.add_argument("--preset", choices=PRESETS, default="tiny",
                   help="model size: " + ", ".join(PRESETS) + " (default tiny)")
    p.add_argument("--steps", type=_positive_int, default=200, metavar="N",
                   help="optimizer steps in all (default 200); with --resume, a larger total continues the run "
                        "(the learning-rate schedule then runs to the new total from the resume step on: a warning "
                        "says so and meta.json records it)")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                   help="global batch of windows per step, all processes together (default 32)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, metavar="LR",
                   help="peak AdamW learning rate (default 1e-3); then cosine decay to 10 %% of it at --steps")
    p.add_argument("--warmup-steps", type=_non_negative_int, default=10, metavar="N",
                   help="linear learning-rate warm-up steps (default 10)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights, data order and masks, and of the synthetic records (default 0); synthetic "
                        "records on the held-out seeds of benchmarks/eval_probe.py's synthetic tasks are warned about "
                        "and listed in meta.json")
    p.add_argument("--ckpt-every", type=_positive_int, default=50, metavar="N",
                   help="checkpoint every N steps and at the last one (default 50)")
    p.add_argument("--window-s", type=_positive_float, default=None, metavar="S",
                   help="training window length in s (default: the model config's: ecg and ppg 10, audio 2, "
                        "spiro 15); a record shorter than the window but at least half of it is padded, a shorter "
                        "one is left out with a warning; saved in the checkpoint")
    p.add_argument("--hop-s", type=_positive_float, default=None, metavar="S",
                   help="hop between training windows in s (default: the modality's default hop for its default "
                        "window, else half a window)")
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
    p.add_argument("--resume", action="store_true",
                   help="continue from DIR/train_state.pt with the same settings the run was started with "
                        "(an empty or missing DIR starts at step 0; a checkpoint without train_state.pt is refused)")
    p.add_argument("--init-from", default=None, metavar="NAME|DIR",
                   help="start from the weights of a shipped model (ecg-tiny, ...) or checkpoint folder (same "
                        "architecture; new optimizer and objective)")
    p.add_argument("--pipeline", default=None, metavar="FILE.json",
                   help="preprocessing pipeline (a checkpoint's pipeline.json, or the JSON of biosig.pipeline."
                        "Pipeline) instead of the modality's default; saved in the checkpoint")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (on a terminal) and no progress lines (otherwise: one every ~10 s, "
                        "BIOSIG_PROGRESS_S)")
    p.add_argument("--log-every", type=_positive_int, default=None, metavar="N",
                   help="write metrics (means over N steps) every N steps and at checkpoints; the only "
                        "host synchronisation of the loop (default 1 on a CPU, 25 on CUDA)")
    p.add_argument("--compile", action="store_true", help="run the forward pass under torch.compile")
    p.set_defaults(handler=pretrain_command)


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


def _check_descriptor_tokenizer(args, overrides: dict) -> None:
    """ECG and PPG descriptors come from beat tokens: the model config's error named "the beat tokenizer"
    without saying how to ask for it (--set tokenizer='"beat"'), and the preset's patch tokenizer is the default."""
    from biosig.errors import BiosigError
    from encoders.config import get_config
    objective = args.objective or overrides.get("objective")
    if not isinstance(objective, str) or "descriptors" not in objective.split("+") or args.modality not in ("ecg", "ppg"):
        return
    tokenizer = overrides.get("tokenizer", get_config(f"{args.modality}-{args.preset}").tokenizer)
    if tokenizer != "beat":
        raise BiosigError(f"--objective {objective} on {args.modality} regresses descriptors of beat tokens: add "
                          f"--set tokenizer='\"beat\"' (the {args.modality}-{args.preset} model tokenizes "
                          f"{json.dumps(tokenizer)} otherwise), or pick an objective without descriptors")


def pretrain_command(args) -> int:
    """Train (or resume) and print the final metrics as one JSON line. Exit code 0: trained, or the
    resumed checkpoint was already at --steps (a warning says so); 2: a user error, a refused resume
    or a diverged run (one line; nothing written over a checkpoint; a --out folder the run created
    is removed when nothing was written in it)."""
    from encoders.pretrain import TrainConfig, pretrain
    from biosig.errors import BiosigError
    any_synthetic = (args.synthetic or args.synthetic_rhythm_records or args.synthetic_blow_records
                     or args.synthetic_lung_records)
    if not (args.data or any_synthetic):
        raise BiosigError("no training data: give --data PATH... or --synthetic")
    for flag, value, asked in (("--synthetic-records", args.synthetic_records, args.synthetic),   # else ignored
                               ("--synthetic-seconds", args.synthetic_seconds, any_synthetic)):
        if value is not None and not asked:
            raise BiosigError(f"{flag} {value:g} sizes synthetic records, but none are asked for: add --synthetic, or "
                              f"leave {flag} out")
    overrides = _overrides(args.set)
    if args.objective and overrides.get("objective", args.objective) != args.objective:   # --objective won silently
        raise BiosigError(f"--set objective={json.dumps(overrides['objective'])} contradicts --objective "
                          f"{args.objective}: give the objective once")
    _check_descriptor_tokenizer(args, overrides)
    check_paths(args.data, "--data")
    check_paths([args.out], "--out", "a folder for the checkpoint")
    if args.channel is not None and not args.channel.strip():
        raise BiosigError("--channel: an empty name (an unset shell variable?); give a channel name, e.g. G")
    if args.channel is not None and not args.data:
        raise BiosigError(f"--channel {args.channel} picks a channel of the --data recordings; give --data PATH...")
    for flag, value, expected in (("--init-from", args.init_from, "a shipped model name or checkpoint folder"),
                                  ("--pipeline", args.pipeline, "a pipeline JSON file")):
        if value is not None:   # given but empty: it would be ignored, and the run start from scratch
            check_paths([value], flag, expected)
    cfg = TrainConfig(modality=args.modality, out_dir=args.out, preset=args.preset, data=tuple(args.data),
                      synthetic=args.synthetic, synthetic_records=args.synthetic_records or 32,
                      synthetic_seconds=args.synthetic_seconds or 60.0,
                      synthetic_rhythm_records=args.synthetic_rhythm_records,
                      synthetic_rhythm_atrial=args.synthetic_rhythm_atrial,
                      synthetic_pulse_arrhythmia=args.synthetic_pulse_arrhythmia,
                      synthetic_blow_records=args.synthetic_blow_records,
                      synthetic_lung_records=args.synthetic_lung_records, steps=args.steps, batch_size=args.batch_size,
                      lr=args.lr, warmup_steps=args.warmup_steps, seed=args.seed, ckpt_every=args.ckpt_every,
                      window_s=args.window_s, hop_s=args.hop_s, resume=args.resume, init_from=args.init_from,
                      progress=not args.no_progress,
                      overrides={**overrides, **({"objective": args.objective} if args.objective else {})},
                      log_every=args.log_every, compile=args.compile, pipeline=args.pipeline, channel=args.channel)
    try:
        metrics = pretrain(cfg)
    except (MemoryError, RuntimeError) as exc:   # torch.OutOfMemoryError is a RuntimeError
        text = str(exc)
        if not isinstance(exc, MemoryError) and "out of memory" not in text.lower() \
                and "can't allocate memory" not in text:
            raise
        raise BiosigError(f"out of memory at --batch-size {args.batch_size} (preset {args.preset}); use a smaller "
                          "--batch-size, --window-s or --preset") from None
    if int(os.environ.get("RANK", "0")) == 0:
        print(json_text.dumps(metrics))
    return 0
