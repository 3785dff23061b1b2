"""Breathing mechanics for :mod:`biosig.synthetic`: a forced expiration from a two-compartment
lung-emptying model (volume in mL, :func:`simulate_spiro`) and the breathing motion of 3 external
markers in mm (Lujan cos^2n model, :func:`simulate_motion`). Both are re-exported by
:mod:`biosig.synthetic`; the same seed gives the same samples as before the split."""
from __future__ import annotations

import numpy as np

from biosig.errors import SignalError
from biosig.record import Record
from biosig.synthetic_checks import RESP_RATE_BPM, _n, _rng, _value

SPIRO_PATTERNS = ("normal", "obstructive", "restrictive")


# ---------------------------------------------------------------------------------- spirometry
def spiro_volume_ml(t_s: np.ndarray, fvc_ml: float, fast_fraction: float, tau_fast_s: float, tau_slow_s: float,
                    rise_s: float = 0.04) -> np.ndarray:
    """Two-compartment lung emptying: exhaled volume (mL) for ``t_s`` from the start of the blow.

    ``V(t) = FVC * sum_k f_k * (1 - exp(-t / tau_k))`` with compartments of fraction ``f`` and
    ``1 - f``, multiplied by a smooth onset ``1 - exp(-(t / rise_s)^2)`` (the muscles need ~50 ms to
    reach peak flow). Zero before ``t = 0``.
    """
    t = np.clip(np.asarray(t_s, dtype=np.float64), 0.0, None)
    emptied = fast_fraction * (1 - np.exp(-t / tau_fast_s)) + (1 - fast_fraction) * (1 - np.exp(-t / tau_slow_s))
    onset = 1 - np.exp(-(t / rise_s) ** 2)
    return fvc_ml * emptied * onset


SPIRO_ARTEFACTS = ("cough", "effort", "early-stop", "slow-start")


def _spiro_time_warp(t_s: np.ndarray, artefact: str, rng) -> tuple[np.ndarray, float]:
    """``(tau, rise_s)``: the blow's own clock ``tau(t)`` (the lung model is evaluated at ``tau``)
    and the onset time constant, for one acquisition artefact (ATS/ERS 2019 reasons to reject a
    blow). A pause of the clock is a flow interruption; a clock running fast afterwards, the
    catch-up burst. Gaussian-shaped rate changes: ``rate = 1 - a g(t - t1) + b g(t - t2)``."""
    dt = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 0.01
    rate = np.ones_like(t_s)
    rise_s = 0.04
    if artefact == "cough":            # in the first second: interruption, then a burst
        tc, w = rng.uniform(0.15, 0.9), rng.uniform(0.02, 0.05)
        rate -= rng.uniform(0.7, 1.0) * np.exp(-0.5 * ((t_s - tc) / w) ** 2)
        rate += rng.uniform(0.5, 1.5) * np.exp(-0.5 * ((t_s - tc - 2.5 * w) / w) ** 2)
    elif artefact == "effort":         # variable effort: flow lower for 0.1-0.5 s
        te, w = rng.uniform(0.6, 3.5), rng.uniform(0.05, 0.25)
        rate -= rng.uniform(0.3, 0.7) * np.exp(-0.5 * ((t_s - te) / w) ** 2)
    elif artefact == "slow-start":     # hesitant start: large back-extrapolated volume
        rise_s = float(rng.uniform(0.2, 0.5))
    elif artefact == "early-stop":     # glottic closure / early termination: the clock stops
        ts, w = rng.uniform(0.8, 4.0), rng.uniform(0.01, 0.04)
        rate *= 1.0 / (1.0 + np.exp(np.clip((t_s - ts) / w, None, 700.0)))
    tau = np.cumsum(np.clip(rate, 0.0, None)) * dt
    return tau - np.interp(0.0, t_s, tau), rise_s


def simulate_spiro(seconds: float, seed: int, fs_hz: float, pattern: str = "normal",
                   fvc_ml: float | None = None, noise_ml: float = 2.0, artefact: str | None = None,
                   flow_offset_ml_s: float = 0.0) -> Record:
    """A forced expiration (volume in mL) ``start_s`` = 0.5 s into the trace, from :func:`spiro_volume_ml` with the
    ranges of ``pattern``, white noise of ``noise_ml`` and an optional ``artefact`` (:func:`_spiro_time_warp`).
    ``flow_offset_ml_s``: a flow-sensor zero offset (mL/s, either sign) integrated from the first sample, the volume
    then rises (or falls) at that rate before the blow and after its plateau; the truth's ``fvc_ml`` is the lung's."""
    if pattern not in SPIRO_PATTERNS:
        raise SignalError(f"pattern={pattern!r}; accepted: {', '.join(SPIRO_PATTERNS)}")
    if artefact is not None and artefact not in SPIRO_ARTEFACTS:
        raise SignalError(f"artefact={artefact!r}; accepted: None, {', '.join(SPIRO_ARTEFACTS)}")
    rng = _rng(seed, 4)
    # (FVC mL, fast fraction, tau fast s, tau slow s) ranges per pattern
    ranges = {
        "normal": ((3500, 5500), (0.88, 0.95), (0.45, 0.60), (1.0, 1.5)),
        "obstructive": ((2500, 4500), (0.35, 0.55), (0.35, 0.55), (2.5, 4.0)),
        "restrictive": ((1500, 2600), (0.90, 0.97), (0.25, 0.40), (0.6, 1.0)),
    }[pattern]
    fvc, frac, tau_f, tau_s = (float(rng.uniform(*r)) for r in ranges)
    fvc = _value(fvc_ml, "fvc_ml", 1.0, 15000.0) if fvc_ml is not None else fvc
    noise_ml = _value(noise_ml, "noise_ml")
    n = _n(seconds, fs_hz)
    start_s = 0.5
    t = np.arange(n) / fs_hz - start_s
    if artefact is None:
        v = spiro_volume_ml(t, fvc, frac, tau_f, tau_s)
    else:   # the artefact's own random stream: the clean blow of a seed is unchanged
        tau, rise_s = _spiro_time_warp(t, artefact, _rng(seed, 41))
        v = spiro_volume_ml(tau, fvc, frac, tau_f, tau_s, rise_s=rise_s)
    offset = _value(flow_offset_ml_s, "flow_offset_ml_s", -1000.0, 1000.0)
    v = v + rng.normal(0.0, noise_ml, size=n) + offset * (t - t[0])   # noise drawn first: same samples at 0
    reached = float(spiro_volume_ml(np.array([t[-1]]), fvc, frac, tau_f, tau_s)[0])
    fev1 = float(spiro_volume_ml(np.array([1.0]), fvc, frac, tau_f, tau_s)[0])
    truth = {"pattern": pattern, "fvc_ml": reached, "fev1_ml_from_onset": fev1, "fast_fraction": frac,
             "tau_fast_s": tau_f, "tau_slow_s": tau_s, "blow_start_s": start_s, "artefact": artefact,
             "flow_offset_ml_s": offset}
    return Record(samples=v[None].astype(np.float32), fs_hz=fs_hz, channels=("volume_ml",), units=("mL",),
                  modality="spiro", metadata={"truth": truth})


# ---------------------------------------------------------------------------------- motion
def simulate_motion(seconds: float, seed: int, fs_hz: float, resp_rate_bpm: float | None = None,
                    amplitude_mm: float | None = None, noise_mm: float = 0.1) -> Record:
    """Breathing motion of 3 markers (Lujan model ``-b cos^(2n)(pi t / T)``) with irregularity.

    The period and amplitude change from cycle to cycle (about 15 % and 20 % variation), each
    marker moves along its own direction with its own gain, the baseline drifts slowly (a few mm
    per minute, as in treatment-couch recordings), and white noise is added.
    """
    rng = _rng(seed, 5)
    # defaults match the shared couch recordings: 9-16 breaths/min, dominant axis std 1.5-7 mm
    rr = float(rng.uniform(9, 16)) if resp_rate_bpm is None else _value(resp_rate_bpm, "resp_rate_bpm", *RESP_RATE_BPM)
    amp = float(rng.uniform(8, 18)) if amplitude_mm is None else _value(amplitude_mm, "amplitude_mm")
    noise_mm = _value(noise_mm, "noise_mm")
    n = _n(seconds, fs_hz)
    t = np.arange(n) / fs_hz
    n_cycles = int(seconds * rr / 60) + 3
    periods = 60.0 / rr * np.exp(rng.normal(0, 0.15, n_cycles))
    amps = amp * np.exp(rng.normal(0, 0.2, n_cycles))
    edges = np.concatenate([[0.0], np.cumsum(periods)])
    cycle = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, n_cycles - 1)
    phase = (t - edges[cycle]) / periods[cycle]  # 0..1 within each cycle
    b = np.interp(t, edges[:-1] + periods / 2, amps)  # amplitude varies smoothly
    breath = -b * np.cos(np.pi * phase) ** 4 + b  # 0 at end-exhale, b at end-inhale; n = 2
    dirs = rng.normal(size=(3, 3)) * 0.3 + np.array([[0.2, 0.4, 1.0], [0.1, 0.3, 1.0], [0.1, 0.8, 0.6]])
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    gains = rng.uniform(0.6, 1.2, 3)
    x = np.empty((9, n))
    for m in range(3):
        drift = np.cumsum(rng.normal(0, 0.02 / np.sqrt(fs_hz), (3, n)), axis=1)  # random walk, mm
        drift += rng.uniform(-1.0, 1.0, (3, 1)) * t / 60.0  # slow linear drift, mm per minute
        x[3 * m:3 * m + 3] = gains[m] * dirs[m][:, None] * breath + drift
    x += rng.normal(0.0, noise_mm, size=x.shape)
    x -= x[:, :1]  # positions relative to the first sample, as in the protocol
    names = tuple(f"m{m + 1}_{a}" for m in range(3) for a in "xyz")
    return Record(samples=x.astype(np.float32), fs_hz=fs_hz, channels=names, units=("mm",) * 9, modality="motion",
                  metadata={"truth": {"resp_rate_bpm": rr, "amplitude_mm": amp,
                                      "breath_onsets_s": edges[:-1][edges[:-1] < seconds].tolist()}})
