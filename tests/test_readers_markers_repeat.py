"""Marker CSV rows written twice (biosig.readers.markers).

A row repeating the previous row (its timestamp, or its frame number and x, y, z) was refused
("a duplicated row; remove it"), refused as "not repairable", or, with a 0..N frame counter that
went on counting after the repeat, taken as the 150-300 rows after it having "corrupt
timestamp(s) replaced from the frame counter" and kept as an extra sample.  It is dropped and
counted in one warning.  Expected times are the numbers written into the file.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from biosig.readers.markers import read_marker_csv
from conftest import shared_path

N_ROWS = 300
AT = 150   # the row written twice


def _clean_rows(counter: str) -> list[tuple[int, float, float, float, float]]:
    """(frame, t_ms, x, y, z): ``real`` as in the published exports (first step 117 ms then 100 ms,
    the 60 Hz camera frame counter stepping by 6 or 7), ``rows`` a hand-made 0..N counter."""
    rng = np.random.default_rng(7)
    t = np.concatenate([[0.0], 117.0 + 100.0 * np.arange(N_ROWS - 1)])
    frame = np.round(t * 0.06).astype(int) if counter == "real" else np.arange(N_ROWS)
    xyz = np.round(rng.normal([-4900.0, 40.0, 640.0], 20.0, (N_ROWS, 3))) / 10.0   # 0.1 mm, as written
    return [(int(f), float(tt), *map(float, v)) for f, tt, v in zip(frame, t, xyz)]


def _write(path, rows) -> None:
    def num(v):   # decimal comma, as the exports write it
        return f"{v:g}".replace(".", ",")
    body = "".join(";".join(num(v) for v in r) + "\n" for r in rows)
    path.write_text('"Frame";"Timestamp";"x";"y";"z"\n' + body + "0;0;0;0;0\n")


def _read(path, caplog):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="biosig.readers"):
        rec = read_marker_csv(path)
    return rec, [r.getMessage() for r in caplog.records]


def _repeat(rows, case: str, counter: str):
    """``rows`` with row AT written twice in the way ``case`` names."""
    f, t, *xyz = rows[AT]
    if case == "same row":
        return rows[:AT + 1] + [rows[AT]] + rows[AT + 1:]
    if case == "same time, next frame number":
        extra = [(f + 1, t, *xyz)]
        # a 0..N counter counts the extra row and goes on from there; a camera counter does not
        later = [(r[0] + 1, *r[1:]) for r in rows[AT + 1:]] if counter == "rows" else rows[AT + 1:]
        return rows[:AT + 1] + extra + later
    if case == "same frame and x, y, z, new time":
        return rows[:AT + 1] + [(f, (t + rows[AT + 1][1]) / 2, *xyz)] + rows[AT + 1:]
    raise AssertionError(case)


@pytest.mark.parametrize("counter", ["real", "rows"])
@pytest.mark.parametrize("case", ["same row", "same time, next frame number", "same frame and x, y, z, new time"])
def test_a_repeated_row_is_dropped_and_counted_once(tmp_path, caplog, counter, case):
    rows = _clean_rows(counter)
    path = tmp_path / "201205101519-LAC-1-T-222-6.csv"
    _write(path, _repeat(rows, case, counter))
    rec, msgs = _read(path, caplog)
    want = np.array(rows)
    assert rec.n_samples == N_ROWS
    np.testing.assert_array_equal(rec.times_s, (want[:, 1] - want[0, 1]) / 1000.0)
    np.testing.assert_array_equal(rec.samples, want[:, 2:5].T.astype(np.float32))   # Record keeps float32
    assert rec.metadata["dropped_repeated_rows"] == 1 and rec.metadata["repaired_timestamps"] == 0
    assert len(msgs) == 1 and "1 repeated row(s) dropped" in msgs[0] and f"line {AT + 3}" in msgs[0], msgs
    assert not any("corrupt" in m for m in msgs)


def test_several_repeats_one_warning_saying_how_many_differ(tmp_path, caplog):
    rows = _clean_rows("real")
    f, t, x, y, z = rows[AT]
    other = (f, t, x + 1.0, y, z)   # same frame and time, other position: still one row written twice
    bad = rows[:10] + [rows[9], rows[9]] + rows[10:AT + 1] + [other] + rows[AT + 1:]
    path = tmp_path / "s-LAC-1-T-30-6.csv"
    _write(path, bad)
    rec, msgs = _read(path, caplog)
    assert rec.n_samples == N_ROWS and rec.metadata["dropped_repeated_rows"] == 3
    np.testing.assert_array_equal(rec.samples, np.array(rows)[:, 2:5].T.astype(np.float32))   # the first of each kept
    assert len(msgs) == 1 and "3 repeated row(s) dropped" in msgs[0] and "1 of them with other x, y, z" in msgs[0]


def test_frame_number_repeated_with_new_time_and_position_is_kept(tmp_path, caplog):
    """What was right already: a frame counter that sticks once while times and positions go on is
    no repeated row (the times are what the record uses); nothing is dropped."""
    rows = _clean_rows("rows")
    stuck = rows[:AT + 1] + [(rows[AT][0], *rows[AT + 1][1:])] + rows[AT + 2:]
    path = tmp_path / "s-LAC-1-T-30-6.csv"
    _write(path, stuck)
    rec, msgs = _read(path, caplog)
    assert rec.n_samples == N_ROWS and rec.metadata["dropped_repeated_rows"] == 0 and msgs == []
    np.testing.assert_array_equal(rec.samples, np.array(rows)[:, 2:5].T.astype(np.float32))


def test_published_file_with_a_row_written_twice_reads_as_the_original(tmp_path, caplog):
    """A published session with corrupt timestamps (repaired from the frame counter) and one row
    written twice: the record equals that of the file as published (the repeat was refused)."""
    src = shared_path("resp_motion")
    files = sorted(src.glob("201205101534-LAC-*.csv"))
    if not files:
        pytest.skip(f"no marker CSV 201205101534-LAC-* in {src}")
    lines = files[0].read_text().splitlines(keepends=True)
    path = tmp_path / files[0].name
    path.write_text("".join(lines[:600] + [lines[599]] + lines[600:]))
    orig, _ = _read(files[0], caplog)
    rec, msgs = _read(path, caplog)
    assert orig.metadata["repaired_timestamps"] > 0   # the file does need the repair
    assert rec.n_samples == orig.n_samples and rec.metadata["dropped_repeated_rows"] == 1
    np.testing.assert_array_equal(rec.times_s, orig.times_s)
    np.testing.assert_array_equal(rec.samples, orig.samples)
    assert sum("repeated row(s) dropped" in m for m in msgs) == 1
