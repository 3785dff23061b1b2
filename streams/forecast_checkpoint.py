"""Checkpoints of the per-source forecasters (:class:`streams.forecast.SourceForecaster`).

State is checkpointed to ``<state_dir>/forecasters/<source>.npz`` (atomic replace) so that a
runtime killed and restarted continues with the learned weights and scaler. A checkpoint is
restored only into a forecaster of the same stream, channels and rate; anything else (another
stream's file, a corrupt or foreign one, another configuration) is logged and the forecaster
starts afresh: it never stops the runtime. Messages are logged as ``streams.forecast``.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib

import numpy as np

log = logging.getLogger("streams.forecast")


class CheckpointMixin:
    """Checkpoint side of :class:`streams.forecast.SourceForecaster` (``source``, ``stream``,
    ``channels``, ``fs_hz``, ``forecaster``, ``last_t_s``, ``resets_seen``, ``resumed``)."""

    def snapshot(self) -> tuple[str, dict, dict]:
        """``(source, meta, arrays)``: the state to checkpoint, copied (``state_dict`` copies), so
        that another thread can write it (:func:`write_checkpoint`) while this one learns on."""
        state = self.forecaster.state_dict()
        arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        scalars = {k: (v.item() if isinstance(v, np.generic) else v)
                   for k, v in state.items() if not isinstance(v, np.ndarray)}
        meta = {"stream": self.stream, "channels": self.channels, "fs_hz": self.fs_hz,
                "last_t_s": self.last_t_s, "resets_seen": self.resets_seen, "state": scalars}
        return self.source, meta, arrays

    def save(self, directory):
        """Write the state atomically to ``directory/<source>.npz``."""
        write_checkpoint(directory, *self.snapshot())

    def try_restore(self, directory) -> bool:
        """Load ``directory/<source>.npz`` when it matches this stream; True when restored."""
        path = pathlib.Path(directory) / f"{self.source}.npz"
        if not path.exists():
            return False
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["__meta__"]).decode())
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
            if meta["stream"] != self.stream or meta["channels"] != self.channels or \
                    abs(meta["fs_hz"] - self.fs_hz) > 1e-9:
                log.warning("checkpoint %s is for %s %s at %s Hz; starting %s afresh", path,
                            meta["stream"], meta["channels"], meta["fs_hz"], self.stream)
                return False
            self.forecaster.load_state_dict({**meta["state"], **arrays})
        except Exception as exc:  # a corrupt or foreign file must not stop the runtime
            log.warning("cannot restore forecaster checkpoint %s (%s); starting afresh", path, exc)
            return False
        self.last_t_s, self.resets_seen = meta["last_t_s"], meta["resets_seen"]
        self.resumed = True
        log.info("resumed the %s forecaster from %s (%d samples seen)", self.stream, path,
                 self.forecaster.n_seen)
        return True


def write_checkpoint(directory, source: str, meta: dict, arrays: dict) -> None:
    """Write one :meth:`SourceForecaster.snapshot` atomically to ``directory/<source>.npz``
    (a temporary file, then ``os.replace``; no fsync, which stalls: the rename is atomic against
    SIGKILL). Raises OSError."""
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{source}.npz"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        fh.flush()
    os.replace(tmp, path)
