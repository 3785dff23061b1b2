"""ECGSYN (McSharry et al. 2003) as NeuroKit2 implements it, integrated tightly enough not to glitch.

NeuroKit2's ``ecg_simulate(method="ecgsyn")`` integrates the model's ODE with
``scipy.integrate.solve_ivp`` at scipy's default tolerances (``rtol`` 1e-3, ``atol`` 1e-6). In some
60 s traces the adaptive RK45 steps then cut through a wave and the trajectory leaves its limit
cycle for up to a second (on one machine, 30 of 360 traces, 9 rates of 30-180 /min x seeds 0-39,
had their baseline moved by more than 0.1 mV against this module's; most of them at 30-60 /min).
NeuroKit2 then rescales the trace from its own min/max to [-0.4, 1.2] mV, so that one excursion
shrinks every beat of the record and moves its baseline (seed 0 at 35 /min: median 0.80 mV instead
of about 0.05, QRS a third of its height, so that a beat detector counted T waves and noise).
Which traces glitch depends on the machine's floating-point rounding: the same seed gave a clean
ECG on one machine and a glitched one on another.

:func:`ecgsyn` is the same model, with the same parameters, the same random numbers
(``numpy.random.RandomState(seed)``, as NeuroKit2 uses for an integer seed), the same RR process and
RR upsampling and the same rescaling; only the integration is tighter (:data:`RTOL`, :data:`ATOL`).
``tests/test_synthetic_ecgsyn.py`` checks it against NeuroKit2 itself run at these tolerances, and
that the traces that glitch at NeuroKit2's tolerances do not glitch here.
"""
from __future__ import annotations

import math

import numpy as np

from biosig.errors import SignalError

RTOL, ATOL = 1e-6, 1e-8
#: angles (degrees), z-positions and Gaussian widths of the P, Q, R, S, T extrema (NeuroKit2's defaults)
TI_DEG = (-70.0, -15.0, 0.0, 15.0, 100.0)
AI = (1.2, -5.0, 30.0, -7.5, 0.75)
BI = (0.25, 0.1, 0.1, 0.1, 0.4)
#: RR process: Mayer-wave and respiratory peaks of the RR spectrum (Hz), their widths, LF/HF power
FLO_HZ, FHI_HZ, FLO_STD_HZ, FHI_STD_HZ, LF_HF_RATIO = 0.1, 0.25, 0.01, 0.01, 0.5
RESP_HZ = 0.25   # the z baseline's respiratory oscillation


def rr_process(hr_mean_bpm: float, hr_std_bpm: float, n, rng: np.random.RandomState) -> np.ndarray:
    """``n`` RR intervals (s) at 1 Hz with a bimodal (LF + HF) spectrum and random phases."""
    w1, w2 = 2 * np.pi * FLO_HZ, 2 * np.pi * FHI_HZ
    c1, c2 = 2 * np.pi * FLO_STD_HZ, 2 * np.pi * FHI_STD_HZ
    rr_mean = 60 / hr_mean_bpm
    rr_std = 60 * hr_std_bpm / (hr_mean_bpm * hr_mean_bpm)
    w = np.arange(n) * 2 * np.pi * (1 / n)
    hw = (LF_HF_RATIO * np.exp(-0.5 * ((w - w1) / c1) ** 2) / np.sqrt(2 * np.pi * c1 ** 2)
          + np.exp(-0.5 * ((w - w2) / c2) ** 2) / np.sqrt(2 * np.pi * c2 ** 2))
    hw0 = np.concatenate((hw[0:int(n / 2)], hw[int(n / 2) - 1::-1]))
    sw = 0.5 * np.sqrt(hw0)
    ph0 = 2 * np.pi * rng.uniform(size=int(n / 2 - 1))
    ph = np.concatenate([[0], ph0, [0], -np.flipud(ph0)])
    x = (1 / n) * np.fft.ifft(sw * np.exp(1j * ph)).real
    return rr_mean + x * (rr_std / np.std(x))


def _derivs(t: float, s: np.ndarray, rrn: np.ndarray, fs_hz: float, waves: tuple) -> np.ndarray:
    """Right-hand side of the ECGSYN ODE: (x, y) circle the limit cycle at 2 pi / RR rad/s, z is pushed
    by a Gaussian per wave (``waves``: (angle, z-position, width) of P, Q, R, S, T) at its angle and
    relaxes to a respiratory baseline. Scalar ``math`` (the solver calls it some 40 000 times a minute
    of ECG)."""
    x, y, z = s
    theta = math.atan2(y, x)
    a0 = 1.0 - math.sqrt(x * x + y * y)
    w0 = 2 * math.pi / rrn[min(int(math.floor(t * fs_hz)), len(rrn) - 1)]
    dz = -(z - 0.005 * math.sin(2 * math.pi * RESP_HZ * t))
    for ti, ai, bi in waves:
        d = (theta - ti) - round((theta - ti) / 2 / math.pi) * 2 * math.pi
        dz -= ai * d * math.exp(-0.5 * (d / bi) ** 2)
    return np.array([a0 * x - w0 * y, a0 * y + w0 * x, dz])


def hold_rr_per_beat(rr: np.ndarray, fs_hz: int) -> tuple[np.ndarray, int]:
    """``(rrn, ip)``: ``rr`` (s, one value per sample at ``fs_hz``) held constant over each beat, and
    the sample index after the last beat started. NeuroKit2's loop, except that a beat always moves
    on by a sample: ``signal_resample`` (``scipy.ndimage.zoom``) can leave the last value 0, and a
    beat starting on that sample then started there for ever (ECGSYN at 100 Hz, 120 /min, seed 1,
    10 s never returned)."""
    dt = 1 / fs_hz
    rrn = np.zeros(len(rr))
    t_beat, i, ip = 0.0, 0, 0
    while i < len(rr):
        t_beat += rr[i]
        ip = int(np.round(t_beat / dt))
        rrn[i:ip] = rr[i]
        i = max(ip, i + 1)   # ip <= i only on an RR of 0 s: the old loop never ended there
    return rrn, ip


def ecgsyn(duration_s: float, length: int, fs_hz: int, heart_rate_bpm: float, heart_rate_std_bpm: float,
           seed: int, ai=AI, bi=BI) -> np.ndarray:
    """One ECG lead of ``length`` samples at ``fs_hz`` (an integer rate), scaled to [-0.4, 1.2] mV:
    NeuroKit2's ``ecg_simulate(duration=duration_s, length=length, sampling_rate=fs_hz,
    heart_rate=..., heart_rate_std=..., noise=0, method="ecgsyn", random_state=seed, ai=ai, bi=bi)``
    integrated at :data:`RTOL` / :data:`ATOL`. Calls with the same ``seed`` share their RR series."""
    import neurokit2 as nk
    from scipy.integrate import solve_ivp

    rng = np.random.RandomState(seed)
    n_beats = int(np.round(duration_s * (heart_rate_bpm / 60)))
    hrfact = np.sqrt(heart_rate_bpm / 60)
    hrfact2 = np.sqrt(hrfact)
    bi = hrfact * np.asarray(bi, dtype=np.float64)
    ti = np.array([hrfact2, hrfact, 1, hrfact, hrfact2]) * (np.asarray(TI_DEG) * np.pi / 180)
    ai = np.asarray(ai, dtype=np.float64)
    n = 2 ** (np.ceil(np.log2(n_beats * (60 / heart_rate_bpm))))
    rr = nk.signal_resample(rr_process(heart_rate_bpm, heart_rate_std_bpm, n, rng), sampling_rate=1,
                            desired_sampling_rate=fs_hz)
    rrn, ip = hold_rr_per_beat(rr, fs_hz)
    dt = 1 / fs_hz
    t_eval = np.linspace(0, (ip - 1) * dt, ip)
    waves = tuple(zip(ti.tolist(), ai.tolist(), bi.tolist()))
    sol = solve_ivp(lambda t, s: _derivs(t, s, rrn, float(fs_hz), waves), [0, (ip - 1) * dt],
                    np.array([1.0, 0.0, 0.04]), t_eval=t_eval, rtol=RTOL, atol=ATOL)
    if not sol.success:
        raise SignalError(f"ECGSYN integration failed at {heart_rate_bpm:g} /min, seed {seed}: {sol.message}")
    z = sol.y[2]
    z = (z - z.min()) * 1.6 / (z.max() - z.min()) - 0.4
    return z[:length]
