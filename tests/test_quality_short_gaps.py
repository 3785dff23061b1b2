"""Short losses (a few samples every few seconds, a lossy radio link): quality and the beat measures
bridge gaps of at most SHORT_GAP_S instead of reading only the longest gap-free run, and never
publish an interval that a bridged gap could have cut in two."""
import numpy as np
import pandas as pd
import pytest
import wfdb

import biosig
from biosig.flatline import SHORT_GAP_S, bridge_short_gaps, measured_run
from biosig.measures_hrv import beat_intervals
from biosig.measures_window import measured_span_s, window_measures
from biosig.quality import USABLE, block_quality
from biosig.synthetic import simulate
from conftest import shared_path


def _oracle_bridge(x, n_max):
    """pandas' linear interpolation inside the signal, kept only on NaN runs of at most n_max."""
    filled = pd.Series(x).interpolate(method="linear", limit_area="inside").to_numpy()
    out = np.array(x, dtype=np.float64)
    isnan = np.isnan(out)
    k = 0
    while k < len(out):
        if isnan[k]:
            j = k
            while j < len(out) and isnan[j]:
                j += 1
            if j - k <= n_max:
                out[k:j] = filled[k:j]
            k = j
        else:
            k += 1
    return out


def test_bridge_short_gaps_matches_pandas_interpolation_on_the_short_gaps_only():
    rng = np.random.default_rng(3)
    fs_hz = 250.0
    x = rng.normal(size=2000)
    for a, n in [(0, 4), (100, 1), (300, 15), (301 + 40, 16), (700, 40), (1990, 10)]:
        x[a:a + n] = np.nan              # at the start, single, 15 = 60 ms (bridged), 16, 40, at the end
    got = bridge_short_gaps(x, fs_hz)
    want = _oracle_bridge(x, int(SHORT_GAP_S * fs_hz))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(got[:4]).all() and np.isnan(got[-10:]).all() and np.isnan(got[341:357]).all()
    assert np.isfinite(got[300:315]).all()
    run, bridged = measured_run(x, fs_hz)
    assert len(run) == 1990 - 740 and bridged.sum() == 0            # the longest run: 740 .. 1989
    assert not np.shares_memory(got, x)


def _losses(x, fs_hz, every_s, n):
    y = np.array(x, dtype=np.float64)
    for s in np.arange(1.0, len(y) / fs_hz, every_s):
        i = int(s * fs_hz)
        y[i:i + n] = np.nan
    return y


@pytest.mark.parametrize("modality", ["ecg", "ppg"])
def test_a_few_lost_samples_every_few_seconds_leave_a_clean_window_usable(modality):
    """Before, the longest gap-free run (2.8 s) was under 3 s: quality 0 and no heart rate."""
    rec = simulate(modality, 10, seed=4)
    fs_hz, x = rec.fs_hz, rec.samples[0].astype(np.float64)
    y = _losses(x, fs_hz, 2.8, 3)
    q_clean, q_lossy = block_quality(x, fs_hz, modality), block_quality(y, fs_hz, modality)
    frac = float(np.isfinite(y).mean())
    assert q_clean > USABLE[modality]
    assert q_lossy >= USABLE[modality] and abs(q_lossy - q_clean * frac) < 0.03
    m_clean, m_lossy = window_measures(x, fs_hz, modality), window_measures(y, fs_hz, modality)
    assert m_lossy["ok"] and abs(m_lossy["hr_bpm"] - m_clean["hr_bpm"]) < 2.0
    assert measured_span_s(y, fs_hz, modality) == pytest.approx(10.0, abs=1.0 / fs_hz)


def test_a_gap_longer_than_the_bridge_still_cuts_the_window():
    rec = simulate("ecg", 10, seed=4)
    fs_hz, x = rec.fs_hz, rec.samples[0].astype(np.float64)
    n = int(np.ceil(0.08 * fs_hz))                   # 80 ms, longer than SHORT_GAP_S
    y = _losses(x, fs_hz, 2.8, n)
    assert block_quality(y, fs_hz, "ecg") == 0.0     # no gap-free run of 3 s
    assert not window_measures(y, fs_hz, "ecg")["ok"]


def test_beat_intervals_drop_the_intervals_across_a_bridged_sample():
    beats = np.array([10, 110, 210, 310, 410])
    bridged = np.zeros(500, bool)
    bridged[150:153] = True                          # between beats 110 and 210
    bridged[310] = True                              # on beat 310: the intervals on both sides go
    got = beat_intervals(beats, 100.0, bridged)
    np.testing.assert_array_equal(got, [1.0, np.nan, np.nan, np.nan])   # 10 -> 110 only; the others are breaks
    np.testing.assert_allclose(beat_intervals(beats, 100.0), [1.0] * 4)


def test_losses_on_the_r_peaks_publish_no_heart_rate_rather_than_half_of_it():
    """MIT-BIH 100: 40 ms lost on every other R peak (its .atr annotations). Bridged, those beats
    vanish and every interval doubles: 37 /min for 74 with quality 0.94. The intervals across a
    bridged gap are dropped, so no heart rate is published; losses between the beats keep it."""
    path = shared_path("wfdb", "100.hea")
    rec = biosig.read(str(path)[:-4])
    fs_hz = rec.fs_hz
    x = rec.samples[0, :int(10 * fs_hz)].astype(np.float64)
    ann = wfdb.rdann(str(path)[:-4], "atr")
    r = ann.sample[(ann.sample < len(x)) & np.isin(ann.symbol, ["N", "A", "V"])]
    n = int(0.04 * fs_hz)
    on_peaks = x.copy()
    for i in r[::2]:
        on_peaks[i - n // 2:i - n // 2 + n] = np.nan
    m = window_measures(on_peaks, fs_hz, "ecg")
    assert not m["ok"] and m["hr_bpm"] is None
    between = x.copy()
    for a, b in zip(r[:-1:2], r[1::2]):
        mid = (a + b) // 2
        between[mid:mid + n] = np.nan
    m = window_measures(between, fs_hz, "ecg")
    truth = 60.0 / float(np.mean(np.diff(r) / fs_hz))
    assert m["ok"] and abs(m["hr_bpm"] - truth) < 3.0
    # every other interval is a break: no two neighbouring intervals, so no successive differences
    assert m["rmssd_ms"] is None and m["sdnn_ms"] is not None
