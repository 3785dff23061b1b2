"""``biosig embed``: one parquet row per window of each recording, resumable (:mod:`encoders.embed_resume`);
``biosig probe`` is in :mod:`biosig.cli.probe_commands`, ``biosig score`` in :mod:`biosig.cli.score_commands`.

torch, encoders and polars are imported inside the handlers so ``biosig --version`` stays fast.
"""
from __future__ import annotations

import logging
import os
import sys

from biosig.cli._common import (add_af_prevalence_argument, add_modality_arguments, add_threads_argument,
                                positive_float as _positive_float, positive_int as _positive_int, say_failure,
                                sum_up_failures)
from biosig.cli.encoder_options import (BACKENDS, add_audio_band_argument, add_backend_args, check_paths,
                                        usable_threads)

log = logging.getLogger(__name__)


def register(subparsers) -> None:

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
                    "Rerunning the same command after a Ctrl-C (exit code 130), a SIGTERM (143), a SIGHUP (129) or a crash "
                    "resumes: the recordings embedded so far are kept in OUT.parquet.parts/ until --out is written. "
                    "A recording without signal (every sample missing, or constant) is refused, as score refuses it. "
                    "Progress: a line on stderr every 10 s (BIOSIG_PROGRESS_S), also while one long recording runs. "
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
                   help="embedding window in s (default: the window the model was trained on); a record shorter than it is "
                        "one window of its own length, with a warning, and one shorter than the model's smallest input "
                        "an error")
    add_af_prevalence_argument(e)
    add_audio_band_argument(e)
    e.set_defaults(handler=embed_command)


def embed_command(args) -> int:
    """:func:`_embed_command`, stopped by SIGTERM or SIGHUP as by Ctrl-C (the recordings embedded so far kept; exit 143,
    129)."""
    from biosig.cli._common import stopped_by_sigterm_as_ctrl_c
    return stopped_by_sigterm_as_ctrl_c("embed", _embed_command, args)


def _embed_command(args) -> int:
    """Embed each input; like ``score``, a bad input is reported on stderr (one line) and the
    good ones are still written. Exit code 0: all embedded; 1: some inputs failed; 2: usage
    error or nothing could be embedded; 130: interrupted, 143: stopped by SIGTERM, 129: by SIGHUP (the same command resumes:
    :mod:`encoders.embed_resume`)."""
    import pathlib

    from biosig.cli._common import apply_threads, pick_threads, read_options
    from biosig.errors import BiosigError
    check_paths(args.inputs, "INPUT")
    check_paths([args.model], "--model", "a shipped model name (ecg-tiny, ...), checkpoint folder or exported file")
    check_paths([args.out], "--out", "a .parquet file name, e.g. --out embeddings.parquet")
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
    beat = _Heartbeat(len(todo), it if it is not todo else None)
    failed = 0
    failures: dict[str, list] = {}   # kind of failure -> [(record, line)]: said once each, counted at the end
    try:
        for k, i in enumerate(it):
            p = paths[i]
            beat.start(str(p), k + 1)
            try:
                recorded = read(p, **opts)
                beat.duration_s = recorded.duration_s
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
        beat.stop()
        parts.flush()
    except BaseException as exc:   # Ctrl-C, a crash: what is embedded goes into a part first
        beat.stop()
        sum_up_failures("embed", failures)
        from biosig.interrupts import interrupts_deferred, is_interrupt
        with interrupts_deferred(reraise=False):
            try:
                parts.flush()
            except BiosigError as flush_error:   # a full disk: the parts written before stay
                if str(flush_error) != str(exc):   # the part that just failed, failing again: said once, below
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


class _Heartbeat:
    """Progress within one long recording: the per-recording lines (:class:`~biosig.cli._common.ProgressLog`, a tqdm
    bar on a terminal) move only when a recording is done, and a 10 h Holter took 53 s on two cores with nothing
    said. While one recording runs longer than the progress interval (``BIOSIG_PROGRESS_S``, 10 s), a line on
    stderr every interval says which one, how long it is and for how long it has run (on a terminal: the bar's
    postfix). A daemon thread: it never holds up the exit or a Ctrl-C."""

    def __init__(self, total: int, bar=None):
        import threading

        from biosig.progress import progress_interval_s
        self.total, self.bar, self.every_s = total, bar, max(progress_interval_s(), 0.05)
        self.name, self.k, self.started, self.duration_s = "", 0, 0.0, None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        if total > 0:
            self._thread = threading.Thread(target=self._run, name="embed-heartbeat", daemon=True)
            self._thread.start()

    def start(self, name: str, k: int) -> None:
        """Recording ``k`` of :attr:`total`, ``name``, begins now."""
        import time
        with self._lock:
            self.name, self.k, self.started, self.duration_s = name, k, time.monotonic(), None
            if self.bar is not None and getattr(self.bar, "postfix", None):
                self.bar.set_postfix_str("", refresh=False)   # the last recording's, said no more

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import time
        while not self._stop.wait(self.every_s):
            with self._lock:
                name, k, started, duration_s = self.name, self.k, self.started, self.duration_s
            running = time.monotonic() - started
            if not name or running < self.every_s:
                continue
            length = "" if not duration_s else f", {duration_s / 3600:.1f} h" if duration_s >= 3600 else \
                f", {duration_s:.0f} s"
            if self.bar is not None:
                self.bar.set_postfix_str(f"{name}{length}: {running:.0f} s", refresh=True)
            else:
                print(f"embed: recording {k}/{self.total} ({name}{length}) still running, {running:.0f} s so far",
                      file=sys.stderr, flush=True)
