"""Header cells of a CSV that are not channels (:mod:`biosig.readers.unnamed_columns`).

Before: ``t_s, ecg, ppg`` named the channels ``" ecg"`` and ``" ppg"`` (``channels=["ppg"]`` refused,
no PPG modality); pandas' ``to_csv`` row index (``,ecg,ppg`` / ``0,...``) and R's ``write.csv`` one
(``"","ecg"`` / ``"1",...``) became a channel ``""`` holding 0, 1, 2, ...; a delimiter ending every line
of a table read at a stated rate added a channel ``""`` of NaN. Oracle: the frame pandas wrote."""
import numpy as np
import pandas as pd
import pytest

import biosig

N = 25
FS = 250


def _frame():
    k = np.arange(N)
    return pd.DataFrame({"t_s": k / FS, "ecg": np.sin(0.3 * k), "ppg": np.cos(0.2 * k)})


@pytest.mark.parametrize("timed, first_row", [(True, 0), (False, 0), (True, 1000)],
                         ids=["timed", "stated-rate", "timed-slice"])
def test_pandas_row_index_is_no_channel(tmp_path, timed, first_row):
    df = _frame() if timed else _frame()[["ecg", "ppg"]]
    df.index += first_row   # df.iloc[1000:].to_csv(): the index counts from 1000
    path = tmp_path / "export.csv"
    df.to_csv(path)   # index=True, pandas' default: a first column without a name
    assert path.read_text().startswith(",")
    rec = biosig.read(path, sample_rate_hz=None if timed else FS)
    assert rec.channels == ("ecg", "ppg") and rec.fs_hz == FS
    np.testing.assert_allclose(rec.samples, df[["ecg", "ppg"]].to_numpy().T, rtol=0, atol=1e-6)


def test_r_write_csv_row_names_are_no_channel(tmp_path):
    df = _frame()
    path = tmp_path / "r.csv"
    path.write_text('"","t_s","ecg"\n' + "".join(f'"{i + 1}",{t!r},{v!r}\n' for i, (t, v) in
                                                 enumerate(zip(df.t_s, df.ecg))))
    rec = biosig.read(path)
    assert rec.channels == ("ecg",) and rec.fs_hz == FS
    np.testing.assert_allclose(rec.samples[0], df.ecg, rtol=0, atol=1e-6)


@pytest.mark.parametrize("timed", [True, False], ids=["timed", "stated-rate"])
def test_comma_space_separated_names(tmp_path, timed):
    df = _frame()
    cols = ["t_s", "ecg", "ppg"] if timed else ["ecg", "ppg"]
    path = tmp_path / "typed.csv"
    path.write_text(", ".join(cols) + "\n" + "".join(", ".join(repr(float(v)) for v in row) + "\n"
                                                     for row in df[cols].itertuples(index=False)))
    rec = biosig.read(path, sample_rate_hz=None if timed else FS)
    assert rec.channels == ("ecg", "ppg") and rec.channel_modalities == ("ecg", "ppg")
    np.testing.assert_allclose(rec.select(["ppg"]).samples[0], df.ppg, rtol=0, atol=1e-6)


@pytest.mark.parametrize("text, channels", [
    ("ecg;ppg;\n" + "".join(f"{k};{-k};\n" for k in range(N)), ("ecg", "ppg")),
    ("".join(f"{k},{-k},{2 * k},\n" for k in range(N)), ("ch1", "ch2", "ch3")),   # no header
    (",ecg,ppg\n" + "".join(f",{k},{-k}\n" for k in range(N)), ("ecg", "ppg")),   # a delimiter opening each line
])
def test_empty_unnamed_column_at_a_stated_rate_is_no_channel(tmp_path, text, channels):
    path = tmp_path / "bare.csv"
    path.write_text(text)
    rec = biosig.read(path, sample_rate_hz=FS)
    assert rec.channels == channels and not np.isnan(rec.samples).any()
    np.testing.assert_array_equal(rec.samples[0], np.arange(N))


def test_an_unnamed_signal_column_is_kept(tmp_path):
    """Only a column that counts the rows is a row index: an unnamed column of samples stays a channel."""
    path = tmp_path / "unnamed.csv"
    x = np.round(np.sin(0.3 * np.arange(N)), 3)
    path.write_text(",ecg\n" + "".join(f"{v},{k % 7}\n" for k, v in enumerate(x)))
    rec = biosig.read(path, sample_rate_hz=FS)
    assert rec.channels == ("", "ecg")
    np.testing.assert_allclose(rec.samples[0], x, rtol=0, atol=1e-6)
