"""Recorder: every accepted input frame and every output frame to rotating Parquet files.

Rows are buffered in memory and written (by a writer thread, off the event loop) with polars to ``<dir>/inputs-<n>.parquet`` and
``<dir>/outputs-<n>.parquet`` whenever ``rotate_s`` seconds passed or the buffered samples reach
``max_buffer_mb`` (:data:`MAX_BUFFER_MB`; a busy ward's minute of audio would otherwise be held and
copied at once), and at :meth:`close`. A
runtime killed with SIGKILL loses at most the last ``rotate_s`` seconds of recording (the
forecaster checkpoints are separate).

Each file is written under a hidden temporary name in the same folder and renamed into place when
complete, so a reader never sees a part-written file. A write that fails (disk full, folder gone or
read-only) removes its temporary file, counts the batch and its rows as lost, and never raises:
one warning names the folder and the reason when writes start failing, one info line says when
they work again. A folder that cannot be written at all refuses the start instead: :class:`Recorder`
writes (and removes) one small file of each kind on its writer thread when it is made, which also loads
everything a write needs before the runtime serves, and raises :class:`~streams.errors.StreamError`
when that fails. :func:`read_recording` skips (with a warning) files that are not valid Parquet,
e.g. ones cut short by a full disk before this was so.

With ``keep_s`` (``serve --record-keep-h``), after each write the writer thread deletes the
recording files of the folder (``inputs-*.parquet``, ``outputs-*.parquet``, earlier runs' included)
last written more than ``keep_s`` ago: one info line per rotation that removed any, and the count in
status (``removed_files``).
"""
from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
import pathlib
import time

import numpy as np

from biosig.interrupts import polars_io
from streams.errors import StreamError

log = logging.getLogger(__name__)

INPUT_COLUMNS = ("recv_s", "stream", "seq", "session", "t0_s", "fs_hz", "modality",
                 "n_channels", "n_samples", "channels", "samples")
OUTPUT_COLUMNS = ("out_s", "topic", "kind", "stream", "seq", "t_s", "model_id", "quality",
                  "reason", "latency_ms", "values")


MAX_BUFFER_MB = 64.0   # buffered sample bytes (inputs and outputs) that start a new file before rotate_s
RECORDING_KINDS = ("inputs", "outputs")
FILES_KEPT = 64        # paths of the last files written kept in ``Recorder.files``


def recording_files(directory, kinds=RECORDING_KINDS) -> list[tuple[int, pathlib.Path]]:
    """``(part, path)`` of the recording files ``<kind>-<digits>.parquet`` in ``directory``, by part
    then name: the one file-name rule for numbering new parts, reading and removing old ones (other
    Parquet files in the folder are not the recorder's)."""
    out = []
    for kind in kinds:
        for path in pathlib.Path(directory).glob(f"{kind}-*.parquet"):
            digits = path.stem[len(kind) + 1:]
            if digits.isdigit():
                out.append((int(digits), path))
    return sorted(out)


class Recorder:
    """Buffered Parquet writer with time-based rotation.

    Parameters
    ----------
    directory : created if missing.
    rotate_s : seconds between files.
    keep_s : delete recording files last written more than this long ago (None: keep them all).
    max_buffer_mb : buffered sample megabytes that start a new file before ``rotate_s``.

    Raises :class:`~streams.errors.StreamError` (one line) where ``directory`` cannot be created or written.
    """

    def __init__(self, directory, rotate_s: float = 60.0, keep_s: float | None = None,
                 max_buffer_mb: float = MAX_BUFFER_MB):
        self.dir = pathlib.Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StreamError(f"recording folder {self.dir} (--record, record_dir): cannot create it "
                              f"({exc.strerror or exc})") from None
        self.rotate_s = rotate_s
        self.keep_s = None if keep_s is None else float(keep_s)
        self.max_buffer_bytes = int(max_buffer_mb * 1e6)
        self._buffered_bytes = 0
        self.inputs: list[dict] = []
        self.outputs: list[dict] = []
        for stale in self.dir.glob(".*.parquet.tmp"):  # left by a writer killed mid-file
            try:
                stale.unlink(missing_ok=True)
            except OSError:   # a folder that cannot be written: refused below
                pass
        self.part = self._first_free_part()
        self.last_flush = time.monotonic()
        # the runtime's status row spreads this dict: rows written per kind, and what was lost to
        # failed writes (batches = files not written, rows = their rows; write_error = the reason
        # while writes fail, None when the last write worked). Updated by the writer thread.
        self.rows_written = {"inputs": 0, "outputs": 0, "lost_batches": 0, "lost_rows": 0,
                             "write_error": None, "removed_files": 0}
        # the last files written (bounded: a runtime rotating every minute for weeks would
        # otherwise hold one path per rotation)
        self.files: collections.deque[pathlib.Path] = collections.deque(maxlen=FILES_KEPT)
        self._pending: list = []    # writes not yet finished (finished ones are dropped at each flush)
        # imported and exercised at start-up: the first import (~0.2 s) and the first conversion of
        # Python values (~15 ms, lazy set-up inside pyarrow) hold the GIL, and on the writer
        # thread they stalled the event loop and the forecast thread by as much
        import polars as pl
        import pyarrow as pa
        pl.from_arrow(pa.table({"a": _column(pa, [["x"]]), "b": _column(pa, ["x"]), "c": _column(pa, [1.0])}))
        self._pool = self._new_pool()
        self._warm_up()

    @staticmethod
    def _new_pool():
        """The writer thread (one; lower CPU priority than the event loop and the forecast thread)."""
        from streams.models import background_thread_priority
        return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="biosig-recorder",
                                                     initializer=background_thread_priority)

    def _warm_up(self):
        """Write one small file of each kind on the writer thread, at start-up, under hidden names removed at once
        (a writer killed meanwhile leaves them to the next start's clean-up): the first write imported
        ``polars._utils.parquet`` there (~3 ms with the GIL held) while the runtime served, and nothing loads on
        the streaming path after start-up (streams/runtime.py; tests/test_startup74_recorder.py). A folder that
        cannot be written (read-only, or where only root's permission check passes) refuses the start with one
        line, rather than every recording file failing later."""
        header = {"stream": "warm/up", "seq": 0, "session": 0, "t0_s": 0.0, "fs_hz": 1.0, "modality": "other",
                  "channels": ["c0"]}
        inputs = [_input_row(header, np.zeros((1, 2), np.float32), 0.0)]
        outputs = [_output_row("warm/up", {"kind": "warm-up", "stream": "warm/up", "seq": 0}, None, 0.0)]
        tmps = [self.dir / f".warm-up-{kind}.parquet.tmp" for kind in RECORDING_KINDS]

        def write():
            try:
                tmps[0].write_bytes(b"")   # the OS's own reason where the folder cannot be written (polars' own text)
                for tmp, rows, key in zip(tmps, (inputs, outputs), ("samples", "values")):
                    self._write_one(tmp, rows, key)
                recording_files(self.dir)   # (what remove_old lists)
            finally:
                for tmp in tmps:
                    tmp.unlink(missing_ok=True)

        try:
            self._pool.submit(write).result()
        except Exception as exc:   # (polars reports a failed write as its own error, the OS's reason in its text)
            self._pool.shutdown(wait=True)
            why = exc.strerror or exc if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
            raise StreamError(f"recording folder {self.dir} (--record, record_dir): cannot write a file there "
                              f"({why})") from None

    def _first_free_part(self) -> int:
        return max((part for part, _ in recording_files(self.dir)), default=0) + 1

    def add_input(self, header: dict, array: np.ndarray, recv_s: float):
        """One accepted signal frame (samples stored flattened, channel-major)."""
        self._buffered_bytes += 4 * int(np.size(array))
        self.inputs.append(_input_row(header, array, recv_s))

    def add_output(self, topic: str, header: dict, values: np.ndarray | None, out_s: float):
        self._buffered_bytes += 0 if values is None else 4 * int(np.size(values))
        self.outputs.append(_output_row(topic, header, values, out_s))

    def maybe_rotate(self):
        """Start new files when ``rotate_s`` passed or the buffer reached ``max_buffer_mb``."""
        if time.monotonic() - self.last_flush >= self.rotate_s or self._buffered_bytes >= self.max_buffer_bytes:
            self.flush()

    def flush(self):
        """Hand buffered rows to the writer thread (new files, one per kind); returns at once."""
        if self._pool is None:   # (flushed after close)
            self._pool = self._new_pool()
        batches = []
        for name, rows, key in (("inputs", self.inputs, "samples"), ("outputs", self.outputs, "values")):
            if rows:
                batches.append((self.dir / f"{name}-{self.part:06d}.parquet", name, list(rows), key))
                rows.clear()
        self._buffered_bytes = 0
        if batches:
            self.part += 1
            self._pending = [fut for fut in self._pending if not _finished(fut)]
            self._pending.append(self._pool.submit(self._write, batches))
        self.last_flush = time.monotonic()

    def _write(self, batches):
        """Build the tables with Arrow (list columns from one flat array, no per-row Python
        objects) and write them; runs in the writer thread. Never raises: a failed file is removed
        and its rows counted as lost (see the module docstring)."""
        for path, name, rows, key in batches:
            tmp = path.with_name(f".{path.name}.tmp")
            try:
                self._write_one(tmp, rows, key)
                os.replace(tmp, path)
            except Exception as e:  # disk full, folder removed or read-only, ...: keep running
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
                self.rows_written["lost_batches"] += 1
                self.rows_written["lost_rows"] += len(rows)
                if self.rows_written["write_error"] is None:
                    log.warning("recorder: writing to %s failed (%s: %s); recording is lost until "
                                "writes work again (status shows recorder lost_batches / lost_rows)",
                                self.dir, type(e).__name__, e)
                self.rows_written["write_error"] = f"{type(e).__name__}: {e}"
                continue
            if self.rows_written["write_error"] is not None:
                log.info("recorder: writing to %s works again (%d batches, %d rows lost so far)",
                         self.dir, self.rows_written["lost_batches"], self.rows_written["lost_rows"])
                self.rows_written["write_error"] = None
            self.rows_written[name] += len(rows)
            self.files.append(path)
        if self.keep_s is not None:
            self.remove_old()

    def remove_old(self, now: float | None = None) -> int:
        """Delete the folder's recording files last written more than ``keep_s`` before ``now``
        (default: the wall clock); returns how many. A file that cannot be removed is left (and
        tried again at the next rotation)."""
        cutoff = (time.time() if now is None else now) - self.keep_s
        removed, size = 0, 0
        for _, path in recording_files(self.dir):
            try:
                st = path.stat()
                if st.st_mtime >= cutoff:
                    continue
                path.unlink()
            except OSError:
                continue
            removed, size = removed + 1, size + st.st_size
        if removed:
            self.rows_written["removed_files"] += removed
            log.info("recorder: removed %d file(s) (%.1f MB) last written over %.3g h ago from %s", removed,
                     size / 1e6, self.keep_s / 3600, self.dir)
        return removed

    def _write_one(self, tmp: pathlib.Path, rows: list[dict], key: str):
        import polars as pl
        import pyarrow as pa
        cols = {k: [r[k] for r in rows] for k in rows[0] if k != key}
        values = [r[key] for r in rows]
        offsets = np.zeros(len(values) + 1, np.int32)
        np.cumsum([len(v) for v in values], out=offsets[1:])
        # row by row into one buffer: one np.concatenate of a rotation's rows (megabytes of
        # audio) holds the GIL throughout; these small copies let the event loop in between
        flat = np.empty(int(offsets[-1]), np.float32)
        for i, v in enumerate(values):
            flat[offsets[i]:offsets[i + 1]] = np.ravel(v)
        table = pa.table({**{k: _column(pa, v) for k, v in cols.items()},
                          key: pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.float32()))})
        polars_io(pl.from_arrow(table).write_parquet, tmp)

    def wait(self):
        """Block until every batch handed to the writer so far is written (or counted as lost)."""
        pending, self._pending = self._pending, []
        for fut in pending:
            _finished(fut, block=True)

    def close(self):
        """Flush and wait until every file is written; never raises for a failed write (it is
        logged and counted, see the module docstring)."""
        try:
            self.flush()
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        if self.rows_written["lost_batches"]:   # a warning only while writes still fail
            log.log(logging.WARNING if self.rows_written["write_error"] else logging.INFO,
                    "recorder: closed %s with %d batches (%d rows) lost to failed writes%s",
                    self.dir, self.rows_written["lost_batches"], self.rows_written["lost_rows"],
                    f"; still failing: {self.rows_written['write_error']}"
                    if self.rows_written["write_error"] else "")


def _input_row(header: dict, array: np.ndarray, recv_s: float) -> dict:
    """The recorded row of one accepted signal frame (:data:`INPUT_COLUMNS`)."""
    return {
        "recv_s": recv_s, "stream": header["stream"], "seq": header["seq"],
        "session": header["session"], "t0_s": float(header["t0_s"]),
        "fs_hz": float(header["fs_hz"]), "modality": header["modality"],
        "n_channels": int(array.shape[0]), "n_samples": int(array.shape[1]),
        "channels": list(header["channels"]),
        "samples": np.asarray(array, dtype=np.float32).ravel(),
    }


def _output_row(topic: str, header: dict, values: np.ndarray | None, out_s: float) -> dict:
    """The recorded row of one output frame (:data:`OUTPUT_COLUMNS`)."""
    lat = header.get("latency_ms", {})
    return {
        "out_s": out_s, "topic": topic, "kind": header["kind"], "stream": header["stream"],
        "seq": header["seq"], "t_s": float(header.get("t_s", header.get("window_end_s", 0.0))),
        "model_id": header.get("model_id", header.get("method", "")),
        "quality": float(header.get("quality", np.nan)), "reason": header.get("reason", ""),
        "latency_ms": float(lat.get("total", np.nan)),
        "values": (np.zeros(0, np.float32) if values is None
                   else np.asarray(values, dtype=np.float32).ravel()),
    }


def _finished(fut, block: bool = False) -> bool:
    """Whether the writer's ``fut`` is done (with ``block``: after waiting for it); a write that
    raised is logged here, once, when it is dropped from the pending list."""
    if not block and not fut.done():
        return False
    try:
        fut.result()
    except Exception:  # _write does not raise; this only guards against a bug there
        log.exception("recorder: writer thread failed")
    return True


_CHUNK_ROWS = 256


def _column(pa, values: list):
    """An Arrow column from Python values, converted ``_CHUNK_ROWS`` rows at a time: one
    conversion of a few thousand rows holds the GIL for up to ~15 ms, which delayed the runtime's
    event loop and forecast thread by as much; chunks keep each hold short."""
    return pa.chunked_array([pa.array(values[i:i + _CHUNK_ROWS]) for i in range(0, len(values), _CHUNK_ROWS)])


def read_recording(directory, kind: str = "inputs"):
    """All rows of ``kind`` (``inputs`` or ``outputs``) under ``directory`` as one polars
    DataFrame, in part order (:func:`recording_files`). A file that is not valid Parquet (cut short or left empty by a full
    disk before writes went through a temporary name) is skipped with a warning naming it."""
    import polars as pl
    frames = []
    for _, f in recording_files(directory, (kind,)):
        try:
            frames.append(polars_io(pl.read_parquet, f))
        except Exception as e:
            log.warning("read_recording: skipping %s, not a readable Parquet file (%s: %s)",
                        f, type(e).__name__, str(e)[:200])
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed")
