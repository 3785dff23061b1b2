"""Files in a folder given to ``info``/``score`` that biosig does not read (a ``.docx``, a ``.jpg``, a
free ``.txt``) were ignored without a word: a folder of them said "no records found" and nothing of
what it held. Now one line counts and names them: WARNING when the folder holds no record, INFO beside
records. The signal and annotation files of a WFDB record, a list of records, hidden files, and the
CSVs and sound files that have their own messages are not counted."""
import logging
import subprocess
import sys
import pathlib

import numpy as np
import soundfile as sf

from biosig.readers import discover
from biosig.synthetic import simulate
from biosig.writers import write

ROOT = pathlib.Path(__file__).resolve().parents[1]
LOGGER = "biosig.readers.discover"


def _documents(folder: pathlib.Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "report.docx").write_bytes(b"PK\x03\x04" + bytes(40))   # a zip container, as Word writes
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(40))
    (folder / "notes.txt").write_text("patient moved at 10:32\nelectrode re-attached\n")


def _not_read_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and "not read" in r.getMessage()]


def test_a_folder_of_documents_alone_warns_naming_them(tmp_path, caplog):
    _documents(tmp_path)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert discover([tmp_path]) == []
    lines = _not_read_lines(caplog)
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING, [r.getMessage() for r in caplog.records]
    text = lines[0].getMessage()
    assert "3 file(s) not read: notes.txt, photo.jpg, report.docx" in text, text


def test_beside_records_they_are_counted_at_info_and_record_parts_are_not(tmp_path, caplog):
    folder = tmp_path / "data"
    _documents(folder)
    ecg = simulate("ecg", 12, seed=0)
    write(ecg, folder / "r.csv")
    write(ecg, folder / "w.hea")                                  # w.hea + its signal file
    (folder / "w.atr").write_bytes(bytes(4))                       # an annotation file of that record
    (folder / "RECORDS").write_text("w\n")                        # PhysioNet's list of the folder's records
    (folder / ".DS_Store").write_bytes(bytes(8))
    (folder / "REFERENCE.csv").write_text("record,label\nw,N\n")  # labels: its own (INFO) message
    (folder / "c.m4a").write_bytes(bytes(4) + b"ftypM4A " + bytes(40))   # sound not decoded: its own warning
    sf.write(folder / "a.wav", 0.1 * np.sin(np.arange(8000) / 5.0), 8000)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        found = sorted(pathlib.Path(p).name for p in discover([folder]))
    assert found == ["a.wav", "r.csv", "w.hea"]
    lines = _not_read_lines(caplog)
    assert len(lines) == 1 and lines[0].levelno == logging.INFO, [r.getMessage() for r in caplog.records]
    assert "3 file(s) not read: notes.txt, photo.jpg, report.docx" in lines[0].getMessage()
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "1 sound file(s) skipped" in warned[0], warned   # the media message is kept
    assert any("labels table" in r.getMessage() for r in caplog.records)         # and the labels one


def test_many_files_name_a_few_and_the_count(tmp_path, caplog):
    for i in range(12):
        (tmp_path / f"scan{i:02d}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(8))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "consent.pdf").write_bytes(b"%PDF-1.4\n")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        discover([tmp_path])
    (line,) = _not_read_lines(caplog)
    text = line.getMessage()
    assert "13 file(s) not read: scan00.jpg, scan01.jpg, scan02.jpg, scan03.jpg, scan04.jpg, ... (13 in all)" \
        in text, text
    assert "scan05.jpg" not in text


def test_info_on_a_folder_of_documents_says_what_it_holds(tmp_path):
    _documents(tmp_path)
    res = subprocess.run([sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())",
                          "info", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.count("3 file(s) not read: notes.txt, photo.jpg, report.docx") == 1, res.stderr
    assert "no records found" in res.stderr
