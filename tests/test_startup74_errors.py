"""A runtime that cannot start for a user's reason says so in one line and exits 2; a bug says it is one.

Every case runs the real CLI (or the demo's runtime child, ``streams.demo_procs.serve_process``) in a fresh
interpreter. Found so (2026-12-07): an endpoint taken and a bad config file were one line already; a recording
folder that cannot be written (one where only root's permission check passes, or a read-only mount) was accepted,
and every recording file then failed, each counted as lost; an error of our own code (a bug) printed a bare
traceback (``serve``, exit 1) or "runtime stopped by an error" and its traceback (the demo's runtime), neither
saying it was a bug.
"""
import os
import pathlib
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANY = ["--ingest", "tcp://127.0.0.1:*", "--output", "tcp://127.0.0.1:*", "--status", "tcp://127.0.0.1:*"]
BUG = "a bug in biosig: please report it with the traceback"
# a bug put into the runtime's start (after its sockets are bound): the one way to have one to test
INJECT = ("import streams.forecast_worker as fw\n"
          "def broken(*args, **kwargs):\n"
          "    raise RuntimeError('injected for the test')\n"
          "fw.ForecastWorker.__init__ = broken\n")


def _biosig(*args, timeout_s=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "biosig.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout_s)


def _one_line_error(r: subprocess.CompletedProcess, command: str = "serve") -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-1000:], r.stderr[-3000:])
    assert "Traceback" not in r.stderr and "ready after" not in r.stdout, r.stderr[-3000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"biosig {command}: error: "), lines
    return lines[0]


def _unwritable_folder(tmp_path) -> pathlib.Path:
    """A folder that ``os.access`` calls writable where creating a file fails: a sysfs folder as root (root passes
    every permission check); elsewhere a folder without write permission (refused earlier, by the CLI's check)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    folder = pathlib.Path("/sys/kernel")
    try:
        (folder / ".biosig-probe").write_bytes(b"")
    except OSError:
        return folder
    (folder / ".biosig-probe").unlink()
    pytest.skip("no folder here refuses a new file")


def test_serve_refuses_a_recording_folder_it_cannot_write_in_one_line(tmp_path):
    line = _one_line_error(_biosig("serve", "--models", "none", "--seconds", "1", *ANY,
                                   "--record", str(_unwritable_folder(tmp_path))))
    assert "cannot write" in line or "not a writable folder" in line, line


def test_serve_refuses_a_taken_endpoint_and_a_bad_config_in_one_line(tmp_path):
    with socket.socket() as taken:   # as `nc -l 127.0.0.1 P &` holds it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_error(_biosig("serve", "--models", "none", "--seconds", "1", *ANY[2:],
                                       "--ingest", f"tcp://127.0.0.1:{port}"))
    assert f"cannot bind ingest endpoint tcp://127.0.0.1:{port}: address already in use" in line, line
    bad = tmp_path / "bad.toml"
    bad.write_text("forecaster = [oops\n")
    assert "is not valid TOML" in _one_line_error(_biosig("serve", "--models", "none", "--config", str(bad)))


def test_serve_says_an_error_of_its_own_is_a_bug():
    argv = ["serve", "--models", "none", "--seconds", "1", *ANY]
    code = INJECT + f"import sys\nfrom biosig.cli import main\nsys.exit(main({argv!r}))\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    assert f"biosig serve: the runtime stopped by an unexpected error ({BUG} below)" in r.stderr, r.stderr[-3000:]
    assert "Traceback" in r.stderr and "RuntimeError: injected for the test" in r.stderr, r.stderr[-3000:]


def test_demo_runtime_says_an_error_of_its_own_is_a_bug():
    """The demo's runtime child (its own process; run here as the demo's spawned child runs it): a bug logs its
    traceback with a line saying so, and the demo's one line (from the event) says so too."""
    code = INJECT + (
        "import logging, queue, threading\n"
        "from streams.config import Endpoints, RuntimeConfig\n"
        "from streams.demo_procs import serve_process\n"
        "events = queue.Queue()\n"
        "ep = Endpoints(*['tcp://127.0.0.1:*'] * 3)\n"
        "serve_process(RuntimeConfig(endpoints=ep, models={}, warm_up=False), events, threading.Event())\n"
        "print(events.get(timeout=5))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"ERROR streams.runtime: the runtime stopped by an unexpected error ({BUG})" in r.stderr, r.stderr[-3000:]
    assert "Traceback" in r.stderr and "RuntimeError: injected for the test" in r.stderr, r.stderr[-3000:]
    assert "('runtime', 'error', 'runtime failed to start: RuntimeError: injected for the test (a bug" in r.stdout, \
        r.stdout
