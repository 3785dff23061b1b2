"""Bad inputs to the HRV and window measures give a SignalError, never a silently wrong number."""
import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.measures_hrv import hrv_features, rr_features
from biosig.measures_window import window_measures
from biosig.synthetic import simulate


def test_rr_in_milliseconds_is_refused():
    # 800 ms given as 800 "seconds" read as 0.075 /min
    with pytest.raises(SignalError, match="seconds"):
        rr_features([800, 810, 790, 805, 800])


@pytest.mark.parametrize("rr", [[-0.8, 0.8, 0.8, 0.8], [0.8, 0.0, 0.8, 0.8]])
def test_non_positive_interval_is_refused(rr):
    # [-0.8, 0.8, 0.8, 0.8] gave a heart rate of 150 /min
    with pytest.raises(SignalError, match="positive"):
        rr_features(rr)


def test_text_intervals_are_a_signal_error():
    with pytest.raises(SignalError):
        rr_features(["a", "b", "c", "d"])


def test_valid_intervals_still_measured():
    # oracle: 60 / mean interval
    rr = [0.8, 0.75, 0.8, 0.85]
    assert rr_features(rr)["hr_bpm"] == pytest.approx(60.0 / np.mean(rr))
    # a NaN is a break: the intervals count, the successive differences only between neighbours
    f = rr_features([0.8, np.nan, 0.8, 0.8, 0.9])
    assert f["hr_bpm"] == pytest.approx(60.0 / np.mean([0.8, 0.8, 0.8, 0.9]))
    assert f["rmssd_ms"] == pytest.approx(np.sqrt((0.0 ** 2 + 100.0 ** 2) / 2))
    assert np.isnan(rr_features([0.8, np.nan, 0.8])["hr_bpm"])          # 2 intervals: too few
    assert np.isnan(rr_features([0.8, np.nan, 0.8, np.nan, 0.9])["rmssd_ms"])   # no neighbours


def test_samples_first_window_is_refused():
    rec = simulate("ecg", 10, seed=1)
    x = rec.samples                          # (1, 2500)
    assert np.isfinite(hrv_features(x, rec.fs_hz)["hr_bpm"])
    with pytest.raises(SignalError, match="x.T"):   # was: every value NaN, silently
        hrv_features(x.T, rec.fs_hz)
    with pytest.raises(SignalError, match="x.T"):   # was: missing="low_quality"
        window_measures(x.T, rec.fs_hz, "ecg")


def test_window_measures_unknown_modality():
    rec = simulate("ecg", 10, seed=1)
    # "ekg" was measured as "other": ok=True, quality 1.0, no heart rate and no error
    with pytest.raises(SignalError, match="ecg, ppg"):
        window_measures(rec.samples, rec.fs_hz, "ekg")


@pytest.mark.parametrize("kw", [{"min_quality": "a"}, {"quality": "high"}, {"min_quality": float("nan")}])
def test_window_measures_bad_threshold(kw):
    rec = simulate("ecg", 10, seed=1)
    with pytest.raises(SignalError):
        window_measures(rec.samples, rec.fs_hz, "ecg", **kw)


def test_edr_samples_first_is_refused():
    from biosig.measures_edr import modulation_resp_rate
    rec = simulate("ecg", 40, seed=1)
    assert np.isfinite(modulation_resp_rate(rec.samples, rec.fs_hz, "ecg"))
    with pytest.raises(SignalError, match="x.T"):   # was nan, silently
        modulation_resp_rate(rec.samples.T, rec.fs_hz, "ecg")


def test_quality_and_every_beat_measure_refuse_the_same_shapes():
    """One rule (biosig.arguments.samples_first) for the quality score and the beat measures. A
    (2500, 20) window was refused by block_quality but read by the measures as 2500 channels of 20
    samples (quality 0 and missing: low_quality, silently; NaN features)."""
    from biosig.measures_edr import modulation_resp_rate
    from biosig.quality import block_quality
    rec = simulate("ecg", 10, seed=1)
    x = np.repeat(rec.samples, 20, axis=0)          # (20, 2500): twenty copies of the lead
    for shape_x, refused in ((x, False), (x.T, True), (x[:12, :10], False), (np.zeros((40, 20)), True)):
        calls = (lambda: block_quality(shape_x, rec.fs_hz, "ecg"), lambda: hrv_features(shape_x, rec.fs_hz),
                 lambda: window_measures(shape_x, rec.fs_hz, "ecg"),
                 lambda: modulation_resp_rate(shape_x, rec.fs_hz, "ecg"))
        for call in calls:
            if refused:
                with pytest.raises(SignalError, match="x.T"):
                    call()
            else:
                call()
