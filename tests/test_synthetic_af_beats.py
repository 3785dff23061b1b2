"""biosig.synthetic_af.ecg_from_beats / ppg_from_beats with beats left out: a pause is baseline, never NaN.

Oracle: the beat times the signal is built on (each R peak is the largest deflection within 30 ms of
its beat), and the same generator with no beats at all (the f-waves alone: they draw the same random
numbers whatever the beats)."""
import numpy as np
import pytest

from biosig.synthetic_af import ecg_from_beats, ppg_from_beats

FS_HZ = 250.0


def _ecg(beats_s, n, seed=0):
    return ecg_from_beats(np.asarray(beats_s, dtype=np.float64), n, FS_HZ, 2, np.random.default_rng(seed))


def _r_peaks_where_they_were(x, beats_s):
    r = int(0.03 * FS_HZ)
    for b in beats_s:
        k = int(round(b * FS_HZ))
        if r <= k < x.shape[1] - r:
            assert abs(int(np.argmax(x[0, k - r:k + r + 1])) - r) <= 1, b


@pytest.mark.parametrize("mark", ["dropped", "nan"])
def test_a_beat_left_out_of_a_regular_rhythm_is_a_pause_of_baseline(mark):
    beats = np.arange(-1.0, 11.0, 0.8)
    n, k = int(10 * FS_HZ), 7                   # beat 7 at 4.6 s
    left = np.delete(beats, k) if mark == "dropped" else np.where(np.arange(len(beats)) == k, np.nan, beats)
    x, full, fwaves = _ecg(left, n), _ecg(beats, n), _ecg([], n)
    assert np.isfinite(x).all()
    _r_peaks_where_they_were(x, np.delete(beats, k))
    c = int(round(beats[k] * FS_HZ))
    pause = slice(c - int(0.1 * FS_HZ), c + int(0.1 * FS_HZ))   # where beat 7's QRS was
    assert np.abs(full[0, pause]).max() > 0.5                           # the beat is there with every beat ...
    assert np.abs(x[:, pause] - fwaves[:, pause]).max() < 1e-3          # ... and gone: f-waves on the baseline
    np.testing.assert_array_equal(x, _ecg(np.delete(beats, k), n))      # NaN or dropped: the same signal


def test_one_beat_left_is_one_complex_on_the_baseline():
    """Two beats, one left out: the last gave 2.5 s of NaN (no interval for its T wave)."""
    n = int(10 * FS_HZ)
    for beats in ([5.0], [2.0, 5.0][1:], [5.0, np.nan]):
        x = _ecg(beats, n)
        assert np.isfinite(x).all(), beats
        assert int(np.argmax(x[0])) == int(5.0 * FS_HZ)
        far = np.r_[0:int(3.5 * FS_HZ), int(6.5 * FS_HZ):n]             # away from the complex: f-waves only
        assert np.abs(x[:, far] - _ecg([], n)[:, far]).max() < 1e-6
    assert np.isfinite(_ecg([], n)).all()
    p = ppg_from_beats(np.array([5.0]), n, FS_HZ)
    assert np.isfinite(p).all() and abs(int(np.argmax(p)) - int(5.18 * FS_HZ)) <= 1


def test_a_nan_beat_at_a_block_edge_loses_no_other_beat():
    """Beats are laid down 64 at a time: a NaN among them took its block's beats away and made the
    next block NaN (its first beat's interval)."""
    beats = 0.2 + 0.4 * np.arange(65)                  # 26 s: beat 63 ends the first block
    n = int(27 * FS_HZ)
    left = beats.copy()
    left[63] = np.nan
    x = _ecg(left, n)
    assert np.isfinite(x).all()
    _r_peaks_where_they_were(x, np.delete(beats, 63))
    assert np.abs(x[0, [int(round(b * FS_HZ)) for b in beats[:63]]]).min() > 0.5   # every R wave of the block
    p = ppg_from_beats(left, n, FS_HZ)
    assert np.isfinite(p).all()
    np.testing.assert_array_equal(p, ppg_from_beats(np.delete(beats, 63), n, FS_HZ))


def test_beats_out_of_order_are_laid_down_in_order():
    """An interval was the difference of neighbours as given: out of order, a negative one made its
    T wave NaN."""
    from biosig.synthetic_af import af_beat_times
    beats = af_beat_times(10.0, 100.0, 0.2, np.random.default_rng(3))
    x = _ecg(beats, int(10 * FS_HZ), seed=4)
    np.testing.assert_array_equal(x, _ecg(beats[::-1], int(10 * FS_HZ), seed=4))
    _r_peaks_where_they_were(x, beats)
