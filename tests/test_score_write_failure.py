"""biosig score when the output folder cannot take a file (a full disk, a quota): one line and exit 2,
never a traceback and exit 1 (which says "the run finished, some records failed"); the parts written
before stay whole and the same command resumes, each record once.

A full disk is made with RLIMIT_FSIZE on the scoring process (writes past the limit fail with
EFBIG), which polars reports, as it does ENOSPC, as a ComputeError ("os error 27" in its message, or only
"Invalid thrift: transport error" when the footer is what failed)."""
import json
import pathlib
import resource
import shutil
import signal
import subprocess
import sys

import polars as pl
import pytest

from conftest import shared_path

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]
LIMIT_BYTES = 4096   # job.json and source stamps fit; a record's parquet parts do not


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return str(ecg_tiny_random_dir)


def _copy(heas, dest):
    dest.mkdir(parents=True, exist_ok=True)
    for hea in heas:
        for f in hea.parent.glob(hea.stem + ".*"):
            shutil.copy(f, dest / f.name)


def _small_files_only():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # the write fails with EFBIG instead of killing the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


def _score(data, out, model_dir, limited=False):
    return subprocess.run([*BIOSIG, "score", str(data), "--model", model_dir, "--backend", "torch", "--threads", "1",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          preexec_fn=_small_files_only if limited else None)


def test_a_full_disk_is_one_line_and_the_rerun_resumes(tmp_path, model_dir):
    heas = sorted(shared_path("cinc2017").glob("*.hea"))[:5]
    data, out = tmp_path / "data", tmp_path / "out"
    _copy(heas[:2], data)
    first = _score(data, out, model_dir)
    assert first.returncode == 0, first.stderr
    _copy(heas[2:], data)   # three records more; the disk is full now
    full = _score(data, out, model_dir, limited=True)
    assert full.returncode == 2, full.stderr
    assert "Traceback" not in full.stderr, full.stderr
    (line,) = [ln for ln in full.stderr.splitlines() if "error" in ln]
    assert line.startswith("biosig score: error: ") and ".parquet: not written: " in line, line   # the part, and why
    assert "2 record(s) finished so far are kept" in line, line
    parts = sorted((out / "parts").glob("*.parquet"))
    for part in parts:   # every part is whole: nothing half-written left behind
        pl.read_parquet(part)
    assert not list((out / "parts").glob(".*.tmp")) and not list((out / "parts").glob("*.inflight.json"))
    # the first run's tables are gone, not left to be read as this run's (they held 2 of 5 records), and
    # run.json says no table is current and why this run stopped (its parts stay: the rerun assembles them)
    assert not [name for name in ("windows.parquet", "records.parquet", "errors.parquet") if (out / name).exists()]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["tables_current"] is False and manifest["counts"] is None and manifest["exit_code"] == 2
    assert [len(manifest["runs"]), manifest["runs"][0]["scored"]] == [2, 2]
    assert ".parquet: not written: " in manifest["runs"][-1]["stopped"]

    again = _score(data, out, model_dir)   # space freed: the same command scores the rest
    assert again.returncode == 0, again.stderr
    records = pl.read_parquet(out / "records.parquet")
    assert records.height == records["record"].n_unique() == 5
    windows = pl.read_parquet(out / "windows.parquet")
    assert windows.height == records["n_windows"].sum() == windows.select("record", "window").n_unique()
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["tables_current"] is True and manifest["counts"]["records"] == 5
    assert [run.get("stopped") is None for run in manifest["runs"]] == [True, False, True]
