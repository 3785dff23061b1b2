"""Recorder: every accepted input frame and every output frame to rotating Parquet files.

Rows are buffered in memory and written (by a writer thread, off the event loop) with polars to ``<dir>/inputs-<n>.parquet`` and
``<dir>/outputs-<n>.parquet`` whenever ``rotate_s`` seconds passed, and at :meth:`close`. A
runtime killed with SIGKILL loses at most the last ``rotate_s`` seconds of recording (the
forecaster checkpoints are separate).
"""
from __future__ import annotations

import logging
import pathlib
import time

import numpy as np

log = logging.getLogger(__name__)

INPUT_COLUMNS = ("recv_s", "stream", "seq", "session", "t0_s", "fs_hz", "modality",
                 "n_channels", "n_samples", "channels", "samples")
OUTPUT_COLUMNS = ("out_s", "topic", "kind", "stream", "seq", "t_s", "model_id", "quality",
                  "reason", "latency_ms", "values")


class Recorder:
    """Buffered Parquet writer with time-based rotation.

    Parameters
    ----------
    directory : created if missing.
    rotate_s : seconds between files.
    """

    def __init__(self, directory, rotate_s: float = 60.0):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rotate_s = rotate_s
        self.inputs: list[dict] = []
        self.outputs: list[dict] = []
        self.part = self._first_free_part()
        self.last_flush = time.monotonic()
        self.rows_written = {"inputs": 0, "outputs": 0}
        self.files: list[pathlib.Path] = []
        self._pool = None
        self._pending: list = []
        # imported and exercised at start-up: the first import (~0.2 s) and the first conversion of
        # Python values (~15 ms, lazy set-up inside pyarrow) hold the GIL, and on the writer
        # thread they stalled the event loop and the forecast thread by as much
        import polars as pl
        import pyarrow as pa
        pl.from_arrow(pa.table({"a": _column(pa, [["x"]]), "b": _column(pa, ["x"]), "c": _column(pa, [1.0])}))

    def _first_free_part(self) -> int:
        existing = [int(p.stem.split("-")[-1]) for p in self.dir.glob("*-*.parquet")
                    if p.stem.split("-")[-1].isdigit()]
        return max(existing, default=0) + 1

    def add_input(self, header: dict, array: np.ndarray, recv_s: float):
        """One accepted signal frame (samples stored flattened, channel-major)."""
        self.inputs.append({
            "recv_s": recv_s, "stream": header["stream"], "seq": header["seq"],
            "session": header["session"], "t0_s": float(header["t0_s"]),
            "fs_hz": float(header["fs_hz"]), "modality": header["modality"],
            "n_channels": int(array.shape[0]), "n_samples": int(array.shape[1]),
            "channels": list(header["channels"]),
            "samples": np.asarray(array, dtype=np.float32).ravel(),
        })

    def add_output(self, topic: str, header: dict, values: np.ndarray | None, out_s: float):
        lat = header.get("latency_ms", {})
        self.outputs.append({
            "out_s": out_s, "topic": topic, "kind": header["kind"], "stream": header["stream"],
            "seq": header["seq"], "t_s": float(header.get("t_s", header.get("window_end_s", 0.0))),
            "model_id": header.get("model_id", header.get("method", "")),
            "quality": float(header.get("quality", np.nan)), "reason": header.get("reason", ""),
            "latency_ms": float(lat.get("total", np.nan)),
            "values": (np.zeros(0, np.float32) if values is None
                       else np.asarray(values, dtype=np.float32).ravel()),
        })

    def maybe_rotate(self):
        if time.monotonic() - self.last_flush >= self.rotate_s:
            self.flush()

    def flush(self):
        """Hand buffered rows to the writer thread (new files, one per kind); returns at once."""
        import concurrent.futures
        if self._pool is None:
            from streams.models import background_thread_priority
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="biosig-recorder",
                                                               initializer=background_thread_priority)
        batches = []
        for name, rows, key in (("inputs", self.inputs, "samples"), ("outputs", self.outputs, "values")):
            if rows:
                batches.append((self.dir / f"{name}-{self.part:06d}.parquet", name, list(rows), key))
                rows.clear()
        if batches:
            self.part += 1
            self._pending.append(self._pool.submit(self._write, batches))
        self.last_flush = time.monotonic()

    def _write(self, batches):
        """Build the tables with Arrow (list columns from one flat array, no per-row Python
        objects) and write them; runs in the writer thread."""
        import polars as pl
        import pyarrow as pa
        for path, name, rows, key in batches:
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
            pl.from_arrow(table).write_parquet(path)
            self.rows_written[name] += len(rows)
            self.files.append(path)

    def close(self):
        """Flush and wait until every file is written."""
        self.flush()
        for fut in self._pending:
            fut.result()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


_CHUNK_ROWS = 256


def _column(pa, values: list):
    """An Arrow column from Python values, converted ``_CHUNK_ROWS`` rows at a time: one
    conversion of a few thousand rows holds the GIL for up to ~15 ms, which delayed the runtime's
    event loop and forecast thread by as much; chunks keep each hold short."""
    return pa.chunked_array([pa.array(values[i:i + _CHUNK_ROWS]) for i in range(0, len(values), _CHUNK_ROWS)])


def read_recording(directory, kind: str = "inputs"):
    """All rows of ``kind`` (``inputs`` or ``outputs``) under ``directory`` as one polars
    DataFrame, in file order."""
    import polars as pl
    files = sorted(pathlib.Path(directory).glob(f"{kind}-*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
