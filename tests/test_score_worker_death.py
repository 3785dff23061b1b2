"""biosig score --workers N when a worker process is killed (the kernel's OOM killer, kill -9).

The run stops with exit code 2 and one line, as before, and now names the records that were in
flight: a record that kills its worker kills it again on every rerun, and "a worker process died
(A process in the process pool was terminated abruptly ...)" left the user to guess which one.
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

from conftest import shared_path

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]


def _pool_workers(driver_pid: int) -> list[int]:
    """PIDs of the spawn-pool workers of ``driver_pid`` (from /proc)."""
    out = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == driver_pid and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return out


def test_a_killed_worker_names_the_records_in_flight(tmp_path):
    mitdb = shared_path("pretrain", "ecg", "mitdb")
    records = sorted(str(p) for p in mitdb.glob("*.hea"))[:6]   # 30 min each: seconds of work apiece
    out = tmp_path / "out"
    proc = subprocess.Popen([*BIOSIG, "score", *records, "--model", "ecg-tiny", "--out", str(out),
                             "--workers", "2", "--backend", "onnxruntime"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        workers = []
        while not workers and proc.poll() is None and time.monotonic() < deadline:
            workers = _pool_workers(proc.pid)
            time.sleep(0.05)
        assert workers, "no pool worker appeared"
        os.kill(workers[0], signal.SIGKILL)   # as the OOM killer does
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, stderr
    line = [ln for ln in stderr.splitlines() if "worker process died" in ln]
    assert len(line) == 1, stderr
    named = [r for r in records if r in line[0]]
    assert named, line[0]
    done = {p.name.split(".hea-")[0] for p in (out / "parts").glob("*.record.parquet")}
    assert not {pathlib.Path(r).stem for r in named} & done   # only records without an outcome are named
    assert "rerun the same command" in line[0]
