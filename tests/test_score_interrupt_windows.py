"""Ctrl-C on ``biosig score --workers 1`` at every point where it used to skip the job's own handling.

The job writes the tables of the records done and an interrupted run.json when a ``KeyboardInterrupt``
reaches its ``except``; a SIGINT landing elsewhere got the CLI's bare "biosig score: interrupted" and
left run.json saying the run was still going, with no tables (or some of them): after the last record
(the tables and run.json were written outside the try block: that is the line once seen alone under
load), while the earlier tables were retired, between a record's parts and this run's count of them,
and on a second Ctrl-C while the handler wrote the tables. Each case now ends with the job's one line,
tables and a run.json that agree with the parts, and a rerun of the same command that finishes the job.

Real subprocesses and real files. The SIGINT is a real signal the process sends itself from inside
the call named (``module:attr:before|after:Nth call``), which the wrapper then makes unchanged: the one
way to land it at a chosen line without timing; the last test sends it from outside at an observable
moment (the last record's part written) with no wrapper.
"""
import json
import pathlib
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
N_RECORDS = 4
TRAPPED = '''
import importlib, os, signal, sys
from biosig.cli import main
for trap in filter(None, os.environ.get("SCORE_TRAPS", "").split(";")):
    module, attr, when, nth = trap.split(":")
    owner = importlib.import_module(module)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    def wrapper(*args, _real=getattr(owner, name), _when=when, _nth=int(nth), _calls=[0], **kwargs):
        _calls[0] += 1
        if _calls[0] == _nth and _when == "before":
            os.kill(os.getpid(), signal.SIGINT)
        out = _real(*args, **kwargs)
        if _calls[0] == _nth and _when == "after":
            os.kill(os.getpid(), signal.SIGINT)
        return out
    setattr(owner, name, wrapper)
sys.exit(main(sys.argv[1:]))
'''


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from biosig.synthetic import simulate
    from biosig.writers import write
    folder = tmp_path_factory.mktemp("score_interrupt") / "in"
    folder.mkdir()
    for i in range(N_RECORDS):
        write(simulate("ecg", 30.0, seed=i), folder / f"r{i:02d}.csv")
    return folder


def _command(folder, out):
    return ["score", str(folder), "--model", "ecg-tiny", "--backend", "torch", "--threads", "1", "--workers", "1",
            "--out", str(out)]


def _score(folder, out, traps: str = "") -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, "SCORE_TRAPS": traps}
    return subprocess.run([sys.executable, "-c", TRAPPED, *_command(folder, out)], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)


def _parts_done(out) -> int:
    return sum(1 for marker in ("record", "error") for _ in (out / "parts").glob(f"*.{marker}.parquet"))


def _assert_interrupted_consistently(returncode: int, err: str, out: pathlib.Path, done: int | None = None):
    """Exit 130 with the job's one line; tables and run.json agree with the parts done."""
    assert returncode == 130, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "interrupted" in line.lower()]
    assert len(lines) == 1 and "run the same command again" in lines[0], err   # was "biosig score: interrupted"
    manifest = json.loads((out / "run.json").read_text())
    heights = {name: pl.read_parquet(out / f"{name}.parquet").height for name in ("windows", "records", "errors")}
    assert manifest["tables_current"] is True and manifest["counts"] == heights   # was False, None; tables missing
    run = manifest["runs"][-1]
    assert run.get("interrupted") is True and "running" not in run, run
    assert heights["records"] + heights["errors"] == _parts_done(out)
    assert f"holds the {heights['records'] + heights['errors']} record(s)" in lines[0], err
    if done is not None:
        assert heights["records"] + heights["errors"] == done
    return manifest


def _assert_rerun_finishes(folder, out):
    rerun = _score(folder, out)
    assert rerun.returncode == 0, rerun.stderr
    records = pl.read_parquet(out / "records.parquet")["record"].to_list()
    assert sorted(records) == sorted(str(p) for p in folder.glob("*.csv"))   # each record once, none lost
    runs = json.loads((out / "run.json").read_text())["runs"]
    assert sum(r["scored"] for r in runs) == N_RECORDS   # none scored twice, none left out
    assert runs[-1].get("interrupted") is None and json.loads((out / "run.json").read_text())["exit_code"] == 0


WINDOWS = {   # where the SIGINT lands -> records done by then
    "after the last record, before the tables": ("encoders.scoring.outputs:PartStore.assemble:before:1", N_RECORDS),
    "between two of the tables": ("encoders.scoring.outputs:PartStore._concat:after:1", N_RECORDS),
    # inside Polars' own Python callback as the first part is read back: a Rust panic, exit 1 (fresh CI at 0f2f301)
    "inside Polars' callback as the tables are read": (
        "polars.io.scan_options.cast_options:ScanCastOptions._default:before:1", N_RECORDS),
    "before run.json says the run finished": ("encoders.scoring.manifest:write_manifest:before:2", N_RECORDS),
    "between a record's parts and its count": ("encoders.scoring.outputs:PartStore.write_outcome:after:2", 2),
    "a second Ctrl-C while the tables are written": (
        "encoders.scoring.outputs:PartStore.write_outcome:after:2;encoders.scoring.outputs:PartStore._concat:after:1",
        2),
    "a second Ctrl-C while the command winds down": (
        "encoders.scoring.outputs:PartStore.write_outcome:after:2;biosig.cli.score_commands:_Progress.close:before:1",
        2),
}


@pytest.mark.parametrize("where", list(WINDOWS))
def test_an_interrupt_anywhere_leaves_tables_and_run_json_of_the_records_done(tmp_path, records, where):
    traps, done = WINDOWS[where]
    out = tmp_path / "out"
    run = _score(records, out, traps)
    manifest = _assert_interrupted_consistently(run.returncode, run.stderr, out, done)
    assert manifest["runs"][-1]["scored"] == done   # the count of this run agrees with its tables
    _assert_rerun_finishes(records, out)


@pytest.mark.parametrize("trap", ["encoders.scoring.manifest:write_manifest:after:1",   # run.json said "running"
                                  "encoders.scoring.job:source_stamps:before:1"])        # the earlier tables gone
def test_an_interrupt_as_a_resumed_run_starts_keeps_the_tables_of_the_earlier_records(tmp_path, records, trap):
    out = tmp_path / "out"
    first = _score(records, out, "encoders.scoring.outputs:PartStore.write_outcome:after:2")
    _assert_interrupted_consistently(first.returncode, first.stderr, out, 2)
    resumed = _score(records, out, trap)
    manifest = _assert_interrupted_consistently(resumed.returncode, resumed.stderr, out, 2)
    assert [r["scored"] for r in manifest["runs"]] == [2, 0]
    _assert_rerun_finishes(records, out)


def test_ctrl_c_as_the_last_record_is_written(tmp_path, records):
    """No wrapper: a SIGINT from outside as soon as the last record's part is there (the tables and
    run.json are written next). Wherever it lands, the outputs agree; the rerun finishes the job."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", TRAPPED, *_command(records, out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and _parts_done(out) < N_RECORDS:
            time.sleep(0.002)
        assert proc.poll() is not None or _parts_done(out) == N_RECORDS, "timed out waiting for the last record"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if proc.returncode == 0:   # finished before the signal came: the tables of a finished run
        assert json.loads((out / "run.json").read_text())["counts"]["records"] == N_RECORDS
    else:
        _assert_interrupted_consistently(proc.returncode, err, out, N_RECORDS)
    _assert_rerun_finishes(records, out)
