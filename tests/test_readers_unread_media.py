"""A folder of sound in containers biosig does not decode (COUGHVID's .webm coughs, phone .m4a
recordings) was skipped without a word, as a README is: `biosig info coughs/` listed the WAV files
beside them and said nothing of the rest. Now one warning names them."""
import logging
import os

import numpy as np
import soundfile as sf

from biosig.cli import main
from biosig.readers import discover


def _folder(tmp_path):
    sf.write(tmp_path / "a.wav", 0.1 * np.sin(np.arange(16000) / 5.0), 16000)
    (tmp_path / "b.webm").write_bytes(b"\x1aE\xdf\xa3" + bytes(60))   # an EBML (Matroska/WebM) header
    (tmp_path / "c.m4a").write_bytes(bytes(4) + b"ftypM4A " + bytes(40))
    (tmp_path / "notes.md").write_text("not a recording\n")
    return tmp_path


def test_discover_warns_of_undecoded_sound_files(tmp_path, caplog):
    folder = _folder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        found = discover([folder])
    assert [os.path.basename(p) for p in found] == ["a.wav"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1, warned
    assert "2 sound file(s) skipped" in warned[0] and "b.webm" in warned[0] and "c.m4a" in warned[0]
    assert "notes.md" not in warned[0]


def test_info_still_summarises_the_readable_ones(tmp_path, capsys, caplog):
    folder = _folder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        assert main(["info", str(folder), "--no-quality"]) == 0
    assert "a.wav" in capsys.readouterr().out
    assert any("b.webm" in r.getMessage() for r in caplog.records)
