"""`biosig simulate audio` writes full-scale samples in one unit, FS, whatever the format: what the
audio reader says of a WAV/FLAC, and what EDF and WFDB headers and CSV/Parquet columns now hold
(before: '' in EDF, CSV and Parquet, NU in WFDB, FS in WAV/FLAC). pyedflib, wfdb and soundfile say
what is in each file."""
import numpy as np
import pyarrow.parquet as pq
import pyedflib
import pytest
import soundfile as sf
import wfdb

from biosig.cli import main
from biosig.readers import read
from biosig.synthetic import simulate

EXTENSIONS = (".wav", ".flac", ".edf", ".hea", ".csv", ".parquet")


def test_simulated_audio_is_in_full_scale():
    rec = simulate("audio", 1.0, seed=2)
    assert rec.units == ("FS",)
    assert 0 < float(np.abs(rec.samples).max()) <= 1.0


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_every_format_reads_back_in_fs(tmp_path, ext):
    out = tmp_path / f"a{ext}"
    assert main(["simulate", "audio", "--seconds", "1", "--seed", "2", "--out", str(out)]) == 0
    rec = simulate("audio", 1.0, seed=2)
    back = read(out)
    assert back.units == ("FS",) and back.modality == "audio" and back.fs_hz == rec.fs_hz
    np.testing.assert_allclose(back.samples, rec.samples, atol=2e-4)   # EDF / WFDB: 16 bits over the range


def test_the_files_say_fs(tmp_path):
    for ext in EXTENSIONS:
        assert main(["simulate", "audio", "--seconds", "1", "--seed", "2", "--out", str(tmp_path / f"a{ext}")]) == 0
    rec = simulate("audio", 1.0, seed=2)
    with pyedflib.EdfReader(str(tmp_path / "a.edf")) as f:
        assert f.getPhysicalDimension(0) == "FS"
    assert wfdb.rdheader(str(tmp_path / "a")).units == ["FS"]
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "t_s,mono [FS]"
    import json
    assert json.loads(pq.read_schema(tmp_path / "a.parquet").metadata[b"biosig"])["units"] == ["FS"]
    for ext in (".wav", ".flac"):   # full scale: soundfile's floats are the samples
        x, fs = sf.read(str(tmp_path / f"a{ext}"), dtype="float32")
        assert fs == rec.fs_hz
        np.testing.assert_allclose(x, rec.samples[0], atol=2.0 ** -22)


def test_a_unit_a_sound_file_cannot_hold_is_said(tmp_path, caplog):
    import logging
    from biosig.record import Record
    from biosig.writers import write
    rec = Record(samples=np.zeros((1, 800), np.float32), fs_hz=8000.0, channels=("mic",), units=("Pa",),
                 modality="audio")
    with caplog.at_level(logging.WARNING):
        write(rec, tmp_path / "p.wav")
    assert "unit Pa not written" in caplog.text and read(tmp_path / "p.wav").units == ("FS",)
