"""ProgressLog's log line (biosig.cli._common): counts, failures, and an ETA that leaves start-up out."""
from __future__ import annotations

import pytest

from biosig.cli._common import ProgressLog


@pytest.fixture
def clock(monkeypatch):
    """A monotonic clock the test moves by hand (ProgressLog reads time.monotonic)."""
    import time

    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def _log(every_s: float = 0.0, total: int = 100) -> ProgressLog:
    log = ProgressLog("job", total, every_s=every_s)
    log.enabled = True          # pytest's stderr is not a terminal anyway; say so explicitly
    return log


def test_eta_excludes_start_up_and_is_unknown_before_two_records(capsys, clock):
    log = _log()
    clock[0] += 15.0            # 15 s of start-up (process pool, model loading) before the first record
    log.update()
    first = capsys.readouterr().err.strip()
    assert first.startswith("job: 1/100 records (0 failed)") and first.endswith("ETA ?"), first
    clock[0] += 0.5             # then a record every 0.5 s
    log.update()
    second = capsys.readouterr().err.strip()
    assert second.endswith("ETA 49 s"), second          # 98 left x 0.5 s, not 98 x 15.5 s / 2
    for _ in range(8):
        clock[0] += 0.5
        log.update(ok=False)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "10/100 records (8 failed)" in last and last.endswith("ETA 45 s"), last


def test_long_eta_in_minutes_and_done_is_zero(capsys, clock):
    log = _log(total=1000)
    log.update()
    clock[0] += 3.0
    log.update()
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("ETA 50 min")   # 998 x 3 s
    log = _log(total=2)
    log.update()
    clock[0] += 1.0
    log.update()
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("ETA 0 s")


def test_lines_come_every_every_s_only(capsys, clock):
    log = _log(every_s=10.0)
    for _ in range(30):         # 30 records, one a second: a line at 10 s, 20 s and 30 s
        clock[0] += 1.0
        log.update()
    lines = capsys.readouterr().err.strip().splitlines()
    assert [ln.split(" records")[0] for ln in lines] == ["job: 10/100", "job: 20/100", "job: 30/100"]


def test_a_chunk_handed_back_at_once_is_not_a_rate(capsys, clock):
    log = _log(total=1000)
    clock[0] += 20.0            # start-up and the first chunk: 100 records come back together
    for _ in range(100):
        log.update()
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("ETA ?")
    clock[0] += 10.0            # the next chunk 10 s later: 10 records/s, 800 left -> 80 s
    for _ in range(100):
        log.update()
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("ETA 80 s")


def test_update_counts_a_chunk_at_once(capsys, clock):
    log = _log(total=1000)
    clock[0] += 20.0
    log.update(n=100)           # start-up and the first chunk of 100
    clock[0] += 10.0
    log.update(ok=False, n=100)  # the next chunk, all failed, 10 s later: 10 records/s
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "200/1000 records (100 failed)" in last and last.endswith("ETA 80 s"), last


def test_a_job_of_one_record_prints_no_progress_line(capsys, clock):
    log = _log(every_s=10.0, total=1)
    clock[0] += 12.0            # one slow record: its outcome (or its error) is the next line anyway
    log.update(ok=False)
    assert capsys.readouterr().err == ""
    two = _log(every_s=10.0, total=2)
    clock[0] += 12.0
    two.update()
    assert capsys.readouterr().err.startswith("job: 1/2 records")
