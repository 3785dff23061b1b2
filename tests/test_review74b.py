"""Review of the biosig side of commits 26a60f1..b0eec0d (helper R2): each test fails on the code before its fix.

- ``encoders.backend_cache.cache_dir`` of a user with no home took ``<tmp>/biosig-cache-<uid>`` whoever had made it: in
  a shared /tmp another user's folder (or a link to one) held the graphs this user ran.
- ``biosig.cli.replay_checks.endpoint_mismatch`` said of a loopback bind "the runtime ... is not on this one" where
  where the runtime runs could not be told (its ``--status`` host did not resolve).
- ``biosig.cli.main`` after a caller's ``sys.stdout.close()`` (fd 1 stays open): every command that prints raised
  ValueError with a traceback.
"""
import os
import pathlib
import stat
import subprocess
import sys
import tempfile

import pytest

from biosig.cli.replay_checks import endpoint_mismatch
from encoders import backend_cache

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def no_home(monkeypatch, tmp_path):
    """No $BIOSIG_CACHE_DIR, no home, and a temporary directory of the test's own (as a shared /tmp)."""
    monkeypatch.delenv("BIOSIG_CACHE_DIR", raising=False)

    def home():
        raise RuntimeError("Could not determine home directory.")
    monkeypatch.setattr(pathlib.Path, "home", staticmethod(home))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / f"biosig-cache-{os.getuid()}"


def test_a_missing_tmp_cache_is_made_for_this_user_alone(no_home):
    assert backend_cache.cache_dir() == no_home
    st = os.lstat(no_home)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700


def test_a_tmp_cache_others_can_write_or_a_link_is_not_taken(no_home, tmp_path):
    no_home.mkdir()
    os.chmod(no_home, 0o777)   # as another user's made it (or anyone may put a graph in it)
    assert backend_cache.cache_dir() != no_home
    os.rmdir(no_home)
    elsewhere = tmp_path / "theirs"
    elsewhere.mkdir(mode=0o700)
    no_home.symlink_to(elsewhere)
    got = backend_cache.cache_dir()
    assert got != no_home and got.resolve() != elsewhere.resolve()
    assert got == backend_cache._process_folder()   # this process's own folder, removed at exit


def test_a_loopback_bind_whose_runtime_cannot_be_placed_is_not_said_to_be_elsewhere():
    # "a..b" fails to resolve at once (IDNA: an empty label), no name server asked
    why = endpoint_mismatch("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555", "tcp://a..b:5557")
    assert why is not None and "cannot be told" in why and "not on this one" not in why, why
    # a runtime on this machine still confirms, and one elsewhere is still said
    assert endpoint_mismatch("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555", "tcp://localhost:5557") is None
    assert "not on this one" in endpoint_mismatch("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555",
                                                  "tcp://192.0.2.1:5557")


@pytest.mark.parametrize("args", [["info", "{csv}"], ["--help"]])
def test_a_callers_closed_stdout_is_no_traceback_for_a_command_that_prints(tmp_path, args):
    csv = tmp_path / "blow.csv"
    csv.write_text("t_s,volume_ml\n" + "".join(f"{k / 100:.2f},{min(k, 300) * 10}\n" for k in range(600)))
    argv = [a.format(csv=csv) for a in args]
    script = ("import sys\nsys.stdout.close()\nkept = sys.stdout\nfrom biosig.cli import main\n"
              f"try:\n    code = main({argv!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
              "assert sys.stdout is kept, 'the caller gets its own object back'\n"
              "print('exit', code, file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in res.stderr and "exit 0" in res.stderr, res.stderr[-2000:]
    assert res.stdout == ""   # nothing printed where the caller closed its stream
