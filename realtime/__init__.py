"""Online forecasters of respiratory motion (Pohl et al. 2022/2025) with a River-style API.

    >>> from realtime import make_forecaster
    >>> f = make_forecaster("snap1", horizon_steps=5, lookback=20, hidden=60, lr=0.01, seed=0,
    ...                     n_coords=1, norm_steps=10)
    >>> for t in range(100):
    ...     f.learn_one([float((t % 40) < 20)])
    >>> f.predict_one().shape
    (1,)

NumPy + :mod:`kernels` only (no torch, no zmq).
"""
from __future__ import annotations

from dataclasses import fields

from realtime.base import Forecaster, ForecasterConfig
from realtime.errors import ForecastError
from realtime.methods import METHODS

KNOWN_METHODS: tuple[str, ...] = tuple(METHODS)
RNN_METHODS: tuple[str, ...] = ("rtrl", "uoro", "snap1", "dni")


def make_forecaster(name: str, horizon_steps: int = 1, lookback: int = 12, hidden: int = 30,
                    lr: float = 0.01, seed: int = 0, n_coords: int = 9, **options) -> Forecaster:
    """Build a registered forecaster.

    Parameters
    ----------
    name : one of :data:`KNOWN_METHODS` (``rtrl``, ``uoro``, ``snap1``, ``dni``, ``lms``, ``rls``,
        ``mix``, ``linreg``, ``last``); ``mix`` (8 RLS experts aggregated by exponential weights,
        self-tuning) is the most accurate causal method measured, see docs/forecasting.md.
    horizon_steps : forecast horizon in samples (at 10 Hz, 5 = 0.5 s).
    lookback : L, frames of all coordinates in the input window.
    hidden : q, RNN hidden units (ignored by lms, rls, mix, linreg, last).
    lr : SGD learning rate.
    seed : seed of the weight initialisation (and of UORO's random signs).
    n_coords : coordinates per sample (9 for 3 markers x 3 axes, 1 for an amplitude trace).
    **options : the other :class:`ForecasterConfig` fields: ``clip`` (gradient Frobenius-norm
        threshold, 2.0), ``norm_steps`` (samples for the z-score, 300 = 30 s at 10 Hz),
        ``max_gap_steps``, ``max_loss``, ``init_std`` (0.02), ``sg_lr`` (DNI), ``fit_steps``
        (linreg), ``forget`` and ``init_reg`` (rls: forgetting factor, P(0) = I / init_reg),
        ``mix_eta`` and ``mix_discount`` (mix: weight learning rate, loss discount),
        ``backend`` (``"numba"`` or ``"numpy"`` for the NumPy twins).
    """
    cls = METHODS.get(str(name).lower())
    if cls is None:
        raise ForecastError(f"unknown forecasting method {name!r}; known: {', '.join(KNOWN_METHODS)}")
    allowed = {f.name for f in fields(ForecasterConfig)}
    bad = sorted(set(options) - allowed)
    if bad:
        raise ForecastError(f"unknown forecaster option(s) {', '.join(bad)}; accepted: "
                            f"{', '.join(sorted(allowed - {'horizon_steps', 'lookback', 'hidden', 'lr', 'seed', 'n_coords'}))}")
    cfg = ForecasterConfig(horizon_steps=horizon_steps, lookback=lookback, hidden=hidden, lr=lr,
                           seed=seed, n_coords=n_coords, **options)
    return cls(cfg)


__all__ = ["Forecaster", "ForecasterConfig", "ForecastError", "KNOWN_METHODS", "RNN_METHODS",
           "make_forecaster"]
