"""Ctrl-C on ``biosig score --workers 2`` while its worker processes start (import torch, polars,
load the model).

A terminal sends SIGINT to the whole process group: the workers, busy importing, each printed a
``KeyboardInterrupt`` traceback (a normal stop that looked like a crash). Now they start with SIGINT
blocked and ignore it; the driver alone stops (exit 130, the tables and an interrupted run.json) and
stops them; the rerun scores every record once.

Real processes, a real SIGINT to the process group as a terminal's Ctrl-C sends it, real CinC 2017
records copied from ../shared/data.
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import polars as pl

from conftest import shared_path
from test_score_worker_death import _pool_workers

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]
N_RECORDS = 8


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _records(tmp_path: pathlib.Path) -> pathlib.Path:
    src = shared_path("cinc2017")
    folder = tmp_path / "data"
    folder.mkdir()
    for hea in sorted(src.glob("A*.hea"))[:N_RECORDS]:
        for part in src.glob(hea.stem + ".*"):
            shutil.copy(part, folder / part.name)
    return folder


def _score(folder, out, **kwargs):
    return subprocess.Popen([*BIOSIG, "score", str(folder), "--model", "ecg-tiny", "--backend", "onnxruntime",
                             "--workers", "2", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_ctrl_c_while_workers_start_prints_no_traceback_and_the_rerun_scores_each_record_once(tmp_path):
    folder, out = _records(tmp_path), tmp_path / "out"
    proc = _score(folder, out, start_new_session=True)   # its own process group, as a shell job has
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while not workers and proc.poll() is None and time.monotonic() < deadline:
            workers = _pool_workers(proc.pid)
            time.sleep(0.02)
        assert workers, "no pool worker appeared"
        os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C: the driver and its workers, still importing
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in err and "run the same command again" in err, err
    assert not [pid for pid in workers if _alive(pid)], "worker processes left running after the run ended"
    runs = json.loads((out / "run.json").read_text())["runs"]
    assert runs[-1]["interrupted"] is True
    assert runs[-1]["scored"] == pl.read_parquet(out / "records.parquet").height < N_RECORDS

    rerun = _score(folder, out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    records = pl.read_parquet(out / "records.parquet")["record"].to_list()
    assert sorted(records) == sorted(str(p) for p in folder.glob("*.hea"))   # each record once, none lost
    runs = json.loads((out / "run.json").read_text())["runs"]
    assert [r.get("interrupted", False) for r in runs] == [True, False]
    assert runs[0]["scored"] + runs[1]["scored"] == N_RECORDS
