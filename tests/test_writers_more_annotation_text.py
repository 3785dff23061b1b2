"""Annotation text the EDF and WFDB writers lost (EDF: the aux after a tab, read back apart).

WFDB: a label over 3 characters (``Asystole``, a LabChart comment) made wfdb.wrann refuse, and every
annotation of the record was dropped with a warning; an aux text over 255 characters garbled the
``.atr`` (its length byte overflowed). EDF: the aux text (``(AFIB`` of a rhythm change) was dropped
without a word, and a text over pyedflib's 40 bytes was cut without one (now written whole:
tests/test_annotation_text_edf_wfdb.py). wfdb.rdann and pyedflib
are the oracles."""
import logging

import numpy as np
import pyedflib
import pytest
import wfdb

from biosig.readers import read
from biosig.record import Annotations, Record
from biosig.writers import write


def _record(symbol, aux):
    x = np.random.default_rng(0).standard_normal((1, 1000)).astype(np.float32)
    ann = Annotations(sample=np.arange(len(symbol)) * 100 + 10, symbol=tuple(symbol), aux=tuple(aux),
                      source="labchart")
    return Record(samples=x, fs_hz=100.0, channels=("II",), units=("mV",), annotations=ann)


def test_wfdb_keeps_labels_that_are_no_wfdb_code_as_comment_annotations(tmp_path, caplog):
    rec = _record(["N", "Asystole", "+", "cough"], ["", "", "(AFIB", "dry"])
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        write(rec, tmp_path / "r.hea")
    ann = wfdb.rdann(str(tmp_path / "r"), "atr")
    np.testing.assert_array_equal(ann.sample, rec.annotations.sample)
    assert ann.symbol == ["N", '"', "+", '"']
    assert ann.aux_note == ["", "Asystole", "(AFIB", "cough\x1fdry"]
    assert "comment annotations" in caplog.text and "Asystole, cough" in caplog.text
    back = read(tmp_path / "r.hea").annotations
    # a comment annotation reads back as its text (it read back as '"': the label lost, note 59)
    assert back.symbol == ("N", "Asystole", "+", "cough") and back.aux == ("", "", "(AFIB", "dry")


def test_wfdb_cuts_an_aux_text_over_255_characters_with_a_warning(tmp_path, caplog):
    rec = _record(["N", "+", "V"], ["", "x" * 300, "after"])
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        write(rec, tmp_path / "r.hea")
    ann = wfdb.rdann(str(tmp_path / "r"), "atr")
    assert ann.symbol == ["N", "+", "V"] and ann.aux_note == ["", "x" * 255, "after"]
    assert "longer than 255" in caplog.text


def test_edf_writes_the_aux_text_after_the_label(tmp_path, caplog):
    rec = _record(["N", "+", "Asystole", "V"], ["", "(AFIB", "checked", "duration_s=2.5"])
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        write(rec, tmp_path / "r.edf")
    with pyedflib.EdfReader(str(tmp_path / "r.edf")) as f:
        onsets, durations, texts = f.readAnnotations()
    np.testing.assert_allclose(onsets, rec.annotations.sample / rec.fs_hz)
    assert list(texts) == ["N", "+\t(AFIB", "Asystole\tchecked", "V"]
    np.testing.assert_allclose(durations, [-1, -1, -1, 2.5])
    assert "cut" not in caplog.text
    back = read(tmp_path / "r.edf").annotations   # labels and aux texts read back apart
    assert back.symbol == rec.annotations.symbol and back.aux == rec.annotations.aux


def test_edf_writes_texts_over_pyedflibs_40_bytes_whole(tmp_path, caplog):
    long = "Sleep stage W, arousal after a long apnoea"
    assert len(long.encode()) > 40
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        write(_record([long], [""]), tmp_path / "r.edf")
    with pyedflib.EdfReader(str(tmp_path / "r.edf")) as f:
        texts = list(f.readAnnotations()[2])
    assert texts == [long]   # written whole as the file's TALs (it was cut to 40 bytes with a warning)
    assert "cut" not in caplog.text


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_tables_keep_them_whole(tmp_path, ext):
    rec = _record(["Asystole"], ["y" * 300])
    back = read(write(rec, tmp_path / f"r{ext}")).annotations
    assert back.symbol == ("Asystole",) and back.aux == ("y" * 300,)
