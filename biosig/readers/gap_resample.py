"""Resampling inside the readers: integer polyphase ratios and NaN gaps that stay gaps.

Readers bring channels recorded at different rates to one rate (multi-frequency WFDB, EDF) and
:func:`biosig.readers.resample` changes a record's rate; both go through the first two functions.
Irregular sample times (a camera's frames, a logger's jittered or dropped rows) go onto a uniform
grid by :func:`uniform_resample` (linear interpolation, long holes left NaN): the smartphone-PPG
reader uses it, and :func:`to_uniform_grid` for a record with ``times_s`` (embed, score).
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.errors import ReadError

log = logging.getLogger(__name__)


def read_ratio(fs_out: float, fs_in: float) -> tuple[int, int]:
    """Integers (up, down) with fs_in * up / down == fs_out to :data:`biosig.filters.RESAMPLE_RATE_REL_TOL`."""
    from biosig.errors import SignalError
    from biosig.filters import resample_ratio

    try:
        return resample_ratio(fs_in, fs_out)
    except SignalError as exc:
        raise ReadError("<record>", str(exc)) from None


def upsample_keeping_gaps(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Polyphase resampling of ``x`` (T,) by ``up/down`` that keeps NaN gaps as NaN.

    Gaps are bridged by linear interpolation only for the filter's sake (so that gap edges do
    not ring against zeros); every output sample whose input span touches a gap is NaN again.
    The record's ends are treated the same way: see :func:`biosig.filters.resample_poly_edges`.

    Memory: the bridge interpolates between the good samples next to a gap only (the same two
    neighbours ``np.interp`` picks among all of them, so the same values), and the gap mask is
    found :data:`_MASK_BLOCK` outputs at a time: four int64 index arrays as long as the output
    (30 MB each for 1 h of a 128 Hz EDF+D channel brought to 256 Hz) were held at once.
    """
    bad = np.isnan(x)
    if bad.all():
        return np.full(-(-len(x) * up // down), np.nan)
    filled = x
    if bad.any():
        edges = np.flatnonzero(bad[1:] != bad[:-1])           # a gap starts or ends after sample k
        near = np.unique(np.where(bad[edges + 1], edges, edges + 1))   # the good sample at each edge
        filled = x.copy()
        filled[bad] = np.interp(np.flatnonzero(bad), near, x[near])
    from biosig.filters import resample_poly_edges
    y = resample_poly_edges(filled, up, down)
    del filled
    if bad.any():
        count = np.concatenate([[0], np.cumsum(bad)])
        for j0 in range(0, len(y), _MASK_BLOCK):
            j = np.arange(j0, min(j0 + _MASK_BLOCK, len(y)))
            start = np.minimum((j * down) // up, len(x) - 1)
            stop = np.clip(((j + 1) * down) // up, start + 1, len(x))
            y[j0:j0 + len(j)][(count[stop] - count[start]) > 0] = np.nan
    return y


#: Output samples whose gap mask :func:`upsample_keeping_gaps` finds at a time.
_MASK_BLOCK = 1 << 16


def uniform_resample(t_s: np.ndarray, x: np.ndarray, fs_hz: float, max_gap_s: float,
                     n_samples: int | None = None) -> np.ndarray:
    """Linear interpolation of rows ``x`` (C, n) sampled at increasing times ``t_s`` (n,) onto
    ``t_s[0] + k / fs_hz``; grid points strictly inside an interval between consecutive times
    longer than ``max_gap_s`` are NaN (no invented signal), and so is every grid point next to a
    NaN input sample (``np.interp`` carries it). ``n_samples`` is the grid length, by default
    every grid point up to ``t_s[-1]``; points past ``t_s[-1]`` take the last value."""
    if n_samples is None:
        n_samples = int(np.floor((t_s[-1] - t_s[0]) * fs_hz)) + 1
    grid = t_s[0] + np.arange(n_samples) / fs_hz
    out = np.stack([np.interp(grid, t_s, row) for row in x])
    right = np.clip(np.searchsorted(t_s, grid, side="left"), 1, len(t_s) - 1)
    # a grid point on (1 ns from) the first sample after a gap is that sample, not the gap
    gap = ((t_s[right] - t_s[right - 1]) > max_gap_s) & (grid < t_s[right] - 1e-9)
    out[:, gap] = np.nan
    return out


#: Holes in time of at most this many nominal periods (one missing sample, with up to +-25 %
#: timestamp jitter) are bridged by the linear interpolation of :func:`to_uniform_grid`, as jitter
#: is: a NaN sample would split the filters' valid runs (:mod:`biosig.filters`) and ring at both
#: edges. Longer holes stay NaN. :meth:`biosig.Record.gaps` still reports every missing sample.
BRIDGE_PERIODS = 2.5
#: Sample times have a nominal rate when at least this fraction of the intervals between
#: consecutive times lie within +-50 % of ``1 / fs_hz``; sparser or denser times cannot be put on
#: one grid without inventing or dropping samples.
NOMINAL_FRACTION = 0.9


def to_uniform_grid(rec):
    """``rec`` on a uniform grid at its nominal rate ``fs_hz`` when it has irregular sample times
    (``times_s``); ``rec`` itself otherwise (times on the grid already: only ``times_s`` dropped).

    Every channel is linearly interpolated at ``k / fs_hz`` s from the first sample
    (:func:`uniform_resample`, as the smartphone-PPG reader does); holes in time longer than
    :data:`BRIDGE_PERIODS` periods and NaN samples stay NaN gaps, so window ``valid_fraction`` and
    quality see them. Annotations move to the nearest grid sample. Logs one INFO line.

    Raises
    ------
    SignalError : the times are too irregular for a nominal rate (see :data:`NOMINAL_FRACTION`).
    """
    if rec.times_s is None:
        return rec
    if not rec.times_irregular:   # a timestamped format's regular times (surrogate and marker CSVs)
        return rec.replace(times_s=None)
    from biosig.errors import SignalError
    from biosig.record import TIME_GAP_PERIODS, Annotations

    t, fs = rec.times_s, rec.fs_hz
    source = rec.metadata.get("source") or "record"
    if len(t) < 2 or not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
        raise SignalError(f"{source}: sample times must be finite and strictly increasing, with 2 samples or more")
    steps = np.diff(t) * fs                                   # intervals in nominal periods
    near = float(np.mean(np.abs(steps - 1.0) <= 0.5))
    if near < NOMINAL_FRACTION:
        raise SignalError(f"{source}: sample times too irregular for a uniform rate: {near:.0%} of the intervals "
                          f"between samples are within 50 % of the nominal {1e3 / fs:.4g} ms ({fs:g} Hz), "
                          f"{NOMINAL_FRACTION:.0%} are needed to put them on one grid")
    n_out = int(np.rint((t[-1] - t[0]) * fs)) + 1             # the last sample is the last grid point
    y = uniform_resample(t, rec.samples.astype(np.float64), fs, BRIDGE_PERIODS / fs, n_out)
    holes = int(np.sum(steps > BRIDGE_PERIODS))
    bridged = int(np.sum((steps > TIME_GAP_PERIODS) & (steps <= BRIDGE_PERIODS)))
    ann = rec.annotations
    if ann is not None:
        s = np.rint((t[np.clip(ann.sample, 0, len(t) - 1)] - t[0]) * fs).astype(np.int64)
        keep = np.flatnonzero((ann.sample >= 0) & (ann.sample < len(t)))
        ann = Annotations(sample=s[keep], symbol=tuple(ann.symbol[i] for i in keep),
                          aux=tuple(ann.aux[i] for i in keep) if ann.aux else (), source=ann.source)
    log.info(
        "%s: resampled from irregular sample times onto a uniform %g Hz grid (%d -> %d samples; "
        "%d hole(s) longer than %g periods left as NaN gaps, %d single missing sample(s) interpolated)",
        source, fs, len(t), n_out, holes, BRIDGE_PERIODS, bridged)
    meta = dict(rec.metadata, resampled_from_irregular={"n_samples": int(len(t)), "holes": holes,
                                                        "bridged": bridged})
    return rec.replace(samples=y.astype(np.float32), times_s=None, annotations=ann, metadata=meta)
