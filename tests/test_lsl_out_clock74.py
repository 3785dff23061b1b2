"""`biosig bridge lsl-out` over a wall-clock step (bug-bash 74), with real liblsl (an inlet here reads the outlet) and
a real ZeroMQ PUB socket standing in for the runtime's output.

The bridge stamped each sample ``device_s - offset_s`` with the offset measured once: after a step of the wall clock
(NTP, a clock set by hand) every later stamp was off by the step. It now maps with ``bridge lsl``'s own
:class:`LslClock`, inverted: measured again between frames, a step said once with its size, ahead applied at once,
back slewed in as ``bridge lsl`` does; an outlet's stamps never go back. The step is injected through the wall clock
that :class:`LslClock` reads (a function the test passes; nothing of ours is replaced).
"""
import logging
import threading
import time
import uuid

import numpy as np
import zmq

from streams import protocol
from test_streams_helpers import free_port, wait_for

# (test_lsl skips the module where pylsl, liblsl or LSL discovery on loopback cannot work)
from test_lsl import _offset_s, pylsl  # noqa: E402
from streams.lsl_clock import SLEW_BACK, _pylsl  # noqa: E402
from streams.lsl_out import bridge_lsl_out, out_clock  # noqa: E402

from test_lsl_clock74 import FS, SteppedWall, _said  # noqa: E402  (the inbound test's stepped wall clock)

_pylsl()


def test_to_lsl_inverts_to_device_through_a_step_ahead_and_a_step_back(caplog):
    """A stamp brought in by `bridge lsl` goes out as it came, before, during and after the slew back."""
    wall = SteppedWall()
    with caplog.at_level(logging.INFO, logger="streams.lsl"):
        clock = out_clock(wall=wall)
        start = clock.target_s
        assert abs(start - _offset_s()) < 0.002   # the oracle: the two clocks read here
        d = time.time() + 10.0
        assert abs(clock.to_lsl(d) - (d - start)) < 1e-9   # steady: device_s - offset_s
        wall.step_s = 0.25
        clock.refresh()
        assert abs(clock.to_lsl(d) - (d - start - 0.25)) < 0.001   # ahead: at once
        wall.step_s = -0.75
        seen = pylsl.local_clock()
        clock.refresh()
    said = _said(caplog)
    assert len(said) == 2 and said[0].startswith("the wall clock stepped +250.0 ms") and \
        "LSL stamps of later frames are as much earlier" in said[0], said
    assert said[1].startswith("the wall clock stepped -1000.0 ms") and f"take it in at {SLEW_BACK:.0%}" in said[1] \
        and "(over 100 s)" in said[1], said
    lsl = seen - 0.5 + np.arange(0, 200.0, 0.01)   # LSL times from before the step to 200 s after it
    # oracle, from the test's numbers: device time maps back by 'start + 0.25' until the step, then slewed at
    # SLEW_BACK to 'start - 0.75'; its inverse is taken numerically (np.interp over the rising device times)
    device = lsl + np.maximum(start - 0.75, start + 0.25 - SLEW_BACK * np.maximum(0.0, lsl - seen))
    assert np.all(np.diff(device) > 0)
    back = np.array([clock.to_lsl(float(x)) for x in device])
    np.testing.assert_allclose(back, lsl, atol=0.002)
    probe = device[0] + np.linspace(0, device[-1] - device[0], 997)
    np.testing.assert_allclose([clock.to_lsl(float(x)) for x in probe], np.interp(probe, device, lsl), atol=0.002)


def _frame(topic: str, k: int, device_s: float) -> list[bytes]:
    h = {"kind": "embedding", "stream": topic[4:], "seq": k, "model_id": "m", "window_start_s": device_s - 1.0,
         "window_end_s": device_s, "quality": 1.0, "latency_ms": {}, "t_out_s": device_s}
    return protocol.encode(topic, h, np.array([k, 0.5], np.float32))


def test_lsl_out_stamps_follow_a_wall_clock_step_and_never_go_back_on_the_outlet(caplog):
    """Frames of a device clock that does not step (another host's, or LSL's brought in by `bridge lsl`), 50 a
    second; the wall clock here steps +250 ms, then -1000 ms. An inlet on this machine reads the stamps."""
    sid = uuid.uuid4().hex[:8]
    topic, prefix = f"emb/clk{sid}/resp", f"oc{sid}"
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = free_port()
    pub.bind(f"tcp://127.0.0.1:{port}")
    wall = SteppedWall()
    clock = out_clock(wall=wall, every_s=0.2)
    start = clock.target_s
    lsl0 = pylsl.local_clock()
    dev0 = lsl0 + start   # the device clock: the wall clock's at start, steady
    result, stop, errors = {}, threading.Event(), []

    def run():
        try:
            result.update(bridge_lsl_out(endpoint=f"tcp://127.0.0.1:{port}", topics=["emb/"], prefix=prefix,
                                         stop=stop, clock=clock))
        except Exception as exc:
            errors.append(exc)
    th = threading.Thread(target=run, daemon=True)
    sent, got, stamps, inlet = [0], [], [], []

    def pull(timeout=0.0):
        if inlet:
            chunk, ts = inlet[0].pull_chunk(timeout=timeout)
            got.extend(chunk)
            stamps.extend(ts)

    def send_for(seconds):   # frame k at device time dev0 + k/FS, sent when LSL time reaches lsl0 + k/FS
        end = pylsl.local_clock() + seconds
        while (k := sent[0]) / FS + lsl0 <= end:
            time.sleep(max(0.0, lsl0 + k / FS - pylsl.local_clock()))
            pub.send_multipart(_frame(topic, k, dev0 + k / FS))
            sent[0] += 1
            pull()
    with caplog.at_level(logging.INFO, logger="streams.lsl"):
        th.start()
        try:
            time.sleep(0.3)   # the subscription is made
            send_for(0.0)
            found = pylsl.resolve_byprop("source_id", f"{prefix}:{topic}", minimum=1, timeout=2)
            assert found, "no LSL outlet from bridge_lsl_out"
            inlet.append(pylsl.StreamInlet(found[0]))
            inlet[0].open_stream(timeout=2)
            send_for(0.4)   # steady, measured again every 0.2 s: nothing said
            assert _said(caplog) == []
            wall.step_s = 0.25   # ahead
            send_for(0.5)
            wall.step_s = -0.75   # back by 1 s from there
            seen = pylsl.local_clock()
            send_for(0.6)
            time.sleep(0.2)
            pull(0.2)
        finally:
            stop.set()
            th.join(3)
            pub.close()
            ctx.term()
    assert not errors and not th.is_alive(), errors
    said = _said(caplog)
    assert len(said) == 2 and said[0].startswith("the wall clock stepped +250.0 ms") and \
        said[1].startswith("the wall clock stepped -1000.0 ms"), said
    held = [r.getMessage() for r in caplog.records if "before the last one pushed" in r.getMessage()]
    assert len(held) == 1 and held[0].startswith(f"{topic}: a frame stamped "), held   # said once per topic
    assert result[topic] == sent[0] and result["held"][topic] >= 3, result
    k = np.array([int(v[0]) for v in got])
    stamps = np.array(stamps)
    assert len(k) >= 0.9 * (sent[0] - k[0]) and len(k) >= 60 and np.all(np.diff(k) > 0), k
    assert np.all(np.diff(stamps) >= 0), np.diff(stamps).min()   # never back on the outlet
    off = dev0 + k / FS - stamps   # the offset each sample was stamped with (a held one: less)
    # oracle, from the test's own numbers: 'start' until the step ahead is measured, 'start + 0.25' from then (the
    # stamps held at the last one meanwhile: between the two), slewed at SLEW_BACK from 'seen' after the step back
    assert abs(off[0] - start) < 0.002, off[:3]
    assert np.any(np.abs(off - (start + 0.25)) < 0.002), off   # the step ahead applied
    assert np.all(off >= start - 0.002) and np.all(off <= start + 0.25 + 0.002), off
    late = lsl0 + k / FS > seen   # sent after the step back
    assert late.sum() >= 20, late.sum()
    want = start + 0.25 - SLEW_BACK * (stamps[late] - seen)   # (measured within 0.2 s of 'seen')
    np.testing.assert_allclose(off[late], want, atol=SLEW_BACK * 0.25 + 0.002)   # slewed in, not jumped back
