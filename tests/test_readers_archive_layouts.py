"""Archive layouts seen in the wild: symlinked headers and folders, link cycles, upper-case WFDB
file names. wfdb.rdrecord on the plain record is the oracle for the samples."""
import logging
import os
import shutil

import numpy as np
import pytest
import wfdb

from biosig.errors import ReadError
from biosig.readers import discover, read


def _write_record(folder, name="rec", n=720, fs=360, annotate=True):
    """A small two-channel format-16 record (and .atr) in ``folder``; returns wfdb's reading."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(n) / fs
    sig = np.stack([np.sin(2 * np.pi * 1.2 * t), 0.5 * np.cos(2 * np.pi * 0.3 * t)], 1)
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["I", "II"], p_signal=sig, fmt=["16", "16"],
                adc_gain=[1000, 1000], baseline=[0, 0], write_dir=str(folder))
    if annotate:
        wfdb.wrann(name, "atr", np.array([100, 400]), ["N", "V"], write_dir=str(folder))
    return wfdb.rdrecord(str(folder / name))


def _same_as(rec, ref):
    np.testing.assert_allclose(rec.samples, ref.p_signal.T, atol=1e-6)
    assert rec.fs_hz == ref.fs and list(rec.channels) == ref.sig_name


# ---------------------------------------------------------------- symlinked header
def test_symlinked_header_keeps_the_real_record(tmp_path, caplog):
    ref = _write_record(tmp_path / "site B", "100")
    (tmp_path / "site A").mkdir()
    os.symlink("../site B/100.hea", tmp_path / "site A" / "link100.hea")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        found = discover([tmp_path])
    # the link comes first in the walk; the record is read where its .dat lies
    assert found == [str(tmp_path / "site B" / "100.hea")]
    assert "link100.hea" in caplog.text
    for path in found + [str(tmp_path / "site A" / "link100.hea")]:
        rec = read(path)
        _same_as(rec, ref)
        assert rec.metadata["source"] == path
        assert rec.annotations.symbol == ("N", "V") and list(rec.annotations.sample) == [100, 400]
    # a link with signal files of its own beside it is read there
    (tmp_path / "site C").mkdir()
    os.symlink("../site B/100.hea", tmp_path / "site C" / "100.hea")
    shutil.copyfile(tmp_path / "site B" / "100.dat", tmp_path / "site C" / "100.dat")
    os.remove(tmp_path / "site B" / "100.dat")
    _same_as(read(tmp_path / "site C" / "100.hea"), ref)




# ---------------------------------------------------------------- symlinked folders and cycles
def test_records_in_symlinked_folders_are_found_once(tmp_path, caplog):
    _write_record(tmp_path / "archive", "a", annotate=False)
    _write_record(tmp_path / "elsewhere", "only_here", annotate=False)
    os.symlink("../elsewhere", tmp_path / "archive" / "linked")
    os.symlink(tmp_path / "archive", tmp_path / "archive" / "0-same")   # sorts first: a link to itself
    os.symlink(tmp_path / "elsewhere", tmp_path / "again")               # a second way to elsewhere
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        assert discover([tmp_path / "archive"]) == [str(tmp_path / "archive" / "a.hea"),
                                                    str(tmp_path / "archive" / "linked" / "only_here.hea")]
        caplog.clear()
        assert discover([tmp_path]) == [str(tmp_path / "archive" / "a.hea"),
                                        str(tmp_path / "elsewhere" / "only_here.hea")]
    assert not [r for r in caplog.records if "more than once" in r.getMessage()]


def test_link_cycles_are_skipped_with_one_warning(tmp_path, caplog):
    _write_record(tmp_path / "top" / "a", "ra", annotate=False)
    _write_record(tmp_path / "top" / "b", "rb", annotate=False)
    _write_record(tmp_path / "outside", "ro", annotate=False)
    os.symlink("..", tmp_path / "top" / "a" / "up")                 # back to its parent
    os.symlink("../../outside", tmp_path / "top" / "b" / "out")    # out and back in again
    os.symlink("../top", tmp_path / "outside" / "back")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        found = discover([tmp_path / "top"])
    assert [p.rsplit("/", 1)[-1] for p in found] == ["ra.hea", "rb.hea", "ro.hea"]
    cycle = [r for r in caplog.records if "link cycle" in r.getMessage()]
    assert len(cycle) == 1 and "2 folder link(s)" in cycle[0].getMessage()
    assert "a/up" in cycle[0].getMessage() and "b/out/back" in cycle[0].getMessage()


# ---------------------------------------------------------------- upper-case WFDB names
@pytest.mark.parametrize("named_in_header", ["REC.DAT", "rec.dat"])
def test_upper_case_header_is_read(tmp_path, named_in_header):
    ref = _write_record(tmp_path / "plain", "rec")
    up = tmp_path / "upper"
    up.mkdir()
    text = (tmp_path / "plain" / "rec.hea").read_text().replace("rec.dat", named_in_header)
    (up / "REC.HEA").write_text(text.replace("rec ", "REC ", 1) if named_in_header == "REC.DAT" else text)
    shutil.copyfile(tmp_path / "plain" / "rec.dat", up / "REC.DAT")
    shutil.copyfile(tmp_path / "plain" / "rec.atr", up / "REC.ATR")
    for named in ("REC.HEA", "REC.DAT", "REC"):
        rec = read(up / named)
        _same_as(rec, ref)
        assert rec.metadata["source"] == str(up / "REC.HEA")
        assert rec.annotations.symbol == ("N", "V")
    assert discover([up]) == [str(up / "REC.HEA")]
    assert discover([up / "REC.DAT"]) == [str(up / "REC.HEA")]


def test_upper_case_header_problems_name_the_callers_files(tmp_path):
    _write_record(tmp_path, "rec", annotate=False)
    os.rename(tmp_path / "rec.hea", tmp_path / "REC.HEA")
    os.remove(tmp_path / "rec.dat")
    with pytest.raises(ReadError) as err:
        read(tmp_path / "REC.HEA")
    assert err.value.path == str(tmp_path / "REC.HEA")
    assert "signal file rec.dat named in the header does not exist" in err.value.problem
    assert "biosig-wfdb-" not in str(err.value)
