"""Tables exported with another separator or a decimal comma (European spreadsheets, tab-separated
tools) are read as the same table written with commas: the comma file is the oracle."""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from biosig.errors import ReadError
from biosig.readers import detect_format, read
from biosig.readers.csv_dialect import CsvDialect, header_columns, sniff
from realtime.sessions import load_sessions


def _european(text: str, sep: str = ";", decimal_comma: bool = True) -> str:
    """A comma-separated table with point decimals rewritten with ``sep`` and (optionally) decimal commas."""
    out = text.replace(",", "\x00")
    if decimal_comma:
        out = out.replace(".", ",")
    return out.replace("\x00", sep)


def _table(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def _ecg_text(n=2500, fs=250.0, gap_row=700):
    t = np.arange(n) / fs
    x = np.sin(2 * np.pi * 1.2 * t) ** 21 - 0.1 * np.cos(2 * np.pi * 0.25 * t)
    rows = ["t_s,MLII [mV],V5 [mV]"]
    for i in range(n):
        v5 = "" if i == gap_row else f"{-0.5 * x[i]:.6f}"   # an empty field is a gap
        rows.append(f"{t[i]:.6f},{x[i]:.6f},{v5}")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("first, expected", [
    ("t_s,ecg\n0.0,1.5\n", CsvDialect(",", False)),
    ("t_s;ecg\n0,004;-1,5\n", CsvDialect(";", True)),
    ("t_s;ecg\n0.004;-1.5\n", CsvDialect(";", False)),
    ("t_s\tecg\n0.004\t-1.5e-3\n", CsvDialect("\t", False)),
    ("t_s\tecg\n0,004\t-1,5e-3\n", CsvDialect("\t", True)),
    ('"t_s";"chest (cm)"\n"0,1";"2,5"\n', CsvDialect(";", True)),
    ("\ufefft_ms;amp_mm\n0;12\n40;13\n", CsvDialect(";", False)),   # integers: a decimal comma is moot
    ("ecg\n1.0\n", CsvDialect(",", False)),                          # one column
    ("t_s\tMLII, mV\n0.0\t1.5\n0.004\t1.4\n", CsvDialect("\t", False)),   # a comma inside a name
    ("t_s;MLII, mV\n0,0;1,5\n0,004;1,4\n", CsvDialect(";", True)),
])
def test_sniff(tmp_path, first, expected):
    assert sniff(_table(tmp_path, "x.csv", first)) == expected


def test_header_columns_with_each_separator(tmp_path):
    assert header_columns(_table(tmp_path, "a.csv", "t_s, MLII [mV] ,V5\n")) == ["t_s", "MLII [mV]", "V5"]
    assert header_columns(_table(tmp_path, "b.csv", '"t_s";"MLII [mV]"\n')) == ["t_s", "MLII [mV]"]
    assert header_columns(_table(tmp_path, "c.tsv", "t_s\tMLII [mV]\n")) == ["t_s", "MLII [mV]"]
    assert header_columns(_table(tmp_path, "d.csv", "")) == []
    assert header_columns(_table(tmp_path, "e.tsv", "t_s\tMLII, mV\n0.0\t1.5\n")) == ["t_s", "MLII, mV"]


@pytest.mark.parametrize("sep, decimal_comma, name", [(";", True, "ecg_eu.csv"), ("\t", False, "ecg.tsv"),
                                                      ("\t", True, "ecg_eu.txt")])
def test_signal_table_reads_as_its_comma_twin(tmp_path, sep, decimal_comma, name):
    text = _ecg_text()
    ref = read(_table(tmp_path, "ecg.csv", text))
    path = _table(tmp_path, name, _european(text, sep, decimal_comma))
    assert detect_format(path) == "csv"
    got = read(path)
    assert got.channels == ref.channels == ("MLII", "V5") and got.units == ref.units == ("mV", "mV")
    assert got.fs_hz == ref.fs_hz == 250.0
    np.testing.assert_array_equal(np.isnan(got.samples), np.isnan(ref.samples))
    assert np.isnan(got.samples[1, 700])
    np.testing.assert_allclose(got.samples, ref.samples, equal_nan=True, rtol=0, atol=0)


def test_short_row_is_refused_with_the_tables_own_separator(tmp_path):
    text = _european(_ecg_text(n=300)).splitlines()
    text[10] = text[10].rsplit(";", 1)[0]       # line 11 loses its last field
    path = _table(tmp_path, "short.csv", "\n".join(text) + "\n")
    with pytest.raises(ReadError, match="line 11 has 2 field"):
        read(path)


def test_info_and_embed_accept_a_semicolon_export(tmp_path, capsys):
    path = _table(tmp_path, "ecg_eu.csv", _european(_ecg_text(n=250 * 24)))
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    info = info[0] if isinstance(info, list) else info
    assert "MLII" in json.dumps(info)
    out = tmp_path / "emb.parquet"
    assert main(["embed", str(path), "--model", "ecg-tiny", "--out", str(out)]) == 0
    assert pl.read_parquet(out).height >= 2


def _forecast_text(columns: str, n=1500, rate=25.0):
    """``t_s`` plus one column (``amp_mm``: a surrogate trace) or two (``x,y``: a generic forecast CSV)."""
    t = np.arange(n) / rate
    y = 10 * np.sin(2 * np.pi * t / 4.0) + np.sin(2 * np.pi * t / 1.3)
    cols = [y] if columns == "amp_mm" else [y, y / 3]
    return f"t_s,{columns}\n" + "".join(f"{a:.4f}," + ",".join(f"{c[i]:.4f}" for c in cols) + "\n"
                                       for i, a in enumerate(t))


@pytest.mark.parametrize("columns", ["x,y", "amp_mm"])
def test_forecast_sessions_from_semicolon_exports(tmp_path, columns):
    text = _forecast_text(columns)
    ref = load_sessions([_table(tmp_path, "session.csv", text)], 25.0)[0]
    got = load_sessions([_table(tmp_path, "session_eu.csv", _european(text))], 25.0)[0]
    assert got.channels == ref.channels and got.units == ref.units
    assert got.X.shape == (1500, len(columns.split(",")))
    np.testing.assert_array_equal(got.X, ref.X)
    np.testing.assert_array_equal(got.t_s, ref.t_s)


def test_probe_labels_with_semicolons(tmp_path, capsys):
    from tests.test_probe import _data, _emb_file
    X, y = _data()
    keys = [f"R{i:03d}" for i in range(len(y))]
    emb, _ = _emb_file(tmp_path, X, keys)
    comma, semi = tmp_path / "labels.csv", tmp_path / "labels_eu.csv"
    comma.write_text("record,label\n" + "".join(f"{k},{'A' if v else 'N'}\n" for k, v in zip(keys, y)))
    semi.write_text("record;label\n" + "".join(f"{k};{'A' if v else 'N'}\n" for k, v in zip(keys, y)))
    common = ["probe", "--embeddings", str(emb), "--positive", "A", "--label-column", "label",
              "--bootstrap", "50", "--json"]
    assert main(common + ["--labels", str(comma)]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main(common + ["--labels", str(semi)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["n"] == ref["n"] == 120 and got["auroc"] == ref["auroc"]


def test_a_tables_clock_at_its_first_row_is_kept(tmp_path):
    """Times count from a table's first row; what its time column said there (100 s, or 2500 ms)
    was dropped without a trace. It is kept in metadata["first_time_s"] and `info` shows it."""
    import json
    import subprocess
    import sys

    from biosig.readers import read

    (tmp_path / "s.csv").write_text("t_s,resp\n100.0,0.1\n100.04,0.2\n100.08,0.3\n100.12,0.2\n")
    (tmp_path / "ms.csv").write_text("t_ms,resp\n2500,0.1\n2540,0.2\n2580,0.3\n2620,0.2\n")
    assert read(tmp_path / "s.csv").metadata["first_time_s"] == 100.0
    assert read(tmp_path / "ms.csv").metadata["first_time_s"] == 2.5
    res = subprocess.run([sys.executable, "-m", "biosig.cli", "info", "--json", "--no-quality", str(tmp_path / "s.csv")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["first_time_s"] == 100.0
    res = subprocess.run([sys.executable, "-m", "biosig.cli", "info", "--no-quality", str(tmp_path / "s.csv")],
                         capture_output=True, text=True, timeout=60)
    assert "reads 100 s at the first row" in res.stdout
