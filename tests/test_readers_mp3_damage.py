"""Damaged compressed audio: what libmpg123 prints on file descriptor 2 becomes part of our one
line (an error, or a warning when the file decoded anyway), never raw C output around it."""
import logging
import os
import subprocess
import sys

import pytest

from biosig.errors import ReadError
from biosig.readers.audio import decoder_messages, read_audio
from conftest import ROOT, shared_path


def _cough_mp3() -> bytes:
    files = sorted(shared_path("cough", "raw").glob("*.mp3"))
    if not files:
        pytest.skip("no mp3 in ../shared/data/cough/raw")
    return max(files, key=lambda p: p.stat().st_size).read_bytes()


def _info(path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "biosig.cli", "info", str(path)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_decoder_messages_collects_fd2_and_restores_it(capfd):
    said = []
    with decoder_messages(said):
        os.write(2, b"Note: from C\n\n[src/x.c:f():1] error: gave up\n")
    os.write(2, b"after\n")
    assert said == ["Note: from C", "[src/x.c:f():1] error: gave up"]
    assert capfd.readouterr().err == "after\n"


def test_intact_real_mp3_reads_without_decoder_messages(tmp_path, caplog):
    p = tmp_path / "ok.mp3"
    p.write_bytes(_cough_mp3())
    with caplog.at_level(logging.WARNING):
        rec = read_audio(p)
    assert rec.n_samples > 0 and "decoder_messages" not in rec.metadata and not caplog.records


def test_damaged_mp3_is_one_line_with_the_decoders_words(tmp_path):
    data = bytearray(_cough_mp3())
    n = len(data)
    data[n // 3:n // 3 + 2000] = bytes(2000)              # a run of zeros: no frame header to resync on
    p = tmp_path / "damaged.mp3"
    p.write_bytes(bytes(data))
    with pytest.raises(ReadError, match="not a readable audio file"):
        read_audio(p)
    res = _info(p)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith("biosig info: error:") and "damaged.mp3" in lines[0]


def test_truncated_mp3_decodes_with_a_warning_and_the_messages_in_metadata(tmp_path, caplog):
    data = _cough_mp3()
    p = tmp_path / "cut.mp3"
    p.write_bytes(data[:len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="biosig.readers.audio"):
        rec = read_audio(p)
    said = rec.metadata.get("decoder_messages")
    assert said, "libmpg123 (soundfile's bundled libsndfile) reports a cut MP3 whose Xing header promises more"
    assert read_audio(p).metadata["decoder_messages"] == said       # every read, not only the first
    assert any("decoded, but the decoder reported" in r.getMessage() for r in caplog.records)
    res = _info(p)
    assert res.returncode == 0
    for line in res.stderr.strip().splitlines():     # only our logging lines, no raw decoder output
        assert line.startswith("WARNING biosig.readers.audio: "), res.stderr
