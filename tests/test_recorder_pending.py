"""Recorder over a long run: finished writes are dropped from the pending list as later rotations
come, so a runtime rotating every minute for weeks holds only the writes still in flight (it held
one entry per rotation until wait()/close()); a write that raised is still logged, once. Real
files and the real writer thread."""
from __future__ import annotations

import logging

import numpy as np

from streams.recorder import FILES_KEPT, Recorder, read_recording, recording_files


def _add(rec: Recorder, seq: int):
    header = {"stream": "bed01/ecg", "seq": seq, "session": "s", "t0_s": float(seq),
              "fs_hz": 250.0, "modality": "ecg", "channels": ["II"]}
    rec.add_input(header, np.full((1, 20), seq, np.float32), recv_s=float(seq))
    rec.add_output("embedding", {"kind": "embedding", "stream": "bed01/ecg", "seq": seq, "t_s": float(seq)},
                   np.ones(4, np.float32), out_s=float(seq))


def _drain(rec: Recorder):
    """Let the writer finish what it was given, without wait() (which empties the list itself):
    the writer is one thread, so a no-op queued behind the writes finishes after them."""
    rec._pool.submit(lambda: None).result()


def test_finished_writes_do_not_accumulate_over_rotations(tmp_path):
    rec = Recorder(tmp_path, rotate_s=0.0)
    n = 200
    for seq in range(n):
        _add(rec, seq)
        rec.maybe_rotate()            # rotate_s=0: every call starts new files
        _drain(rec)
    assert len(rec._pending) <= 1, len(rec._pending)          # was n
    assert len(rec.files) == FILES_KEPT                       # last files only, was 2 * n
    rec.close()
    assert rec.rows_written["inputs"] == n and rec.rows_written["outputs"] == n
    assert rec.rows_written["lost_batches"] == 0
    assert len(recording_files(tmp_path)) == 2 * n             # nothing lost by the pruning
    assert sorted(read_recording(tmp_path)["seq"].to_list()) == list(range(n))


def test_failed_writes_stay_counted_after_their_futures_are_dropped(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="streams.recorder")
    folder = tmp_path / "rec"
    rec = Recorder(folder, rotate_s=3600)
    aside = folder.with_name("rec-aside")
    folder.rename(aside)
    folder.write_bytes(b"not a folder")          # writes there fail, even as root
    for seq in range(5):
        _add(rec, seq)
        rec.flush()
        _drain(rec)
    assert len(rec._pending) <= 1
    assert rec.rows_written["lost_batches"] == 10 and rec.rows_written["lost_rows"] == 10   # 5 rotations x 2 kinds
    folder.unlink()
    aside.rename(folder)
    _add(rec, 5)
    rec.close()
    assert rec.rows_written["lost_batches"] == 10 and rec.rows_written["inputs"] == 1
    warnings = [r for r in caplog.records if r.name == "streams.recorder" and r.levelno == logging.WARNING
                and "failed (" in r.getMessage()]
    assert len(warnings) == 1


class _RaisingRecorder(Recorder):
    """A writer with a bug (the real _write never raises, so a fault has to be put in)."""

    def _write(self, batches):
        super()._write(batches)
        if any(name == "inputs" and rows[0]["seq"] == 1 for _, name, rows, _ in batches):
            raise RuntimeError("writer bug")


def test_a_raising_write_is_logged_once_when_dropped(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="streams.recorder")
    rec = _RaisingRecorder(tmp_path, rotate_s=3600)
    for seq in range(4):
        _add(rec, seq)
        rec.flush()
        _drain(rec)
    assert len(rec._pending) <= 1
    rec.close()
    errors = [r for r in caplog.records if "writer thread failed" in r.getMessage()]
    assert len(errors) == 1 and "writer bug" in caplog.text
    assert rec.rows_written["inputs"] == 4
