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
RR upsampling (NeuroKit2's ``signal_resample``, done here with the same scipy call so that NeuroKit2
is not imported) and the same rescaling; only the integration is tighter (:data:`RTOL`, :data:`ATOL`).
``tests/test_synthetic_ecgsyn.py`` checks it against NeuroKit2 itself run at these tolerances, and
that the traces that glitch at NeuroKit2's tolerances do not glitch here.
"""
from __future__ import annotations

import functools
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


def ecgsyn_derivs(rrn: np.ndarray, fs_hz: float, waves: tuple):
    """Right-hand side ``f(t, s)`` of the ECGSYN ODE: (x, y) circle the limit cycle at 2 pi / RR
    rad/s (``rrn``: RR in s per sample at ``fs_hz``), z is pushed by a Gaussian per wave (``waves``:
    (angle, z-position, width) of P, Q, R, S, T) at its angle and relaxes to a respiratory baseline.

    The solver calls it some 40 000 times a minute of ECG, about 40 % of ECGSYN's time: here
    the angular speeds 2 pi / RR are divided once for every sample (NumPy's division is IEEE's, as
    the scalar one was), the state is read as Python floats and the five waves are written out,
    every other operation in the old order, so that each derivative, and so each trace, is the
    same float as before (``tests/test_synthetic67_ecgsyn_same_floats.py`` keeps the old loop as
    its oracle). One call: 8.9 -> 5.3 us; a 40 s lead at 250 Hz integrated afresh:
    0.56 -> 0.47 s, 1.00 -> 0.81 s in another run (the shared machine varies;
    ``benchmarks/bench_ecgsyn.py``)."""
    with np.errstate(divide="ignore"):   # an RR of 0 s was an inf there too, met only if reached
        w0_rad_s = (2 * math.pi / np.asarray(rrn, dtype=np.float64)).tolist()
    last = len(w0_rad_s) - 1
    (t1, a1, b1), (t2, a2, b2), (t3, a3, b3), (t4, a4, b4), (t5, a5, b5) = waves
    pi, resp_rad_s = math.pi, 2 * math.pi * RESP_HZ
    atan2, sqrt, floor, sin, exp, array = math.atan2, math.sqrt, math.floor, math.sin, math.exp, np.array

    def derivs(t, s):
        x, y, z = s.tolist()
        theta = atan2(y, x)
        a0 = 1.0 - sqrt(x * x + y * y)
        w0 = w0_rad_s[min(int(floor(t * fs_hz)), last)]
        dz = -(z - 0.005 * sin(resp_rad_s * t))
        d = theta - t1
        d = d - round(d / 2 / pi) * 2 * pi
        dz -= a1 * d * exp(-0.5 * (d / b1) ** 2)
        d = theta - t2
        d = d - round(d / 2 / pi) * 2 * pi
        dz -= a2 * d * exp(-0.5 * (d / b2) ** 2)
        d = theta - t3
        d = d - round(d / 2 / pi) * 2 * pi
        dz -= a3 * d * exp(-0.5 * (d / b3) ** 2)
        d = theta - t4
        d = d - round(d / 2 / pi) * 2 * pi
        dz -= a4 * d * exp(-0.5 * (d / b4) ** 2)
        d = theta - t5
        d = d - round(d / 2 / pi) * 2 * pi
        dz -= a5 * d * exp(-0.5 * (d / b5) ** 2)
        return array([a0 * x - w0 * y, a0 * y + w0 * x, dz])

    return derivs


def resample_rr(rr: np.ndarray, fs_hz: int) -> np.ndarray:
    """The 1 Hz RR series at ``fs_hz``, as NeuroKit2's ``signal_resample(rr, sampling_rate=1,
    desired_sampling_rate=fs_hz)`` makes it (its default method: ``scipy.ndimage.zoom`` to
    ``round(len(rr) * fs_hz)`` samples; NeuroKit2 0.3.0), without importing NeuroKit2: that import
    took 2-10 s of a process that only simulates ECG (``biosig simulate``, a pretraining run on
    synthetic ECG). ``tests/test_synthetic67_ecgsyn_same_floats.py`` checks it against NeuroKit2."""
    from scipy.ndimage import zoom

    length = int(np.round(len(rr) * fs_hz / 1))
    return rr if len(rr) == length else zoom(rr, length / len(rr))


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


#: Traces :func:`ecgsyn` keeps in its process (each a copy out): tests and pretraining runs in one
#: process ask for the same trace again (test_quality, test_ecg_once, test_embeddings_provenance and
#: the two ECGSYN test files, session 67: 48 of 154 traces were repeats, 16.6 of 53.6 s); 32 x 60 s
#: at 250 Hz is 3.8 MB.
CACHED_TRACES = 32


def ecgsyn(duration_s: float, length: int, fs_hz: int, heart_rate_bpm: float, heart_rate_std_bpm: float,
           seed: int, ai=AI, bi=BI) -> np.ndarray:
    """One ECG lead of ``length`` samples at ``fs_hz`` (an integer rate), scaled to [-0.4, 1.2] mV:
    NeuroKit2's ``ecg_simulate(duration=duration_s, length=length, sampling_rate=fs_hz,
    heart_rate=..., heart_rate_std=..., noise=0, method="ecgsyn", random_state=seed, ai=ai, bi=bi)``
    integrated at :data:`RTOL` / :data:`ATOL`. Calls with the same ``seed`` share their RR series.

    The same arguments give the same trace, so the last :data:`CACHED_TRACES` are kept and a
    repeated call gets a copy of one (the caller may change it; the kept one is read-only)."""
    try:
        trace = _kept_trace(duration_s, length, fs_hz, heart_rate_bpm, heart_rate_std_bpm, seed, tuple(ai), tuple(bi))
    except TypeError:   # an argument that is no dictionary key (an array seed, say): made afresh
        return _ecgsyn(duration_s, length, fs_hz, heart_rate_bpm, heart_rate_std_bpm, seed, ai, bi)
    return trace.copy()


def forget_kept_traces() -> None:
    """Drop the traces :func:`ecgsyn` keeps (a benchmark timing ECGSYN itself calls it before each run)."""
    _kept_trace.cache_clear()


@functools.lru_cache(maxsize=CACHED_TRACES)
def _kept_trace(duration_s, length, fs_hz, heart_rate_bpm, heart_rate_std_bpm, seed, ai, bi) -> np.ndarray:
    trace = _ecgsyn(duration_s, length, fs_hz, heart_rate_bpm, heart_rate_std_bpm, seed, ai, bi)
    trace.flags.writeable = False
    return trace


def _ecgsyn(duration_s, length, fs_hz, heart_rate_bpm, heart_rate_std_bpm, seed, ai, bi) -> np.ndarray:
    from scipy.integrate import solve_ivp

    rng = np.random.RandomState(seed)
    n_beats = int(np.round(duration_s * (heart_rate_bpm / 60)))
    hrfact = np.sqrt(heart_rate_bpm / 60)
    hrfact2 = np.sqrt(hrfact)
    bi = hrfact * np.asarray(bi, dtype=np.float64)
    ti = np.array([hrfact2, hrfact, 1, hrfact, hrfact2]) * (np.asarray(TI_DEG) * np.pi / 180)
    ai = np.asarray(ai, dtype=np.float64)
    n = 2 ** (np.ceil(np.log2(n_beats * (60 / heart_rate_bpm))))
    rr = resample_rr(rr_process(heart_rate_bpm, heart_rate_std_bpm, n, rng), fs_hz)
    rrn, ip = hold_rr_per_beat(rr, fs_hz)
    dt = 1 / fs_hz
    t_eval = np.linspace(0, (ip - 1) * dt, ip)
    waves = tuple(zip(ti.tolist(), ai.tolist(), bi.tolist()))
    sol = solve_ivp(ecgsyn_derivs(rrn, float(fs_hz), waves), [0, (ip - 1) * dt],
                    np.array([1.0, 0.0, 0.04]), t_eval=t_eval, rtol=RTOL, atol=ATOL)
    if not sol.success:
        raise SignalError(f"ECGSYN integration failed at {heart_rate_bpm:g} /min, seed {seed}: {sol.message}")
    z = sol.y[2]
    z = (z - z.min()) * 1.6 / (z.max() - z.min()) - 0.4
    return z[:length]
