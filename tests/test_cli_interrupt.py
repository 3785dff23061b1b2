"""Ctrl-C says one clear line, exit 130: ``biosig score`` said its own warning ("interrupted: ... run
the same command again") and then the CLI's "biosig score: interrupted"; the CLI no longer repeats
a command that said it. A command that says nothing of it (embed) still gets the CLI's line. Real
subprocesses, real SIGINT, synthetic records written to a temporary folder."""
import pathlib
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]


def _records(folder: pathlib.Path, n: int, seconds: float):
    """``n`` copies of one ``seconds`` ECG record: 60 s simulated and repeated (ECGSYN costs ~30 ms a
    simulated second, ~80 s of the score test's setup when each of its 24 records was simulated whole;
    what these tests need is records that take a while to score, not different ones)."""
    import dataclasses
    import shutil

    import numpy as np

    from biosig.synthetic import simulate
    from biosig.writers import write
    folder.mkdir()
    rec = simulate("ecg", min(seconds, 60.0), seed=0)
    reps = int(np.ceil(seconds * rec.fs_hz / rec.samples.shape[1]))
    rec = dataclasses.replace(rec, samples=np.tile(rec.samples, (1, reps))[:, :int(round(seconds * rec.fs_hz))])
    first = folder / "r00.csv"
    write(rec, first)
    for i in range(1, n):
        shutil.copyfile(first, folder / f"r{i:02d}.csv")


def _interrupt_when(proc, ready, what: str, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"the command ended before it could be interrupted ({what}): {proc.communicate()[1]}")
    assert ready(), f"timed out waiting for {what}"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return err


def _interrupted_lines(err: str):
    return [line for line in err.splitlines() if "interrupted" in line.lower()]


def test_score_interrupted_says_one_line(tmp_path):
    _records(tmp_path / "in", 24, 120.0)
    out = tmp_path / "out"
    proc = subprocess.Popen([*BIOSIG, "score", str(tmp_path / "in"), "--model", "ecg-tiny", "--backend", "torch",
                             "--threads", "1", "--workers", "1", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = _interrupt_when(proc, lambda: len(list((out / "parts").glob("*.record.parquet"))) >= 2,
                          "two records scored")
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    lines = _interrupted_lines(err)
    # was two: the job's "interrupted: ... run the same command again" + "biosig score: interrupted". Once,
    # in a full suite under load, the job's own line was missing and the CLI's stood alone (still one line;
    # note 58 leaves that race open): one line either way, the job's where it gave one
    assert len(lines) == 1, err
    assert "run the same command again" in lines[0] or lines[0] == "biosig score: interrupted", err


def test_embed_interrupted_still_says_so(tmp_path):
    _records(tmp_path / "in", 2, 900.0)
    proc = subprocess.Popen([*BIOSIG, "-v", "embed", str(tmp_path / "in"), "--model", "ecg-tiny", "--threads", "1",
                             "--out", str(tmp_path / "o.parquet")], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()   # the handler's first log line: it runs (SIGINT before it is a bare traceback)
    assert "embed:" in first, first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, first + err
    assert _interrupted_lines(err) == ["biosig embed: interrupted"], first + err
