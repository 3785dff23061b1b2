"""`biosig bridge lsl` over long sessions (bug-bash 74), with real liblsl, real ZeroMQ sockets and a real runtime.

1. The offset from LSL time (liblsl's steady clock) to Unix time was measured once: a step of the wall clock (NTP,
   a clock set by hand) left every bridged device time off by the step for the rest of the run. It is measured again
   between pulls: a step is said with its size, ahead applied at once, back slewed in so that device time never goes
   back; steady clocks never warn. The step is injected through the wall clock that :class:`LslClock` reads (a
   function the test passes; nothing of ours is replaced).
2. `bridge lsl` never asked the runtime what it rejected: `--status` is asked at its end, as `replay` does.
"""
import logging
import threading
import time
import uuid

import numpy as np
import pytest

from streams.config import Endpoints
from test_streams_helpers import config, free_port, running, stream_status, wait_for

# (test_lsl skips the module where pylsl, liblsl or LSL discovery on loopback cannot work)
from test_lsl import pylsl  # noqa: E402
from streams.lsl import bridge_lsl_in  # noqa: E402
from streams.lsl_clock import SLEW_BACK, LslClock, _pylsl  # noqa: E402

_pylsl()
FS = 50.0


class SteppedWall:
    """``time.time()`` plus a step the test sets (the wall clock NTP or a person stepped)."""

    def __init__(self):
        self.step_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.step_s


def _said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "wall clock stepped" in r.getMessage()]


def test_a_steady_clock_never_warns_and_a_step_is_said_ahead_at_once_back_slewed(caplog):
    wall = SteppedWall()
    with caplog.at_level(logging.INFO, logger="streams.lsl"):
        clock = LslClock(wall=wall)
        start = clock.target_s
        assert abs(start - (time.time() - pylsl.local_clock())) < 0.002   # the oracle: the two clocks read here
        for _ in range(5):   # steady clocks: re-measured, never said
            assert abs(clock.refresh()) < 0.001
        assert _said(caplog) == []
        now = pylsl.local_clock()
        before = clock.to_device(now)
        wall.step_s = 0.25   # ahead: at once, for every stamp
        assert abs(clock.refresh() - 0.25) < 0.001
        assert abs(clock.to_device(now) - (before + 0.25)) < 0.001
        wall.step_s = -0.75   # back by 1 s from there: slewed, never back
        seen = pylsl.local_clock()
        assert abs(clock.refresh() + 1.0) < 0.001
    said = _said(caplog)
    assert len(said) == 2 and said[0].startswith("the wall clock stepped +250.0 ms") and \
        said[1].startswith("the wall clock stepped -1000.0 ms"), said
    stamps = seen - 0.5 + np.arange(0, 200.0, 0.01)   # LSL stamps from before the step to 200 s after it
    device = np.array([clock.to_device(float(s)) for s in stamps])
    assert np.all(np.diff(device) > 0)   # device time never goes back
    # oracle, from the test's numbers: offset 'start + 0.25' until the step, then down at SLEW_BACK to 'start - 0.75'
    expect = stamps + np.maximum(start - 0.75, start + 0.25 - SLEW_BACK * np.maximum(0.0, stamps - seen))
    np.testing.assert_allclose(device, expect, atol=0.002)
    assert abs(device[-1] - (stamps[-1] + start - 0.75)) < 0.002   # caught up after 1 s / 1 % = 100 s


def _outlet(sid: str):
    return pylsl.StreamOutlet(pylsl.StreamInfo(f"clk{sid}", "Resp", 1, FS, pylsl.cf_float32, f"c{sid}"))


def _pushing(outlet, stop: threading.Event, stamps: list):
    """Push a sample every 1/FS of LSL time, stamped with it (as a device does), until ``stop``."""
    t, k = pylsl.local_clock(), 0
    while not stop.is_set():
        while t + k / FS <= pylsl.local_clock():
            stamps.append(t + k / FS)
            outlet.push_sample([float(k % 7)], stamps[-1])
            k += 1
        time.sleep(0.005)


def test_the_bridge_maps_a_wall_clock_set_back_without_device_time_going_back(tmp_path, caplog):
    sid = uuid.uuid4().hex[:8]
    outlet = _outlet(sid)
    if not pylsl.resolve_byprop("source_id", f"c{sid}", minimum=1, timeout=1.0):   # pragma: no cover
        pytest.skip("LSL stream discovery (UDP multicast on loopback) does not work on this machine")
    topic = f"c{sid}/resp"
    wall = SteppedWall()
    clock = LslClock(wall=wall, every_s=0.2)
    start = clock.target_s
    stop, pushed, stamps, result, errors = threading.Event(), threading.Event(), [], {}, []
    ingest = f"tcp://127.0.0.1:{free_port()}"

    def run():
        try:
            result.update(bridge_lsl_in(endpoint=ingest, prop="source_id", value=f"c{sid}", resolve_s=1.0, stop=stop,
                                        clock=clock))
        except Exception as exc:
            errors.append(exc)
    th = threading.Thread(target=run, daemon=True)
    pusher = threading.Thread(target=_pushing, args=(outlet, pushed, stamps), daemon=True)
    cfg = config(endpoints=Endpoints(ingest, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"), record_dir=str(tmp_path))
    with caplog.at_level(logging.INFO, logger="streams.lsl"):
        th.start()
        try:
            with running(cfg) as rt:
                wait_for(outlet.have_consumers, 2.0, "the bridge's inlet")
                pusher.start()
                wait_for(lambda: stream_status(rt, topic).get("samples", 0) >= FS * 0.4, 2.0, "steady samples")
                assert _said(caplog) == []   # a steady clock, measured again every 0.2 s: nothing said
                wall.step_s = -0.5
                wait_for(lambda: _said(caplog), 1.0, "the step said")
                n = stream_status(rt, topic).get("samples", 0)
                wait_for(lambda: stream_status(rt, topic).get("samples", 0) >= n + FS * 0.3, 2.0, "samples after it")
                pushed.set()
                pusher.join(1)
                stop.set()
                th.join(3)
        finally:
            pushed.set()
            stop.set()
            th.join(3)
    assert not errors and not th.is_alive(), errors
    said = _said(caplog)
    assert len(said) == 1 and said[0].startswith("the wall clock stepped -500.0 ms"), said
    from streams.recorder import read_recording
    rows = read_recording(tmp_path)
    rows = rows.filter(rows["stream"] == topic).sort("seq")
    t0 = np.array(rows["t0_s"].to_list())
    n = np.array(rows["n_samples"].to_list())
    assert len(t0) >= 5 and np.all(np.diff(t0) > 0), t0   # device time never went back
    t_last = t0 + (n - 1) / FS
    lsl_last = np.array(stamps[:n.sum()])[np.cumsum(n) - 1]   # each frame's last LSL stamp
    off = t_last - lsl_last   # the offset each frame was stamped with
    assert abs(off[0] - start) < 0.002   # before the step: the offset measured at start
    assert start - 0.5 < off[-1] < start - 0.001   # after: on its way back, slewed (1 % of the time since)
    assert np.all(np.diff(off) <= 1e-6)   # never ahead again


def test_bridge_lsl_asks_the_runtime_status_what_it_rejected(tmp_path, capsys):
    from biosig.cli import main
    sid = uuid.uuid4().hex[:8]
    outlet = _outlet(sid)
    if not pylsl.resolve_byprop("source_id", f"c{sid}", minimum=1, timeout=1.0):   # pragma: no cover
        pytest.skip("LSL stream discovery (UDP multicast on loopback) does not work on this machine")
    topic = f"c{sid}/resp"
    ingest, status = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    pushed, stamps, rivals = threading.Event(), [], []
    cfg = config(endpoints=Endpoints(ingest, "tcp://127.0.0.1:*", status), record_dir=str(tmp_path))
    pusher = threading.Thread(target=_pushing, args=(outlet, pushed, stamps), daemon=True)

    def rival(rt):   # a second publisher of the same stream name, newer: the runtime keeps it, rejects the bridge's
        from streams.publisher import Publisher
        wait_for(lambda: stream_status(rt, topic).get("samples", 0) > 0, 2.5, "the bridge's frames")
        rivals.append(Publisher(f"c{sid}", ingest))
        rivals[0].stream("resp", FS, ["ch1"], [""], modality="resp").send(np.zeros((1, 5), np.float32),
                                                                          t0_s=time.time())
    with running(cfg) as rt:
        th = threading.Thread(target=rival, args=(rt,), daemon=True)
        pusher.start()
        th.start()
        try:   # (in this thread: the command sets its signal handlers)
            code = main(["bridge", "lsl", "--ingest", ingest, "--status", status, "--prop", "source_id",
                         "--value", f"c{sid}", "--resolve-s", "1", "--seconds", "1.5"])
        finally:
            pushed.set()
            th.join(1)
    for pub in rivals:
        pub.close(linger_s=0.2)
    err = capsys.readouterr().err
    assert rivals, err
    assert f"biosig bridge lsl: warning: {topic}: the runtime rejected" in err and "session_conflict" in err, err
    assert "this run's frames: another publisher sends this stream under the same name" in err, err
    assert code in (0, 1), err
