"""biosig.synthetic_ecgsyn made faster, every trace the same float as before:

- ecgsyn_derivs (the angular speeds divided once, the five waves written out) gives every
  derivative the same float as the loop it replaced, kept here as the oracle with the integration
  around it as it was (which also resampled the RR series with NeuroKit2 itself);
- resample_rr is NeuroKit2's signal_resample without importing NeuroKit2;
- a repeated call is a copy of the kept trace, the same bytes as one made afresh."""
import math
import sys

import numpy as np
import pytest

from conftest import ROOT, load_benchmark

from biosig.synthetic import V5_WAVES
from biosig.synthetic_ecgsyn import AI, BI, TI_DEG, _ecgsyn, _kept_trace, ecgsyn, ecgsyn_derivs, resample_rr


sys.path.insert(0, str(ROOT / "benchmarks"))   # the script imports benchmarks/_common.py
bench = load_benchmark("bench_ecgsyn")
old_derivs, old_ecgsyn = bench.old_derivs, bench.old_ecgsyn   # ECGSYN as it was, line for line


def test_every_derivative_the_same_float():
    rng = np.random.default_rng(67)
    rrn = rng.uniform(0.3, 2.0, 5000)
    waves = tuple(zip((np.asarray(TI_DEG) * np.pi / 180 * 1.3).tolist(), AI, (np.asarray(BI) * 1.2).tolist()))
    fast = ecgsyn_derivs(rrn, 250.0, waves)
    # every angle round the cycle (the wrap of each wave's distance at +-pi), off the cycle, past the last RR
    for theta in np.concatenate([np.linspace(-math.pi, math.pi, 721), rng.uniform(-4, 4, 200)]):
        r, z, t = rng.uniform(0.8, 1.2), rng.normal(0, 0.05), rng.uniform(0, 25)
        s = np.array([r * math.cos(theta), r * math.sin(theta), z])
        assert fast(t, s).tobytes() == old_derivs(t, s, rrn, 250.0, waves).tobytes()


@pytest.mark.parametrize("seconds, fs_hz, hr, seed, kw", [(3, 250, 70.0, 1, {}), (4, 100, 35.0, 0, V5_WAVES)])
def test_traces_the_same_float(seconds, fs_hz, hr, seed, kw):
    kw = {"ai": AI, "bi": BI, **kw}
    new = _ecgsyn(seconds + 2.0, seconds * fs_hz, fs_hz, hr, 1.0, seed, kw["ai"], kw["bi"])   # made afresh
    assert new.tobytes() == old_ecgsyn(seconds + 2.0, seconds * fs_hz, fs_hz, hr, 1.0, seed, **kw).tobytes()


def test_rr_resampled_as_neurokit_does():
    import neurokit2 as nk

    rng = np.random.default_rng(3)
    for n in (16, 64, 128):
        rr = 0.8 + 0.05 * rng.standard_normal(n)
        for fs_hz in (63, 100, 128, 250, 360, 1000):
            ref = nk.signal_resample(rr, sampling_rate=1, desired_sampling_rate=fs_hz)
            assert resample_rr(rr, fs_hz).tobytes() == np.asarray(ref).tobytes()


def test_a_repeated_trace_is_a_copy_of_the_same_bytes():
    args = (3.0, 200, 100, 83.0, 1.0, 6701)
    first = ecgsyn(*args)
    hits = _kept_trace.cache_info().hits
    first[:] = 0.0   # the caller's copy: the kept trace is not changed by it
    again = ecgsyn(*args)
    assert _kept_trace.cache_info().hits == hits + 1
    assert again.flags.writeable and again.tobytes() == _ecgsyn(*args, AI, BI).tobytes()
    assert ecgsyn(3.0, 200, 100, 83, 1.0, 6701).tobytes() == again.tobytes()   # 83 is 83.0: the same trace
    assert ecgsyn(*args, ai=list(AI), bi=np.asarray(BI)).tobytes() == again.tobytes()
    assert not _kept_trace(*args, tuple(AI), tuple(BI)).flags.writeable
