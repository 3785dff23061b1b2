"""Filters against scipy: streaming in random chunks == one causal pass; offline == sosfiltfilt."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import signal

from biosig import filters
from biosig.errors import PipelineError, SignalError

FILTERS = [
    ("bandpass", 360.0, dict(low_hz=0.5, high_hz=40.0, order=4)),
    ("highpass", 250.0, dict(low_hz=0.5, order=2)),
    ("lowpass", 125.0, dict(high_hz=8.0, order=5)),
    ("notch", 500.0, dict(freq_hz=50.0, q=30.0)),
    ("bandpass", 25.0, dict(low_hz=0.05, high_hz=1.0, order=2)),
]


def _chunks(x, cuts):
    cuts = sorted(set(int(c) for c in cuts if 0 < c < x.shape[1]))
    return np.split(x, cuts, axis=1)


@settings(max_examples=30, deadline=None)
@given(which=st.integers(0, len(FILTERS) - 1), seed=st.integers(0, 2**31 - 1),
       cuts=st.lists(st.integers(0, 1999), max_size=25), init=st.sampled_from(["steady", "zeros"]))
def test_sos_stream_in_random_chunks_equals_one_causal_pass(which, seed, cuts, init):
    kind, fs, kw = FILTERS[which]
    sos = filters.design_sos(kind, fs, **kw)
    x = (np.random.default_rng(seed).standard_normal((3, 2000)) + 5.0).astype(np.float64)
    stream = filters.SosStream(sos, 3, init=init)
    y = np.concatenate([stream.process(c) for c in _chunks(x, cuts)], axis=1)
    x0 = x[:, 0] if init == "steady" else np.zeros(3)
    zi = signal.sosfilt_zi(sos)[:, None, :] * x0[None, :, None]
    ref = signal.sosfilt(sos, x, axis=-1, zi=zi)[0]
    np.testing.assert_allclose(y, ref, atol=1e-6, rtol=0)


@settings(max_examples=30, deadline=None)
@given(rates=st.sampled_from([(360, 250), (250, 125), (1000, 250), (125, 250), (300, 250), (44100, 16000), (100, 100)]),
       seed=st.integers(0, 2**31 - 1), cuts=st.lists(st.integers(0, 2999), max_size=25))
def test_resample_stream_in_random_chunks_equals_upfirdn(rates, seed, cuts):
    fs_in, fs_out = rates
    x = np.random.default_rng(seed).standard_normal((2, 3000))
    stream = filters.ResampleStream(fs_in, fs_out, 2)
    y = np.concatenate([stream.process(c) for c in _chunks(x, cuts)], axis=1)
    h = filters.resample_fir(stream.up, stream.down)
    ref = signal.upfirdn(h, x, stream.up, stream.down, axis=-1)
    assert y.shape[1] == -(-3000 * stream.up // stream.down)  # resample_poly's length
    np.testing.assert_allclose(y, ref[:, : y.shape[1]], atol=1e-6, rtol=0)
    assert stream.fs_out_hz == pytest.approx(fs_out)


def test_resample_stream_memory_is_bounded_for_a_whole_record_in_one_chunk():
    """score / embed pass a whole record as one chunk: the (C, outputs, taps) gather took 3.5 GiB
    for 10 min of 8 kHz audio (22 GB for an hour). Outputs are computed in blocks now: the same
    numbers as upfirdn, and the peak is a few times the output, not outputs x taps."""
    import tracemalloc
    x = np.random.default_rng(5).standard_normal((1, 8000 * 120))   # 2 min at 8 kHz
    stream = filters.ResampleStream(8000, 16000, 1)
    tracemalloc.start()
    try:
        y = stream.process(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    gather = 2 * y.size * stream.n_taps * 8             # the (C, m, K) inputs and their int64 indices at once
    assert peak < 3 * y.nbytes + 32 * 2**20 and gather > 10 * peak, (peak, gather)
    ref = signal.upfirdn(filters.resample_fir(stream.up, stream.down), x, stream.up, stream.down, axis=-1)
    np.testing.assert_allclose(y, ref[:, : y.shape[1]], atol=1e-9, rtol=0)


@pytest.mark.parametrize("which", range(len(FILTERS)))
def test_offline_equals_sosfiltfilt(which):
    kind, fs, kw = FILTERS[which]
    sos = filters.design_sos(kind, fs, **kw)
    x = np.random.default_rng(which).standard_normal((2, 5000)).astype(np.float32)
    y = filters.sos_filtfilt(sos, x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, signal.sosfiltfilt(sos, x.astype(np.float64), axis=-1), atol=1e-5)


def test_design_matches_scipy_butter_and_iirnotch():
    np.testing.assert_allclose(filters.design_sos("bandpass", 360, low_hz=0.5, high_hz=40, order=4),
                               signal.butter(4, [0.5, 40], "bandpass", fs=360, output="sos"))
    b, a = signal.iirnotch(60.0, 25.0, fs=500)
    w, h1 = signal.sosfreqz(filters.design_sos("notch", 500, freq_hz=60, q=25), fs=500)
    _, h2 = signal.freqz(b, a, worN=w, fs=500)
    np.testing.assert_allclose(np.abs(h1), np.abs(h2), atol=1e-9)


def test_offline_resample_equals_resample_poly_inside():
    """Away from the ends, scipy's resample_poly (its filter; each branch's gain differs from 1 by
    under 1e-3, which ours corrects)."""
    x = np.random.default_rng(1).standard_normal((2, 3600))
    y = filters.resample(x, 360, 250)
    ref = signal.resample_poly(x, 25, 36, axis=-1)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y[:, 300:-300], ref[:, 300:-300], atol=2e-3 * np.abs(ref).max())


@pytest.mark.parametrize("fs_in, fs_out", [(300, 250), (360, 250), (125, 250), (500, 125)])
def test_offline_resample_keeps_an_offset_to_the_ends(fs_in, fs_out):
    """A slow signal on a baseline offset comes out at its true values up to the first and last
    sample; zero padding (resample_poly's default) pulled the ends towards 0."""
    t_in = np.arange(int(8 * fs_in)) / fs_in
    truth = lambda t: 1.0 + 0.3 * np.sin(2 * np.pi * 1.1 * t + 0.4) + 0.05 * t   # noqa: E731
    y = filters.resample(truth(t_in)[None, :], fs_in, fs_out)[0]
    t_out = np.arange(len(y)) / fs_out
    inside = t_out <= t_in[-1]
    np.testing.assert_allclose(y[inside], truth(t_out[inside]), atol=2e-3)
    plain = signal.resample_poly(truth(t_in), *filters.resample_ratio(fs_in, fs_out))
    head = slice(0, int(0.02 * fs_out))   # the first 20 ms: the old way was wrong there, so the test can fail
    assert np.abs(plain[head] - truth(t_out[head])).max() > 0.05
    const = filters.resample(np.full((1, 1000), -0.8, dtype=np.float32), fs_in, fs_out)
    assert const.dtype == np.float32
    np.testing.assert_allclose(const, -0.8, atol=1e-6)


def test_nan_gap_is_not_smeared_offline():
    fs = 250.0
    sos = filters.design_sos("bandpass", fs, low_hz=0.5, high_hz=40)
    t = np.arange(5000) / fs
    x = np.sin(2 * np.pi * 5 * t)[None, :].astype(np.float32)
    x[0, 2000:2100] = np.nan
    x[0, 4990:4995] = np.nan  # leaves a 5-sample run at the end: too short to filter
    y = filters.sos_filtfilt(sos, x)
    assert np.isnan(y[0, 2000:2100]).all()
    assert np.isfinite(y[0, :2000]).all() and np.isfinite(y[0, 2100:4990]).all()
    assert np.isnan(y[0, 4995:]).all()  # too short: NaN, never a made-up value
    # each run equals filtering that run alone
    np.testing.assert_allclose(y[0, 2100:4990], signal.sosfiltfilt(sos, x[0, 2100:4990].astype(np.float64)), atol=1e-5)


def test_nan_gap_in_stream_restarts_filter_and_keeps_nan():
    fs = 250.0
    sos = filters.design_sos("highpass", fs, low_hz=1.0)
    x = np.random.default_rng(0).standard_normal((2, 3000))
    x[0, 1000:1200] = np.nan
    stream = filters.SosStream(sos, 2)
    y = np.concatenate([stream.process(c) for c in _chunks(x, [500, 1100, 1700, 2500])], axis=1)
    assert np.isnan(y[0, 1000:1200]).all() and np.isfinite(y[0, :1000]).all() and np.isfinite(y[0, 1200:]).all()
    assert np.isfinite(y[1]).all()
    after = x[0, 1200:]
    ref = signal.sosfilt(sos, after, zi=signal.sosfilt_zi(sos) * after[0])[0]
    np.testing.assert_allclose(y[0, 1200:], ref, atol=1e-9)


def test_nan_in_resample_stream_is_bounded():
    x = np.random.default_rng(0).standard_normal((1, 6000))
    x[0, 3000:3010] = np.nan
    stream = filters.ResampleStream(360, 250, 1)
    y = np.concatenate([stream.process(c) for c in _chunks(x, [1000, 3005, 4000])], axis=1)
    bad = np.flatnonzero(np.isnan(y[0]))
    assert len(bad) > 0
    assert bad.min() >= 3000 * 250 // 360 - 1
    assert bad.max() <= (3010 + stream.n_taps) * 250 // 360 + 1
    assert np.isfinite(y[0, -500:]).all()


def test_offline_resample_keeps_gaps():
    x = np.sin(np.arange(3600) / 20.0)[None, :]
    x[0, 1800:1900] = np.nan
    y = filters.resample(x, 360, 250)
    assert np.isnan(y[0, 1250:1319]).all()
    assert np.isfinite(y[0, :1240]).all() and np.isfinite(y[0, 1330:]).all()


def test_bad_filter_parameters_name_the_value():
    with pytest.raises(PipelineError, match="high_hz=200"):
        filters.design_sos("lowpass", 250, high_hz=200)
    with pytest.raises(PipelineError, match="below"):
        filters.design_sos("bandpass", 250, low_hz=40, high_hz=10)
    with pytest.raises(PipelineError, match="bandpass, highpass, lowpass, notch"):
        filters.design_sos("bandstop", 250, low_hz=1, high_hz=2)
    with pytest.raises(SignalError, match="positive"):
        filters.design_sos("lowpass", 0, high_hz=1)
    with pytest.raises(SignalError, match="channels"):
        filters.SosStream(filters.design_sos("lowpass", 100, high_hz=10), 2).process(np.zeros((3, 5)))
