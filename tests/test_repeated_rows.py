"""A sample row written twice with a gap (NaN / empty value) in it: the two readers that drop
repeated rows (biosig.readers.markers, biosig.readers.surrogates) judge it by one rule
(biosig.readers.repeated_rows): a gap at the same place is the same value.

Before, the marker reader compared with ``==`` (NaN != NaN): a row written twice with a NaN in it
was dropped with a warning that it had "other x, y, z than the row kept" (nothing was lost), and a
row with the previous row's frame number and x, y, z (a NaN among them) at a new time was kept as
an extra sample, while the surrogate reader took both as repeats.  Expected records are the rows
written into the file, without the repeat.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from biosig.readers.markers import read_marker_csv
from biosig.readers.repeated_rows import dropped_with_other_values, repeats_previous, same_rows
from biosig.readers.surrogates import read_surrogate_csv

N_ROWS = 40
AT = 20   # the row written twice; its x is a gap


def _rows() -> list[list[float]]:
    """[frame, t_ms, x, y, z]: a 60 Hz camera frame counter, 100 ms steps, positions in mm."""
    rng = np.random.default_rng(3)
    t = 100.0 * np.arange(N_ROWS)
    xyz = np.round(rng.normal([-490.0, 4.0, 64.0], 2.0, (N_ROWS, 3)), 1)
    rows = [[float(round(tt * 0.06)), float(tt), *map(float, v)] for tt, v in zip(t, xyz)]
    rows[AT][2] = np.nan
    return rows


def _with_repeat(rows, case: str):
    f, t, x, y, z = rows[AT]
    extra = {"same row": [f, t, x, y, z],
             "same frame and x, y, z, new time": [f, (t + rows[AT + 1][1]) / 2, x, y, z],
             "same time, a number where the gap was": [f, t, 1.5, y, z],
             "same time, another y": [f, t, x, y + 1.0, z]}[case]
    return rows[:AT + 1] + [extra] + rows[AT + 1:]


def _write_markers(path, rows) -> None:
    def num(v):   # decimal comma, as the exports write it; a gap is "nan" (an empty field is refused)
        return "nan" if np.isnan(v) else f"{v:g}".replace(".", ",")
    path.write_text('"Frame";"Timestamp";"x";"y";"z"\n' + "".join(";".join(num(v) for v in r) + "\n" for r in rows))


def _write_surrogate(path, rows) -> None:
    def num(v):   # a gap is an empty field
        return "" if np.isnan(v) else f"{v:g}"
    path.write_text("time_ms,x_mm,y_mm,z_mm\n" + "".join(",".join(num(v) for v in r[1:]) + "\n" for r in rows))


def _read(reader, path, caplog):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="biosig.readers"):
        rec = reader(path)
    return rec, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("case", ["same row", "same frame and x, y, z, new time"])
def test_marker_row_written_twice_with_a_gap_is_one_row(tmp_path, caplog, case):
    rows = _rows()
    path = tmp_path / "201205101519-LAC-1-T-4-6.csv"
    _write_markers(path, _with_repeat(rows, case))
    rec, msgs = _read(read_marker_csv, path, caplog)
    want = np.array(rows)
    assert rec.n_samples == N_ROWS and rec.metadata["dropped_repeated_rows"] == 1
    np.testing.assert_array_equal(rec.times_s, (want[:, 1] - want[0, 1]) / 1000.0)
    np.testing.assert_array_equal(rec.samples, want[:, 2:5].T.astype(np.float32))   # NaN at the same place
    assert len(msgs) == 1 and "1 repeated row(s) dropped" in msgs[0] and f"line {AT + 3}" in msgs[0], msgs
    assert "other x, y, z" not in msgs[0], msgs   # the copy holds the same gap: nothing lost


@pytest.mark.parametrize("case", ["same row", "same time, a number where the gap was", "same time, another y"])
def test_the_two_readers_clean_the_same_content_alike(tmp_path, caplog, case):
    rows = _with_repeat(_rows(), case)
    mpath, spath = tmp_path / "201205101519-LAC-1-T-4-6.csv", tmp_path / "trace.csv"
    _write_markers(mpath, rows)
    _write_surrogate(spath, rows)
    m, m_msgs = _read(read_marker_csv, mpath, caplog)
    s, s_msgs = _read(read_surrogate_csv, spath, caplog)
    want = np.array(_rows())   # the first row of a time is kept
    for rec in (m, s):
        assert rec.n_samples == N_ROWS
        np.testing.assert_array_equal(rec.times_s, (want[:, 1] - want[0, 1]) / 1000.0)
        np.testing.assert_array_equal(rec.samples, want[:, 2:5].T.astype(rec.samples.dtype))
    other = case != "same row"   # a number where the gap was, or another number, is not the same row
    assert len(m_msgs) == 1 and ("1 of them with other x, y, z" in m_msgs[0]) == other, m_msgs
    assert len(s_msgs) == 1 and ("1 of them with other values" in s_msgs[0]) == other, s_msgs


def test_same_rows_agrees_with_numpy_array_equal_nan():
    """The rule against an independent oracle: np.array_equal(..., equal_nan=True) row by row."""
    rng = np.random.default_rng(0)
    a = rng.choice([0.0, -0.0, 1.0, np.nan, np.inf], size=(500, 3))
    b = a.copy()
    flip = rng.random(b.shape) < 0.1
    b[flip] = rng.choice([0.0, 1.0, np.nan, -np.inf], size=int(flip.sum()))
    want = np.array([np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b)])
    np.testing.assert_array_equal(same_rows(a, b), want)
    np.testing.assert_array_equal(repeats_previous(a)[1:], [np.array_equal(x, y, equal_nan=True)
                                                            for x, y in zip(a[1:], a[:-1])])
    assert not repeats_previous(a)[0] and repeats_previous(np.empty((0, 3))).shape == (0,)
    keep = ~repeats_previous(a)
    assert dropped_with_other_values(a, keep) == 0
    # drop every second row: those differing from the kept row before them are counted
    keep = np.arange(len(a)) % 2 == 0
    assert dropped_with_other_values(a, keep) == int((~same_rows(a[1::2], a[0::2][:len(a[1::2])])).sum())
