"""The protocol's settings (:class:`Protocol`), the checks of its inputs and one learner run
(:func:`run_forecaster`): the part of :mod:`realtime.evaluation` that runs in one process.

:mod:`realtime.evaluation` re-exports every name here and runs the jobs over a process pool; see its
docstring for the protocol, the supervision modes and the step timing.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from realtime import make_forecaster
from realtime.config import MAX_FROZEN_S, frozen_steps
from realtime.errors import ForecastError

# the warnings are evaluate's (a session skipped, missing steps): said under its name, as before the split
log = logging.getLogger("realtime.evaluation")

DETERMINISTIC = ("lms", "rls", "mix", "linreg", "last")
SUPERVISIONS = ("causal", "paper")
PAPER_CLIP = 100.0  # the published gradient clip (load_pred_par.m); paper supervision uses it
PAPER_SG_LR = 0.002  # DNI's published synthetic-gradient learning rate

@dataclass(frozen=True)
class Protocol:
    """Timing of the protocol in seconds, seeds and the shared learner options."""

    rate_hz: float = 10.0
    norm_s: float = 30.0
    select_start_s: float = 30.0
    test_start_s: float = 60.0
    seeds: int = 10
    select_seeds: int = 3
    clip: float | None = None  # None: 2.0 under causal supervision, the published 100 under paper
    scaling: str = "coord"
    supervision: str = "causal"  # or "paper": non-causal, as the published code (module docstring)
    # one position repeated this long is a frozen input: held and not scored, as the runtime holds
    # it (reason frozen_input; the same rule, realtime.base.frozen_steps); 0: off
    max_frozen_s: float = MAX_FROZEN_S

    def __post_init__(self):
        if self.supervision not in SUPERVISIONS:
            raise ForecastError(f"supervision {self.supervision!r} unknown; use one of {', '.join(SUPERVISIONS)}")
        v = self.max_frozen_s
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not np.isfinite(v) or v < 0:
            raise ForecastError(f"max_frozen_s must be a number of seconds >= 0 (0: off), got {self.max_frozen_s!r}")

    @property
    def effective_clip(self) -> float:
        if self.clip is not None:
            return float(self.clip)
        return PAPER_CLIP if self.supervision == "paper" else 2.0

    def steps(self, seconds: float) -> int:
        return int(round(seconds * self.rate_hz))


def method_list(methods) -> list[str]:
    """``methods`` as a list of names; one str is one method (not its letters)."""
    methods = [methods] if isinstance(methods, str) else methods
    if methods is None or not hasattr(methods, "__iter__") or not all(isinstance(m, str) for m in methods):
        raise ForecastError(f"methods={methods!r}: give method names (str)")
    if not methods:
        raise ForecastError("no forecasting method given")
    return list(methods)


def horizon_list(horizons) -> list[int]:
    """``horizons`` (steps) as a list of ints >= 1; one int is one horizon."""
    horizons = [horizons] if isinstance(horizons, (int, np.integer)) else horizons
    if horizons is None or isinstance(horizons, str) or not hasattr(horizons, "__iter__"):
        raise ForecastError(f"horizons={horizons!r}: give whole numbers of steps")
    horizons = list(horizons)
    if not horizons or any(isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, np.integer)) or h < 1
                           for h in horizons):
        raise ForecastError(f"horizons={horizons!r}: give whole numbers of steps, 1 or more")
    twice = sorted(h for h, n in Counter(int(h) for h in horizons).items() if n > 1)
    if twice:   # each would be run twice and reported once
        raise ForecastError(f"horizons={horizons!r}: {', '.join(map(str, twice))} listed more than once; "
                            "give each once")
    return [int(h) for h in horizons]


def usable_sessions(sessions, methods, horizons, protocol: Protocol) -> list:
    """The sessions the protocol can run on; the others are skipped with a logged warning.

    Raises :class:`ForecastError` for unknown methods or when no session is usable (the message
    of the last problem found).
    """
    keep, last = [], None
    for s in sessions:
        try:
            check_inputs([s], methods, horizons, protocol)
        except ForecastError as exc:
            if "unknown method" in str(exc) or len(sessions) == 1:   # one session: the error alone
                raise
            log.warning("skipping: %s", exc)
            last = exc
            continue
        keep.append(s)
    if not keep:
        raise ForecastError(f"no usable session: {last}" if len(sessions) > 1 else str(last))
    return keep


def check_inputs(sessions, methods, horizons, protocol: Protocol) -> None:
    """Raise :class:`ForecastError` with a clear message for unusable sessions or horizons."""
    from realtime import KNOWN_METHODS

    bad = [m for m in methods if m not in KNOWN_METHODS]
    if bad:
        raise ForecastError(f"unknown method(s) {', '.join(bad)}; known: {', '.join(KNOWN_METHODS)}")
    if not (0 < protocol.norm_s and 0 <= protocol.select_start_s < protocol.test_start_s):
        raise ForecastError(f"protocol windows need norm_s > 0 and select_start_s < test_start_s, got "
                            f"{protocol.norm_s:g}, {protocol.select_start_s:g}, {protocol.test_start_s:g}")
    need = protocol.steps(protocol.test_start_s)
    for s in sessions:
        dur = s.n_steps / protocol.rate_hz
        if s.n_steps <= need + 1:
            raise ForecastError(
                f"session {s.name} has {dur:.1f} s of data; the protocol needs more than "
                f"{protocol.test_start_s:g} s (z-score on the first {protocol.norm_s:g} s, selection on "
                f"{protocol.select_start_s:g}-{protocol.test_start_s:g} s, test after {protocol.test_start_s:g} s)")
        valid = np.isfinite(s.X).all(axis=1)
        if valid.mean() < 0.5:
            # a step is missing when any coordinate is: name the coordinates that are, so that a
            # dead one (a column of NaN) is not read as a session without data
            share = np.isnan(s.X).mean(axis=0)
            worst = [f"{c} {100 * v:.0f} %" for c, v in sorted(zip(s.channels, share), key=lambda cv: -cv[1])
                     if v >= 0.5]
            raise ForecastError(f"session {s.name}: {100 * (1 - valid.mean()):.0f} % of the steps are missing "
                                "(NaN in any coordinate); at least half must be valid"
                                + (f"; missing: {', '.join(worst[:4])}{' ...' if len(worst) > 4 else ''} "
                                   "(leave a coordinate out by naming the others with --channel)" if worst else ""))
        if not valid[need:].any() or not valid[protocol.steps(protocol.select_start_s):need].any():
            raise ForecastError(f"session {s.name}: no valid samples in the selection or test window")
        test = s.X[need:][valid[need:]]
        if not (np.ptp(test, axis=0) > 0).any():   # nRMSE divides by the truth's spread: 0/0 (inf)
            raise ForecastError(f"session {s.name}: every coordinate is constant after {protocol.test_start_s:g} s "
                                "(a flat channel or a tracker repeating its last position): no motion to forecast, "
                                "its errors would be scored as perfect")
        # a horizon past the end first: the z-score check below would blame --norm-s for it
        h_max = s.n_steps - need - 1
        if max(horizons) > h_max:
            raise ForecastError(
                f"horizon {max(horizons)} steps ({max(horizons) / protocol.rate_hz:g} s) is longer than the test "
                f"data of session {s.name} ({h_max} steps after {protocol.test_start_s:g} s); use --horizons up to "
                f"{h_max} (--horizons-s up to {h_max / protocol.rate_hz:g})")
        # the learners hold until the z-score is fitted on the first norm_steps valid samples: a
        # session that ends before a forecast could follow has only holds (every metric NaN)
        n_norm = max(protocol.steps(protocol.norm_s), 1)
        fit_at = int(np.searchsorted(np.cumsum(valid), n_norm))   # step of the n_norm-th valid sample
        if fit_at + max(horizons) > s.n_steps - 1:
            raise ForecastError(
                f"session {s.name}: the z-score is fitted on the first {n_norm} valid samples (--norm-s "
                f"{protocol.norm_s:g}) and the session has {int(valid.sum())} ({dur:.1f} s): the forecasters "
                "would hold to its end and make no forecast; use a shorter --norm-s")
        longest = int(max((len(r) for r in np.split(valid, np.flatnonzero(np.diff(valid)) + 1) if not r[0]),
                          default=0))
        if longest:
            log.warning("session %s: %d missing step(s), longest gap %d steps (%.1f s); skipped by the learners",
                        s.name, int((~valid).sum()), longest, longest / protocol.rate_hz)


# ---------------------------------------------------------------------------- one learner run
def run_forecaster(X, method, horizon, config, seed, n_run, protocol: Protocol, fit_steps, ready_out=None,
                   wall_out=None):
    """Forecasts for steps 0..n_run-1 (row k = forecast of X[k] made at k - h, NaN for k < h)
    and the CPU microseconds (this thread's) of each learn_one + predict_one (entry k: the step
    that forecast X[k]).  ``wall_out`` (n_run,) float, if given, gets the same in wall-clock us.

    ``ready_out`` (n_run,) bool, if given, is set True where the forecast came from the model
    (False: warm-up or after a gap/reset, the forecaster holds and returns the last sample).
    """
    n = X.shape[1]
    options = {k: v for k, v in config.items() if k not in ("lookback", "hidden", "lr")}
    if protocol.supervision == "paper" and method == "dni":
        options.setdefault("sg_lr", PAPER_SG_LR)  # the published synthetic-gradient rate
    f = make_forecaster(method, horizon_steps=horizon, lookback=config["lookback"], hidden=config["hidden"],
                        lr=config["lr"], seed=seed, n_coords=n, **options, norm_steps=protocol.steps(protocol.norm_s),
                        clip=protocol.effective_clip, fit_steps=fit_steps, scaling=protocol.scaling,
                        max_frozen_steps=frozen_steps(protocol.max_frozen_s, protocol.rate_hz))
    P = np.full((n_run, n), np.nan)
    us = np.zeros(n_run)
    wall = np.zeros(n_run) if wall_out is None else wall_out
    clock, cpu = time.perf_counter_ns, time.thread_time_ns   # CPU: the step's own cost (module docstring)
    if protocol.supervision == "paper":
        # the forecast of X[t] is the training chain's output just before it learns X[t]; methods
        # that do not learn online (linreg, last) keep their causal forecast, which is the same
        for t in range(n_run):
            t0, c0 = clock(), cpu()
            f.learn_one(X[t])
            y_paper = f.train_forecast()
            y = f.predict_one() if t + horizon < n_run else None
            us[t], wall[t] = (cpu() - c0) / 1e3, (clock() - t0) / 1e3
            if y_paper is not None:
                P[t] = y_paper
            if y is not None:  # replaced by the paper forecast when X[t + h] is learnt
                P[t + horizon] = y
                if ready_out is not None:
                    ready_out[t + horizon] = f.ready
        return P, us, f.n_resets
    for t in range(n_run - horizon):
        t0, c0 = clock(), cpu()
        f.learn_one(X[t])
        y = f.predict_one()
        us[t + horizon], wall[t + horizon] = (cpu() - c0) / 1e3, (clock() - t0) / 1e3
        P[t + horizon] = y
        if ready_out is not None:
            ready_out[t + horizon] = f.ready
    return P, us, f.n_resets
