"""LabChart's text export, built by hand after the published layout (LabChart help "data headers";
phys2bids' tutorial file): ``Interval=``, ``ChannelTitle=``, ``Range=``, ``UnitName=`` lines, then
tab-separated rows of time and values. Rate from Interval, names from ChannelTitle, units from
UnitName; the values against numpy's reading of the data lines; what it cannot read is refused in
one line naming the format."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read
from biosig.readers.labchart import is_labchart_text, read_labchart_text

HEADER = ["Interval=\t0.001 s",
          "ExcelDateTime=\t4.3749464322749809e+04\t10/11/19 11:08:37.485584",
          "TimeFormat=\tStartOfBlock",
          "DateFormat=\t",
          "ChannelTitle=\tECG\tResp\tTrigger",
          "Range=\t2.000 mV\t10.000 V\t5.000 V",
          "UnitName=\tmV\tL\t*",
          "TopValue=\t*\t2.5\t*",
          "BottomValue=\t*\t-2.5\t*"]


def _export(path, n=3000, t0_s=432.0, header=HEADER, time=True, extra_lines=(), comment_row=None):
    t = t0_s + np.arange(n) / 1000.0
    x = np.c_[np.sin(2 * np.pi * 1.3 * t), 0.5 * np.cos(2 * np.pi * 0.25 * t), (np.arange(n) % 500 < 5) * 5.0]
    rows = []
    for i in range(n):
        fields = ([f"{t[i]:.3f}"] if time else []) + [f"{v:.4f}" for v in x[i]]
        if i == comment_row:
            fields.append("#* cough")
        rows.append("\t".join(fields))
    path.write_text("\r\n".join(list(header) + rows + list(extra_lines)) + "\r\n")
    return path


def _oracle(path, n_header=len(HEADER)):
    return np.loadtxt(path, delimiter="\t", skiprows=n_header, usecols=(0, 1, 2, 3), comments="#")


def test_a_labchart_export_reads_rate_names_units_and_values(tmp_path):
    path = _export(tmp_path / "rat1.txt", comment_row=1200)
    assert is_labchart_text(path)
    rec = read(path, sample_rate_hz=1000)   # .txt at a stated rate (the CLI's --sample-rate-hz)
    oracle = _oracle(path)
    assert rec.fs_hz == 1000.0 and rec.n_samples == 3000
    assert rec.channels == ("ECG", "Resp", "Trigger") and rec.units == ("mV", "L", "")
    assert rec.metadata["format"] == "labchart-txt" and rec.metadata["first_time_s"] == pytest.approx(oracle[0, 0])
    np.testing.assert_array_equal(rec.samples, oracle[:, 1:].T.astype(np.float32))
    assert list(rec.annotations.sample) == [1200] and rec.annotations.symbol == ("#* cough",)


def test_without_a_time_column_without_unitname_and_with_gaps(tmp_path):
    header = [h for h in HEADER if not h.startswith("UnitName=")]
    header[0] = "Interval=\t2 ms"
    path = _export(tmp_path / "b.txt", n=400, header=header, time=False)
    lines = path.read_text().splitlines()
    lines[len(header) + 10] = "\t0.5\t0.0"    # two tabs: no value for ECG there
    path.write_text("\n".join(lines) + "\n")
    rec = read_labchart_text(path)
    assert rec.fs_hz == 500.0 and rec.units == ("mV", "V", "V")   # the units of Range, without UnitName
    oracle = np.genfromtxt(path, delimiter="\t", skip_header=len(header))
    np.testing.assert_array_equal(rec.samples, oracle.T.astype(np.float32))
    assert np.isnan(rec.samples[0, 10])


def test_a_stated_rate_other_than_the_interval_warns_and_reads_the_interval(tmp_path, caplog):
    rec = read(_export(tmp_path / "c.txt", n=100), sample_rate_hz=250)
    assert rec.fs_hz == 1000.0 and "is not the 1000 Hz of its Interval= line" in caplog.text


@pytest.mark.parametrize("change, match", [
    (dict(extra_lines=HEADER[:1] + ["0.000\t1\t2\t3"]), "LabChart text export with several blocks "
                                                        r"\(a second 'Interval=' header on line 3010\)"),
    (dict(header=["Interval=\t1 fortnight"] + HEADER[1:]), "'Interval=1 fortnight' is not a sampling interval"),
    (dict(header=[h for h in HEADER if not h.startswith("ChannelTitle")]), "without its ChannelTitle= line"),
    (dict(extra_lines=["10:00:03.000\t1\t2\t3"]), r"data row 3001 holds '10:00:03.000', not a number \(times of day"),
    (dict(extra_lines=["9.000\t1\t2\t3"]), "its time column does not step by Interval=0.001 s"),
    (dict(extra_lines=["3.000\t1\t2"]), "data row 3001 has 3 field"),
])
def test_what_it_cannot_read_is_refused_in_one_line_naming_the_format(tmp_path, change, match):
    path = _export(tmp_path / "bad.txt", **change)
    with pytest.raises(ReadError, match="LabChart text export") as info:
        read(path, sample_rate_hz=1000)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(ReadError, match=match):
        read(path, sample_rate_hz=1000)


def test_a_tab_ending_every_row_is_not_a_channel(tmp_path):
    path = _export(tmp_path / "tabs.txt", n=50)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:len(HEADER)] + [ln + "\t" for ln in lines[len(HEADER):]]) + "\n")
    rec = read_labchart_text(path)
    assert rec.channels == ("ECG", "Resp", "Trigger")
    np.testing.assert_array_equal(rec.samples, _oracle(path)[:, 1:].T.astype(np.float32))


def test_a_labchart_export_reads_without_a_stated_rate(tmp_path):
    """Its rate is in the file (Interval=): no --sample-rate-hz needed, and detect_format names it."""
    from biosig.readers import detect_format
    path = _export(tmp_path / "rat2.txt", n=500)
    assert detect_format(path) == "labchart-txt"
    rec = read(path)
    assert rec.fs_hz == 1000.0 and rec.n_samples == 500 and rec.channels == ("ECG", "Resp", "Trigger")
    np.testing.assert_array_equal(rec.samples, _oracle(path)[:, 1:].T.astype(np.float32))


def test_a_folder_of_labchart_exports_is_discovered(tmp_path):
    """A LabChart .txt in a folder is a record (before: the folder had "no records")."""
    from biosig.readers import discover
    _export(tmp_path / "a.txt", n=200)
    _export(tmp_path / "b.txt", n=300)
    (tmp_path / "notes.txt").write_text("a free-text note, no record\n")
    found = discover(tmp_path)
    assert sorted(pathlib.Path(p).name for p in found) == ["a.txt", "b.txt"]
    assert [read(p).n_samples for p in sorted(found)] == [200, 300]
