"""Marker streams -> per-source online forecasters -> ``fcst/`` or ``hold/`` frames.

Every sample of a motion stream is learned (:meth:`realtime.Forecaster.learn_one`) and the
forecast ``horizon_steps`` ahead is published in the same event-loop tick. A ``hold`` frame is
published instead when no trustworthy forecast exists:

* ``warmup``: the forecaster has not produced its first forecast yet (scaler and lookback);
* ``gap``: the stream skipped sequence numbers or time; held for ``recover_steps`` samples;
* ``diverged``: the forecaster reset itself after a diverging step; held for ``recover_steps``;
* ``stale``: no sample for ``stale_s`` seconds (checked by the runtime's timer).

State is checkpointed to ``<state_dir>/forecasters/<source>.npz`` (atomic replace) so that a
runtime killed and restarted continues with the learned weights and scaler.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib
import time

import numpy as np

from streams.config import ForecasterConfig

log = logging.getLogger(__name__)

MAX_GAP_FILL = 10_000  # missing samples fed as NaN at most (enough to restart any window)


def source_of(stream: str) -> str:
    return stream.split("/", 1)[0]


class SourceForecaster:
    """The forecaster of one marker stream and its hold state.

    Parameters
    ----------
    stream : ``<source>/<stream>`` topic of the marker input.
    channels : coordinate names (C).
    fs_hz : sample rate of the stream.
    cfg : :class:`streams.config.ForecasterConfig`.
    """

    def __init__(self, stream: str, channels, fs_hz: float, cfg: ForecasterConfig):
        from realtime import make_forecaster
        self.stream, self.channels, self.fs_hz, self.cfg = stream, list(channels), float(fs_hz), cfg
        self.forecaster = make_forecaster(
            cfg.method, horizon_steps=cfg.horizon_steps, lookback=cfg.lookback, hidden=cfg.hidden,
            lr=cfg.lr, seed=cfg.seed, n_coords=len(self.channels),
            norm_steps=max(1, int(round(cfg.warmup_s * self.fs_hz))))
        self.hold_left = 0
        self.hold_reason = "warmup"
        self.last_t_s: float | None = None
        self.last_wall_s = time.time()
        self.resets_seen = 0
        self.resumed = False
        self.check_time_gap = False

    @property
    def horizon_s(self) -> float:
        return self.cfg.horizon_steps / self.fs_hz

    def gap(self, n_missing: int):
        """``n_missing`` samples never arrived: learn them as missing and hold."""
        for _ in range(min(int(n_missing), MAX_GAP_FILL)):
            self.forecaster.learn_one(np.full(len(self.channels), np.nan))
        self.hold_left = max(self.hold_left, self.cfg.recover_steps)
        self.hold_reason = "gap"

    def step(self, x: np.ndarray, t_s: float):
        """Learn one sample (C,) taken at device time ``t_s``.

        Returns
        -------
        ``("forecast", prediction (C,) float64)`` or ``("hold", reason)``.
        """
        f = self.forecaster
        f.learn_one(x)
        self.last_t_s, self.last_wall_s = t_s, time.time()
        if f.n_resets > self.resets_seen:  # diverged and reset during this step
            self.resets_seen = f.n_resets
            self.hold_left, self.hold_reason = self.cfg.recover_steps, "diverged"
        if self.hold_left > 0:
            self.hold_left -= 1
            return "hold", self.hold_reason
        if not f.ready:
            return "hold", "gap" if self.hold_reason == "gap" else ("diverged" if self.resets_seen else "warmup")
        self.hold_reason = ""
        return "forecast", f.predict_one()

    # ------------------------------------------------------------------ checkpoints
    def save(self, directory):
        """Write the state atomically to ``directory/<source>.npz``."""
        d = pathlib.Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state = self.forecaster.state_dict()
        arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        scalars = {k: (v.item() if isinstance(v, np.generic) else v)
                   for k, v in state.items() if not isinstance(v, np.ndarray)}
        meta = {"stream": self.stream, "channels": self.channels, "fs_hz": self.fs_hz,
                "last_t_s": self.last_t_s, "resets_seen": self.resets_seen, "state": scalars}
        path = d / f"{source_of(self.stream)}.npz"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
            fh.flush()  # no fsync: os.replace is atomic against SIGKILL; fsync stalls the loop
        os.replace(tmp, path)

    def try_restore(self, directory) -> bool:
        """Load ``directory/<source>.npz`` when it matches this stream; True when restored."""
        path = pathlib.Path(directory) / f"{source_of(self.stream)}.npz"
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
        self.check_time_gap = True
        self.hold_reason = ""
        log.info("resumed the %s forecaster from %s (%d samples seen)", self.stream, path,
                 self.forecaster.n_seen)
        return True

    def missing_since(self, t0_s: float) -> int:
        """Samples missing between the last learned sample and a new one at ``t0_s``."""
        if self.last_t_s is None:
            return 0
        return max(0, int(round((t0_s - self.last_t_s) * self.fs_hz)) - 1)
