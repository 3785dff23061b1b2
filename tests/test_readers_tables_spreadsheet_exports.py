"""CSV files as Excel, LabChart or a phone app export them, read by biosig.read as pandas reads them
(the oracle), or refused in one line that names the line of the file: quoted decimal commas in a
comma-separated file, thousands separators, gap spellings, trailing delimiters and blank lines."""
import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read
from biosig.readers.csv_dialect import CsvDialect, sniff
from conftest import shared_path

pd = pytest.importorskip("pandas")

T_S = np.arange(300) / 250.0
X = np.sin(2 * np.pi * 1.1 * T_S) - 0.3


def _quoted_decimal_commas(t, x) -> str:
    """``"t_s","ecg_mV"`` then ``"0,004","0,125"``: Excel's "CSV" in a European locale."""
    rows = "".join(f'"{a:.3f}","{b:.5f}"\r\n'.replace(".", ",") for a, b in zip(t, x))
    return '"t_s","ecg_mV"\r\n' + rows


def _write(path, text: str, bom: bool = False):
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


@pytest.mark.parametrize("bom", [False, True])
def test_quoted_decimal_commas_read_as_pandas_does(tmp_path, bom):
    path = _write(tmp_path / "excel.csv", _quoted_decimal_commas(T_S, X), bom)
    ref = pd.read_csv(path, decimal=",", encoding="utf-8-sig")
    assert ref["ecg_mV"].dtype == np.float64   # the oracle read numbers
    rec = read(path)
    assert rec.channels == ("ecg_mV",) and rec.n_samples == len(ref)
    assert rec.fs_hz == pytest.approx(1 / np.median(np.diff(ref["t_s"])))
    np.testing.assert_allclose(rec.samples[0], ref["ecg_mV"].to_numpy(), atol=1e-6)


def test_real_spirogram_exported_with_quoted_decimal_commas(tmp_path):
    src = shared_path("spirometry", "ukb_field3066_demo_blow.csv")
    orig = pd.read_csv(src)
    rows = "".join(f'"{t:.2f}","{v / 7:.4f}"\n'.replace(".", ",") for t, v in zip(orig["t_s"], orig["volume_ml"]))
    path = _write(tmp_path / "blow.csv", '"t_s","volume_ml"\n' + rows)
    ref = pd.read_csv(path, decimal=",")
    rec = read(path)
    assert rec.channels == ("volume",) and rec.units == ("mL",) and rec.n_samples == len(orig)
    np.testing.assert_allclose(rec.samples[0], ref["volume_ml"].to_numpy(), atol=1e-4)
    assert rec.fs_hz == pytest.approx(100.0)


def test_sniff_finds_a_decimal_comma_only_where_it_cannot_be_a_thousands_comma(tmp_path):
    assert sniff(_write(tmp_path / "a.csv", '"t_s","x"\n"0","0,125"\n')) == CsvDialect(",", True)
    # "1,125" alone may be 1125: no decimal comma is taken from it
    assert sniff(_write(tmp_path / "b.csv", '"t_ms","x"\n"1,125","2,250"\n')) == CsvDialect(",", False)
    assert sniff(_write(tmp_path / "c.csv", 't_s,x\n0.0,"a,b"\n')) == CsvDialect(",", False)


def test_a_decimal_point_among_quoted_decimal_commas_is_refused_with_its_line(tmp_path):
    text = _quoted_decimal_commas(T_S[:100], X[:100]) + '"0,400","0.5"\r\n'
    path = _write(tmp_path / "mixed.csv", text)
    assert not pd.api.types.is_numeric_dtype(pd.read_csv(path, decimal=",")["ecg_mV"])   # nor does pandas
    with pytest.raises(ReadError, match=r"line 102 holds '0\.5' \(a decimal point among decimal commas") as err:
        read(path)
    assert "\n" not in str(err.value)


def test_thousands_separators_read_as_pandas_does(tmp_path):
    rows = "".join(f'{i * 4},"{1000 * v + 1500:,.1f}"\n' for i, v in enumerate(X))
    path = _write(tmp_path / "uv.csv", "t_ms,ecg [uV]\n" + rows)
    ref = pd.read_csv(path, thousands=",")
    rec = read(path)
    assert rec.channels == ("ecg",) and rec.units == ("uV",)
    np.testing.assert_allclose(rec.samples[0], ref["ecg [uV]"].to_numpy(), rtol=1e-6)


def test_integers_with_a_comma_alone_are_refused_as_ambiguous(tmp_path):
    path = _write(tmp_path / "ms.csv", 't_ms,x\n"1,000",1\n"1,004",2\n')
    with pytest.raises(ReadError, match=r"line 2 holds '1,000'.*thousands comma or a decimal comma"):
        read(path)


def test_gap_spellings_are_gaps(tmp_path):
    path = _write(tmp_path / "gaps.csv", "t_s,ecg\n0,1.5\n0.004,-\n0.008,N/A\n0.012,#N/A\n0.016,NaN\n0.02,\n0.024,-2\n")
    ref = pd.read_csv(path, na_values=["-"])
    rec = read(path)
    np.testing.assert_array_equal(rec.samples[0], ref["ecg"].to_numpy(dtype=np.float32))
    assert int(np.isnan(rec.samples[0]).sum()) == 5


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_blank_lines_at_the_end_are_not_rows(tmp_path, newline):
    rows = "".join(f"{t:.3f},{x:.5f}\n" for t, x in zip(T_S, X))
    path = _write(tmp_path / "end.csv", ("t_s,ecg\n" + rows + "\n\n  \n").replace("\n", newline))
    ref = pd.read_csv(path)
    rec = read(path)
    assert rec.n_samples == len(ref) == len(T_S)
    np.testing.assert_allclose(rec.samples[0], ref["ecg"].to_numpy(), atol=1e-6)


def test_a_blank_line_inside_the_table_is_refused_with_its_line(tmp_path):
    path = _write(tmp_path / "hole.csv", "t_s,ecg\n0,1\n\n0.008,2\n")
    with pytest.raises(ReadError, match="empty value.*the first on line 3"):
        read(path)


@pytest.mark.parametrize("header_too", [True, False])
def test_a_delimiter_ending_every_line_is_no_channel(tmp_path, header_too):
    rows = "".join(f"{t:.3f},{x:.5f},\n" for t, x in zip(T_S, X))
    path = _write(tmp_path / "trail.csv", ("t_s,ecg," if header_too else "t_s,ecg") + "\n" + rows)
    ref = pd.read_csv(path, index_col=False)
    rec = read(path)
    assert rec.channels == ("ecg",)
    np.testing.assert_allclose(rec.samples[0], ref["ecg"].to_numpy(), atol=1e-6)


def test_a_longer_row_among_rows_is_still_refused(tmp_path):
    """Only a delimiter at the end of every data line is left out: a row with a value too many is not."""
    path = _write(tmp_path / "ragged.csv", "t_s,ecg\n0,1,\n0.004,2,7\n")
    with pytest.raises(ReadError, match="malformed CSV"):
        read(path)


def test_times_of_day_and_a_units_row_are_refused_in_one_line_that_says_so(tmp_path):
    clock = _write(tmp_path / "clock.csv", "time,ecg\n10:00:00.000,1\n10:00:00.004,2\n")
    with pytest.raises(ReadError, match=r"times of day without a date \(line 2: '10:00:00.000'\)"):
        read(clock)
    units = _write(tmp_path / "units.csv", "t_s,ecg\ns,mV\n0,1\n0.004,2\n")
    with pytest.raises(ReadError, match=r"line 2 holds 'mV' \(a row of units under the header\?"):
        read(units)
