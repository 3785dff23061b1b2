"""Damaged or contradictory files: a truncated EDF, multi-segment WFDB headers that disagree, and an
upper-case WFDB record that `simulate --out` would shadow (real files written in tmp_path)."""
import datetime
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read
from conftest import shared_path

BIOSIG = [sys.executable, "-m", "biosig.cli"]


def _edf(path, seconds=10):
    pyedflib = pytest.importorskip("pyedflib")
    w = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([dict(label="ECG I", dimension="mV", sample_frequency=256, physical_min=-5,
                             physical_max=5, digital_min=-32768, digital_max=32767)])
    w.setStartdatetime(datetime.datetime(2020, 1, 2, 3, 4, 5))
    w.writeSamples([np.sin(np.arange(256 * seconds) / 10.0)])
    w.close()
    return path


def _info_json(*args, cwd):
    return subprocess.run([*BIOSIG, "info", "--json", "--no-quality", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=60)


def test_truncated_edf_is_reported_and_json_stays_parseable(tmp_path):
    good = _edf(tmp_path / "good.edf")
    data = good.read_bytes()
    bad = tmp_path / "cut.edf"
    bad.write_bytes(data[:-3000])   # a recording cut short: the header still promises 10 data records
    with pytest.raises(ReadError) as err:
        read(bad)
    assert "truncated EDF" in err.value.problem and "10 data records" in err.value.problem
    p = _info_json(bad, good, cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)   # pyedflib printed "filesize N != ..." on stdout before the fix
    assert "truncated EDF" in out[0]["error"] and "error" not in out[1]


@pytest.mark.parametrize("keep", [100, 300])
def test_edf_cut_inside_its_header_says_so(tmp_path, keep):
    data = _edf(tmp_path / "good.edf").read_bytes()
    bad = tmp_path / "head.edf"
    bad.write_bytes(data[:keep])
    with pytest.raises(ReadError) as err:
        read(bad)
    assert "truncated EDF header" in err.value.problem


@pytest.fixture
def rec041s(tmp_path):
    """A writable copy of the multi-segment record 041s in tmp_path."""
    src = shared_path("wfdb", "multi-segment", "041s")
    for f in src.iterdir():
        shutil.copyfile(f, tmp_path / f.name)
    return tmp_path / "041s.hea"


def _edit_first_line(path, old, new):
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[0]
    path.write_text("".join([lines[0].replace(old, new, 1)] + lines[1:]))


def test_multi_segment_total_length_that_lies_is_named(rec041s):
    _edit_first_line(rec041s, "125 2000", "125 2200")   # segments 1000 + 1000
    with pytest.raises(ReadError) as err:
        read(rec041s)   # was: "wfdb cannot decode the record (True is not in list)"
    assert "promises 2200 samples" in err.value.problem and "2000" in err.value.problem


def test_multi_segment_segment_header_shorter_than_layout_is_named(rec041s):
    _edit_first_line(rec041s.with_name("041s01.hea"), "125 1000", "125 800")
    with pytest.raises(ReadError) as err:
        read(rec041s)   # was: "wfdb cannot decode the record (sampto must be shorter than the signal length)"
    assert "segment 041s01" in err.value.problem and "1000" in err.value.problem and "800" in err.value.problem


def test_simulate_refuses_to_shadow_an_upper_case_wfdb_record(tmp_path, capsys):
    from biosig.cli import main

    src = shared_path("wfdb", "100.hea").parent
    (tmp_path / "REC.HEA").write_text((src / "100.hea").read_text(encoding="latin-1")
                                      .replace("100.dat", "REC.DAT").replace("\n100 ", "\nREC "), encoding="latin-1")
    shutil.copyfile(src / "100.dat", tmp_path / "REC.DAT")
    assert read(tmp_path / "REC.HEA").n_samples == 650000
    code = main(["simulate", "ecg", "--seconds", "2", "--out", str(tmp_path / "REC")])
    err = capsys.readouterr().err
    assert code == 2 and "REC.HEA" in err and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REC.DAT", "REC.HEA"]
    assert read(tmp_path / "REC.HEA").n_samples == 650000   # was: the 2-s simulation (REC.hea) read instead
    assert main(["simulate", "ecg", "--seconds", "2", "--out", str(tmp_path / "REC"), "--force"]) == 0


@pytest.mark.parametrize("command", [["info", "--no-quality"], ["score", "--model", "ecg-tiny", "--out", "o"]])
def test_an_empty_path_is_refused_not_read_as_the_current_folder(tmp_path, command):
    """``biosig info "$DATA"`` with DATA unset read every record of the current folder; score said
    "not found: " with an empty name. Both say what an empty path probably is, exit 2."""
    shutil.copy(shared_path("wfdb", "100.hea"), tmp_path)
    shutil.copy(shared_path("wfdb", "100.dat"), tmp_path)
    res = subprocess.run([*BIOSIG, command[0], "", *command[1:]], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert res.returncode == 2 and "empty" in res.stderr and "unset shell variable" in res.stderr, res
    assert "100" not in res.stdout


def test_a_duplicated_marker_row_is_named(tmp_path, caplog):
    """A marker CSV with one row written twice said "timestamps not strictly increasing ... and no
    usable frame counter", then (6d5ec13) refused it naming the line; the repeat is now dropped,
    counted and named in one warning (biosig.readers.markers._repeated_rows): nothing is lost."""
    src = shared_path("resp_motion")
    files = sorted(src.glob("*.csv"))
    if not files:
        pytest.skip(f"no marker CSVs in {src}")
    lines = files[0].read_text().splitlines(keepends=True)
    bad = tmp_path / files[0].name
    bad.write_text("".join(lines[:10] + [lines[9]] + lines[10:]))
    with caplog.at_level("WARNING"):
        got = read(bad)
    want = read(files[0])
    assert got.n_samples == want.n_samples
    np.testing.assert_array_equal(got.samples, want.samples)
    assert any("1 repeated row(s) dropped" in r.getMessage() and "line 11" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_rows_out_of_order_are_named_where_the_frame_counter_goes_back(tmp_path):
    """Two rows of a real marker CSV swapped (lines 102-103): the refusal named line 12, the first of
    the file's ordinary corrupt timestamps (which the frame counter repairs), not the swap; it now
    names both, the frame counter's line first to look at."""
    src = shared_path("resp_motion")
    files = sorted(src.glob("*.csv"))
    if not files:
        pytest.skip(f"no marker CSVs in {src}")
    lines = files[0].read_text().splitlines(keepends=True)
    lines[101], lines[102] = lines[102], lines[101]   # lines 102 and 103 of the file (1-based)
    bad = tmp_path / files[0].name
    bad.write_text("".join(lines))
    with pytest.raises(ReadError, match=r"frame counter cannot repair them: it goes back at line 103 \(frame"):
        read(bad)
