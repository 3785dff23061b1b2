"""Review of the run-73 commits that touch every command or the demo (helper): the standard streams fixed at the start
of every command, the demo's claim on the default endpoints, and the per-process export folder. Real sockets,
processes and streams; each test well under 3 s."""
from __future__ import annotations

import io
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


class _Aborts(io.StringIO):
    """The demo's output stream: keeps what it was told, then stops the demo at its first line (no processes)."""

    def write(self, text):
        super().write(text)
        raise RuntimeError("stopped at the first line")


def _defaults_claimed_here():
    from streams.config import Endpoints
    from streams.demo_procs import demo_endpoints
    ep, claim = demo_endpoints()
    if claim is None:
        pytest.skip("another biosig demo on this machine holds the default endpoints")
    return claim


def test_endpoints_the_user_gave_are_kept_even_where_they_equal_the_defaults(tmp_path):
    """``biosig demo --ingest tcp://127.0.0.1:5555`` while another demo ran was moved to a random port (the claim
    took only the endpoints' values into account, not that the user chose them)."""
    from streams.config import Endpoints
    from streams.demo import run_demo
    claim = _defaults_claimed_here()   # another demo on the defaults
    try:
        out = _Aborts()
        with pytest.raises(RuntimeError, match="first line"):
            run_demo(1.0, tmp_path / "demo", endpoints=Endpoints(), stream=out)   # all three given
        assert "runtime on tcp://127.0.0.1:5555 / tcp://127.0.0.1:5556" in out.getvalue()
    finally:
        claim.close()


def test_a_demo_that_fails_before_its_runtime_starts_gives_its_claim_back(tmp_path):
    """The claim was closed only in the ``finally`` around the running demo: one that failed before (its first
    print, the config, starting the processes) kept the default endpoints claimed while its traceback lived (a test's
    ``excinfo``, a program that embeds the demo and logs the error): every later demo there moved to random ports."""
    from streams.config import Endpoints
    from streams.demo import run_demo
    from streams.demo_procs import demo_endpoints
    _defaults_claimed_here().close()
    with pytest.raises(RuntimeError, match="first line") as failed:
        run_demo(1.0, tmp_path / "demo", stream=_Aborts())
    assert failed.value is not None   # the traceback (and the failed demo's frames) still alive
    ep, claim = demo_endpoints()
    try:
        assert claim is not None and _unmoved(ep)
    finally:
        if claim is not None:
            claim.close()


def test_a_forked_child_that_exits_leaves_its_parents_export_folder(tmp_path):
    """``os.fork`` copies the atexit handlers: a child that exited normally removed the folder its parent still
    exported into (the per-process folder where the cache is not writable)."""
    script = ("import os, sys\nfrom encoders.backend_cache import _process_folder\nfolder = _process_folder()\n"
              "pid = os.fork()\nif pid == 0:\n    sys.exit(0)\nos.waitpid(pid, 0)\nprint(folder.is_dir(), folder)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, env=env,
                         timeout=30)
    assert res.returncode == 0, res.stderr[-2000:]
    kept, folder = res.stdout.split()
    assert kept == "True"
    assert not pathlib.Path(folder).exists()   # the parent's own exit still removes it


def test_a_closed_or_detached_stdout_is_no_traceback_before_the_command(tmp_path, monkeypatch):
    """``sys.stdout.close()`` (fd 1 closed with it) under a non-UTF-8 encoding: every command raised ValueError from
    ``reconfigure`` before it parsed its arguments; a caller's detached stream likewise, in-process."""
    missing = tmp_path / "missing.csv"
    script = ("import sys\nsys.stdout.close()\nfrom biosig.cli import main\n"
              f"sys.exit(main(['info', {str(missing)!r}]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "ascii"}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "missing.csv" in res.stderr

    from biosig.cli import _usable_std_streams
    detached = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    detached.detach()
    monkeypatch.setattr(sys, "stdout", detached)
    _usable_std_streams()
    assert sys.stdout is detached   # the caller's object, left as it is


def test_an_earlier_runs_recordings_that_cannot_be_removed_are_a_user_error(tmp_path):
    """``rmtree(..., ignore_errors=True)`` left a read-only ``recordings/`` in place without a word: its old files
    were counted as the new run's, or the runtime failed to write there once the encoders had loaded."""
    from streams.demo_procs import fresh_subfolders
    from streams.errors import StreamError
    old = tmp_path / "recordings"
    old.mkdir()
    (old / "old.parquet").write_bytes(b"x")
    if os.geteuid() == 0:   # root removes from a read-only folder: an immutable file instead, where it can be had
        pinned = subprocess.run(["chattr", "+i", str(old / "old.parquet")], capture_output=True).returncode == 0
        undo = ["chattr", "-i", str(old / "old.parquet")]
    else:
        old.chmod(0o555)
        pinned, undo = True, ["chmod", "755", str(old)]
    if not pinned:
        pytest.skip("cannot make a folder that this user cannot remove here (root without chattr)")
    try:
        with pytest.raises(StreamError, match="cannot remove .*recordings of an earlier run"):
            fresh_subfolders(tmp_path)
    finally:
        subprocess.run(undo, check=True)
    fresh_subfolders(tmp_path)   # removable again: removed
    assert not old.exists()


def _unmoved(ep) -> bool:
    """``ep`` is the default set, or another process holds one of the default ports (another test's runtime on them:
    the demo rightly moves that one; the claim is what these tests are about)."""
    from streams.config import Endpoints
    from streams.startup import address_in_use
    return ep == Endpoints() or any(address_in_use(("127.0.0.1", int(e.rsplit(":", 1)[1]))) for e in Endpoints().all())
