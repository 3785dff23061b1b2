"""Review 72 of the day's commits (spirometry offsets, forecast units, replay/monitor delivery check, readers, the
second post-restart record, dashboard): each test failed before its fix, on real objects.

- ``replay``'s delivery check said a stream the runtime had taken and then forgotten (idle for ``idle_expire_s``: a
  record whose tail is missing, a short record beside a long one) was "refused before one made it", and exited 1
  when that was the only stream: the runtime had kept its frames.
"""
import threading
import time

import pytest

# the readers' first use imports pandas and scipy (2-3 s here): at collection, not in the first test of this file
import pandas  # noqa: F401,E402
import scipy.signal  # noqa: F401,E402
from test_cli_bugbash71_streams import _csv
from test_cli_bugbash72 import _other_publisher
from test_cli_errors import run_main
from test_streams_helpers import config, running


@pytest.fixture(scope="module")
def forgetful():
    """A runtime that forgets a stream 0.3 s after its last frame (the default is 300 s)."""
    with running(config(idle_expire_s=0.3)) as runtime:
        yield runtime


def test_a_stream_the_runtime_took_then_forgot_is_not_said_refused(capsys, tmp_path, forgetful):
    rec = _csv(tmp_path / "tail.csv", seconds=3.0, nan=(10, 75))   # 0.4 s of samples, then 2.6 s missing
    b = forgetful.bound
    code, _, err = run_main(capsys, "replay", rec, "--ingest", b.ingest, "--status", b.status, "--speed", 2)
    assert "tail/resp" not in forgetful.status()["streams"]   # taken, then forgotten
    assert "refused before one made it" not in err, err
    assert code == 0, err
    assert "tail/resp" in err and "no longer holds" in err, err


def test_a_stream_refused_before_any_frame_made_it_is_still_said_refused(capsys, tmp_path):
    """The other side of the fix: a runtime that forgot nothing and holds no such stream refused every frame (its one
    slot held by another publisher): said, exit 1."""
    with running(config(max_streams=1)) as rt:
        stop = threading.Event()
        th = _other_publisher(rt.bound.ingest, stop, "other")   # takes the runtime's one slot
        try:
            t_end = time.monotonic() + 2.0
            while "other/resp" not in rt.status()["streams"] and time.monotonic() < t_end:
                time.sleep(0.02)
            rec = _csv(tmp_path / "late.csv", seconds=1.0)
            code, _, err = run_main(capsys, "replay", rec, "--ingest", rt.bound.ingest, "--status", rt.bound.status,
                                    "--speed", 4)
        finally:
            stop.set()
            th.join(2)
    assert "late/resp: the runtime holds no such stream" in err and "refused before one made it" in err, err
    assert code == 1, err
