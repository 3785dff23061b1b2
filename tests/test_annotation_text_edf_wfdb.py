"""Annotation texts through EDF+ and WFDB, whole or refused in one line (never cut or garbled silently).

EDF+: pyedflib writes 40 bytes of a text; longer ones were cut there (with a warning). They are now written
whole as the file's TALs (:mod:`biosig.writers_edf_tal`), up to the 512 bytes pyedflib reads back; a longer
one, or one holding EDF+'s separators, is refused naming it. Oracles: pyedflib's reader (edflib) and
biosig's own TAL decoder (:func:`biosig.readers.edf_plusd.read_records`), a separate code path.

WFDB: wfdb.wrann writes each character's code modulo 256 ("→" as 0x92, "ритм" as "@8B<": read back so by
wfdb and biosig, without a word); texts beyond Latin-1 are now UTF-8 bytes (wfdb.rdann's characters,
one a byte, are those bytes) and read back by biosig as the text. A label that is no WFDB code with its
own aux was written as one comment text ("cough dry") and read back as one label; now they are split
by 0x1f and read back apart. A tab or line break in a text made wfdb.wrann refuse the ``.atr`` (every
annotation lost behind one warning): refused naming it. wfdb.rdann is the oracle of what is on disk.
"""
import datetime
import logging

import numpy as np
import pyedflib
import pytest
import wfdb

from biosig.errors import WriteError
from biosig.readers import read, wfdb_native
from biosig.readers.edf_plusd import read_records
from biosig.record import Annotations, Record
from biosig.writers import write


def _record(sample, symbol, aux, start_time=None, n=1000):
    x = np.sin(np.arange(n) / 7.0)[None, :].astype(np.float32)
    ann = Annotations(sample=np.asarray(sample), symbol=tuple(symbol), aux=tuple(aux), source="labchart")
    return Record(samples=x, fs_hz=100.0, channels=("II",), units=("mV",), annotations=ann, start_time=start_time)


LONG = "Sleep stage W, arousal after a long apnoea"          # 42 bytes: cut to 40 before
UTF8 = "Ω→ритм, arousal " * 8                                 # multi-byte, 216 bytes
MAX = "z" * 511 + "!"                                         # 512 bytes: the most pyedflib reads back


@pytest.mark.parametrize("start", [None, datetime.datetime(2024, 3, 1, 10, 0, 0, 250000)],
                         ids=["start-unknown", "start-with-fraction"])
def test_edf_writes_texts_over_40_bytes_whole(tmp_path, caplog, start):
    # five crowded into the first second, so that the TALs spread over several data records
    sample = [10, 11, 12, 13, 14, 500, 990]
    symbol = [LONG, UTF8, MAX, "N", "+", "Asystole", "V"]
    aux = ["", "", "", "", "(AFIB checked by two readers, then confirmed", "duration_s=2.5", ""]
    rec = _record(sample, symbol, aux, start)
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        write(rec, tmp_path / "r.edf")
    assert "cut" not in caplog.text
    want = [LONG, UTF8, MAX, "N", "+\t(AFIB checked by two readers, then confirmed", "Asystole", "V"]
    with pyedflib.EdfReader(str(tmp_path / "r.edf")) as f:            # oracle 1: edflib
        onsets, durations, texts = f.readAnnotations()
        signal = f.readSignal(0)
    order = np.argsort(onsets, kind="stable")
    assert [texts[i] for i in order] == want
    np.testing.assert_allclose(onsets[order], np.asarray(sample) / 100.0)
    np.testing.assert_allclose(durations[order], [-1, -1, -1, -1, -1, 2.5, -1])
    np.testing.assert_allclose(signal, rec.samples[0], atol=1e-3)   # the samples untouched by the rewrite
    *_, ours_onsets, ours_durations, ours_texts, _, _ = read_records(tmp_path / "r.edf")   # oracle 2: own TALs
    order = np.argsort(ours_onsets, kind="stable")
    assert [ours_texts[i] for i in order] == want
    np.testing.assert_allclose(ours_onsets[order], np.asarray(sample) / 100.0)
    back = read(tmp_path / "r.edf")
    assert back.start_time == start
    np.testing.assert_array_equal(back.annotations.sample, sample)
    assert back.annotations.symbol == rec.annotations.symbol and back.annotations.aux == rec.annotations.aux


def test_edf_short_texts_are_written_by_pyedflib_as_before(tmp_path):
    rec = _record([10, 500], ["N", "Asystole"], ["", "(AFIB"])
    write(rec, tmp_path / "r.edf")
    with pyedflib.EdfReader(str(tmp_path / "r.edf")) as f:
        assert list(f.readAnnotations()[2]) == ["N", "Asystole\t(AFIB"]
        assert f.getSignalLabels() == ["II"]


@pytest.mark.parametrize("symbol, aux, says", [
    (MAX + "!", "", "513 bytes"),
    ("Asystole", "y" * 600, "609 bytes"),
    ("a\x14b", "", "0x14"),
])
def test_edf_refuses_a_text_it_cannot_hold_naming_it(tmp_path, symbol, aux, says):
    rec = _record([10, 20], ["N", symbol], ["", aux])
    with pytest.raises(WriteError) as err:
        write(rec, tmp_path / "r.edf")
    line = str(err.value)
    assert "\n" not in line and says in line and "sample 20" in line
    assert not (tmp_path / "r.edf").exists()


AUX = ["µ é", "→", "ü ", "ритм", "🫀 ok", "Ã©"]


@pytest.mark.parametrize("with_fs", [False, True], ids=["numpy-decoder", "wfdb-rdann"])
def test_wfdb_aux_beyond_latin1_round_trips(tmp_path, caplog, with_fs):
    rec = _record(np.arange(len(AUX)) * 100 + 10, ["+"] * len(AUX), AUX)
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        write(rec, tmp_path / "r.hea")
    assert "UTF-8" in caplog.text and "'ритм'" in caplog.text and "'µ é'" not in caplog.text
    # the same bytes in a file without the rate, which biosig's NumPy decoder reads (one with it is left
    # to wfdb.rdann, as biosig writes it): both reader paths
    oracle = wfdb.rdann(str(tmp_path / "r"), "atr")
    wfdb.wrann("r", "atr", sample=oracle.sample, symbol=oracle.symbol, aux_note=oracle.aux_note,
               fs=100 if with_fs else None, write_dir=str(tmp_path))
    assert (wfdb_native.read_annotations(tmp_path / "r.atr") is None) == with_fs
    oracle = wfdb.rdann(str(tmp_path / "r"), "atr")
    # on disk: Latin-1 as wfdb writes it (µ é, ü), else the text's UTF-8 bytes, one character a byte in wfdb
    assert oracle.aux_note[0] == "µ é" and oracle.aux_note[2] == "ü "
    assert [a.encode("latin-1").decode("utf-8") for a in oracle.aux_note[1::2]] == AUX[1::2]
    back = read(tmp_path / "r.hea").annotations
    assert back.aux == tuple(AUX) and back.symbol == ("+",) * len(AUX)


def test_wfdb_label_beyond_latin1_and_long_utf8_aux(tmp_path, caplog):
    long = "ж" * 200                                             # 400 bytes: cut at 255, between characters
    rec = _record([10, 110], ["Ритм", "+"], ["синус", long])
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        write(rec, tmp_path / "r.hea")
    assert "longer than 255 bytes" in caplog.text
    oracle = wfdb.rdann(str(tmp_path / "r"), "atr")
    assert oracle.symbol == ['"', "+"] and len(oracle.aux_note[1]) == 254
    back = read(tmp_path / "r.hea").annotations
    assert back.symbol == ("Ритм", "+") and back.aux == ("синус", "ж" * 127)


def test_wfdb_label_and_its_own_aux_read_back_apart(tmp_path):
    rec = _record([10, 110, 210, 310], ["cough", "Asystole", "+", "N"], ["dry", "", "(AFIB", ""])
    write(rec, tmp_path / "r.hea")
    oracle = wfdb.rdann(str(tmp_path / "r"), "atr")
    assert oracle.symbol == ['"', '"', "+", "N"]
    assert oracle.aux_note == ["cough\x1fdry", "Asystole", "(AFIB", ""]
    back = read(tmp_path / "r.hea").annotations
    assert back.symbol == ("cough", "Asystole", "+", "N") and back.aux == ("dry", "", "(AFIB", "")


@pytest.mark.parametrize("symbol, aux", [("+", "(AFIB\nconfirmed"), ("cough", "dry\tloud")])
def test_wfdb_refuses_a_tab_or_line_break_naming_the_annotation(tmp_path, symbol, aux):
    # wfdb.wrann refuses them: the .atr was not written, every annotation lost behind one warning
    rec = _record([10, 20], ["N", symbol], ["", aux])
    with pytest.raises(WriteError) as err:
        write(rec, tmp_path / "r.hea")
    assert "\n" not in str(err.value) and "sample 20" in str(err.value) and "tab or line break" in str(err.value)
    assert not list(tmp_path.iterdir())   # refused before any file is written
