"""ECG window HRV with premature beats and artefacts taken for beats (10 s windows, 250 Hz).

Oracle: the generator's beat times (:func:`biosig.synthetic_af.ecg_from_beats`, P waves on), with NumPy
RMSSD. Before: one or two atrial premature complexes (normal shape) gave RMSSD 101-443 ms for 14-39;
a sharp 1 mV spike between two beats was published (60 /min: heart rate 66.5 for 59.8, RMSSD 259 ms
for 35); RMSSD was published from two successive differences."""
import numpy as np
import pytest

from biosig.measures_hrv import rr_features
from biosig.measures_window import window_measures
from biosig.synthetic_af import ecg_from_beats

FS_HZ, N = 250.0, 2500


def _rmssd_ms(iv_s):
    d = np.diff(iv_s)
    d = d[np.isfinite(d)]
    return 1000.0 * np.sqrt(np.mean(d ** 2))


def _sinus_beats(rate_bpm, seed, jitter=0.04):
    rng = np.random.default_rng(seed)
    rr = 60 / rate_bpm + rng.normal(0, jitter * 60 / rate_bpm, 40)
    beats = np.cumsum(rr) - rr[0] + 0.3
    return beats[beats < 9.9]


def _ecg(beats_s, p_wave_mv=0.15):
    x = ecg_from_beats(beats_s, N, FS_HZ, 1, np.random.default_rng(0), fwave_mv=0.0, p_wave_mv=p_wave_mv)[0]
    return x + np.random.default_rng(1).normal(0, 0.01, N)


@pytest.mark.parametrize("rate_bpm", [60, 90, 120])
@pytest.mark.parametrize("n_apc", [1, 2])
def test_rmssd_leaves_out_the_premature_beats_intervals(rate_bpm, n_apc):
    beats = _sinus_beats(rate_bpm, rate_bpm)
    truth = np.diff(beats)
    for k in [3, 7][:n_apc]:                      # 35 % early, normal shape
        beats[k] = beats[k - 1] + 0.65 * (beats[k] - beats[k - 1])
    nn = np.diff(beats)
    for k in [3, 7][:n_apc]:
        nn[k - 1] = nn[k] = np.nan
    m = window_measures(_ecg(beats), FS_HZ, "ecg")
    assert m["ok"], m["missing"]
    assert m["hr_bpm"] == pytest.approx(60 / np.mean(np.diff(beats)), rel=0.02)   # every beat counts
    if np.isfinite(np.diff(nn)).sum() < 3:   # two APCs at 60 /min leave two NN differences: none published
        assert m["rmssd_ms"] is None
        return
    assert m["rmssd_ms"] == pytest.approx(_rmssd_ms(nn), rel=0.12)
    assert m["rmssd_ms"] < 2 * _rmssd_ms(truth)


@pytest.mark.parametrize("seed", range(4))
def test_an_irregular_rhythm_keeps_its_early_beats(seed):
    """AF (no P waves, intervals CV 0.2): a short interval followed by a longer one is no premature
    beat there; every interval stays in the variability (the AF heads read it)."""
    rng = np.random.default_rng(seed)
    rr = np.clip(rng.normal(0.7, 0.14, 30), 0.35, 1.4)
    beats = np.cumsum(rr) - rr[0] + 0.3
    beats = beats[beats < 9.9]
    m = window_measures(_ecg(beats, p_wave_mv=0.0), FS_HZ, "ecg")
    assert m["ok"], m["missing"]
    assert m["rmssd_ms"] == pytest.approx(_rmssd_ms(np.diff(beats)), rel=0.05)


@pytest.mark.parametrize("rate_bpm", [60, 90, 120])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_spike_between_two_beats_is_not_published_as_a_beat(rate_bpm, seed):
    beats = _sinus_beats(rate_bpm, seed)
    t = np.arange(N) / FS_HZ
    at_s = (beats[3] + beats[4]) / 2 + 0.1 * (beats[4] - beats[3])
    x = _ecg(beats) + 1.0 * np.exp(-0.5 * ((t - at_s) / 0.008) ** 2)
    m = window_measures(x, FS_HZ, "ecg")
    if m["ok"]:   # only where the spike was not taken for a beat
        assert m["hr_bpm"] == pytest.approx(60 / np.mean(np.diff(beats)), rel=0.02)
        assert m["rmssd_ms"] == pytest.approx(_rmssd_ms(np.diff(beats)), rel=0.25)
    else:
        assert m["missing"] == "uncertain_beats"


@pytest.mark.parametrize("rate_bpm", [40, 60, 80, 100, 120, 140, 160, 180])
def test_clean_sinus_windows_stay_published(rate_bpm):
    for seed in range(2):
        beats = _sinus_beats(rate_bpm, seed)
        m = window_measures(_ecg(beats), FS_HZ, "ecg")
        assert m["ok"], (seed, m["missing"])
        assert m["rmssd_ms"] == pytest.approx(_rmssd_ms(np.diff(beats)), rel=0.15)


def test_window_rmssd_needs_three_successive_differences():
    """Window measures (min_diffs=MIN_NN_DIFFS): four beats (two differences) give the heart rate and
    SDNN, not the successive-difference statistics; rr_features' default still needs two."""
    from biosig.measures_hrv import MIN_NN_DIFFS
    assert MIN_NN_DIFFS == 3
    few = rr_features([0.8, 0.9, 0.8], min_diffs=MIN_NN_DIFFS)
    assert few["hr_bpm"] == pytest.approx(60 / np.mean([0.8, 0.9, 0.8]))
    assert np.isfinite(few["sdnn_ms"])
    for k in ("rmssd_ms", "sdsd_ms", "pnn50_pct", "sd1_ms", "madsd_norm"):
        assert np.isnan(few[k]), k
    assert rr_features([0.8, 0.9, 0.8])["rmssd_ms"] == pytest.approx(_rmssd_ms([0.8, 0.9, 0.8]))
    four = [0.8, 0.9, 0.8, 0.85]
    assert rr_features(four, min_diffs=MIN_NN_DIFFS)["rmssd_ms"] == pytest.approx(_rmssd_ms(four))


def test_a_window_with_four_beats_in_its_run_publishes_no_rmssd():
    """A 2.5 s gap (3.3-5.8 s) leaves a run of 4 beats at 60 /min: RMSSD from their two differences
    was published (4 ms for 45)."""
    beats = _sinus_beats(60, 1)
    x = _ecg(beats)
    x[int(3.3 * FS_HZ):int(5.8 * FS_HZ)] = np.nan
    assert np.sum(beats > 5.8) == 4
    m = window_measures(x, FS_HZ, "ecg")
    assert m["ok"], m["missing"]
    assert m["hr_bpm"] == pytest.approx(60 / np.mean(np.diff(beats[beats > 5.8])), rel=0.03)
    assert m["rmssd_ms"] is None and m["sd1_ms"] is None
