"""Recorder on a failing disk: a failed write leaves no part-written file, logs one warning when
writes start failing and one info line when they work again, counts the lost rows, and close()
returns; read_recording skips files that are not valid Parquet. Real files and real write
failures (the recording folder replaced by a regular file; a file-size limit that cuts a write
short, as a full disk does), no mocks."""
from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np

from streams.recorder import Recorder, read_recording

REPO = pathlib.Path(__file__).resolve().parents[1]


def _add(rec: Recorder, seqs, n_samples: int = 50):
    rng = np.random.default_rng(0)
    for seq in seqs:
        header = {"stream": "bed01/ecg", "seq": seq, "session": "s", "t0_s": float(seq),
                  "fs_hz": 250.0, "modality": "ecg", "channels": ["II"]}
        rec.add_input(header, rng.normal(size=(1, n_samples)).astype(np.float32), recv_s=float(seq))
        rec.add_output("embedding", {"kind": "embedding", "stream": "bed01/ecg", "seq": seq, "t_s": float(seq)},
                       np.ones(4, np.float32), out_s=float(seq))


def _recorder_records(caplog, level):
    return [r for r in caplog.records if r.name == "streams.recorder" and r.levelno == level]


def _break(folder: pathlib.Path) -> pathlib.Path:
    """Replace the recording folder by a regular file (writes there fail even as root)."""
    aside = folder.with_name(folder.name + "-aside")
    folder.rename(aside)
    folder.write_bytes(b"not a folder")
    return aside


def _mend(folder: pathlib.Path, aside: pathlib.Path):
    folder.unlink()
    aside.rename(folder)


def test_failed_writes_are_counted_logged_once_and_close_returns(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="streams.recorder")
    folder = tmp_path / "rec"
    rec = Recorder(folder, rotate_s=3600)
    _add(rec, range(0, 5))
    rec.flush()
    rec.wait()
    assert rec.rows_written["inputs"] == 5 and rec.rows_written["write_error"] is None

    aside = _break(folder)
    for start in (5, 8, 11):                     # three rotations while the folder is unusable
        _add(rec, range(start, start + 3))
        rec.flush()
    rec.wait()
    warnings = _recorder_records(caplog, logging.WARNING)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]       # not one per batch
    assert str(folder) in warnings[0].getMessage()
    assert "Error" in warnings[0].getMessage()                          # the reason
    assert rec.rows_written["lost_batches"] == 6                        # 3 rotations x (inputs, outputs)
    assert rec.rows_written["lost_rows"] == 18
    assert rec.rows_written["write_error"]
    assert rec.rows_written["inputs"] == 5
    json.dumps(rec.rows_written)                                        # the status row stays JSON

    _mend(folder, aside)
    _add(rec, range(14, 16))
    rec.flush()
    rec.wait()
    infos = [r for r in _recorder_records(caplog, logging.INFO) if "again" in r.getMessage()]
    assert len(infos) == 1 and str(folder) in infos[0].getMessage()
    assert rec.rows_written["write_error"] is None and rec.rows_written["inputs"] == 7

    aside = _break(folder)                       # still failing when the runtime shuts down
    _add(rec, range(16, 18))
    rec.close()                                  # logs, does not raise
    assert rec.rows_written["lost_rows"] == 18 + 4
    _mend(folder, aside)

    assert sorted(p.name for p in folder.iterdir()) == [
        "inputs-000001.parquet", "inputs-000005.parquet", "outputs-000001.parquet", "outputs-000005.parquet"]
    inputs = read_recording(folder, "inputs").sort("seq")
    assert inputs["seq"].to_list() == [0, 1, 2, 3, 4, 14, 15]
    assert read_recording(folder, "outputs").height == 7


_CUT_SHORT = textwrap.dedent("""
    import json, logging, resource, signal, sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from streams.recorder import Recorder, read_recording
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    folder = sys.argv[1]
    rng = np.random.default_rng(1)
    def add(rec, seqs, n):
        for seq in seqs:
            h = {"stream": "b/pcg", "seq": seq, "session": "s", "t0_s": 0.0, "fs_hz": 4000.0,
                 "modality": "pcg", "channels": ["PCG"]}
            rec.add_input(h, rng.normal(size=(1, n)).astype(np.float32), 0.0)
    rec = Recorder(folder, rotate_s=3600)
    add(rec, range(3), 100)
    rec.flush(); rec.wait()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    add(rec, range(3, 103), 4000)                     # ~1.6 MB of noise: cut short at 64 kB
    rec.flush(); rec.wait()
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    add(rec, range(103, 106), 100)
    rec.close()
    print(json.dumps(rec.rows_written))
""")


def test_write_cut_short_leaves_no_partial_file(tmp_path):
    folder = tmp_path / "rec"
    script = tmp_path / "cut_short.py"
    script.write_text(_CUT_SHORT)
    proc = subprocess.run([sys.executable, str(script), str(folder), str(REPO)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert counts["inputs"] == 6 and counts["lost_batches"] == 1 and counts["lost_rows"] == 100
    assert counts["write_error"] is None
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(("WARNING streams.recorder", "INFO streams.recorder"))]
    assert [ln.split()[0] for ln in lines] == ["WARNING", "INFO", "INFO"], lines   # failing, again, closed
    assert str(folder) in lines[0] and "again" in lines[1] and "100 rows" in lines[2]
    assert sorted(p.name for p in folder.iterdir()) == ["inputs-000001.parquet", "inputs-000003.parquet"]
    assert read_recording(folder, "inputs")["seq"].to_list() == [0, 1, 2, 103, 104, 105]


def test_read_recording_skips_files_that_are_not_parquet(tmp_path, caplog):
    folder = tmp_path / "rec"
    rec = Recorder(folder, rotate_s=3600)
    for start in (0, 3, 6):
        _add(rec, range(start, start + 3))
        rec.flush()
    rec.close()
    good = sorted(folder.glob("inputs-*.parquet"))
    assert len(good) == 3
    data = good[1].read_bytes()                  # as a full disk left them before the fix
    good[1].write_bytes(data[: len(data) // 2])
    (folder / "inputs-000009.parquet").write_bytes(b"")
    shutil.copy(good[0], folder / "outputs-000009.parquet")  # untouched kinds still read
    caplog.set_level(logging.WARNING, logger="streams.recorder")
    inputs = read_recording(folder, "inputs").sort("seq")
    assert inputs["seq"].to_list() == [0, 1, 2, 6, 7, 8]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert any(good[1].name in m for m in warned) and any("inputs-000009.parquet" in m for m in warned)
    assert os.path.getsize(folder / "inputs-000009.parquet") == 0   # reading does not delete anything


def test_old_recording_files_are_removed_after_a_write(tmp_path, caplog):
    """keep_s (serve --record-keep-h): after each write the recording files of the folder last
    written more than keep_s ago are deleted, an earlier run's included; other files stay, one info
    line says how many went, and status counts them (removed_files)."""
    caplog.set_level(logging.INFO, logger="streams.recorder")
    folder = tmp_path / "rec"
    folder.mkdir()
    old = [folder / "inputs-000001.parquet", folder / "outputs-000001.parquet"]
    recent = folder / "inputs-000002.parquet"
    other = [folder / "notes-000001.parquet", folder / "inputs-final.parquet", folder / "readme.txt"]
    for p in (*old, recent, *other):
        p.write_bytes(b"x" * 1000)
    two_hours_ago = os.path.getmtime(recent) - 7200
    for p in (*old, *other):
        os.utime(p, (two_hours_ago, two_hours_ago))
    rec = Recorder(folder, rotate_s=3600, keep_s=3600)
    _add(rec, range(5))
    rec.flush()
    rec.wait()
    assert not any(p.exists() for p in old) and recent.exists() and all(p.exists() for p in other)
    assert rec.rows_written["removed_files"] == 2 and len(list(folder.glob("*-000003.parquet"))) == 2
    lines = [r.getMessage() for r in _recorder_records(caplog, logging.INFO)]
    assert len(lines) == 1 and "removed 2 file(s)" in lines[0] and "over 1 h ago" in lines[0], lines
    assert read_recording(folder, "inputs").height == 5   # the recent stand-in is not Parquet: skipped
    rec.close()
    keep_all = Recorder(tmp_path / "all", rotate_s=3600)
    _add(keep_all, range(3))
    keep_all.close()
    assert keep_all.rows_written["removed_files"] == 0


def test_a_full_buffer_starts_a_new_file_before_rotate_s(tmp_path):
    """Rows are written when max_buffer_mb of samples are buffered, not only every rotate_s: 20 beds
    of 16 kHz audio buffer 77 MB a minute, held and copied at once at rotation."""
    rec = Recorder(tmp_path / "rec", rotate_s=3600, max_buffer_mb=0.1)   # 25 000 float32 samples
    _add(rec, range(100), n_samples=200)       # 100 x (200 + 4) values: 81.6 kB, under 0.1 MB
    rec.maybe_rotate()
    rec.wait()
    assert rec.rows_written["inputs"] == 0 and not list((tmp_path / "rec").glob("*.parquet"))
    _add(rec, range(100, 130), n_samples=200)  # past 0.1 MB
    rec.maybe_rotate()
    rec.wait()
    assert rec.rows_written["inputs"] == 130 and len(list((tmp_path / "rec").glob("inputs-*.parquet"))) == 1
    _add(rec, range(130, 140), n_samples=200)  # the count starts again after a write
    rec.maybe_rotate()
    rec.wait()
    assert rec.rows_written["inputs"] == 130
    rec.close()
    assert read_recording(tmp_path / "rec", "inputs").height == 140


def test_only_recording_files_are_numbered_read_and_removed(tmp_path):
    """One file-name rule (<kind>-<digits>.parquet, by part number): a foreign ``notes-000050.parquet``
    does not move the part numbering, ``inputs-old.parquet`` is neither read nor removed, and part
    1000000 is read after part 999999 (a name sort put it first)."""
    import polars as pl

    folder = tmp_path / "rec"
    folder.mkdir()
    first = Recorder(folder, rotate_s=3600)
    _add(first, range(0, 3))
    first.close()
    row = read_recording(folder).head(1)
    for name, seq in (("inputs-999999.parquet", 100), ("inputs-1000000.parquet", 200)):
        row.with_columns(pl.lit(seq, dtype=row["seq"].dtype).alias("seq")).write_parquet(folder / name)
    pl.DataFrame({"x": [1]}).write_parquet(folder / "notes-2000000.parquet")
    pl.DataFrame({"x": [1]}).write_parquet(folder / "inputs-old.parquet")

    assert read_recording(folder)["seq"].to_list() == [0, 1, 2, 100, 200]
    again = Recorder(folder, rotate_s=3600, keep_s=3600.0)
    assert again.part == 1000001
    assert again.remove_old(now=1e12) == 4    # inputs/outputs-000001, inputs-999999, inputs-1000000
    again.close()
    assert sorted(p.name for p in folder.iterdir()) == ["inputs-old.parquet", "notes-2000000.parquet"]
