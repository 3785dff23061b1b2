"""Save and restore of a forecaster's learnt state, mixed into :class:`realtime.base.Forecaster`.

``state_dict`` is plain data (NumPy arrays, numbers, strings, a dict of the config) for a checkpoint;
``load_state_dict`` restores it so that the learner continues bit-identically, and gives checkpoints
written before a field existed that field's safe default (see each one below).
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from realtime.errors import ForecastError


class StateMixin:
    """``state_dict`` / ``load_state_dict`` of :class:`realtime.base.Forecaster` (its attributes:
    ``_model_arrays``, ``_warm``, ``_cap``, ``n_coords``, ``config``, ``method``, ``_set_bounds``)."""

    def state_dict(self) -> dict:
        """Plain data (NumPy arrays, numbers, strings, a dict of the config) to save and restore."""
        arrays = {k: getattr(self, k).copy() for k in self._all_arrays()}
        scalars = {k: getattr(self, k) for k in self._scalars()}
        warm = np.asarray(self._warm, dtype=np.float64).reshape(-1, self.n_coords)
        return {"method": self.method, "config": asdict(self.config), "warm": warm, **arrays, **scalars}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from :meth:`state_dict`; the learner then continues bit-identically."""
        if not isinstance(state, dict):
            raise ForecastError(f"a forecaster state is the dict state_dict() returns, not {type(state).__name__}")
        if state.get("method") != self.method:
            raise ForecastError(f"state is for method {state.get('method')!r}, this forecaster is {self.method!r}")
        cfg = dict(state.get("config", {}))
        if cfg != asdict(self.config):
            diff = sorted(k for k in cfg.keys() | asdict(self.config).keys()
                          if cfg.get(k) != asdict(self.config).get(k))
            raise ForecastError(f"state was saved with a different configuration ({', '.join(diff)})")
        for k in self._all_arrays():
            if k in ("_lo", "_hi") and k not in state:   # a checkpoint from before 2026-12-06: the
                state = {**state, **self._range_of_ring(state)}   # range of the samples in its ring
            src = np.asarray(state[k])
            dst = getattr(self, k)
            if src.shape != dst.shape:
                raise ForecastError(f"state array {k!r} has shape {src.shape}, expected {dst.shape}")
            dst[...] = src
        for k in self._scalars():
            if k == "_learnt" and k not in state:   # a checkpoint from before 2026-12-05: ready after
                state = {**state, k: False}        # the next training step (the next sample, mostly)
            if k == "_outside" and k not in state:   # before 2026-12-06: no range check yet
                state = {**state, k: 0}
            if k == "n_jumps" and k not in state:   # before the input-jump check: none counted
                state = {**state, k: 0}
            setattr(self, k, type(getattr(self, k))(state[k]))
        self._warm = [np.array(w) for w in np.asarray(state["warm"]).reshape(-1, self.n_coords)]
        self._set_bounds()

    def _all_arrays(self):
        return ("_hist", "_u_tr", "_u_pr", "_y", "_last", "_center", "_scale", "_lo", "_hi") + self._model_arrays

    def _range_of_ring(self, state: dict) -> dict:
        """``_lo``/``_hi`` from the normalised samples in a saved ring buffer (older checkpoints)."""
        hist = np.asarray(state["_hist"], dtype=np.float64).reshape(self._cap, self.n_coords)
        rows = hist[:min(int(state.get("_count", 0)), self._cap)]
        if not rows.size:
            return {"_lo": np.full(self.n_coords, np.inf), "_hi": np.full(self.n_coords, -np.inf)}
        return {"_lo": rows.min(axis=0), "_hi": rows.max(axis=0)}

    @staticmethod
    def _scalars():
        return ("_fitted", "_count", "_gap", "_same", "_have_forecast", "_learnt", "n_seen", "n_skipped", "n_frozen",
                "n_resets", "diverged", "last_loss", "_outside", "n_jumps")
