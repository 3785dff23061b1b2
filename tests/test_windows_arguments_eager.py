"""windows() checks its arguments when called, not at the first next()."""
import pytest

from biosig.errors import SignalError
from biosig.synthetic import simulate
from biosig.windows import window_bounds, windows


@pytest.mark.parametrize("args", [(0,), (10, -1), (float("nan"),)])
def test_windows_checks_at_call(args):
    rec = simulate("ecg", 30, seed=1)
    with pytest.raises(SignalError):
        windows(rec, *args)           # no iteration


def test_window_bounds_checks_rate():
    with pytest.raises(SignalError, match="fs_hz"):
        window_bounds(100, "a", 1.0)   # was a TypeError


def test_windows_still_cut():
    rec = simulate("ecg", 30, seed=1)
    got = list(windows(rec, 10, 5))
    assert [(a, b) for a, b, _ in got] == [(0.0, 10.0), (5.0, 15.0), (10.0, 20.0), (15.0, 25.0), (20.0, 30.0)]
