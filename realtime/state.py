"""Save and restore of a forecaster's learnt state, mixed into :class:`realtime.base.Forecaster`.

``state_dict`` is plain data (NumPy arrays, numbers, strings, a dict of the config) for a checkpoint;
``load_state_dict`` restores it so that the learner continues bit-identically, and gives checkpoints
written before a field existed that field's safe default (see each one below).
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from realtime.errors import ForecastError
from realtime.jumps import steps_of_ring
from realtime.trust import TRUST_MATURE_SPANS


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
        """Restore a state from :meth:`state_dict`; the learner then continues bit-identically.

        All or nothing: every field is checked and converted before any is assigned, so a state
        refused (ForecastError: a field missing, of the wrong shape or type) leaves this forecaster
        as it was (until 2026-12-05 the fields before the bad one were already loaded: a checkpoint
        without ``warm`` left the saved weights beside this forecaster's own counters)."""
        if not isinstance(state, dict):
            raise ForecastError(f"a forecaster state is the dict state_dict() returns, not {type(state).__name__}")
        if state.get("method") != self.method:
            raise ForecastError(f"state is for method {state.get('method')!r}, this forecaster is {self.method!r}")
        cfg = state.get("config", {})
        cfg = dict(cfg) if isinstance(cfg, dict) else {}
        if cfg != asdict(self.config):
            diff = sorted(k for k in cfg.keys() | asdict(self.config).keys()
                          if cfg.get(k) != asdict(self.config).get(k))
            raise ForecastError(f"state was saved with a different configuration ({', '.join(diff)})")
        state = self._fit_blocks({**self._legacy_defaults(state), **state})
        missing = [k for k in (*self._all_arrays(), *self._scalars(), "warm") if k not in state]
        if missing:
            raise ForecastError(f"state lacks field(s) {', '.join(missing)}: not a complete state_dict()")
        arrays = {}
        for k in self._all_arrays():
            dst = getattr(self, k)
            try:
                src = np.asarray(state[k]).astype(dst.dtype, casting="same_kind")
            except (TypeError, ValueError):
                raise ForecastError(f"state array {k!r} is not numeric data of type {dst.dtype}") from None
            if src.shape != dst.shape:
                raise ForecastError(f"state array {k!r} has shape {src.shape}, expected {dst.shape}")
            arrays[k] = src
        scalars = {}
        for k in self._scalars():
            kind = type(getattr(self, k))
            v = state[k]
            if isinstance(v, np.ndarray) and v.size == 1:
                v = v.item()
            if not isinstance(v, (bool, int, float, np.number, np.bool_)) or (kind is not float and isinstance(v, float)
                                                                     and not float(v).is_integer()):
                raise ForecastError(f"state field {k!r} is {v!r:.40}, expected a {kind.__name__}")
            scalars[k] = kind(v)
        if not 0 <= scalars["_pg_hold"] <= len(self._pg_rec):   # (10**30: no forecast published after a restart)
            raise ForecastError(f"state field '_pg_hold' is {str(scalars['_pg_hold'])[:40]}, expected "
                                f"0..{len(self._pg_rec)} (blocks of forecasts held after a restart)")
        try:
            warm = np.asarray(state["warm"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ForecastError("state field 'warm' is not an array of samples") from None
        if warm.size % self.n_coords:
            raise ForecastError(f"state field 'warm' has {warm.size} values, not whole samples of "
                                f"{self.n_coords} coordinate(s)")
        # every field checked: assign (nothing above changed this forecaster)
        for k, src in arrays.items():
            getattr(self, k)[...] = src
        for k, v in scalars.items():
            setattr(self, k, v)
        self._warm = [np.array(w) for w in warm.reshape(-1, self.n_coords)]
        self._set_bounds()

    def _legacy_defaults(self, state: dict) -> dict:
        """Safe values for the fields checkpoints written before they existed lack."""
        out = {}
        if "_lo" not in state or "_hi" not in state:   # a checkpoint from before 2026-12-06: the range of
            if "_hist" in state:                         # the samples in its ring
                try:
                    out.update(self._range_of_ring(state))
                except (TypeError, ValueError):
                    pass   # a bad ring buffer: refused with the field below
        if ("_dlo" not in state or "_dhi" not in state) and "_hist" in state:   # before the per-coordinate
            try:                                                                 # jump check: the ring's changes
                hist = np.asarray(state["_hist"], dtype=np.float64).reshape(self._cap, self.n_coords)
                out["_dlo"], out["_dhi"] = steps_of_ring(hist, int(state.get("_count", 0)))
            except (TypeError, ValueError):
                pass   # a bad ring buffer: refused with the field below
        out["_n_changes"] = int(state.get("n_seen", 0))   # (about: the valid samples seen)
        out["_learnt"] = False   # before 2026-12-05: ready after the next training step (the next sample, mostly)
        out["_outside"] = 0      # before 2026-12-06: no range check yet
        out["n_jumps"] = 0       # before the input-jump check: none counted
        out["_held"] = np.full(self.n_coords, np.nan)   # before hold-and-confirm: no sample held
        out["n_held"] = out["n_dropped"] = 0
        # before the trust check (realtime.trust, 2026-12-07): no errors recorded, trusted, no refit
        out.update(_fc=np.zeros_like(self._fc), _fc_at=np.full_like(self._fc_at, -1.0), _ef=np.zeros_like(self._ef),
                   _el=np.zeros_like(self._el), _tn=0, _tn_need=TRUST_MATURE_SPANS * len(self._ef), _distrust=False,
                   _resets_row=0, n_untrusted=0, n_refits=0)
        # before the post-restart and baseline records were checkpointed (2026-12-07): none, learnt again
        out.update(_pg_rec=np.zeros_like(self._pg_rec), _bl=np.zeros_like(self._bl),
                   _pg_after=False, _pg_hold=0, _bl_hold=False)
        # before the post-restart records became one per block (_pg_rec, 2026-12-07): _pg and _pg2, shape (3,) each,
        # the records of blocks 0 and 1 (the later blocks': none, learnt again)
        for row, k in enumerate(("_pg", "_pg2")):
            try:
                old = np.asarray(state.get(k, ()), dtype=np.float64)
            except (TypeError, ValueError):
                continue   # not a record: that block's learnt again
            if old.shape == (3,) and row < len(out["_pg_rec"]):
                out["_pg_rec"][row] = old
        return out

    def _fit_blocks(self, state: dict) -> dict:
        """``_pg_rec`` written with another number of post-restart blocks (:data:`realtime.trust.POST_GAP_BLOCKS`)
        fitted to this learner's: the blocks both have kept, a new one's record empty (learnt again), a dropped one's
        forgotten; refused as any bad field where it is no (blocks, 3) array."""
        try:
            rec = np.asarray(state.get("_pg_rec"), dtype=np.float64)
        except (TypeError, ValueError):
            return state
        n = len(self._pg_rec)
        if rec.ndim != 2 or rec.shape[1:] != self._pg_rec.shape[1:] or len(rec) == n:
            return state
        fitted = np.zeros_like(self._pg_rec)
        fitted[:min(n, len(rec))] = rec[:n]
        hold = state.get("_pg_hold", 0)   # a count as load_state_dict takes one (5.0, array(5) too); else refused there
        hold = hold.item() if isinstance(hold, np.ndarray) and hold.size == 1 else hold
        whole = isinstance(hold, (int, float, np.number)) and not isinstance(hold, (bool, np.bool_)) \
            and float(hold).is_integer() and hold >= 0
        return {**state, "_pg_rec": fitted, "_pg_hold": min(int(hold), n) if whole else hold}

    def _all_arrays(self):
        return ("_hist", "_u_tr", "_u_pr", "_y", "_last", "_center", "_scale", "_lo", "_hi", "_dlo", "_dhi",
                "_held", "_fc", "_fc_at", "_ef", "_el", "_pg_rec", "_bl") + self._model_arrays

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
                "n_resets", "diverged", "last_loss", "_outside", "n_jumps", "_n_changes",
                "n_held", "n_dropped", "_tn", "_tn_need", "_distrust", "_resets_row", "n_untrusted", "n_refits",
                "_pg_after", "_pg_hold", "_bl_hold")
