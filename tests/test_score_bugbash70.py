"""Bug bash 70 of ``biosig score`` resume: what an earlier run left in the output folder, and what a record's
header names, decide what a resume scores again; none of it may keep stale rows or stop every rerun.

- a WFDB header may name a signal file of another stem (``rec.hea`` reading ``sig_rec.dat``): the stamp held the
  header only, so new samples in that file were skipped as done and the tables kept the old rows;
- a part file of a done record cut short (a copy taken mid-run, a disk full under another program, by hand): every
  resume stopped with a Polars traceback at assembly, the earlier tables already removed; the record is scored again;
- ``parts/job.json`` cut short: a ``JSONDecodeError`` traceback, now one line (exit 2);
- a record's ``source.json`` cut short counted as unchanged: the record was never scored again, whatever its files.
"""
import json
import os
import shutil

import numpy as np
import polars as pl
import pytest

from conftest import shared_path
from encoders.scoring import ScoreConfig, run_score
from encoders.scoring.errors import ScoreError
from encoders.scoring.outputs import PartStore, record_key, source_stamps
from test_interrupts_import70 import FINDER   # a Ctrl-C in onnxruntime's init, as pybind11 reports it


def _beats(path, stem, bpm, seconds=12.0, fs_hz=250):
    """A WFDB record ``stem`` of sharp beats at ``bpm`` in the folder ``path`` (its signal file ``stem.dat``)."""
    import wfdb
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    wave = np.sin(np.pi * bpm / 60 * t) ** 64
    wfdb.wrsamp(stem, fs=fs_hz, units=["mV"], sig_name=["II"], p_signal=wave[:, None], fmt=["16"], write_dir=str(path))


def _score(data, out):
    summary = run_score(ScoreConfig(inputs=(str(data),), model="ecg-tiny", out_dir=str(out), backend="onnxruntime",
                                    threads=1))
    return summary, {t: pl.read_parquet(out / f"{t}.parquet").drop("seconds", strict=False).sort("record")
                     for t in ("windows", "records", "errors")}


def test_a_signal_file_the_header_names_under_another_stem_is_in_the_stamp(tmp_path):
    """Changed samples in ``sig_rec.dat`` read through ``rec.hea`` make the record changed, so the resume scores it
    again (it kept the old rows: the stamp held ``rec.hea`` alone)."""
    data = tmp_path / "data"
    data.mkdir()
    _beats(data, "rec", 60)
    os.replace(data / "rec.dat", data / "sig_rec.dat")
    hea = data / "rec.hea"
    hea.write_text(hea.read_text().replace("rec.dat", "sig_rec.dat"))
    stamp = source_stamps([str(hea)])[record_key(hea)]
    assert sorted(stamp) == ["rec.hea", "sig_rec.dat"]
    first, old = _score(data, tmp_path / "out")
    assert first.scored == 1
    _beats(data, "tmp", 120)   # other samples of the same size, under the name the header gives
    os.replace(data / "tmp.dat", data / "sig_rec.dat")
    (data / "tmp.hea").unlink()
    again, tables = _score(data, tmp_path / "out")
    assert (again.scored, again.skipped_done) == (1, 0)
    assert tables["records"]["embedding"].to_list() != old["records"]["embedding"].to_list()   # the new samples'
    assert sorted(json.loads(next((tmp_path / "out" / "parts").glob("*.source.json")).read_text())) == sorted(stamp)


@pytest.fixture()
def scored(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for hea in sorted(shared_path("cinc2017").glob("*.hea"))[:3]:
        for f in hea.parent.glob(hea.stem + ".*"):
            shutil.copy(f, data / f.name)
    _, tables = _score(data, tmp_path / "out")
    return data, tmp_path / "out", tables


@pytest.mark.parametrize("damage", ["windows cut short", "record cut short", "windows removed"])
def test_a_done_records_part_cut_short_is_scored_again_not_a_traceback_at_every_resume(scored, damage, caplog):
    data, out, before = scored
    parts = sorted((out / "parts").glob("*.record.parquet"))
    key = parts[1].name[: -len(".record.parquet")]
    part = out / "parts" / f"{key}.{'record' if damage.startswith('record') else 'windows'}.parquet"
    if damage.endswith("removed"):
        part.unlink()
    else:
        with open(part, "r+b") as fh:
            fh.truncate(part.stat().st_size // 2)
    summary, after = _score(data, out)
    assert (summary.scored, summary.skipped_done) == (1, 2)
    assert "damaged part files" in caplog.text and key.split("-")[0] in caplog.text
    for table in before:
        assert after[table].equals(before[table]), table


def test_an_unreadable_job_json_is_one_line(scored):
    data, out, _ = scored
    (out / "parts" / "job.json").write_text('{"model_id": "ecg-ti')
    with pytest.raises(ScoreError, match="job.json is unreadable"):
        _score(data, out)
    assert (out / "records.parquet").exists()   # refused before the run retired the tables


def test_a_stamp_cut_short_counts_as_changed(scored):
    data, out, before = scored
    stamp = next((out / "parts").glob("*.source.json"))
    stamp.write_text(stamp.read_text()[:5])
    with PartStore(out) as store:
        key = stamp.name[: -len(".source.json")]
        stamps = source_stamps(str(p) for p in sorted(data.glob("*.hea")))
        assert store.changed_keys(stamps) == {key}
    summary, after = _score(data, out)
    assert (summary.scored, summary.skipped_done) == (1, 2)
    assert after["records"].equals(before["records"])
    assert json.loads(stamp.read_text()) == stamps[key]


SWALLOWED = """
import gc, sys
from biosig.cli import main
fired = []
def ctrl_c_in_a_gc_callback(phase, info):   # as one landing in a weakref callback: CPython prints and drops it
    if phase == "start" and not fired and "encoders.scoring" in sys.modules:
        fired.append(1)
        raise KeyboardInterrupt
gc.callbacks.append(ctrl_c_in_a_gc_callback)
sys.exit(main(["score", sys.argv[1], "--model", "ecg-tiny", "--out", sys.argv[2], "--threads", "1"]))
"""


def test_a_ctrl_c_cpython_swallows_still_stops_the_run(tmp_path):
    """A Ctrl-C landing in a weakref or gc callback (importlib's, while the engines import) was printed as
    "Exception ignored" and the run went on to exit 0; now it stops the run (exit 130). A subprocess, ~2 s."""
    import subprocess
    import sys
    data = tmp_path / "data"
    data.mkdir()
    _beats(data, "rec", 60)
    res = subprocess.run([sys.executable, "-c", SWALLOWED, str(data), str(tmp_path / "out")], capture_output=True,
                         text=True, timeout=60, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert res.returncode == 130, (res.returncode, res.stderr[-2000:])
    assert "interrupted" in res.stderr


PYBIND_INIT = """
import sys
from biosig.cli import main
for name in [m for m in sys.modules if m.split(".")[0] == "onnxruntime"]:
    del sys.modules[name]
""" + FINDER + """
sys.exit(main(["score", sys.argv[1], "--model", "ecg-tiny", "--out", sys.argv[2], "--threads", "1"]))
"""


def test_a_ctrl_c_while_onnxruntime_initialises_stops_the_run(tmp_path):
    """The ImportError pybind11 made of it made the cached export "unusable": torch scored instead and the run went
    on to exit 0. A subprocess, ~3 s."""
    import subprocess
    import sys
    data = tmp_path / "data"
    data.mkdir()
    _beats(data, "rec", 60)
    res = subprocess.run([sys.executable, "-c", PYBIND_INIT, str(data), str(tmp_path / "out")], capture_output=True,
                         text=True, timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert res.returncode == 130, (res.returncode, res.stderr[-2000:])
    assert not (tmp_path / "out" / "records.parquet").exists()
