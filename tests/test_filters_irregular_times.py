"""Zero-phase filtering of a record with irregular sample times: scipy on the true time axis is the oracle.

A 60 s, 250 Hz ECG whose rows of 13-15 s were dropped. :func:`biosig.filters.sos_filtfilt` of the
samples by index (what the pipeline's filter steps do with ``rec.samples``) joins the two sides of
the hole and rings there (0.23 mV on a 2.5 mV ECG). On the record's uniform grid
(:func:`biosig.windows.uniform_record`) the hole is a NaN gap and each side is filtered on its own,
as scipy does with the true signal.
"""
import numpy as np
import pytest
from scipy import signal

from biosig.filters import design_sos, sos_filtfilt
from biosig.record import Record
from biosig.synthetic import simulate_ecg
from biosig.windows import uniform_record

FS_HZ = 250.0


@pytest.fixture(scope="module")
def holed():
    x = simulate_ecg(60, seed=0, fs_hz=FS_HZ).samples[0].astype(np.float64)
    t = np.arange(x.size) / FS_HZ
    keep = ~((t >= 13.0) & (t < 15.0))
    return Record(samples=x[keep][None], fs_hz=FS_HZ, channels=("ECG",), times_s=t[keep]), x


def test_filtering_on_the_uniform_grid_filters_each_side_of_a_hole_as_scipy(holed):
    rec, x = holed
    sos = design_sos("bandpass", FS_HZ, low_hz=0.5, high_hz=40.0)
    x32 = x.astype(np.float32).astype(np.float64)                         # the record holds float32
    a, b = int(13.0 * FS_HZ), int(15.0 * FS_HZ)
    oracle = np.concatenate([signal.sosfiltfilt(sos, x32[:a]), np.full(b - a, np.nan),
                             signal.sosfiltfilt(sos, x32[b:])])
    grid = uniform_record(rec)
    assert grid.times_s is None and grid.n_samples == len(x)
    np.testing.assert_allclose(sos_filtfilt(sos, grid.samples)[0], oracle, atol=2e-5, equal_nan=True)
    by_index = sos_filtfilt(sos, rec.samples)[0]                           # the two sides as neighbours
    assert np.abs(by_index[a - 125:a] - oracle[a - 125:a]).max() > 0.1


def test_uniform_record_keeps_a_record_without_times(holed):
    _, x = holed
    rec = Record(samples=x[None], fs_hz=FS_HZ, channels=("ECG",))
    assert uniform_record(rec) is rec


def test_the_pipeline_refuses_to_filter_irregular_times_and_filters_their_grid(holed):
    """A filter step on a record with a hole in time is refused (by index it filtered the two sides
    as neighbours); on :func:`uniform_record` it equals scipy on each side."""
    from biosig.errors import PipelineError
    from biosig.pipeline import Pipeline
    rec, x = holed
    pipe = Pipeline.of(("bandpass", {"low_hz": 0.5, "high_hz": 40.0}))
    with pytest.raises(PipelineError, match="irregular sample times"):
        pipe.apply(rec)
    sos = design_sos("bandpass", FS_HZ, low_hz=0.5, high_hz=40.0)
    x32 = x.astype(np.float32).astype(np.float64)
    a, b = int(13.0 * FS_HZ), int(15.0 * FS_HZ)
    out = pipe.apply(uniform_record(rec)).samples[0]
    np.testing.assert_allclose(out[:a], signal.sosfiltfilt(sos, x32[:a]), atol=2e-5)
    np.testing.assert_allclose(out[b:], signal.sosfiltfilt(sos, x32[b:]), atol=2e-5)
    assert np.isnan(out[a:b]).all()
