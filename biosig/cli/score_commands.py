"""``biosig score``: offline batch scoring of waveform archives into Parquet.

Exit codes: 0 when every record was scored, 1 when the run finished but at least one record is in
``errors.parquet`` (bad records never stop the run), 2 for a usage error (bad arguments, no
records found, a model that cannot be loaded, an output folder holding another job's results, an
output file that cannot be written: a full disk), 130 when interrupted by Ctrl-C, 143 by SIGTERM (a batch
scheduler's stop, ``timeout``, ``kill``) and 129 by SIGHUP (an ssh session dropped; not under ``nohup``): both handled
as Ctrl-C is, tables written; rerun the same command to resume.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import time

from biosig.cli._common import (ProgressLog, add_af_prevalence_argument, add_modality_arguments, add_threads_argument,
                                positive_float, positive_int)
from biosig.cli._common import stopped_by_sigterm_as_ctrl_c
from biosig.interrupts import polars_io

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")          # mirrors encoders.scoring.ENGINES (not imported: keep startup fast)
BACKENDS = ("auto", "onnxruntime", "torch", "tensorrt")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score", help="score an archive of recordings into Parquet (embeddings, quality, measures)",
        description="Score every record under PATH... (files, folders searched recursively, or text "
                    "files listing records; WFDB incl. multi-segment, EDF, WAV/FLAC/MP3, CSV, Parquet) with an "
                    "encoder: per-window embeddings and quality, per-record pooled embedding and "
                    "clinical measures. Writes DIR/windows.parquet, records.parquet, errors.parquet "
                    "and run.json. Rerunning the same command resumes: records already done are "
                    "skipped, records whose files changed are scored again, and the tables hold the "
                    "inputs of this run only. Exit code 0: all records scored; 1: some records failed (see "
                    "errors.parquet); 2: usage error, or an output file could not be written (full disk); 130: "
                    "Ctrl-C, 143: SIGTERM, 129: SIGHUP (all write the tables of the records done; the same command "
                    "resumes). "
                    "Progress: a bar on a terminal, else a line on stderr every 10 s (BIOSIG_PROGRESS_S), also "
                    "while one long record runs.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="record files, folders or record lists")
    p.add_argument("--model", required=True, metavar="NAME|DIR|ONNX",
                   help="shipped model name (ecg-tiny), checkpoint directory or exported .onnx file")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (reused to resume)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: process pool on this machine (default); ray: a pool of Ray actors (one CPU each; --ray-address)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="worker processes / Ray actors, each loads the model once (default 1)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="inference backend (default auto: the fastest measured at start; a resumed job keeps "
                        "the backend of its first run, recorded in run.json)")
    from biosig.cli.encoder_options import PRECISIONS, device_arg
    p.add_argument("--device", type=device_arg, default=None, metavar="cpu|cuda[:N]",
                   help="where the backend runs (default: a CUDA GPU when one is visible, else cpu)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="torch backend: fp32 (default) or bf16/fp16 autocast (CUDA; tolerances in docs/gpu.md)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="join this Ray cluster (e.g. auto, ray://head:10001); default: a local instance")
    p.add_argument("--batch-size", type=positive_int, default=64, help="windows per backend call (default 64)")
    p.add_argument("--window-s", type=positive_float, default=None, metavar="S",
                   help="window length in s (default: the window the model was trained on; the hop is "
                        "the modality's default for its default window, else half a window; a record shorter "
                        "than it is one window of its own length, said after the summary, and one shorter than "
                        "the model's smallest input an error row); part of the job, so a resumed run must give "
                        "the same value")
    add_af_prevalence_argument(p)
    from biosig.cli.encoder_options import add_audio_band_argument
    add_audio_band_argument(p, " (part of the job, so a resumed run must give the same band; in run.json)")
    p.add_argument("--retry-errors", action="store_true", help="score again records that failed before")
    add_threads_argument(p)
    add_modality_arguments(p, " (--engine local only)")
    p.set_defaults(handler=run_score_command)


class _Progress:
    """tqdm bar over records with records/s, windows/s and ETA on a terminal; otherwise a log line
    every 10 s (:class:`biosig.cli._common.ProgressLog`). Both moved only when a record was done, so a run
    of long recordings (a 24 h Holter: over a minute each on two cores) said nothing for as long as one ran,
    and a bigger model for many minutes: a heartbeat (:meth:`_beat`) then says the run goes on, as embed's."""

    def __init__(self):
        import threading

        self.bar = None
        self.windows = 0
        self.failed = 0
        self.done = 0
        self.short: list[tuple[str, str]] = []   # (record, note): shorter than the model's window, one window each
        self.t0 = self.last = time.perf_counter()
        self._stop = threading.Event()

    def start(self, total: int, skipped: int) -> None:
        import threading

        from tqdm import tqdm

        from biosig.progress import progress_interval_s
        if skipped:
            log.warning("resuming: %d record(s) already done, %d to score", skipped, total)
        self.bar = tqdm(total=total, unit="rec", desc="score", disable=not sys.stderr.isatty(),
                        dynamic_ncols=True)
        self.log = ProgressLog("score", total)
        self.total, self.every_s = total, max(progress_interval_s(), 0.05)
        self.t0 = self.last = time.perf_counter()
        if total > 0:
            threading.Thread(target=self._beat, name="score-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        """While no record has been done for a progress interval: a line on stderr each interval (on a terminal,
        the bar redrawn, its elapsed time going on). A daemon thread: never holds up the exit or a Ctrl-C."""
        while not self._stop.wait(self.every_s):
            now = time.perf_counter()
            quiet_s = now - self.last
            if quiet_s < self.every_s or self.bar is None:
                continue
            if not self.bar.disable:
                self.bar.refresh()
            else:
                print(f"score: {self.done}/{self.total} records done, still running (none done in the last "
                      f"{quiet_s:.0f} s), elapsed {now - self.t0:.0f} s", file=sys.stderr, flush=True)

    def update(self, outcome: dict) -> None:
        self.last = time.perf_counter()
        self.done += 1
        self.windows += int(outcome["n_windows"])
        self.failed += 0 if outcome["ok"] else 1
        if outcome.get("short_window"):
            self.short.append((str(outcome["record"]), str(outcome["short_window"])))
        if self.bar is not None:
            rate = self.windows / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.set_postfix(windows_s=f"{rate:.1f}", failed=self.failed, refresh=False)
            self.bar.update(1)
            self.log.update(bool(outcome["ok"]), f"{rate:.1f} windows/s")

    def close(self) -> None:
        self._stop.set()
        if self.bar is not None:
            self.bar.close()


def run_score_command(args) -> int:
    with _ctrl_c_never_swallowed():
        return stopped_by_sigterm_as_ctrl_c("score", _score_command, args)


@contextlib.contextmanager
def _ctrl_c_never_swallowed():
    """A Ctrl-C whose ``KeyboardInterrupt`` CPython swallows is raised again in the main thread. Python runs the
    SIGINT handler at whatever line the main thread is on, and where that is a weakref callback, a ``__del__`` or a
    gc callback (importlib's module-lock callback while the engines import: seen once in 50 Ctrl-C sent in a run's
    first half second) the exception is only printed ("Exception ignored in ...") and the run went on to the end
    with exit 0, as if no Ctrl-C came. ``_thread.interrupt_main`` (from a thread) delivers it again through the
    handler then in force (held by :func:`biosig.interrupts.interrupts_deferred` where a step must not be cut in
    two)."""
    import _thread
    import signal

    before = sys.unraisablehook

    def again() -> None:
        time.sleep(0.01)
        _thread.interrupt_main(signal.SIGINT)

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):   # raised in this hook, it was dropped again: a
            _thread.start_new_thread(again, ())   # thread (not waited for) sends it once the hook has returned
            return
        before(unraisable)
    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = before


def _score_command(args) -> int:
    from biosig.cli._common import apply_threads, pick_threads, read_options
    from biosig.cli.encoder_options import check_paths, usable_threads

    check_paths([args.model], "--model", "a shipped model name (ecg-tiny), checkpoint folder or exported .onnx")
    check_paths([args.out], "--out", "an output folder, e.g. --out scores")
    # this machine's CPUs bound --threads here; a Ray actor may run on a larger node
    threads = pick_threads(usable_threads(args.threads) if args.engine == "local" else args.threads, args.workers)
    apply_threads(threads)  # before torch/onnxruntime are imported
    opts = read_options(args)
    from encoders.scoring import ScoreConfig, run_score
    from biosig.interrupts import interrupts_deferred

    log.info("score: %d intra-op thread(s) per worker", threads)
    config = ScoreConfig(inputs=tuple(args.paths), model=args.model, out_dir=args.out, engine=args.engine,
                         workers=args.workers, backend=args.backend, ray_address=args.ray_address,
                         batch_size=args.batch_size, retry_errors=args.retry_errors, threads=threads,
                         read_options=opts, device=args.device, precision=args.precision,
                         window_s=args.window_s, af_prevalence=args.af_prevalence,
                         audio_fmax_hz=args.audio_fmax_hz)
    progress = _Progress()
    try:
        summary = run_score(config, on_start=progress.start, on_outcome=progress.update)
    except BaseException:
        progress.close()
        raise
    # The run is over and run.json says how it ended: a Ctrl-C from here on changes nothing, so the exit
    # code stays the run's (it was 130 with a run.json saying 0). Held while the summary is said; one
    # that lands before the hold begins cuts the summary short, never the exit code.
    try:
        with interrupts_deferred(reraise=False):
            exit_code = summary.exit_code
            progress.close()
            _say_summary(summary)
            _say_short(progress.short)
    except KeyboardInterrupt:
        exit_code = summary.exit_code
    return exit_code


def _say_summary(summary) -> None:
    t = summary.tables
    print(f"{summary.out_dir}: {t['records']} records, {t['windows']} windows, {t['errors']} errors "
          f"({summary.scored} scored and {summary.failed} failed in this run, {summary.skipped_done} "
          f"already done; {summary.seconds:.1f} s)")
    if summary.worker_died:
        print(f"{summary.worker_died} record(s) killed the process scoring them (out of memory?): recorded as "
              "failed (stage worker) and the run went on; --retry-errors scores them again", file=sys.stderr)
    if t["errors"]:
        print(f"some records failed: see {summary.out_dir}/errors.parquet", file=sys.stderr)
        for line in _commonest_errors(summary.out_dir):
            print(f"  {line}", file=sys.stderr)


def _say_short(short: list[tuple[str, str]]) -> None:
    """The records of this run shorter than the model's window, each one window of its own length, as embed warns
    (:func:`encoders.window_checks.short_record_note`), not left to be found in t1_s - t0_s: the first, and a count."""
    if short:
        record, note = short[0]
        more = f" (and {len(short) - 1} more record(s) shorter than the window)" if len(short) > 1 else ""
        print(f"{record}: {note}{more}", file=sys.stderr)


def _commonest_errors(out_dir, most: int = 3) -> list[str]:
    """The commonest error messages of ``errors.parquet`` with their counts and the records they
    name (:func:`biosig.cli._common.commonest_errors`; ``embed`` says its failures the same way)."""
    import pathlib

    import polars as pl

    from biosig.cli._common import commonest_errors
    try:
        rows = polars_io(pl.read_parquet, pathlib.Path(out_dir) / "errors.parquet",
                         columns=["record", "message"]).rows()
    except Exception:   # noqa: BLE001 - a summary only; the table itself was written
        return []
    return commonest_errors(rows, most)
