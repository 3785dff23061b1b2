"""Record refuses values it would store wrongly."""
import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.record import Record


def test_ragged_rows():
    with pytest.raises(SignalError, match="equal length"):
        Record([[1, 2, 3], [1, 2]], 10, ("a", "b"))


def test_values_beyond_float32():
    # 1e300 was stored as inf with only a RuntimeWarning
    with pytest.raises(SignalError, match="float32"):
        Record(np.array([[0.0, 1e300]]), 10, ("a",))
    rec = Record(np.array([[0.0, np.inf, np.nan, 3e38]]), 10, ("a",))   # inf given stays inf
    assert np.isinf(rec.samples[0, 1]) and np.isnan(rec.samples[0, 2])


def test_bool_rate():
    with pytest.raises(SignalError, match="sampling rate"):
        Record(np.zeros(3), True, ("a",))


@pytest.mark.parametrize("times", [[0.0, 2.0, 1.0], [0.0, 0.0, 1.0], [0.0, np.nan, 1.0]])
def test_times_must_increase(times):
    with pytest.raises(SignalError, match="strictly increasing"):
        Record(np.zeros(3), 10, ("a",), times_s=times)


def test_replace_unknown_field():
    rec = Record(np.zeros(3), 10, ("a",))
    with pytest.raises(SignalError, match="fs_hz"):
        rec.replace(fs=20)
    assert rec.replace(fs_hz=20).fs_hz == 20.0
