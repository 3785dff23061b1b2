"""``biosig score --workers 2`` stopped by a signal sent to its whole process group.

``timeout``, ``kill -- -PGID`` and a terminal (its hang-up, its Ctrl-C) signal every process of the group: the pool's
workers too, which kept SIGTERM's and SIGHUP's default action and died. The driver then saw dead workers, warned
"a worker process died ... (killed: out of memory?)" and scored their records again one at a time, or stopped with
them lost; a SIGHUP also killed ``multiprocessing``'s resource tracker, whose death the driver said on stderr
("UserWarning: resource_tracker: process died unexpectedly"). Now the workers ignore every such signal that is not the
driver's own SIGTERM and the tracker never sees SIGHUP: a group-wide signal ends the run as one to the driver alone
does (the tables of the records done, exit 143 or 129, one "stopped by" line) and the rerun scores the rest, no
record twice.

Real processes: the real CLI in a process group of its own (as a shell job), real signals, real synthetic records.
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
import pytest

from test_score_worker_death import _pool_workers

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]
N_RECORDS = 10   # enough that the run is still going when the first record is done
RECORD_S = 20.0


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from biosig.synthetic import simulate
    from biosig.writers import write
    folder = tmp_path_factory.mktemp("workers_signals74") / "in"
    folder.mkdir()
    write(simulate("ecg", RECORD_S, seed=0), folder / "r00.csv")
    for i in range(1, N_RECORDS):   # copies: each a record of its own (keyed by its path), none simulated again
        shutil.copyfile(folder / "r00.csv", folder / f"r{i:02d}.csv")
    return folder


def _as_from_a_terminal() -> None:
    """In the child before exec: SIGHUP's default action, as a command typed in a terminal has. Under ``nohup`` (a CI
    runner, a batch script) the test process ignores SIGHUP and its children would inherit that: the run then
    rightly goes on after a hang-up (tests/test_batch_small74.py) and exits 0."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _score(folder, out, workers: int = 2) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([*BIOSIG, "score", str(folder), "--model", "ecg-tiny", "--backend", "onnxruntime",
                             "--threads", "1", "--workers", str(workers), "--out", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_as_from_a_terminal)


def _after_first_record(proc: subprocess.Popen, out: pathlib.Path) -> None:
    """Wait until the run has written its first record's parts (the run still going)."""
    deadline = time.monotonic() + 60
    while not list((out / "parts").glob("*.record.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no record done in 60 s"
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before the signal: make the records longer"


def _alive(pid: int) -> bool:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _no_noise(err: str) -> None:
    """Nothing on stderr that says a worker died or something broke."""
    for word in ("Traceback", "KeyboardInterrupt", "died", "out of memory", "resource_tracker", "killed"):
        assert word not in err, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_group_wide_signal_keeps_the_records_done_and_the_rerun_scores_the_rest_once(tmp_path, records, sig):
    out = tmp_path / "out"
    proc = _score(records, out)
    try:
        _after_first_record(proc, out)
        workers = _pool_workers(proc.pid)
        os.killpg(proc.pid, sig)   # the driver and its workers, as `timeout` or a hang-up does
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, err
    _no_noise(err)
    assert err.count(f"biosig score: stopped by {signal.Signals(sig).name}") == 1, err
    assert not [pid for pid in workers if _alive(pid)], "worker processes left running after the run ended"
    run = json.loads((out / "run.json").read_text())["runs"][-1]
    assert run["interrupted"] is True and run["worker_died"] == 0 and run["failed"] == 0, run
    done = pl.read_parquet(out / "records.parquet")
    assert 1 <= done.height == run["scored"] < N_RECORDS
    assert not (out / "errors.parquet").exists() or pl.read_parquet(out / "errors.parquet").height == 0

    rerun = _score(records, out, workers=1)   # no pool to start: a resume with other --workers is the same job
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    _no_noise(err)
    runs = json.loads((out / "run.json").read_text())["runs"]
    assert runs[-1]["skipped_done"] == done.height and runs[-1]["scored"] == N_RECORDS - done.height, runs[-1]
    table = pl.read_parquet(out / "records.parquet")
    assert table.height == N_RECORDS == table["record"].n_unique()


def test_workers_ignore_stop_signals_that_are_not_the_drivers(tmp_path, records):
    """SIGTERM, SIGHUP and SIGINT sent to the workers by another process (what a group-wide one is, to them) while
    the run goes on: they were killed and the driver warned "out of memory?"; now the run ends as if none came."""
    out = tmp_path / "out"
    proc = _score(records, out)
    try:
        _after_first_record(proc, out)
        workers = _pool_workers(proc.pid)
        assert len(workers) == 2, workers
        for pid in workers:
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                os.kill(pid, sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    _no_noise(err)
    run = json.loads((out / "run.json").read_text())["runs"][-1]
    assert run["scored"] == N_RECORDS and run["worker_died"] == 0, run


def test_ray_init_leaves_the_commands_sighup_handler_in_force():
    """``ray.init`` may set its own handlers: SIGHUP is the command's (stop as Ctrl-C does, exit 129), put back as
    SIGTERM is. Starting Ray takes far over the time a test may: the stand-in's ``init`` sets both handlers."""
    import types

    from encoders.scoring import ray_engine

    def ours(signum, frame):
        pass

    def ray_like_init(**kwargs):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda signum, frame: (_ for _ in ()).throw(SystemExit(signum)))
    before = {sig: signal.signal(sig, ours) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with ray_engine._sigterm_handler_kept():
            ray_engine._init_ray(types.SimpleNamespace(init=ray_like_init), None, 1)
        assert signal.getsignal(signal.SIGHUP) is ours and signal.getsignal(signal.SIGTERM) is ours
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
