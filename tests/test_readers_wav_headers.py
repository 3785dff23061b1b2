"""WAV files against soundfile and librosa: every PCM width and float, mono and stereo, and headers
whose lengths disagree with the file."""
import logging

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from biosig import read  # noqa: E402
from biosig.errors import ReadError  # noqa: E402

FS_HZ = 8000


def _wav(tmp_path, subtype="PCM_16", channels=2, n=1000, name="rec.wav"):
    x = np.random.default_rng(3).uniform(-0.9, 0.9, (n, channels))
    path = tmp_path / name
    sf.write(path, x, FS_HZ, subtype=subtype)
    return path


def _data_size_at(raw: bytes) -> int:
    return raw.index(b"data") + 4


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
@pytest.mark.parametrize("channels", [1, 2])
def test_every_sample_width_reads_as_soundfile_and_librosa_do(tmp_path, subtype, channels):
    librosa = pytest.importorskip("librosa")
    path = _wav(tmp_path, subtype, channels)
    rec = read(path)
    ref, fs = sf.read(path, dtype="float32", always_2d=True)
    lib, lib_fs = librosa.load(path, sr=None, mono=False)
    assert rec.fs_hz == fs == lib_fs == FS_HZ
    assert rec.channels == (("mono",) if channels == 1 else ("left", "right"))
    np.testing.assert_array_equal(rec.samples, ref.T)
    np.testing.assert_array_equal(rec.samples, np.atleast_2d(lib))


def test_a_header_whose_data_size_is_zero_reads_the_frames_the_file_holds(tmp_path, caplog):
    """A recorder killed before it wrote the sizes: libsndfile reads 0 frames, and biosig said
    "the audio file holds no samples (0 frames)" of a file holding 1000."""
    path = _wav(tmp_path)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    raw = bytearray(path.read_bytes())
    at = _data_size_at(raw)
    raw[at:at + 4] = (0).to_bytes(4, "little")
    raw[4:8] = (0).to_bytes(4, "little")
    path.write_bytes(raw)
    assert sf.info(path).frames == 0                       # the premise: the oracle sees nothing
    with caplog.at_level(logging.WARNING, logger="biosig.readers.audio"):
        rec = read(path)
    np.testing.assert_array_equal(rec.samples, ref.T)      # every frame, as written
    assert "data size is 0" in caplog.text and "1000 frames" in caplog.text


def test_a_data_size_short_of_the_bytes_after_it_says_what_was_not_read(tmp_path, caplog):
    """The header counts half the data (not updated as the recording grew): libsndfile reads that
    half; the other half was dropped without a word."""
    path = _wav(tmp_path)
    raw = bytearray(path.read_bytes())
    at = _data_size_at(raw)
    raw[at:at + 4] = (2000).to_bytes(4, "little")          # 500 of the 1000 stereo 16-bit frames
    path.write_bytes(raw)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    with caplog.at_level(logging.WARNING, logger="biosig.readers.audio"):
        rec = read(path)
    np.testing.assert_array_equal(rec.samples, ref.T)      # what the header declares, as soundfile reads it
    assert rec.n_samples == 500
    assert "2000 bytes after the WAV data chunk" in caplog.text and "500 more frames" in caplog.text


def test_chunks_after_the_data_are_not_taken_for_unread_samples(tmp_path, caplog):
    path = _wav(tmp_path)
    info = b"INFOISFT" + (6).to_bytes(4, "little") + b"biosig"
    raw = bytearray(path.read_bytes()) + b"LIST" + len(info).to_bytes(4, "little") + info
    raw[4:8] = (len(raw) - 8).to_bytes(4, "little")
    path.write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="biosig.readers.audio"):
        rec = read(path)
    assert rec.n_samples == 1000 and not caplog.records


def test_a_truncated_data_chunk_says_how_much_the_file_holds(tmp_path):
    path = _wav(tmp_path)
    path.write_bytes(path.read_bytes()[:-1001])
    with pytest.raises(ReadError, match="declares 4000 bytes, the file holds 2999"):
        read(path)
