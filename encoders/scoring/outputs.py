"""Crash-safe outputs of a scoring run: per-record part files, final tables and the manifest.

Layout of an output directory ``DIR``::

    DIR/parts/job.json                  fingerprint of the job (model, pipeline, windowing)
    DIR/parts/.lock                     flock held by the running job (one writer per folder)
    DIR/parts/<key>.windows.parquet     one row per window of one record
    DIR/parts/<key>.source.json         size and modification time of the record's files when read
    DIR/parts/<key>.record.parquet      the record's row; its presence marks the record done
    DIR/parts/<key>.error.parquet       or the record's error row (also marks it done)
    DIR/parts/<key>.inflight.json       scored in the driver's own process, no outcome yet: how many
                                        runs started it (left by a run that died scoring it)
    DIR/windows.parquet, DIR/records.parquet, DIR/errors.parquet   assembled from the parts (removed
                                        when a run starts: :mod:`encoders.scoring.manifest`)
    DIR/run.json                        the manifest

Every file is written to a temporary name in the same directory and then renamed with
:func:`os.replace`, which is atomic on POSIX, so a run killed at any moment (even by SIGKILL) leaves
only complete files behind. A record counts as done when its marker (``.record`` or ``.error``)
exists; the windows part is written *before* the marker, so a done record always has its windows.
Rerunning the same command skips done records and assembles the final tables again, so every
record appears exactly once. A record whose files changed since it was scored (another size or
modification time) is scored again, and the tables hold the current inputs only: parts of records
that are no longer among them stay in ``parts/`` but are left out, with a warning.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib
from typing import Any, Iterable, Mapping

import polars as pl

from biosig import json_text
from biosig.interrupts import interrupts_deferred
from biosig.readers.discover import SCORE_JOB_FILE, SCORE_MANIFEST
from encoders.scoring.errors import OutputWriteError, ScoreError
from encoders.scoring.files import FolderLock, atomic_write_bytes, atomic_write_parquet, source_stamps  # noqa: F401 (re-exported)
from encoders.scoring.schema import (ERROR_SCHEMA, MEASURE_COLUMNS, MEASURE_SCHEMA,  # noqa: F401 (re-exported)
                                     RECORD_SCHEMA, SCORED_WINDOW_SCHEMA, WINDOW_SCHEMA, iso_start_time,
                                     legacy_record_key, record_key)

log = logging.getLogger(__name__)

PARTS, JOB_FILE = SCORE_JOB_FILE   # parts/job.json (named in the signal layer: discovery skips score folders)
LOCK_FILE = ".lock"
TABLE_FILES = ("windows.parquet", "records.parquet", "errors.parquet")   # assembled from the parts
MARKERS = ("record", "error")
PART_KINDS = ("windows.parquet", "source.json", "inflight.json", "record.parquet", "error.parquet")   # markers last


def is_own_output(relative: str) -> bool:
    """Whether ``relative`` (a path inside an output folder) is a file score writes there: its tables, run.json,
    parts/ or a half-written ``.NAME.tmp``; anything else there is the user's (a recording named as an input)."""
    name = os.path.basename(relative)
    return (relative.split(os.sep)[0] == "parts" or relative in (*TABLE_FILES, SCORE_MANIFEST)
            or (name.startswith(".") and name.endswith(".tmp")))


class PartStore(FolderLock):
    """The per-record part files of one output directory.

    Parameters
    ----------
    out_dir : the run's output directory; created when missing.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = pathlib.Path(out_dir)
        self.parts = self.out_dir / PARTS
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScoreError(f"cannot create output directory {self.out_dir}: {exc.strerror}") from exc
        self._take_lock(self.parts / LOCK_FILE, ScoreError(
            f"another biosig score run is writing into {self.out_dir}; wait for it to finish or use another --out"))
        self._begun: dict[str, int] = {}   # in-flight markers written by this run: key -> earlier starts
        self._remove_temporaries()

    def _remove_temporaries(self) -> None:
        """Delete temporaries left by a killed run (they are never read)."""
        for folder in (self.parts, self.out_dir):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    # ------------------------------------------------------------------ job fingerprint
    def check_job(self, fingerprint: dict[str, Any]) -> None:
        """Record the job fingerprint, or refuse when the folder holds another job's parts.

        Mixing embeddings of two models (or two pipelines) in one table would be silently wrong
        data, so a different fingerprint raises :class:`ScoreError` naming what differs.
        """
        path = self.parts / JOB_FILE
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:   # cut short: was a traceback
                raise ScoreError(f"{path} is unreadable ({exc}); it says which model and settings made the parts "
                                 f"there, so they cannot be resumed: use another --out or delete "
                                 f"{self.out_dir}") from None
            if not isinstance(old, dict):
                raise ScoreError(f"{path} is not a job fingerprint; use another --out or delete {self.out_dir}")
            diff = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
            if diff:
                detail = "; ".join(f"{k}: {old.get(k)!r} there, {fingerprint.get(k)!r} now" for k in diff)
                raise ScoreError(f"{self.out_dir} holds results of a different job ({detail}); "
                                 f"use another --out or delete {self.out_dir}")
            return
        earlier = self._orphan_parts()
        if earlier:   # taking this job's fingerprint would mix them into its tables as its own
            raise ScoreError(f"{self.out_dir} holds {earlier} part file(s) of an earlier run but no {PARTS}/{JOB_FILE} "
                             "(which says which model and settings made them), so they cannot be resumed; use "
                             f"another --out or delete {self.out_dir}")
        atomic_write_bytes(path, json.dumps(fingerprint, indent=2, sort_keys=True).encode())

    def _orphan_parts(self) -> int:
        """How many part files of records (``<key>.*``, not the lock or temporaries) ``parts/`` holds."""
        patterns = ("*.record.parquet", "*.error.parquet", "*.windows.parquet", "*.source.json", "*.inflight.json")
        return sum(1 for pattern in patterns for f in self.parts.glob(pattern) if not f.name.startswith("."))

    # ------------------------------------------------------------------ per record
    def done_keys(self) -> set[str]:
        """Keys of records that are finished (scored or failed)."""
        done = set()
        for marker in MARKERS:
            suffix = f".{marker}.parquet"
            done.update(p.name[: -len(suffix)] for p in self.parts.glob(f"*{suffix}"))
        return done

    def write_outcome(self, outcome: dict[str, Any], stamp: dict[str, list[int]] | None = None) -> None:
        """Write one record's outcome: windows part and ``stamp`` (:func:`source_stamps`) first,
        then the done marker.

        ``outcome`` has ``key`` and either ``windows`` (DataFrame with :data:`WINDOW_SCHEMA`) and
        ``record_row`` (a one-row DataFrame), or ``error`` (a one-row DataFrame with
        :data:`ERROR_SCHEMA`).
        """
        key = outcome["key"]
        if stamp is not None:
            atomic_write_bytes(self.parts / f"{key}.source.json", json.dumps(stamp, sort_keys=True).encode())
        if outcome.get("error") is not None:
            (self.parts / f"{key}.windows.parquet").unlink(missing_ok=True)
            (self.parts / f"{key}.record.parquet").unlink(missing_ok=True)
            atomic_write_parquet(outcome["error"], self.parts / f"{key}.error.parquet")
        else:
            atomic_write_parquet(outcome["windows"], self.parts / f"{key}.windows.parquet")
            atomic_write_parquet(outcome["record_row"], self.parts / f"{key}.record.parquet")
            (self.parts / f"{key}.error.parquet").unlink(missing_ok=True)
        (self.parts / f"{key}.inflight.json").unlink(missing_ok=True)
        self._begun.pop(key, None)

    def forget(self, keys: Iterable[str]) -> None:
        """Remove the parts of ``keys`` (used to retry failed records and to rescore changed ones)."""
        for key in keys:
            for kind in ("windows",) + MARKERS:
                (self.parts / f"{key}.{kind}.parquet").unlink(missing_ok=True)
            for kind in ("source", "inflight"):
                (self.parts / f"{key}.{kind}.json").unlink(missing_ok=True)

    def adopt_legacy_keys(self, keys: Mapping[str, str]) -> int:
        """Give the parts of records that runs before realpath keys scored (keyed by the path as given,
        :func:`legacy_record_key`: through a link, another key) the key of ``keys`` (key -> path), so a
        resume through the same link skips them; without it they were scored again and their old parts
        left out with a warning, run after run. Old parts of a record scored again since then are the
        same record twice: removed. Returns how many records were adopted."""
        done = self.done_keys()
        adopted, twice = 0, 0
        for key, path in keys.items():
            old = legacy_record_key(path)
            if old == key or old not in done:
                continue
            if key in done:
                self.forget([old])
                twice += 1
                continue
            for kind in PART_KINDS:   # the done marker last: a rename cut short leaves the record to score again
                if (self.parts / f"{old}.{kind}").exists():
                    os.replace(self.parts / f"{old}.{kind}", self.parts / f"{key}.{kind}")
            adopted += 1
        if adopted or twice:
            log.info("%d record(s) scored under the keys of earlier versions (paths through links) taken as done; "
                     "%d old duplicate(s) removed", adopted, twice)
        return adopted

    # ------------------------------------------------------------------ records that kill the process
    def starts(self, key: str) -> int:
        """How many runs started scoring ``key`` in their own process and died before its outcome
        was written (an in-flight marker left behind; 0 when none)."""
        try:
            return int(json.loads((self.parts / f"{key}.inflight.json").read_text())["starts"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def begin(self, key: str) -> None:
        """Mark ``key`` in flight in this process (:meth:`write_outcome` clears it): a run killed
        while scoring it (out of memory) leaves the marker, counted by the next run's :meth:`starts`."""
        before = self.starts(key)
        self._begun[key] = before
        atomic_write_bytes(self.parts / f"{key}.inflight.json", json.dumps({"starts": before + 1}).encode())

    def abandon(self) -> None:
        """Undo the in-flight markers of records this run began and did not finish (Ctrl-C: the
        process did not die)."""
        for key, before in self._begun.items():
            path = self.parts / f"{key}.inflight.json"
            try:
                if before:
                    atomic_write_bytes(path, json.dumps({"starts": before}).encode())
                else:
                    path.unlink(missing_ok=True)
            except (OSError, OutputWriteError) as exc:   # a full disk: the error that stops the run says so
                log.warning("%s: in-flight marker not undone (%s)", path, exc)
        self._begun.clear()

    def changed_keys(self, stamps: dict[str, dict[str, list[int]]]) -> set[str]:
        """Done records of ``stamps`` whose files differ from the stamp written when they were
        scored (parts written before stamps existed count as unchanged; an unreadable stamp as changed)."""
        changed = set()
        for key in self.done_keys() & set(stamps):
            try:
                old = json.loads((self.parts / f"{key}.source.json").read_text())
            except OSError:   # none: parts of a version before stamps
                continue
            except (UnicodeDecodeError, json.JSONDecodeError):   # cut short: unknown, so scored again, never kept stale
                old = None
            if old != stamps[key]:
                changed.add(key)
        return changed

    def error_keys(self) -> set[str]:
        return {p.name[: -len(".error.parquet")] for p in self.parts.glob("*.error.parquet")}

    # ------------------------------------------------------------------ final tables
    def assemble(self, keys: Iterable[str] | None = None, measure_columns: Iterable[str] = ()) -> dict[str, int]:
        """Concatenate the parts into ``windows``, ``records`` and ``errors`` Parquet files.

        Only parts of done records are used (a windows part without its marker belongs to a record
        that was interrupted and will be scored again), and of those only ``keys`` (None: all). With
        ``keys`` a mapping key -> record path, every row's ``record`` is that path: each record spelled
        as this run names it, not as the run that scored it did (relative to another working folder,
        or through a link).
        Rows are sorted by record path, then window index, so the tables do not depend on the order
        in which workers finished. ``measure_columns``: the model's record measures (Float64), so that
        ``records.parquet`` of a run where every record failed has the columns of one that scored.

        Returns
        -------
        Row counts: ``{"windows": n, "records": n, "errors": n}``.
        """
        wanted = None if keys is None else set(keys)
        spelled = keys if isinstance(keys, Mapping) else None
        done_ok = sorted(p.name[: -len(".record.parquet")] for p in self.parts.glob("*.record.parquet"))
        done_ok = [k for k in done_ok if wanted is None or k in wanted]
        counts = {}
        windows = [(k, self.parts / f"{k}.windows.parquet") for k in done_ok]
        counts["windows"] = self._concat(windows, "windows.parquet", SCORED_WINDOW_SCHEMA, ["record", "window"],
                                         spelled)
        records = [(k, self.parts / f"{k}.record.parquet") for k in done_ok]
        measures = {c: pl.Float64 for c in measure_columns if c not in RECORD_SCHEMA}
        record_schema = {**{k: v for k, v in RECORD_SCHEMA.items() if k != "seconds"}, **measures,
                         "seconds": RECORD_SCHEMA["seconds"]}   # the order of a scored record's row
        counts["records"] = self._concat(records, "records.parquet", record_schema, ["record"], spelled)
        errors = sorted(k for k in self.error_keys() if wanted is None or k in wanted)
        errors = [(k, self.parts / f"{k}.error.parquet") for k in errors]
        counts["errors"] = self._concat(errors, "errors.parquet", ERROR_SCHEMA, ["record"], spelled)
        return counts

    def _concat(self, files: list[tuple[str, pathlib.Path]], name: str, schema, sort_by: list[str],
                spelled: Mapping[str, str] | None = None) -> int:
        """Write the table ``name`` of the parts ``files`` (key, path); ``spelled``: key -> record path."""
        with interrupts_deferred():   # Polars reads, sorts and writes: a Ctrl-C after the table (biosig.interrupts)
            if files:   # diagonal: parts of an earlier version lack later columns (start_time): null there
                frames = [pl.read_parquet(f) for _, f in files]
                if spelled is not None:
                    frames = [df.with_columns(pl.lit(spelled[k], dtype=pl.String).alias("record"))
                              for (k, _), df in zip(files, frames)]
                frames = [df.with_columns(pl.lit(k, dtype=pl.String).alias("key")) if "key" in df.columns else df
                          for (k, _), df in zip(files, frames)]   # parts adopted from a legacy key hold that key
                df = pl.concat(frames, how="diagonal_relaxed").sort(sort_by)
                df = df.select([c for c in schema if c in df.columns] + [c for c in df.columns if c not in schema])
            else:
                df = pl.DataFrame(schema=schema)   # no rows, the same columns as a table with rows
            atomic_write_parquet(df, self.out_dir / name)
        return df.height


def recorded_job(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The fingerprint an earlier run recorded in ``out_dir`` ({} when none)."""
    path = pathlib.Path(out_dir) / PARTS / JOB_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_manifest(out_dir: str | os.PathLike, manifest: dict[str, Any]) -> pathlib.Path:
    """Write ``run.json`` atomically and return its path."""
    path = pathlib.Path(out_dir) / SCORE_MANIFEST
    atomic_write_bytes(path, (json_text.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())
    return path


def read_manifest(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The previous ``run.json`` of ``out_dir``, or None."""
    path = pathlib.Path(out_dir) / SCORE_MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        log.warning("ignoring unreadable %s", path)
        return None
