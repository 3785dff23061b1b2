"""An ECG window's beats are found once and correlated once (quality gate, measures, doubt check), and
every published value is what the old per-function path gives.

Oracle: ``benchmarks/bench_ecg_measures.py``'s old path (:func:`old_block_quality`,
:func:`old_window_measures`), which calls the separate functions as before (R peaks refined by each
caller, correlations computed by each). Windows: CinC 2017 (300 Hz) and MIT-BIH (360 Hz, two leads)
from ../shared/data, and synthetic ECG (clean, wander, noise, AF, premature atrial beats, gaps)."""
import sys

import numpy as np
import pytest

from conftest import ROOT, load_benchmark, shared_path

sys.path.insert(0, str(ROOT / "benchmarks"))   # the script imports benchmarks/_common.py


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_ecg_measures")


def _same(a, b) -> bool:
    """Equal dicts / floats, NaN equal to NaN, None to None, bools and strings exactly."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and (a == b or (np.isnan(a) and np.isnan(b)))
    return type(a) is type(b) and a == b


def _check(bench, windows, fs_hz):
    """Every window through both paths: quality, every published field; the beats and the doubt too."""
    from biosig.measures_hrv import beats_and_features, uncertain_beats
    old, new = bench.old_path(windows, fs_hz), bench.new_path(windows, fs_hz)
    outcomes = set()
    for x, (q0, m0), (q1, m1) in zip(windows, old, new):
        assert _same(q0, q1) and _same(m0, m1), (q0, q1, m0, m1)
        outcomes.add(m1["missing"])
        bench.forget_kept()
        v0, b0, c0 = bench.old_beats_and_features(x, fs_hz)
        v1, b1, c1 = beats_and_features(x, fs_hz, "ecg")
        assert _same(v0, v1) and np.array_equal(b0, b1) and np.array_equal(c0, c1)
        assert bench.old_uncertain_beats(x, fs_hz) == uncertain_beats(x, fs_hz)
    return outcomes


def _synthetic_windows(fs_hz):
    from biosig.synthetic import simulate
    from biosig.synthetic_af import ecg_from_beats
    n = int(10 * fs_hz)
    out = [simulate("ecg", 10, seed=s, fs_hz=fs_hz, noise_mv=0.005, baseline_wander_mv=0.0).samples for s in (1, 2)]
    out += [simulate("ecg", 10, seed=3, fs_hz=fs_hz, baseline_wander_mv=2.0).samples,      # wander
            simulate("ecg", 10, seed=4, fs_hz=fs_hz, noise_mv=0.3).samples,                # noise
            simulate("ecg", 10, seed=5, fs_hz=fs_hz, noise_mv=1.0).samples,                # noise: low quality
            simulate("ecg", 10, seed=6, fs_hz=fs_hz, rhythm="af").samples,
            simulate("ecg", 10, seed=7, fs_hz=fs_hz, rhythm="af", leads=2).samples]
    for early in ((3,), (3, 7)):                                                            # premature atrial beats
        beats = 0.3 + 0.8 * np.arange(13)
        for k in early:
            beats[k] -= 0.28
        out.append(ecg_from_beats(beats, n, fs_hz, 1, np.random.default_rng(0), fwave_mv=0.0, p_wave_mv=0.15)
                   + np.random.default_rng(1).normal(0, 0.01, n))
    spike = simulate("ecg", 10, seed=8, fs_hz=fs_hz, noise_mv=0.01, heart_rate_bpm=60).samples.copy()
    spike[0, int(4.5 * fs_hz):int(4.5 * fs_hz) + 3] += 1.0                                 # an artefact between beats
    gaps = simulate("ecg", 10, seed=9, fs_hz=fs_hz).samples.copy()
    gaps[0, int(2 * fs_hz):int(2.04 * fs_hz)] = np.nan                                      # bridged
    gaps[0, int(6 * fs_hz):int(7.5 * fs_hz)] = np.nan                                       # a gap
    flat = simulate("ecg", 10, seed=10, fs_hz=fs_hz).samples.copy()
    flat[0, int(1 * fs_hz):int(3 * fs_hz)] = 0.0                                            # lead off
    return out + [spike, gaps, flat]


@pytest.mark.parametrize("fs_hz", [250.0, 300.0, 500.0])
def test_synthetic_windows_publish_what_the_old_path_did(bench, fs_hz):
    outcomes = _check(bench, _synthetic_windows(fs_hz), fs_hz)
    assert None in outcomes and "low_quality" in outcomes   # published windows and withheld ones


def test_cinc2017_windows_publish_what_the_old_path_did(bench):
    import biosig
    folder = shared_path("cinc2017")
    windows = []
    for p in sorted(folder.glob("*.hea"))[::5]:        # 40 records of the 4 classes
        x = biosig.read(p).samples[:1]
        windows += [x[:, s:s + 3000] for s in (0, 3000) if s + 3000 <= x.shape[1]]
    assert len(windows) >= 40
    outcomes = _check(bench, windows, 300.0)
    assert {None, "low_quality"} <= outcomes


def test_mitbih_two_lead_windows_publish_what_the_old_path_did(bench):
    import biosig
    folder = shared_path("pretrain", "ecg", "mitdb")
    windows = []
    for name in ("101", "105", "108", "119", "203", "208", "232"):   # sinus, noise, T waves, PVCs, AF, pauses
        p = folder / f"{name}.hea"
        if p.exists():
            x = biosig.read(p).samples
            windows += [x[:, s:s + 3600] for s in range(0, 12 * 3600, 3600)]
    if not windows:
        pytest.skip(f"no MIT-BIH record of the list in {folder}")
    outcomes = _check(bench, windows, 360.0)
    assert None in outcomes


def test_a_window_is_refined_and_correlated_once(monkeypatch):
    """Gate, measures and doubt check of a one- and a two-lead window: R peaks refined once per lead
    (two ``_r_peaks`` calls: the 0.5-40 Hz and the wander-free band), no beats correlated twice at one
    detrend degree. Before: ``_r_peaks`` 6 calls per lead the measures read, correlations 5 or more."""
    import biosig.ecg_beats as ecg_beats
    import biosig.quality as quality
    from biosig.measures_window import window_measures
    from biosig.synthetic import simulate
    peaks, corr = [], []
    real_peaks, real_corr = quality._r_peaks, quality.beat_correlations

    def counted_peaks(signal, qrs, fs_hz):
        peaks.append(1)
        return real_peaks(signal, qrs, fs_hz)

    def counted_corr(clean, beats, fs_hz, detrend_degree=0):
        corr.append((np.asarray(beats).tobytes(), detrend_degree))
        return real_corr(clean, beats, fs_hz, detrend_degree)
    monkeypatch.setattr(quality, "_r_peaks", counted_peaks)
    monkeypatch.setattr(quality, "beat_correlations", counted_corr)
    for leads, wander in ((1, 0.0), (1, 2.0), (2, 0.0)):
        x = simulate("ecg", 10, seed=21 + leads, leads=leads, baseline_wander_mv=wander).samples
        ecg_beats._recent.entries = []
        peaks.clear(), corr.clear()
        q = quality.block_quality(x, 250.0, "ecg")
        m = window_measures(x, 250.0, "ecg", quality=q)
        assert m["ok"], m
        assert len(peaks) == 2 * leads
        assert len(corr) == len(set(corr)) and len(corr) <= 3 * leads, corr


def test_kept_r_peaks_are_read_only_fresh_for_other_samples_and_rules(monkeypatch):
    import biosig.quality as quality
    from biosig.synthetic import simulate
    x = simulate("ecg", 10, seed=30).samples[0].astype(np.float64)
    a = quality.ecg_window_beats(x, 250.0)
    assert quality.ecg_window_beats(x.copy(), 250.0) is a
    with pytest.raises(ValueError):
        a.beats[0] = 0
    with pytest.raises(ValueError):
        a.correlations()[0] = 0.0
    beats, _ = quality.detect_beats(x, 250.0, "ecg")
    beats[0] = -1                                      # detect_beats' beats stay the caller's own
    assert a.beats[0] >= 0
    y = x.copy()
    y[7] += 1e-9
    assert quality.ecg_window_beats(y, 250.0) is not a
    monkeypatch.setattr(quality, "DETREND_DEGREE", 1)
    b = quality.ecg_window_beats(x, 250.0)
    assert b is not a and b.gate_correlations() is not a.gate_correlations()
