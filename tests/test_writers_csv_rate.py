"""A CSV written by biosig reads back at the rate it was written at, bit for bit.

The CSV holds no rate, only ``t_s`` (``arange(n) / fs_hz`` written to the shortest decimal that reads
back to the same float). The writer loses nothing (pandas reads the column back equal to the NumPy
grid); the table reader took the median step to 6 significant digits: 1000/3 Hz read back as 333.333.

Still open (outside this change, biosig/readers/surrogates.py): a CSV whose columns carry a length unit
(``m1_x [mm]``, what ``biosig simulate motion`` writes) is read by the surrogate reader, which takes
1 / median step (10 Hz read 9.999999999999858) and keeps the regular times as irregular ones."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

import biosig
from biosig.readers.tables import exact_rate_hz
from biosig.record import Record
from biosig.writers import write

RATES_HZ = [10.0, 25.0, 62.5, 250.0, 360.0, 1000 / 3]


def _record(fs_hz, n, start=None, units=("g", "g", "g")):
    x = np.random.default_rng(0).normal(size=(3, n)).astype(np.float32)
    return Record(samples=x, fs_hz=fs_hz, channels=("ax", "ay", "az"), units=units, modality="motion",
                  start_time=start)


@pytest.mark.parametrize("fs_hz", RATES_HZ)
@pytest.mark.parametrize("start", [None, dt.datetime(2024, 5, 6, 7, 8, 9, 250000)])
@pytest.mark.parametrize("seconds", [0.5, 7.3, 600.0])
def test_a_written_csv_reads_back_at_the_written_rate(tmp_path, fs_hz, start, seconds):
    rec = _record(fs_hz, max(2, int(seconds * fs_hz)), start)
    path = write(rec, tmp_path / "m.csv")
    # the writer keeps the grid: pandas reads the times back equal to the NumPy twin of Record.t_s
    np.testing.assert_array_equal(pd.read_csv(path)["t_s"].to_numpy(), np.arange(rec.n_samples) / fs_hz)
    back = biosig.read(path)
    assert back.fs_hz == fs_hz, (back.fs_hz, fs_hz)
    assert back.times_s is None and back.n_samples == rec.n_samples
    assert back.start_time == start


def test_exact_rate_against_the_numpy_grid():
    rng = np.random.default_rng(1)
    for i in range(400):
        fs_hz = float(rng.uniform(0.1, 5000)) if i % 2 else float(rng.integers(1, 2000)) / float(rng.integers(1, 13))
        n = int(rng.integers(2, 5000))
        t = np.arange(n) / fs_hz
        got = exact_rate_hz(t)
        assert got is not None and np.array_equal(np.arange(n) / got, t), (fs_hz, n, got)


def test_times_off_the_grid_have_no_exact_rate():
    t = np.arange(1000) / 250.0
    t[500] += 1e-9
    assert exact_rate_hz(t) is None
    assert exact_rate_hz(np.array([0.0])) is None and exact_rate_hz(np.array([1.0, 1.0])) is None


@pytest.mark.parametrize("fs_hz", [10.0, 1000 / 3])
def test_a_csv_of_positions_in_mm_reads_back_at_the_written_rate(tmp_path, fs_hz):
    rec = _record(fs_hz, int(60 * fs_hz), units=("mm", "mm", "mm"))
    back = biosig.read(write(rec, tmp_path / "m.csv"))
    assert back.metadata["format"] == "surrogate-csv"
    # the rate exactly (10 Hz read 9.999999999999858); the times stay as the file gives them (the
    # forecasting sessions read them), equal to the written grid
    assert back.fs_hz == fs_hz
    np.testing.assert_array_equal(back.times_s, np.arange(back.n_samples) / fs_hz)
