"""A marker CSV whose frame or timestamp is "nan" or "inf" (Python's float() reads both) is refused in
one line naming the line; it went on to "0 corrupt timestamp(s) replaced" and then "sampling rate must be
a positive number of Hz, got nan", which did not say where. A NaN x, y or z is a gap, read as before."""
import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers.markers import read_marker_csv

HEADER = '"Frame";"Timestamp";"x";"y";"z"'


def _write(path, rows):
    path.write_text("\n".join([HEADER, *(";".join(str(v) for v in r) for r in rows)]) + "\n")
    return path


def _rows(n=10):
    return [[i, 40 * i, 1.0 + i, 2.0, 3.0] for i in range(n)]


@pytest.mark.parametrize("column,value", [(1, "nan"), (1, "inf"), (0, "nan")])
def test_a_non_finite_clock_is_refused_naming_its_line(tmp_path, column, value):
    rows = _rows()
    rows[4][column] = value
    with pytest.raises(ReadError, match=r"line 6: the frame and the timestamp must be finite numbers"):
        read_marker_csv(_write(tmp_path / "201205101519-LAC-1-T-222-6.csv", rows))


def test_a_nan_position_is_still_a_gap(tmp_path):
    rows = _rows()
    rows[4][2] = "nan"
    rec = read_marker_csv(_write(tmp_path / "201205101519-LAC-1-T-222-6.csv", rows))
    assert rec.n_samples == 10 and np.isnan(rec.samples[0, 4]) and np.isfinite(rec.samples[0, 5])
