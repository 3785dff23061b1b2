"""Filters on integer samples (ADC counts) against SciPy; bad filter designs give PipelineError."""
import numpy as np
import pytest
from scipy import signal

from biosig import filters
from biosig.errors import PipelineError


@pytest.fixture
def counts():
    return (np.random.default_rng(0).standard_normal((2, 2000)) * 100).astype(np.int16)


def test_filtfilt_of_int_samples_is_not_truncated(counts):
    sos = filters.design_sos("bandpass", 250, low_hz=0.5, high_hz=40)
    ref = signal.sosfiltfilt(sos, counts.astype(np.float64), axis=-1)
    out = filters.sos_filtfilt(sos, counts)
    assert out.dtype.kind == "f"                   # was int16: every sample truncated
    np.testing.assert_allclose(out, ref, atol=1e-9)


def test_stream_of_int_samples_is_not_truncated(counts):
    sos = filters.design_sos("lowpass", 250, high_hz=40)
    zi = signal.sosfilt_zi(sos)[:, None, :] * counts[:, 0].astype(np.float64)[None, :, None]
    ref = signal.sosfilt(sos, counts.astype(np.float64), axis=-1, zi=zi)[0]
    s = filters.SosStream(sos, 2)
    out = np.concatenate([s.process(counts[:, i:i + 300]) for i in range(0, 2000, 300)], axis=1)
    assert out.dtype.kind == "f"
    np.testing.assert_allclose(out, ref, atol=1e-9)


@pytest.mark.parametrize("order", [2.5, "a", 0, True])
def test_non_integer_order_is_refused(order):
    # order=2.5 silently designed order 2; "a" was a ValueError
    with pytest.raises(PipelineError, match="order"):
        filters.design_sos("lowpass", 250, high_hz=40, order=order)


def test_text_frequency_and_q_are_pipeline_errors():
    with pytest.raises(PipelineError, match="low_hz"):
        filters.design_sos("bandpass", 250, low_hz="1", high_hz=40)   # was a TypeError from np.isfinite
    with pytest.raises(PipelineError, match="q="):
        filters.design_sos("notch", 250, freq_hz=50, q="a")
