"""A researcher's path through the new text formats, end to end through the CLI (``biosig.cli.main``):
LabChart text exports, Excel's ``sep=;`` CSV with decimal commas, a plain CSV and a header-less table
at a stated rate, in one folder; ``info``, ``embed`` and ``score`` with ecg-tiny, and conversion to
EDF / WFDB / Parquet / CSV checked with pyedflib, wfdb and pandas. The ECG is MIT-BIH record 100
(../shared/data; skipped when absent)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from biosig.cli import main
from biosig.readers import read
from biosig.writers import CSV_CLOCK_COLUMN
from conftest import shared_path

LABCHART_HEADER = ["Interval=\t{interval}", "ExcelDateTime=\t4.3749464322749809e+04\t10/11/19 11:08:37.485584",
                   "TimeFormat=\tStartOfBlock", "DateFormat=", "ChannelTitle=\tECG\tECG2",
                   "Range=\t{range1}\t{range2}", "UnitName=\t{unit}\t{unit}", "TopValue=\t*\t*",
                   "BottomValue=\t*\t*"]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _ecg_100(seconds: float = 30.0) -> np.ndarray:
    """(T, 2) mV of MIT-BIH record 100 at 360 Hz, read by wfdb (the oracle, not biosig)."""
    wfdb = pytest.importorskip("wfdb")
    base = shared_path("wfdb", "100.hea").with_suffix("")
    return wfdb.rdrecord(str(base), sampto=int(360 * seconds)).p_signal


def _labchart(path, x, interval="0.002777778 s", unit="mV", ranges=("2.000 mV", "2.000 mV"), fs_hz=360.0,
              encoding="utf-8", newline="\n", comment_row=None, without=()):
    header = [h.format(interval=interval, unit=unit, range1=ranges[0], range2=ranges[1])
              for h in LABCHART_HEADER if not h.startswith(tuple(without))]
    rows = []
    for i, (a, b) in enumerate(x):
        rows.append(f"{i / fs_hz:.6f}\t{a:.5f}\t{b:.5f}" + ("\t#* stim on" if i == comment_row else ""))
    path.write_bytes((newline.join(header + rows) + newline).encode(encoding))
    return len(header)


def _oracle(path, n_header, encoding="utf-8"):
    return np.loadtxt(path, delimiter="\t", skiprows=n_header, usecols=(1, 2), comments="#", encoding=encoding)


def test_labchart_from_windows_in_its_code_page_keeps_microvolts(tmp_path, capsys):
    """LabChart on Windows writes cp1252 ("µV" is the byte B5): the unit was read "\\ufffdV" (U+FFFD),
    into info and every converted file."""
    x = _ecg_100(5.0) * 1000.0
    path = tmp_path / "rat_uV.txt"
    n = _labchart(path, x, unit="µV", ranges=("500.0 µV", "500.0 µV"), encoding="cp1252", newline="\r\n")
    assert b"\xb5V" in path.read_bytes()
    code, out, err = _run(capsys, "info", "--json", "--no-quality", path)
    assert code == 0, err
    info = json.loads(out)[0]
    assert [c["unit"] for c in info["channels"]] == ["µV", "µV"]
    rec = read(path)
    assert rec.units == ("µV", "µV")
    np.testing.assert_array_equal(rec.samples, _oracle(path, n, "cp1252").T.astype(np.float32))


def test_a_range_without_a_unit_is_no_unit(tmp_path):
    """Without UnitName the unit is the one after each Range value; LabChart writes "1.1000 " for a
    computed channel without one: that number was taken as the unit ("1.1000")."""
    x = _ecg_100(3.0)
    path = tmp_path / "computed.txt"
    n = _labchart(path, x, ranges=("2.000 mV", "1.1000 "), without=("UnitName=",))
    rec = read(path)
    assert rec.units == ("mV", "")
    np.testing.assert_array_equal(rec.samples, _oracle(path, n).T.astype(np.float32))


@pytest.mark.parametrize("interval, fs_hz", [("0.002777778 s", 360.0), ("0.0003333333 s", 3000.0),
                                             ("2.777778 ms", 360.0), ("0.003 s", 1 / 0.003), ("0.025 s", 40.0)])
def test_the_rate_is_the_one_the_interval_was_written_from(tmp_path, interval, fs_hz):
    """1 / 0.002777778 s is 359.9999712 Hz: the rate LabChart wrote to 7 digits is 360 Hz (it went into the
    WFDB header as 359.9999712); an interval written exactly ("0.003 s") keeps its own rate."""
    x = _ecg_100(3.0)
    path = tmp_path / "rate.txt"
    _labchart(path, x[:400], interval=interval, fs_hz=fs_hz)
    rec = read(path)
    assert rec.fs_hz == pytest.approx(fs_hz, rel=1e-12)


def test_a_labchart_export_converts_to_every_format_with_its_rate_and_values(tmp_path):
    """LabChart .txt -> EDF, WFDB, Parquet, CSV: rate, names, units and values through pyedflib, wfdb
    and pandas (the values within each format's quantisation)."""
    pyedflib = pytest.importorskip("pyedflib")
    wfdb = pytest.importorskip("wfdb")
    pd = pytest.importorskip("pandas")
    from biosig.writers import write

    x = _ecg_100(20.0)
    src = tmp_path / "rat.txt"
    n = _labchart(src, x, comment_row=720)
    rec = read(src)
    truth = _oracle(src, n)
    assert rec.fs_hz == 360.0 and rec.channels == ("ECG", "ECG2") and rec.units == ("mV", "mV")
    assert list(rec.annotations.sample) == [720]

    write(rec, tmp_path / "rat.edf")
    with pyedflib.EdfReader(str(tmp_path / "rat.edf")) as f:
        assert [f.getSampleFrequency(i) for i in range(2)] == [360.0, 360.0]
        assert [f.getPhysicalDimension(i) for i in range(2)] == ["mV", "mV"]
        edf = np.stack([f.readSignal(i) for i in range(2)])
        assert list(f.readAnnotations()[2]) == ["#* stim on"]
    np.testing.assert_allclose(edf, truth.T, atol=1e-4)

    write(rec, tmp_path / "rat.hea")
    w = wfdb.rdrecord(str(tmp_path / "rat"))
    assert w.fs == 360.0 and w.sig_name == ["ECG", "ECG2"] and w.units == ["mV", "mV"]
    np.testing.assert_allclose(w.p_signal, truth, atol=1e-4)

    for ext in (".parquet", ".csv"):
        write(rec, tmp_path / f"rat{ext}")
        df = pd.read_parquet(tmp_path / f"rat{ext}") if ext == ".parquet" else pd.read_csv(tmp_path / f"rat{ext}")
        t = df.iloc[:, 0].to_numpy()
        assert (len(t) - 1) / (t[-1] - t[0]) == pytest.approx(360.0, rel=1e-9)
        # the export's ExcelDateTime= is the record's start (641a07b): a CSV holds each row's clock too
        values = df.drop(columns=[CSV_CLOCK_COLUMN], errors="ignore").iloc[:, 1:]
        np.testing.assert_allclose(values.to_numpy(), truth, atol=1e-6)
        back = read(tmp_path / f"rat{ext}")
        assert back.fs_hz == pytest.approx(360.0, rel=1e-9) and back.units == ("mV", "mV")
        assert rec.start_time is not None and back.start_time == rec.start_time


def test_a_headerless_time_column_at_the_stated_rate_reads_that_rate(tmp_path, capsys):
    """``0.000000,-0.145`` / ``0.002778,-0.145`` ... with --sample-rate-hz 360: the first column steps by the
    stated rate's interval, so it is the times, and the rate is the stated 360 Hz (it was 359.971, the
    median of the 6-decimal steps: 40 s of samples read 40.003 s, an EDF of them padded). A dropped row
    stays a gap."""
    x = _ecg_100(10.0)[:, 0]
    lines = [f"{i / 360:.6f};{v:.3f}".replace(".", ",") for i, v in enumerate(x)]
    path = tmp_path / "bare_time.csv"
    path.write_text("\ufeffsep=;\r\n" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    code, out, err = _run(capsys, "info", "--json", "--no-quality", "--sample-rate-hz", "360", path)
    assert code == 0, err
    info = json.loads(out)[0]
    assert info["fs_hz"] == 360.0 and info["n_samples"] == len(x) and info["duration_s"] == pytest.approx(10.0)
    rec = read(path, sample_rate_hz=360)
    assert rec.fs_hz == 360.0 and rec.duration_s == pytest.approx(len(x) / 360.0)
    np.testing.assert_array_equal(rec.samples[0], np.round(x, 3).astype(np.float32))

    gap = tmp_path / "bare_time_gap.csv"
    gap.write_text("sep=;\n" + "\n".join(lines[:1000] + lines[1001:]) + "\n")
    rec = read(gap, sample_rate_hz=360)
    assert rec.fs_hz == 360.0 and rec.times_s is not None
    assert rec.gaps() == [pytest.approx((1000 / 360, 1001 / 360), abs=1e-5)]


def test_score_and_embed_a_folder_of_labchart_excel_and_plain_csv(tmp_path, capsys):
    """One folder: a LabChart .txt (360 Hz, two leads), an Excel CSV with ``sep=;``, BOM, CRLF and decimal
    commas, and a plain CSV, all of the same ECG: every file scored, none refused, the same heart rate."""
    import polars as pl

    x = _ecg_100(30.0)
    ward = tmp_path / "ward"
    ward.mkdir()
    _labchart(ward / "lab.txt", x, newline="\r\n")
    excel = ["sep=;", "t_s;ECG [mV]"] + [f"{i / 360:.9f};{v:.3f}".replace(".", ",") for i, v in enumerate(x[:, 0])]
    (ward / "excel.csv").write_bytes(("\ufeff" + "\r\n".join(excel) + "\r\n").encode("utf-8"))
    plain = ["t_s,ECG"] + [f"{i / 360:.9f},{v:.3f}" for i, v in enumerate(x[:, 0])]
    (ward / "plain.csv").write_text("\n".join(plain) + "\n")

    code, _, err = _run(capsys, "score", ward, "--model", "ecg-tiny", "--backend", "torch", "--out", tmp_path / "s")
    assert code == 0, err
    records = pl.read_parquet(tmp_path / "s" / "records.parquet").sort("name")
    assert records["name"].to_list() == ["excel.csv", "lab.txt", "plain.csv"]
    assert records["fs_hz"].to_list() == [360.0, 360.0, 360.0]
    assert records["duration_s"].to_numpy() == pytest.approx([30.0] * 3)
    assert pl.read_parquet(tmp_path / "s" / "errors.parquet").height == 0
    hr = records["heart_rate_bpm"].to_numpy()
    assert np.all(np.abs(hr - hr.mean()) < 1.0) and 60 < hr.mean() < 90   # record 100: about 74 /min

    code, _, err = _run(capsys, "embed", ward, "--model", "ecg-tiny", "--out", tmp_path / "e.parquet")
    assert code == 0, err
    emb = pl.read_parquet(tmp_path / "e.parquet")
    per = {s.rsplit("/", 1)[-1]: g for (s,), g in emb.group_by("source")}
    assert sorted(per) == ["excel.csv", "lab.txt", "plain.csv"]
    a, b = (np.stack(per[k]["embedding"].to_numpy()) for k in ("excel.csv", "plain.csv"))
    np.testing.assert_array_equal(a, b)   # the same numbers, whatever the dialect
