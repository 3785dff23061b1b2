"""Documented claims of the day's changes (walk 72) that no other test guards, on the real CLI and a real runtime.

- docs/protocol.md and docs/cli.md: ``monitor`` (not only ``replay``) ends by asking the runtime's ``--status`` what it
  rejected of its streams: a second publisher under the same bed name ("two monitors with the same bed names") has
  the monitor's frames rejected as ``session_conflict``, which the monitor names, exit 0 (not every frame was lost).
"""
import threading

# the readers' and simulators' first use imports pandas and scipy (2-3 s here): at collection, not in the test
import pandas  # noqa: F401,E402
import scipy.signal  # noqa: F401,E402
from test_cli_bugbash72 import _other_publisher
from test_cli_errors import run_main
from test_streams_helpers import config, running


def test_monitor_names_the_frames_a_newer_publisher_of_its_bed_name_had_rejected(capsys):
    with running(config()) as rt:
        b = rt.bound
        stop = threading.Event()
        th = _other_publisher(b.ingest, stop, "bed01", after=rt)   # newer session of bed01/resp: it keeps the stream
        try:
            code, _, err = run_main(capsys, "monitor", "--simulate", 1, "--streams", "resp", "--couches", 0,
                                    "--seconds", 1.0, "--ingest", b.ingest, "--status", b.status)
        finally:
            stop.set()
            th.join(2)
        rejected = rt.status()["streams"]["bed01/resp"]["rejected"].get("session_conflict", 0)
    assert rejected > 0, err
    assert code == 0 and "dropped 0" in err, err
    line = next(x for x in err.splitlines() if "session_conflict" in x)
    assert line.startswith("biosig monitor: warning: bed01/resp: the runtime rejected"), err
    assert f"session_conflict {rejected} (this run's frames" in line, (line, rejected)
