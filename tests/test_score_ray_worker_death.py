"""biosig score --engine ray when the process scoring a record dies (the kernel's OOM killer, kill -9).

Before, Ray Data's actor pool restarted the dead actor and retried the record on it without end:
one such record among six kept `biosig score --engine ray --workers 2` running for good (11 min,
more than 100 Ray worker processes started, no table written, Ctrl-C ignored). Now, as with the
local engine, the records the dead actor held are scored again one at a time, a record whose actor
dies while it is alone is recorded as failed (stage ``worker``) and the run goes on (exit code 1),
and three such records in a row stop the job.

The death is real: a ``sitecustomize`` on PYTHONPATH (the one of tests/test_score_worker_death.py)
makes the Ray worker that reads a record named ``bomb*`` SIGKILL itself; the Ray instance is a real
local one (2 CPUs) that the run starts and stops.
"""
import json
import os
import subprocess
import sys

import polars as pl
import pytest

from test_score_worker_death import KILLER, _archive, _parts, _same_tables_as_a_run_without_the_bomb

pytestmark = pytest.mark.slow
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]


@pytest.fixture(autouse=True)
def _ray_installed():
    pytest.importorskip("ray")


def _score_ray(tmp_path, data, out, kill_on="bomb", *extra):
    inject = tmp_path / "inject"
    inject.mkdir(exist_ok=True)
    (inject / "sitecustomize.py").write_text(KILLER)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(BIOSIG_TEST_KILL_ON=kill_on,
               PYTHONPATH=os.pathsep.join([str(inject), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([*BIOSIG, "score", str(data), "--model", "ecg-tiny", "--backend", "onnxruntime",
                           "--threads", "1", "--out", str(out), "--engine", "ray", "--workers", "2", *extra],
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_record_that_kills_its_actor_is_failed_and_the_run_goes_on(tmp_path):
    data, out = _archive(tmp_path), tmp_path / "out"
    res = _score_ray(tmp_path, data, out)
    # old code: never ends (the actor restarted and the record retried on it, again and again)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "killed the process scoring them" in res.stderr, res.stderr
    errors = pl.read_parquet(out / "errors.parquet")
    assert errors["record"].to_list() == [str(data / "bomb.hea")]
    assert errors["stage"].to_list() == ["worker"] and errors["error_type"].to_list() == ["WorkerDied"]
    assert "out of memory" in errors["message"][0]
    assert pl.read_parquet(out / "records.parquet").height == 5
    run = json.loads((out / "run.json").read_text())["runs"][-1]
    assert run["engine"] == "ray" and run["worker_died"] == 1 and run["failed"] == 1 and run["scored"] == 5
    parts = _parts(out)
    again = _score_ray(tmp_path, data, out)   # a resume: nothing scored again, nothing rewritten
    assert again.returncode == 1 and "6 already done" in again.stdout, again.stdout + again.stderr
    assert _parts(out) == parts
    # the five other records: the same tables as a (local, one-thread) run of an archive without the bomb
    _same_tables_as_a_run_without_the_bomb(tmp_path, out)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_actors_that_die_on_every_record_stop_the_job(tmp_path, workers):
    """Every record kills its actor (the model does not fit, say): three in a row, each alone, stop
    the job with one line; they are recorded as failed, the others left to a rerun. With one actor
    (two records in flight) the count started again at each pass: all five recorded, exit 1."""
    data, out = _archive(tmp_path, with_bomb=False), tmp_path / "out"
    res = _score_ray(tmp_path, data, out, "A", "--workers", workers)   # the five CinC 2017 records: A0....
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "died on 3 records in a row" in res.stderr, res.stderr
    errors = pl.concat([pl.read_parquet(p) for p in sorted((out / "parts").glob("*.error.parquet"))])
    assert errors.height == 3 and errors["stage"].to_list() == ["worker"] * 3, errors
    assert not list((out / "parts").glob("*.record.parquet"))


FAILS_TO_LOAD = """
import os, sys
if os.environ.get("BIOSIG_TEST_ACTOR_LOAD_FAILS") and sys.argv[0].endswith("default_worker.py"):
    import encoders.scoring.model as model
    def load_model(*args, **kwargs):
        raise RuntimeError("checkpoint folder not on this node")
    model.load_model = load_model
"""


def test_an_actor_that_cannot_load_the_model_is_one_line_not_deaths(tmp_path):
    """An error raised while an actor starts (a node without the checkpoint, say) is no death: the
    job stops with the error in one line, and no record is recorded as failed by its worker."""
    data, out = _archive(tmp_path, with_bomb=False), tmp_path / "out"
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FAILS_TO_LOAD)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(BIOSIG_TEST_ACTOR_LOAD_FAILS="1",
               PYTHONPATH=os.pathsep.join([str(inject), *filter(None, [os.environ.get("PYTHONPATH")])]))
    res = subprocess.run([*BIOSIG, "score", str(data), "--model", "ecg-tiny", "--backend", "onnxruntime",
                          "--out", str(out), "--engine", "ray", "--workers", "2"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    assert "a Ray actor could not start" in res.stderr and "checkpoint folder not on this node" in res.stderr
    assert not list((out / "parts").glob("*.error.parquet"))
