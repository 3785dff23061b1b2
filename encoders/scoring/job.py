"""A scoring job: discover records, skip the done ones, score the rest, assemble the tables.

:func:`run_score` is what ``biosig score`` calls. It is resumable: records already done in the
output folder (their part files exist) are skipped, so rerunning the same command after a crash,
a SIGKILL or Ctrl-C finishes the job with every record exactly once.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import time
from typing import Any, Callable

from biosig.record import names_text
from encoders.heads import unused_prevalence_warning
from encoders.scoring.errors import OutputWriteError, ScoreError
from encoders.scoring.files import check_output_folder
from biosig.interrupts import interrupts_deferred
from encoders.scoring.manifest import retire_tables, run_options, say_stopped, write_run_manifest
from encoders.scoring.model import BACKENDS, ModelSpec, load_model
from encoders.scoring.outputs import PartStore, record_key, recorded_job, source_stamps
from encoders.scoring.part_check import rescore_damaged

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
READ_OPTIONS = frozenset({"modality", "channels", "fs_hz", "mono", "channel_modalities",  # biosig.read
                          "sample_rate_hz"})
EXIT_OK = 0
EXIT_RECORDS_FAILED = 1  # the job ran, but errors.parquet has at least one record


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    """One scoring job.

    Attributes
    ----------
    inputs : files, folders (searched recursively) or text files listing records.
    model : model name (``"ecg-tiny"``), checkpoint directory or ``.onnx`` file.
    out_dir : output folder (created; reused to resume).
    engine : ``"local"`` (process pool) or ``"ray"`` (a pool of Ray actors).
    workers : processes or actors; each loads the model once.
    backend : inference backend kind, one of :data:`encoders.scoring.model.BACKENDS`.
    ray_address : Ray cluster to join (``--engine ray`` only); None starts a local instance.
    batch_size : windows per backend call.
    retry_errors : score again the records that failed in an earlier run.
    threads : intra-op threads per worker (None: the backend's default).
    read_options : ``biosig.read`` keyword arguments (``modality``, ``channel_modalities``) from
        ``--modality`` / ``--channel``; local engine only.
    device : ``cpu``, ``cuda`` or ``cuda:N`` for the backend (None: the backend's default).
    precision : torch backend autocast precision, ``fp32``, ``bf16`` or ``fp16``.
    window_s : window length in seconds (None: the one the model was trained on).
    af_prevalence : the AF prevalence ``af_prob`` is read at (None: as its head was fitted).
    audio_fmax_hz : audio models: the band every record is low-passed to before the model, in Hz,
        or ``"common"``: the band every record's rate holds (:mod:`biosig.audio_band`); None: the
        whole band. The band in Hz is part of the job (a resumed run must give the same).
    """

    inputs: tuple[str, ...]
    model: str
    out_dir: str
    engine: str = "local"
    workers: int = 1
    backend: str = "auto"
    ray_address: str | None = None
    batch_size: int = 64
    retry_errors: bool = False
    threads: int | None = None
    read_options: dict | None = None
    device: str | None = None
    precision: str = "fp32"
    window_s: float | None = None
    af_prevalence: float | None = None
    audio_fmax_hz: float | str | None = None

    def __post_init__(self):
        inputs = (self.inputs,) if isinstance(self.inputs, (str, os.PathLike)) else self.inputs  # one path
        if inputs is None or isinstance(inputs, bytes) or not hasattr(inputs, "__iter__") \
                or not all(isinstance(p, (str, os.PathLike)) for p in inputs):
            raise ScoreError(f"inputs={self.inputs!r}: give a list of paths (str or os.PathLike)")
        object.__setattr__(self, "inputs", tuple(os.fspath(p) for p in inputs))
        if not self.inputs:
            raise ScoreError("no input paths given")
        for name in ("model", "out_dir"):
            value = getattr(self, name)
            if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
                raise ScoreError(f"{name}={value!r} must be a name or path (str or os.PathLike)")
            object.__setattr__(self, name, os.fspath(value))
        if self.engine not in ENGINES:
            raise ScoreError(f"unknown engine {self.engine!r}; expected one of {', '.join(ENGINES)}")
        if self.backend not in BACKENDS:
            raise ScoreError(f"unknown backend {self.backend!r}; expected one of {', '.join(BACKENDS)}")
        self._check_numbers()
        if self.ray_address is not None and not isinstance(self.ray_address, str):
            raise ScoreError(f"ray_address={self.ray_address!r} must be an address (str)")
        if self.ray_address is not None and not self.ray_address.strip():   # an unset shell variable
            raise ScoreError("--ray-address is empty (an unset shell variable?): give HOST:PORT or auto, or leave "
                             "it out for a local instance")
        if self.ray_address and self.engine != "ray":
            raise ScoreError("--ray-address needs --engine ray")
        if not isinstance(self.retry_errors, bool):
            raise ScoreError(f"retry_errors={self.retry_errors!r} must be True or False")
        if self.read_options is not None and not (
                isinstance(self.read_options, dict) and set(self.read_options) <= READ_OPTIONS):
            raise ScoreError(f"read_options={self.read_options!r} must be a dict of biosig.read options "
                             f"({', '.join(sorted(READ_OPTIONS))})")

    def _check_numbers(self):
        from encoders.arguments import device_name, thread_count, whole_number
        from encoders.errors import EncoderError
        try:
            whole_number(self.workers, "--workers")
            whole_number(self.batch_size, "--batch-size")
            thread_count(self.threads)
            device_name(self.device)
        except EncoderError as exc:
            raise ScoreError(str(exc)) from None
        ModelSpec(source=self.model, window_s=self.window_s, af_prevalence=self.af_prevalence,
                  audio_fmax_hz=None if self.audio_fmax_hz == "common" else self.audio_fmax_hz)  # their checks


@dataclasses.dataclass
class ScoreSummary:
    """What a run did; ``exit_code`` is 0 when no record failed, 1 otherwise."""

    out_dir: str
    records_found: int
    skipped_done: int
    scored: int
    failed: int
    windows: int
    tables: dict[str, int]
    seconds: float
    manifest: dict[str, Any]
    worker_died: int = 0   # records failed in this run because the process scoring them died

    @property
    def exit_code(self) -> int:
        return EXIT_RECORDS_FAILED if self.tables.get("errors", 0) else EXIT_OK


def discover_records(inputs: tuple[str, ...], bare_tables: bool = False, out_dir: str | None = None) -> list[str]:
    """Record paths under ``inputs`` (each record once), via :func:`biosig.readers.discover`
    (``bare_tables``: tables of bare sample values too, when their rate is given). Output folders of
    earlier score runs inside an input folder are not searched (one warning names them); ``out_dir``,
    this run's own, is not searched either, without a warning."""
    from biosig.readers import discover, record_exists
    from biosig.readers.discover import is_score_output
    if any(not str(p).strip() for p in inputs):   # "$DATA" with DATA unset
        raise ScoreError("an empty input path (an unset shell variable?); give records, folders or '.' for the "
                         "current folder")
    missing = [p for p in inputs if not record_exists(p)]
    if missing:
        raise ScoreError(f"input path(s) not found: {', '.join(missing)} (no such file, folder or WFDB record)")
    paths = [str(p) for p in discover(list(inputs), bare_tables, out_dir=out_dir)]
    if not paths and out_dir is not None and _holds(inputs, out_dir) and is_score_output(out_dir):
        raise ScoreError(f"no records found outside the output folder {out_dir} (the inputs hold only "
                         "its tables); name the folder of the recordings, not --out")
    if not paths:
        raise ScoreError(f"no records found under {', '.join(inputs)} (looked for WFDB headers, EDF, "
                         "WAV/FLAC/MP3, CSV and Parquet files, and text files listing records)")
    return paths


def _holds(inputs, out_dir: str) -> bool:
    """Whether the folder ``out_dir`` is one of the folders ``inputs`` or lies inside one."""
    out = os.path.realpath(out_dir)
    return any(os.path.isdir(p) and os.path.commonpath([os.path.realpath(p), out]) == os.path.realpath(p)
               for p in inputs)


def _outside_out_dir(paths: list[str], out_dir: str) -> list[str]:
    """``paths`` less the files under the output folder: with ``--out`` inside an input folder
    (``biosig score . --out score``) a rerun found its own tables and parts as records."""
    from encoders.scoring.outputs import is_own_output
    out = os.path.realpath(out_dir)
    keep = [p for p in paths if os.path.commonpath([os.path.realpath(p), out]) != out]
    # Recordings there (not its tables, parts, run.json): `--out` named the recordings' folder or one above them,
    # and were dropped without a word (`score a.edf sub/b.edf --out sub` scored a.edf only).
    theirs = [p for p in paths if p not in keep and not is_own_output(os.path.relpath(os.path.realpath(p), out))]
    if theirs:
        raise ScoreError(f"--out {out_dir} holds recordings to score ({', '.join(theirs[:3])}"
                         f"{', ...' if len(theirs) > 3 else ''}); give an output folder outside the recordings, "
                         f"e.g. --out {os.path.normpath(out_dir)}_scores")
    if paths and not keep:
        raise ScoreError(f"no records found outside the output folder {out_dir} (the inputs hold only "
                         "its tables); name the folder of the recordings, not --out")
    if len(keep) < len(paths):
        log.info("%d file(s) under the output folder %s ignored", len(paths) - len(keep), out_dir)
    return keep


def run_score(config: ScoreConfig, *, on_start: Callable[[int, int], None] | None = None,
              on_outcome: Callable[[dict[str, Any]], None] | None = None) -> ScoreSummary:
    """Run (or resume) a scoring job.

    Parameters
    ----------
    config : the job.
    on_start : called with ``(records to score now, records already done)`` before scoring.
    on_outcome : called in this process with each record's outcome after its parts are written
        (``key``, ``record``, ``ok``, ``n_windows``, ``seconds``, ...): progress display.

    Returns
    -------
    ScoreSummary

    Raises
    ------
    ScoreError, BiosigError
        Bad configuration, no records, unloadable model, an output folder of another job.
    """
    t0, started_at = time.perf_counter(), dt.datetime.now(dt.timezone.utc)
    check_output_folder(config.out_dir)   # before the records are searched and the model loads (seconds)
    paths = _outside_out_dir(discover_records(config.inputs, "sample_rate_hz" in (config.read_options or {}),
                                              config.out_dir), config.out_dir)
    backend = config.backend
    if backend == "auto":  # a resumed job keeps the backend its first run chose
        backend = recorded_job(config.out_dir).get("backend", "auto")
        backend = backend if backend in BACKENDS else "auto"
    if config.read_options and config.engine != "local":
        raise ScoreError("--modality / --channel / --sample-rate-hz are supported with --engine local only")
    if config.engine == "ray":   # before the model loads and the folder takes this job's fingerprint
        from encoders.scoring.ray_engine import check_ray
        check_ray(config.ray_address)   # installed, and a HOST:PORT address answers
    loaded = load_model(ModelSpec(config.model, backend, threads=config.threads, device=config.device,
                                  precision=config.precision, window_s=config.window_s,
                                  af_prevalence=config.af_prevalence))  # fail fast; exports to the ONNX cache once
    said = (config.read_options or {}).get("modality")
    if said and said != loaded.modality:   # as embed: the user said what the recordings are, not this model's input
        raise ScoreError(f"--modality {said}: {loaded.model_id} scores {loaded.modality} recordings; use a model for "
                         f"{said} recordings (--model {said}-tiny where one is shipped) or drop --modality")
    if unused := unused_prevalence_warning(loaded.modality, config.af_prevalence):
        log.warning(unused)
    band = None
    if config.audio_fmax_hz is not None:   # common: from the records' rates, before the folder takes the job
        from biosig.audio_band import check_audio_model, set_fmax_hz
        check_audio_model(config.audio_fmax_hz, loaded.modality, loaded.model_id)
        band = set_fmax_hz(config.audio_fmax_hz, paths, config.read_options, loaded.input_fs_hz)
        loaded = dataclasses.replace(loaded, audio_fmax_hz=band)
    # Workers use the backend the driver ended up with: "auto" decides by timing a probe batch, and
    # workers deciding on their own could mix backends (and their last-bit differences) in one table.
    kind = getattr(loaded.backend, "name", config.backend)
    spec = ModelSpec(config.model, kind if kind in BACKENDS else backend,
                     expect_sha256=loaded.model_sha256, threads=config.threads, device=config.device,
                     precision=config.precision, window_s=config.window_s, af_prevalence=config.af_prevalence,
                     audio_fmax_hz=band)
    with PartStore(config.out_dir) as store:
        return _run(config, spec, loaded, store, paths, t0=t0, started_at=started_at, on_start=on_start,
                    on_outcome=on_outcome)


def job_fingerprint(loaded, read_options: dict | None) -> dict[str, Any]:
    """The model's fingerprint plus how records are read (``--modality`` / ``--channel`` /
    ``--sample-rate-hz``): they decide which channels are scored, so a resumed run that gives other
    ones is refused instead of keeping the earlier channel choice for the records already done
    (absent when none is given, so folders of runs without them resume as before)."""
    fingerprint = loaded.fingerprint()
    if read_options:
        fingerprint["read_options"] = json.loads(json.dumps(read_options, sort_keys=True, default=str))
    return fingerprint


def _run(config, spec, loaded, store, paths, *, t0, started_at, on_start, on_outcome) -> ScoreSummary:
    """The job proper, while ``store``'s folder lock is held."""
    store.check_job(job_fingerprint(loaded, config.read_options))
    begun = {"started_at": started_at.isoformat(), "inputs": list(config.inputs), "cwd": os.getcwd(),
             "backend_requested": config.backend, "engine": config.engine, "workers": int(config.workers),
             "options": run_options(config)}
    keys = {record_key(p): p for p in paths}
    if len(keys) != len(paths):
        log.warning("%d duplicate record paths ignored", len(paths) - len(keys))
    # A Ctrl-C from here on lands in the except KeyboardInterrupt below, which writes the tables of the
    # parts and run.json (it landed after the try block, or before it once the earlier tables were retired,
    # and left no tables and a run.json saying "running"); the steps that must not be cut in two hold it.
    earlier: list[dict[str, Any]] | None = None   # set once the earlier tables are retired
    stamps: dict[str, dict[str, list[int]]] = {}
    changed: set[str] = set()
    skipped = 0
    stats = {"scored": 0, "failed": 0, "windows": 0, "worker_died": 0}

    def handle(outcome: dict[str, Any]) -> None:
        if outcome["key"] not in keys:   # its parts would never reach the tables: stop, never lose it quietly
            raise ScoreError(f"an engine returned {outcome['record']} (key {outcome['key']}), which is none of "
                             "this run's records; the records finished so far are kept")
        with interrupts_deferred():   # the record's parts and this run's count of them, both or neither
            store.write_outcome(outcome, stamps.get(outcome["key"]))
            stats["scored" if outcome["ok"] else "failed"] += 1
            stats["windows"] += int(outcome["n_windows"])
            stats["worker_died"] += int(bool(outcome.get("worker_died")))
        if on_outcome is not None:
            on_outcome(outcome)

    engine_info: dict[str, Any] = {"engine": config.engine, "workers": int(config.workers)}

    def facts() -> dict[str, Any]:   # this run's entry in run.json
        return {"started_at": started_at.isoformat(), "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "seconds": round(time.perf_counter() - t0, 3), "inputs": list(config.inputs),
                "cwd": os.getcwd(),   # relative inputs and record paths are relative to it
                "records_found": len(keys), "skipped_done": skipped, "rescored_changed": len(changed),
                "scored": stats["scored"], "failed": stats["failed"], "worker_died": stats["worker_died"],
                "windows": stats["windows"], "backend_requested": config.backend, **engine_info,
                "options": run_options(config)}
    from encoders.scoring.scorer import MEASURES
    measure_columns = MEASURES.get(loaded.modality, ())
    try:
        with interrupts_deferred():   # run.json says "running" and the earlier tables go, both or neither
            earlier = retire_tables(config, loaded, store, begun)   # before any part changes
            store.adopt_legacy_keys(keys)   # parts of runs that keyed records by their path as given (links)
        if config.retry_errors:
            store.forget(store.error_keys() & set(keys))
        rescore_damaged(store, keys)   # a part cut short stopped every resume at assembly
        stamps = source_stamps(keys.values())
        changed = store.changed_keys(stamps)
        if changed:
            log.warning("%d record(s) changed since they were scored (size or modification time): scoring "
                        "them again: %s", len(changed), names_text(sorted(keys[k] for k in changed)))
            store.forget(changed)
        done = store.done_keys()
        todo = [p for k, p in keys.items() if k not in done]
        skipped = len(keys) - len(todo)
        killers = _process_killers(store, keys, todo)
        log.info("%d records found, %d already done, %d to score with %s", len(keys), skipped, len(todo),
                 loaded.model_id)
        if on_start is not None:
            on_start(len(todo), skipped)
        if killers:
            from encoders.scoring.local import worker_died_outcome
            for path in killers:   # the process died scoring it, run after run: failed, the job goes on
                handle(worker_died_outcome(path, f"the process scoring it died the last {IN_FLIGHT_DEATHS} times it "
                                                 "was scored (killed: out of memory?); --retry-errors scores it again"))
            todo = [p for p in todo if p not in set(killers)]
        if config.engine == "local":
            from encoders.scoring.local import run_local
            run_local(todo, spec, workers=int(config.workers), batch_size=config.batch_size, loaded=loaded,
                      read_options=config.read_options, on_outcome=handle,
                      on_begin=lambda path: store.begin(record_key(path)))
        else:
            from encoders.scoring.ray_engine import run_ray
            engine_info.update(run_ray(todo, spec, workers=int(config.workers), batch_size=config.batch_size,
                                       address=config.ray_address, on_outcome=handle))
        tables = store.assemble(keys, measure_columns)   # in the try: a Ctrl-C now still gets its tables
        left_out = sorted(store.done_keys() - set(keys))
        if left_out:
            log.warning("%d record(s) scored into %s by earlier runs are not among these inputs (moved, "
                        "deleted or other inputs): left out of the tables, their parts kept in %s",
                        len(left_out), config.out_dir, store.parts)
        seconds = time.perf_counter() - t0
        manifest = write_run_manifest(config, loaded, tables, {**facts(), "left_out_not_in_inputs": len(left_out)},
                                      exit_code=EXIT_RECORDS_FAILED if tables["errors"] else EXIT_OK, earlier=earlier)
        summary = ScoreSummary(out_dir=config.out_dir, records_found=len(keys), skipped_done=skipped,
                               scored=stats["scored"], failed=stats["failed"], windows=stats["windows"],
                               tables=tables, seconds=seconds, manifest=manifest, worker_died=stats["worker_died"])
    except KeyboardInterrupt:   # Ctrl-C: the tables of what is done (a first run had none), then exit 130
        if earlier is None:   # before this run changed anything in the folder
            raise
        with interrupts_deferred(reraise=False):   # a second Ctrl-C cut these writes short: held and dropped
            store.abandon()   # the record in flight did not kill the process
            counts = store.assemble(keys, measure_columns)
            # the manifest too: tables without one would not say which model made them, and the run history
            # would lose this run
            write_run_manifest(config, loaded, counts, {**facts(), "interrupted": True}, exit_code=130,
                               earlier=earlier)
        log.warning("interrupted: %s holds the %d record(s) done so far (%d failed); run the same command "
                    "again to score the rest", config.out_dir, counts["records"], counts["errors"])
        raise
    except OutputWriteError as exc:   # a full disk: one line, not a traceback; nothing done is lost
        if earlier is None:   # run.json could not say this run began: nothing changed
            raise
        with interrupts_deferred(reraise=False):
            store.abandon()
            say_stopped(config, loaded, {**facts(), "stopped": str(exc)}, earlier)
        raise ScoreError(f"{exc}; the {len(store.done_keys() & set(keys))} record(s) finished so far are kept: "
                         "free space and run the same command again to score the rest") from None
    except BaseException:
        store.abandon()   # an error, not a death: the record in flight did not kill the process
        raise
    return summary   # built in the try: a Ctrl-C before it is an interrupted run in run.json too


IN_FLIGHT_DEATHS = 2   # runs that died while scoring a record in their own process: then it is failed


def _process_killers(store, keys: dict[str, str], todo: list[str]) -> list[str]:
    """Records of ``todo`` that the last :data:`IN_FLIGHT_DEATHS` runs died scoring in their own
    process (``--workers 1``: the kernel's OOM killer takes the whole run); warns about those that one
    run died scoring. Without this every rerun died at the same record."""
    starts = {p: store.starts(record_key(p)) for p in todo}
    once = sorted(p for p, n in starts.items() if 0 < n < IN_FLIGHT_DEATHS)
    if once:
        log.warning("an earlier run died while scoring %s (killed: out of memory?); scoring it again: if this "
                    "run dies too, the next one records it as failed and goes on", names_text(once))
    return sorted(p for p, n in starts.items() if n >= IN_FLIGHT_DEATHS)
