"""The forecasters' configuration (:class:`ForecasterConfig`, the fields :func:`realtime.make_forecaster`
takes) and the frozen-input rule the runtime and the offline evaluation share (:func:`frozen_steps`).

Their home was :mod:`realtime.base`, which still re-exports them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.errors import ForecastError

#: Seconds of one position repeated in every coordinate that make a frozen input (a tracker
#: repeating its last position, not a body at rest): the runtime's ``max_frozen_s`` and the offline
#: evaluation's (:class:`realtime.evaluation.Protocol`), converted by :func:`frozen_steps`.
MAX_FROZEN_S = 2.0


def frozen_steps(max_frozen_s: float, fs_hz: float) -> int:
    """``max_frozen_steps`` for a forecaster at ``fs_hz``: identical consecutive samples that make a
    frozen input, ``max_frozen_s`` at ``fs_hz``, at least 2 (``max_frozen_s`` 0: the check is off).
    The one rule of the runtime (:func:`streams.forecast.frozen_steps`) and of the offline
    evaluation, so that evaluate holds (and does not score) the steps ``serve`` holds."""
    return 0 if not max_frozen_s > 0 else max(2, int(round(max_frozen_s * fs_hz)))


@dataclass(frozen=True)
class ForecasterConfig:
    """Hyperparameters; see :func:`realtime.make_forecaster` for their meaning."""

    horizon_steps: int = 1
    lookback: int = 12
    hidden: int = 30
    lr: float = 0.01
    seed: int = 0
    n_coords: int = 9
    clip: float = 2.0
    norm_steps: int = 300
    max_gap_steps: int = 0  # a gap longer than this restarts the input window (0: any gap)
    max_frozen_steps: int = 0  # this many identical consecutive samples are a frozen input (0: off)
    max_loss: float = 1e4
    init_std: float = 0.02
    sg_lr: float = 0.0  # DNI synthetic-gradient rate; 0: the lr
    estimates: int = 1  # UORO: independent rank-one estimates averaged per step (variance / k)
    fit_steps: int = 600  # linreg: samples collected before the least-squares fit
    ridge: float = 0.01  # linreg: ridge relative to the mean diagonal of the normal matrix
    scaling: str = "coord"  # z-score per coordinate, or "global": one std for all coordinates
    forget: float = 0.998  # rls: forgetting factor lambda in (0, 1]
    init_reg: float = 0.1  # rls: initial regularisation delta, P(0) = I / delta
    mix_eta: float = 0.2  # mix: learning rate of the exponential weights (per mean squared z-error)
    mix_discount: float = 0.99  # mix: discount of past losses (tracks a changing best expert)
    backend: str = "numba"
    # warm-up samples replayed per new sample once the scaler is fitted (0: all at once). The
    # runtime spreads the replay (a mix step is ~0.1 ms: 150 samples at once held its event
    # loop for 17 ms); the learnt state is the same, it is ready a few samples later.
    catch_up_steps: int = 0

    def validate(self) -> "ForecasterConfig":
        ints = {"horizon_steps": 1, "lookback": 1, "hidden": 1, "n_coords": 1, "norm_steps": 0,
                "max_gap_steps": 0, "max_frozen_steps": 0, "fit_steps": 1,
                "estimates": 1, "catch_up_steps": 0, "seed": 0}
        for name, low in ints.items():
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or v < low:
                raise ForecastError(f"{name} must be an integer >= {low}, got {v!r}")
        reals = ("lr", "clip", "max_loss", "init_std", "sg_lr", "ridge", "forget", "init_reg", "mix_eta",
                 "mix_discount")
        for name in reals:
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, (bool, np.bool_)):
                raise ForecastError(f"{name} must be a number, got {v!r}")
        for name in ("lr", "clip", "max_loss", "init_std", "sg_lr", "ridge"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ForecastError(f"{name} must be a finite number >= 0, got {v!r}")
        if not (0.0 < self.forget <= 1.0):
            raise ForecastError(f"forget must be in (0, 1], got {self.forget!r}")
        if not (0.0 < self.mix_discount <= 1.0) or not (np.isfinite(self.mix_eta) and self.mix_eta > 0):
            raise ForecastError(f"mix_eta must be > 0 and mix_discount in (0, 1], got {self.mix_eta!r}, "
                                f"{self.mix_discount!r}")
        if not (np.isfinite(self.init_reg) and self.init_reg > 0):
            raise ForecastError(f"init_reg must be a finite number > 0, got {self.init_reg!r}")
        if self.max_frozen_steps == 1:
            raise ForecastError("max_frozen_steps must be 0 (off) or >= 2: one sample cannot repeat itself")
        if self.scaling not in ("coord", "global"):
            raise ForecastError(f"scaling {self.scaling!r} unknown; use 'coord' or 'global'")
        if self.backend not in ("numba", "numpy"):
            raise ForecastError(f"backend {self.backend!r} unknown; use 'numba' or 'numpy'")
        return self
