"""Checkpoints of the per-source forecasters (:class:`streams.forecast.SourceForecaster`).

State is checkpointed to ``<state_dir>/forecasters/<source>.npz`` (atomic replace) so that a
runtime killed and restarted continues with the learned weights and scaler. A checkpoint is
restored only into a forecaster of the same stream, channels (names and order) and rate; anything
else (another stream's file, a corrupt or foreign one, another configuration, a marker layout or rate
that changed) is refused with one warning saying why and what to do, kept beside as
``<source>.npz.refused`` (the next checkpoint replaces ``<source>.npz``), named in ``status``
(``forecasters.<source>.checkpoint_refused``), and the forecaster starts afresh (warm-up): it never
stops the runtime and never forecasts from another layout's weights. Messages are logged as
``streams.forecast``.

Units: a checkpoint names the units its stream declared (``units`` in its metadata, one per channel; since
2026-12-07). One whose units differ from the ones the stream declares now (a marker in millimetres restarted in
metres) is refused as another layout is, not rescaled: the learner's scaler is fitted to the numbers it saw, and a
rescale by the declared units' factor trusts the declaration to describe the numbers, exactly when the two have just
disagreed (a device that relabelled its units, or sends mm declared as m, would be rescaled 1000 x wrong), and needs
a factor for every unit name a device may send ("mm", "millimetre", "in", ...). A fresh learner fits its scaler to the
numbers that arrive, whatever their label; the price is one warm-up. Before, such a checkpoint was resumed with a
scaler 1000 x off: a marker near the origin (no coordinate out of its range of motion, so
:mod:`realtime.scale_switch` does not see the switch) published lms forecasts off by up to 59 x the motion until the
trust check held them (tests/test_forecast_units72.py). A checkpoint without units (written before) is restored
unchecked, said in a log line.
"""
from __future__ import annotations

import json
import logging
import math
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
                "units": None if self.units is None else list(self.units),
                "last_t_s": self.last_t_s, "resets_seen": self.resets_seen, "state": scalars}
        return self.source, meta, arrays

    def save(self, directory):
        """Write the state atomically to ``directory/<source>.npz``."""
        write_checkpoint(directory, *self.snapshot())

    #: why the checkpoint found at start was not restored ("" when none was refused); in ``status``
    restore_refused = ""
    _units: tuple | None = None

    @property
    def units(self) -> tuple | None:
        """The units the stream declares, one per channel (set by :mod:`streams.forecast_worker`); None: not known.
        Set, they are told to the learner where all channels share one (its baseline check's hold detail names
        them: ``RMS 2.8 vs 1.6 (mm; ...``, :meth:`realtime.trust.TrustMixin.set_stream_terms`)."""
        return self._units

    @units.setter
    def units(self, units) -> None:
        self._units = None if units is None else tuple(units)
        one = set(self._units or ())
        self.forecaster.set_stream_terms(unit=one.pop() if len(one) == 1 else "")

    def try_restore(self, directory, units=None) -> bool:
        """Load ``directory/<source>.npz`` when it matches this stream (``units``: the ones it declares now, None:
        not known, not checked); True when restored. Everything in it is checked before anything is loaded (until
        2026-12-07 a checkpoint without ``resets_seen`` or ``last_t_s``, as a hand-made or older one, raised after
        its weights were loaded: the source was held ``unavailable`` for good, with an error line for each of its
        frames)."""
        path = pathlib.Path(directory) / f"{self.source}.npz"
        if not path.exists():
            return False
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["__meta__"]).decode())
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
            if not isinstance(meta, dict):
                raise ValueError(f"its metadata is a {type(meta).__name__}, not a dict")
            layout = _layout(meta)
            if layout[:2] != (self.stream, list(self.channels)) or not abs(layout[2] - self.fs_hz) <= 1e-9:
                return self._refuse(path, f"it is for {layout[0]} {layout[1]} at {layout[2]:g} Hz, this stream is "
                                          f"{self.stream} {list(self.channels)} at {self.fs_hz:g} Hz (another marker "
                                          "layout or rate: its weights belong to other coordinates)",
                                    "nothing to do if the layout changed on purpose; "
                                    "else fix the device's channels or rate")
            saved = _units(meta, len(self.channels))
            if saved is not None and units is not None and saved != list(units):
                return self._refuse(path, f"it was learnt in units {saved}, this stream declares {list(units)} "
                                          "(its scaler and weights are the other units': its forecasts would be "
                                          "off by their factor)", "nothing to do if the units changed on purpose "
                                    "(a fresh learner warms up in the new ones); else fix the units the device "
                                    "declares")
            last_t_s, resets_seen = _counters(meta)
            self.forecaster.load_state_dict({**meta["state"], **arrays})
        except Exception as exc:  # a corrupt or foreign file must not stop the runtime
            from realtime.errors import ForecastError   # (loaded with the forecaster: realtime imports lazily here)
            learner = isinstance(exc, ForecastError)   # another method, configuration or version of the learner
            return self._refuse(path, f"{type(exc).__name__}: {exc}"[:300],
                                "to resume it, restart with the forecaster configuration that wrote it" if learner
                                else "nothing to do if it was cut short or is not a checkpoint: a new one is written")
        self.last_t_s, self.resets_seen = last_t_s, resets_seen
        # saved while its input window refilled after a restart, or its post-restart forecasts were held (checkpointed
        # since 2026-12-07): a gap still, not a warm-up (before, held as warm_up: "no forecast yet: scaler ...")
        held, window, _, _ = self.forecaster.post_restart_hold()
        self.gap_open = bool(held) or (window < self.forecaster.lookback and bool(self.forecaster._learnt))
        self.units = tuple(units) if units is not None else None if saved is None else tuple(saved)
        if saved is None:
            log.warning("forecaster checkpoint %s does not say its units (written before 2026-12-07, or its stream's "
                        "were not known): restored unchecked as %s; a fresh learner is safer if the units changed",
                        path, "the stream's units not known either" if units is None else list(units))
        self.resumed = True
        log.info("resumed the %s forecaster from %s (%d samples seen)", self.stream, path,
                 self.forecaster.n_seen)
        return True

    def _refuse(self, path, why: str, todo: str) -> bool:
        """One warning (why, what to do), the file kept as ``.refused``, ``restore_refused`` for status."""
        kept = path.with_name(path.name + ".refused")
        try:
            os.replace(path, kept)
            where = f"kept as {kept.name}"
        except OSError as exc:
            where = f"cannot be kept aside ({exc}): the next checkpoint replaces it"
        self.restore_refused = f"{path.name} not restored: {why}; {where}"
        log.warning("cannot restore forecaster checkpoint %s: %s; %s starts afresh (warm-up); the file is %s; %s",
                    path, why, self.stream, where, todo)
        return False


def _layout(meta: dict) -> tuple:
    """``(stream, channels, fs_hz)`` of a checkpoint's metadata; ValueError when they are not of their kinds."""
    stream, channels, fs_hz = meta.get("stream"), meta.get("channels"), meta.get("fs_hz")
    if not isinstance(stream, str) or not isinstance(channels, list) or \
            not all(isinstance(c, str) for c in channels) or isinstance(fs_hz, bool) or \
            not isinstance(fs_hz, (int, float)) or not math.isfinite(fs_hz) or fs_hz <= 0:
        raise ValueError(f"its stream, channels or rate is not a name, a list of names and a rate in Hz "
                         f"({stream!r:.40}, {channels!r:.80}, {fs_hz!r:.20})")
    return stream, channels, float(fs_hz)


def _units(meta: dict, n_channels: int) -> list | None:
    """The units a checkpoint's learner was fed (one name per channel), None where it does not say; ValueError when
    they are not a list of ``n_channels`` names."""
    units = meta.get("units")
    if units is not None and (not isinstance(units, list) or len(units) != n_channels
                              or not all(isinstance(u, str) for u in units)):
        raise ValueError(f"its units are not {n_channels} unit names ({units!r:.80})")
    return units


def _counters(meta: dict) -> tuple:
    """``(last_t_s, resets_seen)`` of a checkpoint's metadata, checked (``last_t_s`` a finite time or None,
    ``resets_seen`` a count); ValueError otherwise. The learner's state is checked by ``load_state_dict``."""
    last_t_s, resets_seen = meta.get("last_t_s", "(missing)"), meta.get("resets_seen", "(missing)")
    if last_t_s is not None and (isinstance(last_t_s, bool) or not isinstance(last_t_s, (int, float))
                                 or not math.isfinite(last_t_s)):
        raise ValueError(f"its last_t_s is {last_t_s!r:.40}, not a time in s")
    if isinstance(resets_seen, bool) or not isinstance(resets_seen, int) or resets_seen < 0:
        raise ValueError(f"its resets_seen is {resets_seen!r:.40}, not a count")
    if not isinstance(meta.get("state"), dict):
        raise ValueError("it has no learner state (meta 'state')")
    return (None if last_t_s is None else float(last_t_s)), resets_seen


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
