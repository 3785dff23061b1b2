"""LabChart text export: ``ExcelDateTime=`` (the block's start, an Excel serial date) was not read and
the record had no start time. The oracle is the same date-time LabChart writes as text after the
serial (``10/11/19 11:08:37.485584``, month/day/year on the exporting machine), parsed with strptime."""
import logging
from datetime import datetime, timedelta

import numpy as np
import pytest

from biosig.readers import read

SERIAL = "4.3749464322749809e+04"
AS_TEXT = "10/11/19 11:08:37.485584"


def _export(path, serial=SERIAL, text=AS_TEXT, first_s=432.0, with_time=True):
    rows = "".join((f"{first_s + i * 0.001:.3f}\t" if with_time else "") + f"{np.sin(i / 9):.4f}\t{i % 2}\n"
                   for i in range(200))
    path.write_text(f"Interval=\t0.001 s\nExcelDateTime=\t{serial}\t{text}\nTimeFormat=\tStartOfBlock\n"
                    "DateFormat=\t\nChannelTitle=\tECG\tTrigger\nRange=\t2.000 mV\t10.000 V\n"
                    "UnitName=\tmV\t*\n" + rows)
    return path


def test_start_time_is_the_block_start_plus_the_first_row_time(tmp_path):
    rec = read(_export(tmp_path / "lc.txt"))
    block_start = datetime.strptime(AS_TEXT, "%m/%d/%y %H:%M:%S.%f")
    assert rec.start_time is not None
    assert abs(rec.start_time - (block_start + timedelta(seconds=432.0))) <= timedelta(microseconds=1)
    assert rec.metadata["first_time_s"] == pytest.approx(432.0) and rec.fs_hz == 1000.0


def test_without_a_time_column_the_block_start_is_the_start(tmp_path):
    rec = read(_export(tmp_path / "lc.txt", with_time=False))
    block_start = datetime.strptime(AS_TEXT, "%m/%d/%y %H:%M:%S.%f")
    assert abs(rec.start_time - block_start) <= timedelta(microseconds=1)


def test_the_start_time_survives_writing_edf(tmp_path):
    from biosig.writers import write
    rec = read(_export(tmp_path / "lc.txt"))
    back = read(write(rec, tmp_path / "lc.edf"))
    assert abs(back.start_time - rec.start_time) <= timedelta(microseconds=1)


@pytest.mark.parametrize("serial", ["garbage", "0", "nan", "1e9"])
def test_a_serial_that_is_no_date_is_a_warning_not_a_start(tmp_path, caplog, serial):
    with caplog.at_level(logging.WARNING, logger="biosig.readers.labchart"):
        rec = read(_export(tmp_path / "lc.txt", serial=serial))
    assert rec.start_time is None and rec.n_samples == 200
    assert "ExcelDateTime" in caplog.text and "no start time" in caplog.text
