"""Excel's separator line (``sep=;`` as the first line, written by Excel when asked to): the separator is
read from it and the line is skipped, for every table reader. pandas (``skiprows=1``) is the oracle."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biosig.errors import ReadError
from biosig.readers import detect_format, read
from biosig.readers.csv_dialect import CsvDialect, header_columns, sniff


def _ecg(n=1000, fs=250.0):
    t = np.arange(n) / fs
    return t, np.sin(2 * np.pi * 1.1 * t) ** 15, 0.3 * np.cos(2 * np.pi * 0.2 * t)


def _excel(path, header: str | None, rows, sep=";", decimal_comma=True, sep_line=None):
    """The table as Excel writes it: UTF-8 BOM, the ``sep=`` line, CRLF line ends."""
    lines = [sep_line if sep_line is not None else f"sep={sep}"] + ([header] if header else [])
    for row in rows:
        fields = [f"{v:.6f}" if np.isfinite(v) else "" for v in row]
        lines.append(sep.join(f.replace(".", ",") if decimal_comma else f for f in fields))
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def _pandas(path, sep=";", decimal=",", header="infer"):
    return pd.read_csv(path, sep=sep, decimal=decimal, skiprows=1, encoding="utf-8-sig", header=header)


def test_an_excel_table_with_its_sep_line_reads_as_pandas_reads_it(tmp_path):
    t, ecg, resp = _ecg()
    resp[300] = np.nan   # an empty field: a gap
    path = _excel(tmp_path / "excel.csv", "t_s;ECG [mV];Resp", np.c_[t, ecg, resp])
    assert sniff(path) == CsvDialect(";", True, skip_rows=1)
    assert header_columns(path) == ["t_s", "ECG [mV]", "Resp"]
    assert detect_format(path) == "csv"
    rec = read(path)
    oracle = _pandas(path)
    assert rec.channels == ("ECG", "Resp") and rec.units == ("mV", "") and rec.fs_hz == 250.0
    assert rec.n_samples == len(oracle) == 1000
    np.testing.assert_array_equal(rec.samples, oracle[["ECG [mV]", "Resp"]].to_numpy().T.astype(np.float32))
    assert np.isnan(rec.samples[1, 300])


@pytest.mark.parametrize("sep, decimal_comma, sep_line", [
    (",", False, "sep=,"), ("\t", True, "sep=\t"), (";", True, '"sep=;";;'), (";", False, "sep=;"),
])
def test_each_separator_and_the_quoted_padded_line(tmp_path, sep, decimal_comma, sep_line):
    t, ecg, resp = _ecg(n=200)
    path = _excel(tmp_path / "t.csv", sep.join(["t_s", "ecg", "resp"]), np.c_[t, ecg, resp], sep=sep,
                  decimal_comma=decimal_comma, sep_line=sep_line)
    assert sniff(path) == CsvDialect(sep, decimal_comma, 1)
    oracle = _pandas(path, sep=sep, decimal="," if decimal_comma else ".")
    np.testing.assert_array_equal(read(path).samples, oracle[["ecg", "resp"]].to_numpy().T.astype(np.float32))


def test_bare_values_after_a_sep_line_at_a_stated_rate(tmp_path):
    """Three columns, no header: the sep= line (two fields) is neither a row nor a short row."""
    _, ecg, resp = _ecg(n=300)
    path = _excel(tmp_path / "bare.csv", None, np.c_[ecg, resp, -ecg])
    rec = read(path, sample_rate_hz=250)
    oracle = _pandas(path, header=None)
    assert rec.channels == ("ch1", "ch2", "ch3") and rec.n_samples == 300
    np.testing.assert_array_equal(rec.samples, oracle.to_numpy().T.astype(np.float32))


def test_a_short_row_after_a_sep_line_is_still_refused_with_its_line(tmp_path):
    path = tmp_path / "short.csv"
    path.write_bytes(b"\xef\xbb\xbfsep=;\r\n1,5;2;3\r\n4;5\r\n")
    with pytest.raises(ReadError, match="line 3 has 2 field"):
        read(path, sample_rate_hz=10)


def test_a_value_refused_after_a_sep_line_is_named_by_its_own_line(tmp_path):
    """The line numbers of refusals count Excel's sep= line (they were one too low)."""
    path = tmp_path / "excel.csv"
    path.write_text("sep=;\nt_s;ecg_mV\n0;0,1\n0,004;abc\n0,008;0,3\n")
    with pytest.raises(ReadError, match=r"line 4 holds 'abc'"):
        read(path)
