"""CSV files as spreadsheets save them: a UTF-8 BOM, semicolons and decimal commas, a time column in
ms; and UTF-16 ("Unicode text"), whose byte-order mark FF FE was sniffed as an MPEG frame sync: the
file went to the MP3 decoder, libmpg123 printed "Illegal Audio-MPEG-Header" on stderr and the error
said "not a readable audio file"."""
import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read

pd = pytest.importorskip("pandas")

T_S = np.arange(500) / 100.0
X = np.sin(2 * np.pi * T_S)


def test_bom_semicolons_decimal_commas_and_ms_read_as_pandas_does(tmp_path):
    path = tmp_path / "excel.csv"
    rows = "".join(f"{t * 1000:.0f};{x:.5f};{x / 2:.5f}\n".replace(".", ",") for t, x in zip(T_S, X))
    path.write_text("time [ms];ecg [mV];resp\n" + rows, encoding="utf-8-sig")
    ref = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")
    rec = read(path)
    assert rec.channels == ("ecg", "resp") and rec.units == ("mV", "")
    assert rec.fs_hz == pytest.approx(1000.0 / np.median(np.diff(ref["time [ms]"])))
    np.testing.assert_allclose(rec.samples, ref[["ecg [mV]", "resp"]].to_numpy().T, atol=1e-6)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_text_is_named_not_decoded_as_audio(tmp_path, capfd, encoding):
    path = tmp_path / "unicode.csv"
    text = "t_s,ecg\n" + "".join(f"{t:.3f},{x:.5f}\n" for t, x in zip(T_S, X))
    data = text.encode(encoding)
    path.write_bytes(data if encoding == "utf-16" else b"\xfe\xff" + data)
    with pytest.raises(ReadError, match="UTF-16 text.*save it as UTF-8"):
        read(path)
    assert "MPEG" not in capfd.readouterr().err


def test_a_headerless_mpeg_stream_is_still_audio(tmp_path):
    """FF FE followed by bytes that are not UTF-16 text keeps being sniffed as an MPEG frame."""
    from biosig.readers import _utf16_text

    assert not _utf16_text(b"\xff\xfe" + bytes([0x90, 0x00, 0x00, 0xd8, 0x00, 0xdc, 0x01, 0x02]))
    assert _utf16_text("\ufefft_s,ecg\n".encode("utf-16-le"))
