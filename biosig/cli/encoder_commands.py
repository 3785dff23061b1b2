"""``biosig pretrain`` and ``biosig embed`` (``biosig probe``: biosig/cli/probe_commands.py).

torch, encoders and polars are imported inside the handlers so ``biosig --version`` stays fast.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from biosig import json_text
from biosig.cli._common import (add_af_prevalence_argument, add_modality_arguments, add_threads_argument,
                                non_negative_int as _non_negative_int, positive_float as _positive_float,
                                positive_int as _positive_int, say_failure, sum_up_failures)

log = logging.getLogger(__name__)

ENCODER_MODALITIES = ("ecg", "ppg", "audio", "spiro")
PRESETS = ("tiny", "small", "base")


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
                        "docs/gpu.md). Exported graphs keep their export precision (fp32, fp16 or int8)")


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
                        "that cannot be read is skipped with a warning; records of the project's evaluation sets "
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

    e = subparsers.add_parser(
        "embed", help="embed recordings with an encoder, one parquet row per window",
        description="Apply the model's stored preprocessing pipeline, cut each recording into the "
                    "windows the model was trained on (or --window-s) and write source, channels, t0_s, t1_s, "
                    "quality and embedding (list of float32) per window, then the window measures serve "
                    "publishes (measures_ok, missing, the modality's measures, e.g. hr_bpm; af_prob for ECG and "
                    "PPG). Identical input gives identical output. "
                    "A bad input is reported on stderr and the others are still written (exit code 1; "
                    "2 when none could be embedded); a failure shared by several inputs is said once, then "
                    "counted at the end with the inputs it names, as score sums up its errors. "
                    "Rerunning the same command after a Ctrl-C (exit code 130) or a crash resumes: the "
                    "recordings embedded so far are kept in OUT.parquet.parts/ until --out is written. "
                    "Threads: --threads, default the free cores.")
    e.add_argument("inputs", nargs="+", metavar="INPUT", help="recordings, record names or folders")
    e.add_argument("--model", required=True, metavar="NAME|DIR|FILE",
                   help="shipped model name (ecg-tiny, ...), checkpoint dir, or an exported .onnx / .plan "
                        "(preprocessing from its metadata; no checkpoint needed)")
    e.add_argument("--out", required=True, metavar="FILE.parquet", help="output Parquet file (one row per window)")
    e.add_argument("--force", action="store_true",
                   help="replace an existing output file (default: refuse), and start over where OUT.parquet.parts/ "
                        "holds an interrupted run with other options")
    e.add_argument("--batch-size", type=_positive_int, default=64, help="windows per model call (default 64)")
    e.add_argument("--random-weights", action="store_true",
                   help="use the architecture NAME with random (seeded) weights: a baseline")
    add_backend_args(e, default_backend=None, default_help="torch for a name or checkpoint, auto for a file")
    add_threads_argument(e)
    add_modality_arguments(e)
    e.add_argument("--window-s", type=_positive_float, default=None, metavar="S",
                   help="embedding window in s (default: the window the model was trained on)")
    add_af_prevalence_argument(e)
    add_audio_band_argument(e)
    e.set_defaults(handler=embed_command)


def audio_band_arg(text: str):
    """``--audio-fmax-hz``: ``common`` or a frequency in Hz above 0 (argparse type; the model's Nyquist
    is checked once the model is open)."""
    if text == "common":
        return text
    try:
        hz = float(text)
    except ValueError:
        hz = float("nan")
    if not 0 < hz < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a frequency in Hz above 0 (e.g. 1800), or common")
    return hz


def add_audio_band_argument(p, rows: str = "") -> None:
    """``--audio-fmax-hz HZ|common`` (embed, score, probe): :mod:`biosig.audio_band`."""
    p.add_argument("--audio-fmax-hz", type=audio_band_arg, default=None, metavar="HZ|common",
                   help="audio models: low-pass every recording to 0-HZ at the model's rate before the model" + rows
                        + ", so a set recorded at several rates is compared on one band; common: the band every "
                        "file's rate holds (0.45 x the lowest rate, from the files' headers: 1800 Hz for a set with "
                        "4 kHz files). Recorded with the output; default: the whole band")


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


def _check_paths(paths, what: str, expected: str = "recordings, record names or folders ('.' for the current "
                                                     "folder)") -> None:
    """An empty path (``--data "$DATA"`` with DATA unset) is refused: read as the current folder, it
    trained on or embedded whatever recordings lay there, without a word (an empty --init-from or
    --pipeline was ignored: a run from scratch, on the default pipeline)."""
    from biosig.errors import BiosigError
    if any(not str(p).strip() for p in paths):
        raise BiosigError(f"{what}: an empty path (an unset shell variable?); give {expected}")


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
    _check_paths(args.data, "--data")
    _check_paths([args.out], "--out", "a folder for the checkpoint")
    if args.channel is not None and not args.channel.strip():
        raise BiosigError("--channel: an empty name (an unset shell variable?); give a channel name, e.g. G")
    if args.channel is not None and not args.data:
        raise BiosigError(f"--channel {args.channel} picks a channel of the --data recordings; give --data PATH...")
    for flag, value, expected in (("--init-from", args.init_from, "a shipped model name or checkpoint folder"),
                                  ("--pipeline", args.pipeline, "a pipeline JSON file")):
        if value is not None:   # given but empty: it would be ignored, and the run start from scratch
            _check_paths([value], flag, expected)
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
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        print(json_text.dumps(metrics))
    return 0


def usable_threads(requested: int | None) -> int | None:
    """``--threads`` when this process may use that many CPUs, else a one-line error: 100000 threads made OpenBLAS
    fail to start its pool and ``score`` hang (``embed`` too); more threads than CPUs only time-share them."""
    import os

    from biosig.errors import BiosigError
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    if requested is not None and requested > n:
        raise BiosigError(f"--threads {requested}: this process may use {n} CPU(s); give at most {n}, "
                          "or leave --threads out for the free cores")
    return requested


def embed_command(args) -> int:
    """Embed each input; like ``score``, a bad input is reported on stderr (one line) and the
    good ones are still written. Exit code 0: all embedded; 1: some inputs failed; 2: usage
    error or nothing could be embedded; 130: interrupted (the same command resumes:
    :mod:`encoders.embed_resume`)."""
    import pathlib

    from biosig.cli._common import apply_threads, pick_threads, read_options
    from biosig.errors import BiosigError
    _check_paths(args.inputs, "INPUT")
    _check_paths([args.model], "--model", "a shipped model name (ecg-tiny, ...), checkpoint folder or exported file")
    _check_paths([args.out], "--out", "a .parquet file name, e.g. --out embeddings.parquet")
    threads = pick_threads(usable_threads(args.threads))
    apply_threads(threads)  # before torch is imported: default torch threads oversubscribe a busy host
    opts = read_options(args)
    if pathlib.Path(args.out).suffix != ".parquet":
        raise BiosigError(f"--out {args.out}: expected a .parquet file")
    from biosig.outputs import check_output_file
    out = check_output_file(args.out, "--out", (".parquet",), replace=args.force)   # before the model loads and the work starts
    from biosig.readers import discover
    from encoders.embed_resume import parts_dir, recorded_job
    from encoders.inference import open_model
    backend = args.backend or ("auto" if pathlib.Path(args.model).suffix.lower() in (".onnx", ".plan") else "torch")
    opened = backend
    if backend == "auto" and recorded_job(out).get("backend_used") in BACKENDS[1:]:
        opened = recorded_job(out)["backend_used"]   # a resumed run keeps the backend its first run measured fastest
    enc = open_model(args.model, opened, device=args.device, precision=args.precision,
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
    enc.af_prevalence = args.af_prevalence
    from biosig.audio_band import check_audio_model
    check_audio_model(args.audio_fmax_hz, enc.config.modality, enc.model_id)
    from encoders.heads import unused_prevalence_warning
    if unused := unused_prevalence_warning(enc.config.modality, args.af_prevalence):
        log.warning(unused)
    paths = discover(args.inputs, bare_tables=args.sample_rate_hz is not None, out_dir=parts_dir(out))
    if not paths:
        raise BiosigError(f"no readable recordings in {', '.join(args.inputs)}")
    from encoders.embeddings_file import embed_provenance
    prov = embed_provenance(enc, args.model, random_weights=args.random_weights, window_s_given=args.window_s,
                            read_options=opts, backend=backend, af_prevalence=args.af_prevalence)
    from biosig.audio_band import band_text, set_fmax_hz
    band = set_fmax_hz(args.audio_fmax_hz, paths, opts, float(enc.config.input_fs_hz))
    if band is not None:   # in the file's metadata and the resume's job (absent without it: older parts resume)
        prov["audio_fmax_hz"] = band
        log.info("embed: every recording low-passed to %s at %g Hz", band_text(band), enc.config.input_fs_hz)
    from encoders.embed_resume import EmbedParts, job_fingerprint
    with EmbedParts(out, job_fingerprint(prov, batch_size=args.batch_size, device=args.device), force=args.force) as parts:
        return _embed_into(parts, enc, paths, out, prov, opts, args.batch_size)


def _embed_into(parts, enc, paths, out, prov, opts, batch_size: int) -> int:
    """The embedding loop of ``embed_command``: the recordings ``parts`` does not hold yet, kept there as
    they come (a Ctrl-C or a crash loses none of them), then ``out`` assembled from the parts."""
    from biosig.audio_band import band_limit, band_text
    from biosig.cli._common import ProgressLog
    from biosig.errors import BiosigError
    from biosig.readers import read
    from encoders.scoring.files import atomic_write_parquet, source_stamps
    from encoders.scoring.schema import record_key
    from encoders.embeddings_file import parquet_metadata
    sources = [os.path.abspath(p) for p in paths]   # absolute: probe --baseline finds them from any folder
    stamp_of = source_stamps(paths)
    todo, changed = parts.todo(sources, [stamp_of[record_key(p)] for p in paths])
    if len(todo) < len(paths):
        log.warning("resuming: %d of %d recording(s) already embedded in %s%s; embedding the other %d",
                    len(paths) - len(todo), len(paths), parts.dir,
                    f" ({changed} changed since: embedded again)" if changed else "", len(todo))
    it = todo
    if sys.stderr.isatty():
        from tqdm import tqdm
        it = tqdm(todo, desc=f"embed {enc.model_id}", unit="rec")
    progress = ProgressLog("embed", len(todo))
    failed = 0
    failures: dict[str, list] = {}   # kind of failure -> [(record, line)]: said once each, counted at the end
    try:
        for i in it:
            p = paths[i]
            try:
                recorded = read(p, **opts)
                rec = band_limit(recorded, prov.get("audio_fmax_hz"), float(enc.config.input_fs_hz))
                rows = enc.embed(rec, source=sources[i], batch_size=batch_size, recorded=recorded)
            except BiosigError as exc:
                failed += 1
                progress.update(False)
                text = str(exc)
                say_failure("embed", str(p), text if str(p) in text else f"{p}: {text}", failures)
                continue
            except (ValueError, ArithmeticError, IndexError, KeyError) as exc:  # a bug of ours on odd input
                failed += 1
                progress.update(False)
                log.debug("embed %s failed", p, exc_info=True)
                say_failure("embed", str(p), f"{p}: cannot be embedded "
                            f"({str(exc).splitlines()[0] if str(exc) else 'internal error'})", failures)
                continue
            parts.add(sources[i], stamp_of[record_key(p)], rows)
            progress.update(True)
        parts.flush()
    except BaseException as exc:   # Ctrl-C, a crash: what is embedded goes into a part first
        sum_up_failures("embed", failures)
        from biosig.interrupts import interrupts_deferred, is_interrupt
        with interrupts_deferred(reraise=False):
            try:
                parts.flush()
            except BiosigError as flush_error:   # a full disk: the parts written before stay
                log.warning("%s", flush_error)
                parts.pending = []
        kept = len(set(parts.latest) & set(sources))
        if not parts.latest:   # nothing to resume: no parts folder left behind
            parts.remove()
        if is_interrupt(exc) and kept:
            log.warning("interrupted: %d of %d recording(s) embedded so far are kept in %s; run the same command "
                        "again to embed the rest", kept, len(paths), parts.dir)
        elif isinstance(exc, BiosigError) and kept:   # a part not written (full disk): one line, exit 2
            raise BiosigError(f"{exc}; the {kept} recording(s) embedded so far are kept in {parts.dir}: free space "
                              "and run the same command again to embed the rest") from None
        raise
    sum_up_failures("embed", failures)
    df = parts.assemble(sources)
    if df is None:
        print(f"biosig embed: error: none of the {len(paths)} recording(s) could be embedded; nothing written",
              file=sys.stderr)
        if not parts.latest:
            parts.remove()
        return 2
    # its metadata says what made it; a Ctrl-C from here on changes nothing (held, then dropped): the file
    # is written whole and the parts removed, or (a full disk) the previous file and the parts stay
    from biosig.interrupts import interrupts_deferred
    with interrupts_deferred(reraise=False):
        atomic_write_parquet(df, out, metadata=parquet_metadata(prov))
        parts.remove()
    n_rec = df["source"].n_unique()
    print(f"{len(df)} window{'' if len(df) == 1 else 's'} from {n_rec} recording{'' if n_rec == 1 else 's'} "
          f"-> {out} ({enc.model_id}, {prov['backend_used']}"
          + (f", {band_text(prov['audio_fmax_hz'])}" if "audio_fmax_hz" in prov else "") + ")"
          + (f"; {failed} recording(s) failed (see above)" if failed else ""))
    return 1 if failed else 0
