"""A time column printed to a few decimals: its median step is a rounded one. 360 Hz written to 6
decimals (0.002778 s steps, some 0.002777) read 359.971 Hz, and 40 s of it 40.003 s; the slope over
every row gives the rate. Exact times (biosig's own, 1000/3 Hz) keep the median's rate."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from biosig.readers import read
from biosig.record import Record


@pytest.mark.parametrize("fs_hz, decimals", [(360.0, 6), (128.0, 4), (500.0, 3), (1000.0, 3)])
def test_times_rounded_to_a_few_decimals_give_the_rate_they_were_written_at(tmp_path, fs_hz, decimals):
    n = int(40 * fs_hz)
    t = np.round(np.arange(n) / fs_hz, decimals)
    x = np.sin(2 * np.pi * 1.2 * np.arange(n) / fs_hz)
    path = tmp_path / "r.csv"
    pl.DataFrame({"t_s": t, "ecg_mV": x}).write_csv(path)
    rec = read(path)
    assert rec.fs_hz == fs_hz and rec.duration_s == pytest.approx(40.0)


def test_exact_times_keep_their_rate():
    t = np.arange(3000) / (1000 / 3)
    rec = Record.from_polars(pl.DataFrame({"t_s": t, "x": np.zeros(3000)}))
    assert rec.fs_hz == pytest.approx(333.333, abs=1e-3)
    jitter = np.arange(2500) / 250.0 + np.random.default_rng(0).normal(0, 1e-5, 2500)
    assert Record.from_polars(pl.DataFrame({"t_s": jitter, "x": np.zeros(2500)})).fs_hz == 250.0
