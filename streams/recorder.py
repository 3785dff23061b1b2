"""Recorder: every accepted input frame and every output frame to rotating Parquet files.

Rows are buffered in memory and written with polars to ``<dir>/inputs-<n>.parquet`` and
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
        """Write buffered rows to new files (one per kind) and start the next part."""
        import polars as pl
        wrote = False
        for name, rows in (("inputs", self.inputs), ("outputs", self.outputs)):
            if not rows:
                continue
            cols = {k: [r[k] for r in rows] for k in rows[0]}
            values_key = "samples" if name == "inputs" else "values"
            cols[values_key] = pl.Series(values_key, cols[values_key], dtype=pl.List(pl.Float32))
            path = self.dir / f"{name}-{self.part:06d}.parquet"
            pl.DataFrame(cols).write_parquet(path)
            self.rows_written[name] += len(rows)
            self.files.append(path)
            rows.clear()
            wrote = True
        if wrote:
            self.part += 1
        self.last_flush = time.monotonic()

    def close(self):
        self.flush()


def read_recording(directory, kind: str = "inputs"):
    """All rows of ``kind`` (``inputs`` or ``outputs``) under ``directory`` as one polars
    DataFrame, in file order."""
    import polars as pl
    files = sorted(pathlib.Path(directory).glob(f"{kind}-*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
