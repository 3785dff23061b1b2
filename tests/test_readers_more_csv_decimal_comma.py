"""Header-less tables with decimal commas and no ``sep=`` line, and cp1252 headers.

A column of ``-0,145`` read as two columns (``-0`` and ``145``): the sniffer took the decimal comma for
the separator. Two ``;``-separated columns of decimal commas read as three. Where the lines cannot say
(``12,5``: 12.5, or 12 and 5?) the reader refuses in one line that says how to tell it, never guesses.
A header written by Windows Excel in cp1252 (``ECG [µV]``) read its unit as a replacement character.
pandas is the oracle for the values."""
import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read
from biosig.readers.csv_dialect import sniff

pd = pytest.importorskip("pandas")

RATE_HZ = 100.0
X = (0.3 * np.sin(np.arange(300) / 7.0)).round(3)


def _comma(v: float) -> str:
    return f"{v:.3f}".replace(".", ",")


def test_one_headerless_column_of_decimal_commas_is_one_channel(tmp_path):
    path = tmp_path / "ppg.csv"
    path.write_text("".join(_comma(v) + "\n" for v in X))
    ref = pd.read_csv(path, sep=";", decimal=",", header=None)
    rec = read(path, sample_rate_hz=RATE_HZ)
    assert rec.n_channels == 1 and rec.fs_hz == RATE_HZ
    np.testing.assert_allclose(rec.samples[0], ref[0].to_numpy(), atol=1e-6)


def test_a_header_of_one_name_over_decimal_commas_is_one_channel(tmp_path):
    path = tmp_path / "ppg.csv"
    path.write_text("ppg [mV]\n" + "".join(_comma(v) + "\n" for v in X))
    ref = pd.read_csv(path, sep=";", decimal=",")
    rec = read(path, sample_rate_hz=RATE_HZ)
    assert rec.channels == ("ppg",) and rec.units == ("mV",)
    np.testing.assert_allclose(rec.samples[0], ref["ppg [mV]"].to_numpy(), atol=1e-6)


def test_two_headerless_semicolon_columns_of_decimal_commas_are_two_channels(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("".join(f"{_comma(v)};{_comma(-v / 2)}\n" for v in X))
    ref = pd.read_csv(path, sep=";", decimal=",", header=None)
    rec = read(path, sample_rate_hz=RATE_HZ)
    assert rec.n_channels == 2
    np.testing.assert_allclose(rec.samples, ref.to_numpy().T, atol=1e-6)


def test_lines_that_cannot_tell_are_refused_with_how_to_say_it(tmp_path):
    path = tmp_path / "ambiguous.csv"
    lines = "".join(f"{10 + i % 7},{1 + i % 9}\n" for i in range(100))
    path.write_text(lines)
    assert sniff(path).ambiguous
    with pytest.raises(ReadError, match=r"one column with a decimal comma .* or two columns .*'sep=;'.*'sep=,'"):
        read(path, sample_rate_hz=RATE_HZ)
    # said as the message says: Excel's separator line
    for sep, n_channels, oracle in ((";", 1, dict(sep=";", decimal=",")), (",", 2, dict(sep=","))):
        told = tmp_path / f"told{n_channels}.csv"
        told.write_text(f"sep={sep}\n" + lines)
        ref = pd.read_csv(told, skiprows=1, header=None, **oracle)
        rec = read(told, sample_rate_hz=RATE_HZ)
        assert rec.n_channels == n_channels
        np.testing.assert_allclose(rec.samples, ref.to_numpy().T, atol=1e-6)


def test_comma_separated_columns_with_a_sign_stay_columns(tmp_path):
    path = tmp_path / "ints.csv"
    path.write_text("".join(f"{10 + i % 7},{-1 - i % 9}\n" for i in range(100)))
    ref = pd.read_csv(path, header=None)
    rec = read(path, sample_rate_hz=RATE_HZ)
    np.testing.assert_allclose(rec.samples, ref.to_numpy().T)


def test_cp1252_header_units_are_read(tmp_path):
    t = np.arange(300) / RATE_HZ
    path = tmp_path / "excel.csv"
    text = "t_s;ECG [µV];Temp [°C]\n" + "".join(f"{a:.2f};{np.sin(a):.4f};36,6\n".replace(".", ",") for a in t)
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")   # the file really is not UTF-8
    ref = pd.read_csv(path, sep=";", decimal=",", encoding="cp1252")
    rec = read(path)
    assert rec.channels == ("ECG", "Temp") and rec.units == ("µV", "°C")
    np.testing.assert_allclose(rec.samples, ref[["ECG [µV]", "Temp [°C]"]].to_numpy().T, atol=1e-6)


def test_cp1252_header_of_bare_values(tmp_path):
    path = tmp_path / "bare.csv"
    path.write_bytes(("Pleth [µV]\n" + "".join(f"{v:.3f}\n" for v in X)).encode("cp1252"))
    rec = read(path, sample_rate_hz=RATE_HZ)
    assert rec.channels == ("Pleth",) and rec.units == ("µV",)


def test_utf8_with_bom_is_still_utf8(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("t_s,ECG [µV]\n" + "".join(f"{i / RATE_HZ:.2f},{v}\n" for i, v in enumerate(X)),
                    encoding="utf-8-sig")
    assert sniff(path).encoding == "utf-8"
    assert read(path).units == ("µV",)


def test_utf8_cut_inside_a_character_at_the_end_of_the_head_is_still_utf8(tmp_path):
    """The sniffer reads the first 64 KiB: a 2-byte 'µ' across that edge is not a cp1252 file."""
    from biosig.readers.csv_dialect import HEAD_BYTES
    header = "t_s,ECG [µV]\n"
    rows, n = [], len(header.encode())
    while n < HEAD_BYTES - 40:
        rows.append(f"{len(rows) / RATE_HZ:.2f},0.5\n")
        n += len(rows[-1])
    text = header + "".join(rows) + f"{len(rows) / RATE_HZ:.2f},0.5 "
    text += "x" * (HEAD_BYTES - 1 - len(text.encode())) + "µ\n"   # 'µ' starts at the head's last byte
    raw = text.encode()
    assert raw[HEAD_BYTES - 1:HEAD_BYTES + 1] == "µ".encode()
    path = tmp_path / "edge.csv"
    path.write_bytes(raw)
    assert sniff(path).encoding == "utf-8"
