"""Annotations round-trip through the CSV and Parquet writers and readers (they were lost
without a word): a CSV's in the sidecar NAME.annotations.csv, a Parquet's in its schema metadata."""
import csv
import json
import logging

import numpy as np
import pyarrow.parquet as pq
import pytest
import wfdb

from biosig.errors import ReadError, WriteError
from biosig.readers import discover, read
from biosig.record import Annotations, Record
from biosig.writers import write
from conftest import shared_path


def _record(times_s=None):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 500)).astype(np.float32)
    ann = Annotations(sample=np.array([5, 120, 121, 499]), symbol=("N", "V", "+", 'a "b", c'),
                      aux=("", "", "(AFIB", "line\nbreak"), source="atr")
    return Record(samples=x, fs_hz=100.0, channels=("II", "V1"), units=("mV", "mV"), annotations=ann,
                  times_s=times_s)


def _same(a: Annotations, b: Annotations) -> None:
    np.testing.assert_array_equal(a.sample, b.sample)
    assert a.symbol == b.symbol and a.source == b.source
    assert (a.aux or ("",) * len(a)) == (b.aux or ("",) * len(b))


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_annotations_read_back(tmp_path, ext):
    rec = _record()
    back = read(write(rec, tmp_path / f"r{ext}"))
    assert back.annotations is not None, f"{ext}: annotations lost"
    _same(back.annotations, rec.annotations)


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_annotations_of_a_record_with_irregular_times(tmp_path, ext):
    t = np.cumsum(np.r_[0.0, np.random.default_rng(4).uniform(0.008, 0.012, 499)])
    rec = _record(times_s=t)
    back = read(write(rec, tmp_path / f"r{ext}"))
    assert back.times_s is not None
    _same(back.annotations, rec.annotations)
    if ext == ".csv":   # the sidecar's onset_s is the time of each event's sample
        with open(tmp_path / "r.annotations.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        np.testing.assert_allclose([float(r["onset_s"]) for r in rows], t[rec.annotations.sample])


def test_the_files_hold_them_for_other_tools(tmp_path):
    """Read with the csv module and pyarrow, not with biosig."""
    rec = _record()
    write(rec, tmp_path / "r.csv")
    with open(tmp_path / "r.annotations.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["sample"]) for r in rows] == [5, 120, 121, 499]
    assert [r["symbol"] for r in rows] == list(rec.annotations.symbol)
    assert [r["aux"] for r in rows] == list(rec.annotations.aux)
    write(rec, tmp_path / "r.parquet")
    meta = json.loads(pq.read_schema(tmp_path / "r.parquet").metadata[b"biosig"])
    assert meta["annotations"]["sample"] == [5, 120, 121, 499]
    assert meta["annotations"]["symbol"] == list(rec.annotations.symbol)


def test_mitbih_beat_labels_survive_csv_and_parquet(tmp_path):
    """Record 100's beat labels, checked against wfdb.rdann (the oracle), after CSV and Parquet."""
    base = shared_path("wfdb", "100.hea").with_suffix("")
    rec = read(base).slice_s(0, 120)
    oracle = wfdb.rdann(str(base), "atr", sampto=rec.n_samples - 1)
    for ext in (".csv", ".parquet"):
        back = read(write(rec, tmp_path / f"r100{ext}"))
        np.testing.assert_array_equal(back.annotations.sample, oracle.sample)
        assert list(back.annotations.symbol) == list(oracle.symbol)
        assert len(back.annotations) == len(rec.annotations) > 100 and back.annotations.source == "atr"


def test_a_table_written_again_without_annotations_loses_the_old_ones(tmp_path):
    write(_record(), tmp_path / "r.csv")
    plain = _record().replace(annotations=None)
    write(plain, tmp_path / "r.csv")
    assert not (tmp_path / "r.annotations.csv").exists()
    assert read(tmp_path / "r.csv").annotations is None


def test_a_file_of_the_sidecar_name_that_is_not_one_is_never_overwritten(tmp_path):
    other = tmp_path / "r.annotations.csv"
    other.write_text("my,own\n1,2\n")
    with pytest.raises(WriteError, match="not a biosig annotations file"):
        write(_record(), tmp_path / "r.csv")
    assert other.read_text() == "my,own\n1,2\n" and not (tmp_path / "r.csv").exists()


def test_the_sidecar_is_no_record(tmp_path):
    write(_record(), tmp_path / "r.csv")
    assert discover([tmp_path]) == [str(tmp_path / "r.csv")]
    with pytest.raises(ReadError, match="annotations of r.csv"):
        read(tmp_path / "r.annotations.csv")


def test_events_outside_the_record_are_dropped_with_a_warning(tmp_path, caplog):
    write(_record(), tmp_path / "r.csv")
    side = tmp_path / "r.annotations.csv"
    side.write_text(side.read_text() + "600,,N,,atr\n")
    with caplog.at_level(logging.WARNING):
        back = read(tmp_path / "r.csv")
    assert len(back.annotations) == 4 and "1 annotation(s) outside" in caplog.text


def test_audio_says_its_annotations_are_not_written(tmp_path, caplog):
    x = (0.1 * np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    rec = Record(samples=x, fs_hz=8000.0, channels=("mono",), units=("FS",), modality="audio",
                 annotations=Annotations(sample=np.array([100]), symbol=("cough",)))
    with caplog.at_level(logging.WARNING):
        write(rec, tmp_path / "a.wav")
    assert "1 annotation(s) not written" in caplog.text
