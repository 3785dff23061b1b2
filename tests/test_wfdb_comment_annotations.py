"""WFDB comment annotations read back as their text.

biosig writes a label that is no WFDB code (``Asystole``) as a comment annotation: symbol ``"``, the
label in its aux text. The reader gave it back with the label ``"``, the text only in ``aux``: written
and read, ``Asystole`` became ``"``. Now a comment annotation's label is its aux text (without trailing
NULs or whitespace) and its aux is empty; every other annotation keeps its symbol and its aux text
(``+`` with ``(AFIB``). wfdb.rdann is the oracle for what is on disk, on both of the reader's paths
(the NumPy decoder, :func:`biosig.readers.wfdb_native.read_annotations`, and wfdb.rdann itself)."""
import numpy as np
import pytest
import wfdb

from biosig.readers import read, wfdb_native
from biosig.record import Annotations, Record
from biosig.writers import write
from conftest import shared_path


def _expected(oracle):
    """(labels, aux texts) from wfdb.rdann's symbols and aux notes, by the rule above."""
    labels, aux = [], []
    for sym, note in zip(oracle.symbol, oracle.aux_note or [""] * len(oracle.symbol)):
        note = (note or "").rstrip("\x00")
        text = note.rstrip(" \t\r\n\x00") if sym == '"' else ""
        label, _, own = text.partition("\x1f")
        labels.append(label if label.strip() else (text or sym))
        aux.append(own if label.strip() else ("" if text else note))
    return tuple(labels), tuple(aux)


def _signal():
    x = np.random.default_rng(0).standard_normal((1, 1000)).astype(np.float32)
    return Record(samples=x, fs_hz=100.0, channels=("II",), units=("mV",))


def test_written_free_text_labels_read_back_as_their_text(tmp_path):
    ann = Annotations(sample=np.array([10, 110, 210, 310, 410]), symbol=("N", "Asystole", "+", "False alarm", "V"),
                      aux=("", "", "(AFIB", "", ""), source="labchart")
    rec = _signal().replace(annotations=ann)
    write(rec, tmp_path / "r.hea")
    oracle = wfdb.rdann(str(tmp_path / "r"), "atr")
    assert oracle.symbol == ["N", '"', "+", '"', "V"]          # on disk: comment annotations
    back = read(tmp_path / "r.hea").annotations
    np.testing.assert_array_equal(back.sample, oracle.sample)
    assert (back.symbol, back.aux) == _expected(oracle)
    assert back.symbol == ann.symbol and back.aux == ann.aux   # written and read: the same labels


def test_a_label_with_its_own_aux_reads_back_apart(tmp_path):
    # The writer puts "cough\x1fdry" in the aux text (wfdb.wrann refuses a tab): read back apart.
    ann = Annotations(sample=np.array([10, 110]), symbol=("cough", "N"), aux=("dry", ""), source="x")
    write(_signal().replace(annotations=ann), tmp_path / "r.hea")
    oracle = wfdb.rdann(str(tmp_path / "r"), "atr")
    back = read(tmp_path / "r.hea").annotations
    assert (back.symbol, back.aux) == _expected(oracle) == (("cough", "N"), ("dry", ""))


@pytest.mark.parametrize("with_fs", [False, True], ids=["numpy-decoder", "wfdb-rdann"])
def test_comment_annotations_of_an_atr_file_on_both_reader_paths(tmp_path, with_fs):
    write(_signal(), tmp_path / "r.hea")
    # A file as other tools write it: text with trailing blanks, an empty comment, rhythm changes.
    wfdb.wrann("r", "atr", sample=np.array([5, 50, 120, 300, 301, 700]),
               symbol=['"', "N", '"', "+", '"', "V"],
               aux_note=["Noise in lead 2  ", "", "", "(AFIB", "x   ", ""],
               fs=100 if with_fs else None, write_dir=str(tmp_path))
    native = wfdb_native.read_annotations(tmp_path / "r.atr")
    assert (native is None) == with_fs            # the parameter picks the path
    oracle = wfdb.rdann(str(tmp_path / "r"), "atr")
    back = read(tmp_path / "r.hea").annotations
    np.testing.assert_array_equal(back.sample, oracle.sample)
    assert (back.symbol, back.aux) == _expected(oracle)
    assert back.symbol == ("Noise in lead 2", "N", '"', "+", "x", "V")
    assert back.aux == ("", "", "", "(AFIB", "", "")


@pytest.mark.parametrize("name, ext", [("100", "atr"), ("03700181", "sqrs")])
def test_real_annotation_files_read_as_the_oracle_says(name, ext):
    """MIT-BIH 100.atr and 03700181.sqrs: labels and aux as wfdb.rdann gives them (neither holds a
    comment annotation: their labels are wfdb's symbols unchanged)."""
    base = shared_path("wfdb", f"{name}.hea").with_suffix("")
    rec = read(base.with_suffix(".hea"))
    oracle = wfdb.rdann(str(base), ext)
    # 03700181 is multi-frequency: its annotations count frames, the record's samples run faster.
    sample = np.round(oracle.sample * (rec.fs_hz / (oracle.fs or rec.metadata["frame_fs_hz"]))).astype(np.int64)
    keep = sample < rec.n_samples
    labels, aux = _expected(oracle)
    assert rec.annotations.source == ext and len(rec.annotations) == int(keep.sum()) > 1000
    np.testing.assert_array_equal(rec.annotations.sample, sample[keep])
    assert rec.annotations.symbol == tuple(np.asarray(labels, dtype=object)[keep])
    assert rec.annotations.aux == tuple(np.asarray(aux, dtype=object)[keep])
