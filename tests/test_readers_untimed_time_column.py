"""A header-less table read at a stated rate whose first column is a time (``0``, ``0.004``, ``0.008``
... at 250 Hz, in seconds or milliseconds) is read with those times, never as a channel ``ch1``; under
a header that does not name it a time it is refused naming it; plain channels read as before. The
values are checked against numpy's own reading of the file."""
from __future__ import annotations

import numpy as np
import pytest

from biosig.cli import main
from biosig.errors import ReadError
from biosig.readers import read
from biosig.readers.untimed import time_column_unit


def _signals(n=750, fs=250.0, seed=0):
    t = np.arange(n) / fs
    rng = np.random.default_rng(seed)
    return t, np.c_[np.sin(2 * np.pi * 1.2 * t), rng.normal(size=n)].round(5)


@pytest.mark.parametrize("per_s, fmt, t0_s", [(1.0, "%.6f", 0.0), (1000.0, "%.3f", 0.0), (1.0, "%.6f", 12.5),
                                               (1000.0, "%.1f", 3600.0)])
def test_a_first_column_of_times_is_the_tables_times_not_a_channel(tmp_path, per_s, fmt, t0_s):
    t, x = _signals()
    path = tmp_path / "bare.csv"
    np.savetxt(path, np.c_[(t + t0_s) * per_s, x], fmt=[fmt, "%.5f", "%.5f"], delimiter=",")
    rec = read(path, sample_rate_hz=250)
    expected = np.loadtxt(path, delimiter=",")
    assert rec.channels == ("ch1", "ch2") and rec.fs_hz == 250.0 and rec.n_samples == 750
    np.testing.assert_array_equal(rec.samples, expected[:, 1:].T.astype(np.float32))   # no time among them
    assert rec.metadata["first_time_s"] == pytest.approx(expected[0, 0] / per_s)
    assert rec.times_s is None


def test_rounded_times_of_a_rate_they_do_not_print_exactly(tmp_path):
    """256 Hz written with 3 decimals: steps of 3 and 4 ms, a time column all the same."""
    t = np.arange(1024) / 256.0
    path = tmp_path / "rounded.txt"
    np.savetxt(path, np.c_[t, np.cos(t)], fmt=["%.3f", "%.6f"], delimiter="\t")
    rec = read(path, sample_rate_hz=256)
    assert rec.channels == ("ch1",)
    np.testing.assert_allclose(rec.samples[0], np.loadtxt(path)[:, 1].astype(np.float32))
    assert rec.fs_hz == pytest.approx(256, rel=1e-3)


def test_the_cli_reads_it_with_the_stated_rate(tmp_path, capsys):
    t, x = _signals()
    path = tmp_path / "bare.csv"
    np.savetxt(path, np.c_[t, x], fmt="%.6f", delimiter=",")
    assert main(["info", str(path), "--sample-rate-hz", "250", "--no-quality"]) == 0
    out = capsys.readouterr().out
    assert "ch2" in out and "ch3" not in out and "3.00 s" in out


def test_under_a_header_that_does_not_name_it_a_time_it_is_refused_naming_it(tmp_path):
    t, x = _signals()
    path = tmp_path / "headed.csv"
    np.savetxt(path, np.c_[t * 1000, x], fmt="%.3f", delimiter=",", header="x,ecg,resp", comments="")
    with pytest.raises(ReadError, match=r"column 'x' rises by 4 ms a row, the sample interval of the stated "
                                        r"250 Hz: a time column, not a channel; name it with its unit \(t_ms\)"):
        read(path, sample_rate_hz=250)


def test_a_lone_time_column_is_refused(tmp_path):
    path = tmp_path / "times.csv"
    np.savetxt(path, np.arange(100) / 100.0, fmt="%.2f")
    with pytest.raises(ReadError, match="its only column rises by 0.01 s a row.*a time column without channels"):
        read(path, sample_rate_hz=100)


def test_plain_channels_stay_channels(tmp_path):
    """Bare values, a ramp at another step, and a rising signal whose steps vary (a forced expiration's
    volume, whose mean step is the ms interval of the stated rate) are channels, read as numpy reads them."""
    _, x = _signals()
    rise = 6000 * (1 - np.exp(-np.arange(600) / 100.0))    # mL at 100 Hz: mean step about 10 mL
    cases = [(x, 250), (np.c_[np.arange(750) * 0.5, x], 250), (np.c_[rise, rise / 2], 100)]
    for i, (values, rate) in enumerate(cases):
        path = tmp_path / f"plain{i}.csv"
        np.savetxt(path, values, fmt="%.5f", delimiter=",")
        rec = read(path, sample_rate_hz=rate)
        assert rec.channels == tuple(f"ch{k + 1}" for k in range(values.shape[1])) and rec.fs_hz == rate
        np.testing.assert_array_equal(rec.samples, np.loadtxt(path, delimiter=",").T.astype(np.float32))


@pytest.mark.parametrize("values, rate, unit", [
    ([0, 0.004, 0.008, 0.012], 250, "s"), ([0, 4, 8, 12], 250, "ms"), ([0, 1, 2, 3], 1000, "ms"),
    ([0, 0.004, 0.008, 0.016, 0.020, 0.024, 0.028, 0.032, 0.036, 0.040, 0.044], 250, "s"),   # one missing sample
    ([0, 0.004, 0.004, 0.008], 250, None), ([0, 0.004, 0.002, 0.008], 250, None), ([0, 0.004], 250, None),
    ([0, 2, 4, 6], 250, None), ([0, 0.004, np.nan, 0.012], 250, None),
])
def test_time_column_unit(values, rate, unit):
    assert time_column_unit(values, rate) == unit
