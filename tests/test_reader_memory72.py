"""The CSV table and EDF+D readers hold little beside their float32 output (session 72).

A 1 h 250 Hz CSV of 3 channels added ~196 MiB over its 10 MiB output (the file's lines as Python bytes to
count their fields, every column cast to text to find blank ends, a float64 stack of the channels); an
EDF+D file was held whole as bytes and as float64 channels. The bounds here are on tracemalloc's peak
(NumPy's and Python's allocations; Polars' own are not traced) as a multiple of the output's bytes, set
between what the old code took (CSV 8.5x, EDF+D 3.8x on these files) and what it takes now (4.1x, 2.4x).
The values themselves are checked against an independent reading: NumPy's ``loadtxt`` and the int16
samples written.
"""
import tracemalloc

import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read
from test_edf_reader import edf_bytes   # the tests' own EDF+ writer, byte by byte


def _peak_ratio(path):
    read(path)   # imports and first-call caches out of the measurement
    tracemalloc.start()
    try:
        rec = read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return rec, peak / rec.samples.nbytes


def test_a_long_csv_is_read_without_copies_of_its_lines_or_a_float64_stack(tmp_path):
    n = 100_000
    x = np.random.default_rng(3).normal(0, 1, (n, 3)).round(4)
    path = tmp_path / "long.csv"
    np.savetxt(path, np.column_stack([np.arange(n) / 250, x]), delimiter=",", fmt="%.4f", header="t_s,a,b,c",
               comments="")
    rec, ratio = _peak_ratio(path)
    assert ratio < 6.5, f"peak {ratio:.1f} x the output"
    oracle = np.loadtxt(path, delimiter=",", skiprows=1)
    assert rec.fs_hz == 250.0 and rec.samples.dtype == np.float32
    np.testing.assert_array_equal(rec.samples, oracle[:, 1:].T.astype(np.float32))


def test_a_short_row_past_the_first_block_is_still_refused_with_its_line(tmp_path):
    rows = "".join(f"{i / 250:.4f},{i % 7},{i % 5}\n" for i in range(20_000))   # > 256 KiB: several blocks
    path = tmp_path / "short.csv"
    path.write_text("t_s,a,b\n" + rows + "   \n" + "80.0000,1\n" + "80.0040,1,2")
    with pytest.raises(ReadError, match="line 20003 has 2 field.s., the header has 3"):
        read(path)


def test_an_edf_plus_d_file_is_read_in_blocks_into_float32(tmp_path):
    n_rec, rng = 1200, np.random.default_rng(0)
    digital = [rng.integers(-32767, 32767, 256 * n_rec) for _ in range(2)]
    onsets = np.arange(n_rec, dtype=float)
    onsets[600:] += 30   # a 30 s hole
    path = tmp_path / "d.edf"
    path.write_bytes(edf_bytes(digital, onsets, kind="EDF+D"))
    rec, ratio = _peak_ratio(path)
    assert ratio < 3.2, f"peak {ratio:.1f} x the output"
    assert rec.samples.shape == (2, 256 * (n_rec + 30)) and rec.metadata["holes"] == 1
    for got, d in zip(rec.samples, digital):   # physical = (d + 32768) * 6000 / 65535 - 3000
        want = ((d.astype(np.float64) + 32768) * (6000 / 65535) - 3000).astype(np.float32)
        np.testing.assert_array_equal(got[:256 * 600], want[:256 * 600])
        assert np.isnan(got[256 * 600:256 * 630]).all()
        np.testing.assert_array_equal(got[256 * 630:], want[256 * 600:])


@pytest.mark.parametrize("kind", ["EDF+D", "EDF+C"])
def test_a_signal_with_no_samples_per_record_is_refused_by_name(tmp_path, kind):
    """A damaged header saying 0 samples per data record for one signal: before, EDF+D raised ZeroDivisionError
    (a rate of 0 Hz); now the plain EDF reader's message, naming the signal."""
    digital = [np.arange(256 * 4) % 100, np.zeros(0, dtype=np.int64)]
    path = tmp_path / "z.edf"
    path.write_bytes(edf_bytes(digital, np.arange(4, dtype=float), kind=kind))
    with pytest.raises(ReadError, match=r"signal 'ECG 2': 0 samples per data record"):
        read(path)
