"""Adversarial input on the forecast path, over real sockets and a real runtime: a stale or
untrustworthy forecast is a hold, never a number, and no client can starve another.

Each marker frame is answered on ``fcst/<source>`` or ``hold/<source>``; these tests send what a
broken or hostile device could send (absurd or float32-overflowing positions, clocks that jump,
run backwards or ahead of the wall clock, malformed frames, one huge frame, a flood) and check
every answer."""
import re
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import zmq

from streams import protocol
from streams.config import ForecasterConfig
from streams.subscriber import Subscriber
from test_streams_helpers import config, push_socket, running, stream_status, wait_for

FS = 100.0
# rls: a 4-sample lms 2 steps ahead at 100 Hz is 3x worse than last-value (held by realtime.trust); not the point here
FC = ForecasterConfig(method="rls", horizon_steps=2, lookback=4, warmup_s=0.3, recover_steps=5, stale_s=0.3)
CH = ["m1_x", "m1_y", "m1_z"]


def _marker(i):
    t = i / FS
    return np.array([[np.sin(2 * np.pi * 0.3 * t)], [np.cos(2 * np.pi * 0.3 * t)], [0.5 * np.sin(t)]]) * 10.0


def _frame(stream, seq, x, t0_s, *, fs_hz=FS, dtype=np.float32, channels=CH, session=7):
    x = np.asarray(x, dtype)
    h = protocol.signal_header(stream, seq, session, t0_s, fs_hz, channels[:x.shape[0]],
                               ["mm"] * x.shape[0], "motion")
    return protocol.encode(stream, h, x)


class Device:
    """One marker stream sent over a raw PUSH socket (any dtype, any timestamps)."""

    def __init__(self, ctx, rt, stream="couch1/markers", fs_hz=FS):
        self.sock, self.stream, self.fs, self.seq = push_socket(ctx, rt.bound.ingest), stream, fs_hz, 0
        self.dtype = np.float32

    def send(self, x, t0_s, **kw):
        self.sock.send_multipart(_frame(self.stream, self.seq, x, t0_s, **{"fs_hz": self.fs, "dtype": self.dtype, **kw}))
        self.seq += 1
        return t0_s

    def realtime(self, first_i, n, clock_offset_s=0.0, **kw):
        """Samples first_i .. first_i+n-1, each sent when it is taken, stamped by a device clock
        ``clock_offset_s`` ahead of the wall clock; returns their device times."""
        start, times = time.time(), []
        for k in range(n):
            t = start + k / self.fs
            time.sleep(max(0.0, t - time.time()))
            times.append(self.send(_marker(first_i + k), t + clock_offset_s, **kw))
        return times


def _answers(sub, n, source="couch1", timeout_s=10.0):
    """The next ``n`` per-frame answers of ``source`` (not the no-input timer's holds)."""
    got, end = [], time.monotonic() + timeout_s
    while len(got) < n:
        assert time.monotonic() < end, f"timed out waiting for {n} answers of {source}, got {len(got)}: " \
            f"{[(a.kind, a.header.get('reason')) for a in got]}"
        f = sub.recv(0.2)
        if f is not None and f.kind in ("forecast", "hold") and f.topic.endswith("/" + source) and \
                "no input" not in f.header.get("detail", ""):
            got.append(f)
    return got


@pytest.fixture
def live():
    ctx = zmq.Context()
    with running(config(forecaster=FC)) as rt:
        sub = Subscriber(["fcst/couch1", "hold/couch1", "hb/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.2), what="subscription")
        dev = Device(ctx, rt)
        yield rt, sub, dev
        sub.close()
        dev.sock.close()
    ctx.term()


def _warm(sub, dev, n=60):
    """Stream until forecasts flow; returns the next sample index."""
    answers = _answers(sub, len(dev.realtime(0, n)))
    assert answers[-1].kind == "forecast"
    return n


def test_float64_positions_beyond_float32_are_rejected_never_answered_with_the_last_forecast(live):
    """A ``<f8`` frame of 1e300 mm is finite on the wire but inf in the runtime's float32: the
    forecaster skipped it as a missing sample and the frame used to be answered with a forecast
    (the previous one again, for a newer ``t_s``). It is rejected as ``nonfinite`` now."""
    rt, sub, dev = live
    dev.dtype = np.float64                       # a device sending float64 positions
    i = _warm(sub, dev)
    dev.send(np.full((3, 1), 1e300), time.time())   # rejected: no answer
    time.sleep(1 / FS)
    times = dev.realtime(i + 1, 10)                 # valid frames after it
    answers = _answers(sub, 10)
    assert [a.header["t_s"] for a in answers] == pytest.approx(times, rel=0, abs=1e-6)   # the bad frame got no answer
    assert sum(a.kind == "forecast" for a in answers) >= 5
    assert stream_status(rt, "couch1/markers")["rejected"] == {"nonfinite": 1}


def test_absurd_positions_are_held_as_diverged_never_forecast_whenever_they_come(live):
    """1e9 mm (finite, float32) in steady state and at every position of a window that is still
    filling after a gap (where no training step sees it): never a forecast number beyond the
    data's range; ``diverged`` holds, then forecasts again."""
    rt, sub, dev = live
    i = _warm(sub, dev)
    sent = 0
    for absurd_at in (4, 3, 2, 1, 5, None):      # None: steady state; k: k-th sample after a gap
        time.sleep(0.1)                          # a 0.1 s hole (10 samples): the window restarts
        start = time.time()
        for k in range(30):
            x = _marker(i + k) * (1e8 if k == (absurd_at if absurd_at is not None else 20) else 1.0)
            t = start + k / FS
            time.sleep(max(0.0, t - time.time()))
            dev.send(x, t)
        i += 30
        sent += 30
    answers = _answers(sub, sent)
    values = np.array([np.abs(a.array).max() for a in answers if a.kind == "forecast"])
    assert values.size >= 60 and values.max() < 100.0, values.max()   # the data stay within 10 mm
    reasons = [a.header.get("reason") for a in answers]
    assert reasons.count("diverged") >= 6
    assert rt.status()["forecasters"]["couch1"]["resets"] >= 6


@pytest.mark.parametrize("ahead_s", [3600.0, 2.0])
def test_device_clock_ahead_of_the_wall_clock_is_held_until_it_is_right(live, ahead_s):
    """Samples stamped in the future (a device clock jumped forward, or runs ahead) cannot be told
    fresh: held as ``stale_input``, never forecast; once the clock is right again (device time
    jumps back) forecasts resume without a gap hold."""
    rt, sub, dev = live
    i = _warm(sub, dev)
    ahead = _answers(sub, len(dev.realtime(i, 40, ahead_s)))
    assert all(a.kind == "hold" for a in ahead)
    assert [a.header["reason"] for a in ahead][-30:] == ["stale_input"] * 30
    back = _answers(sub, len(dev.realtime(i + 40, 20)))
    assert back[-1].kind == "forecast" and sum(a.kind == "forecast" for a in back) >= 15


def test_device_time_running_backwards_or_stopping_is_held_as_stale(live):
    """Device time that goes back 1 s (seq still +1) or stops advancing: the step restarts the
    input window (a ``gap`` naming it), then the newest sample is older than ``max_input_age_s``:
    held as ``stale_input`` (learnt, not forecast). Frames that all carry one timestamp go back
    each time: every one restarts the window (``gap``; it was ``stale_input`` once 0.2 s old)."""
    rt, sub, dev = live
    i = _warm(sub, dev)
    back = _answers(sub, len(dev.realtime(i, 20, -1.0)))             # device clock 1 s behind
    assert back[0].header["reason"] == "gap", back[0].header
    # about 1 s: the frames are stamped from the wall clock, so a sender that starts late makes it less
    # (fresh CI at 453ad88, under load: 0.999 s)
    went_back = re.match(r"device time went back (\d+\.\d+) s", back[0].header["detail"])
    assert went_back and 0.9 <= float(went_back.group(1)) <= 1.05, back[0].header["detail"]
    assert all(a.kind == "hold" and a.header["reason"] in ("gap", "stale_input") for a in back)
    assert all(a.header["reason"] == "stale_input" for a in back[-10:])
    frozen_t = time.time()
    for k in range(40):                                              # the clock stops: same t0
        time.sleep(1 / FS)
        dev.send(_marker(i + 20 + k), frozen_t)
    frozen = _answers(sub, 40)
    assert all(a.kind == "hold" for a in frozen[-15:])               # after 0.2 s at the latest
    assert {a.header["reason"] for a in frozen[1:]} == {"gap"}       # no time base: each frame restarts the window


def test_a_frozen_tracker_is_held_never_forecast_until_the_marker_moves_again():
    """A tracker that lost the marker and repeats its last position, with fresh timestamps and
    sequence numbers: forecasts from it would extrapolate a body that is not there. After
    ``max_frozen_s`` (0.3 s here) every answer is a ``frozen_input`` hold; once the marker moves the
    hold continues as a ``gap`` until the input window is whole, then forecasts resume."""
    import dataclasses
    ctx = zmq.Context()
    with running(config(forecaster=dataclasses.replace(FC, max_frozen_s=0.3))) as rt:
        sub = Subscriber(["fcst/couch1", "hold/couch1", "hb/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.2), what="subscription")
        dev = Device(ctx, rt)
        i = _warm(sub, dev)
        still = _marker(i)
        start = time.time()
        for k in range(100):                                      # 1 s of one repeated position
            t = start + k / FS
            time.sleep(max(0.0, t - time.time()))
            dev.send(still, t)
        frozen = _answers(sub, 100)
        kinds = [(a.kind, a.header.get("reason")) for a in frozen]
        first = kinds.index(("hold", "frozen_input"))
        held = next(j for j, k in enumerate(kinds) if k[0] == "hold")   # a stop the learner did not foresee may be
        assert 20 <= held <= 32 and first <= 32 + FC.recover_steps     # held first as untrusted (realtime.trust)
        assert all(k in (("hold", "frozen_input"), ("hold", "diverged")) for k in kinds[held:])
        assert all(k == ("hold", "frozen_input") for k in kinds[first:])
        moving = _answers(sub, len(dev.realtime(i + 1, 30)))
        reasons = [a.header.get("reason") if a.kind == "hold" else "forecast" for a in moving]
        n_gap = reasons.index("forecast")
        assert 1 <= n_gap <= FC.lookback and set(reasons[:n_gap]) == {"gap"}
        assert set(reasons[n_gap:]) == {"forecast"}
        assert rt.status()["forecasters"]["couch1"]["holds"]["frozen_input"] >= 60
        sub.close()
        dev.sock.close()
    ctx.term()


def test_two_marker_streams_under_one_source_are_held_naming_both_until_one_stops(live):
    """``fcst/couch1`` cannot say which of two live marker streams it forecasts: every answer is an
    ``unavailable`` hold naming both (they used to rebuild each other's forecaster: ``warm_up``
    for ever). The first stream keeps learning and forecasts again once the second has been silent
    for ``stale_s``; a stream taking over from one silent for longer gets a forecaster of its own."""
    rt, sub, dev = live
    other = Device(zmq.Context.instance(), rt, stream="couch1/markers2")
    try:
        i = _warm(sub, dev)
        seen = rt.status()["forecasters"]["couch1"]["seen"]
        start = time.time()
        for k in range(40):                                   # both send, interleaved, in real time
            t = start + k / FS
            time.sleep(max(0.0, t - time.time()))
            dev.send(_marker(i + k), t)
            other.send(_marker(i + k) + 50.0, t)
            if k == 20:                                       # status names the conflict meanwhile
                wait_for(lambda: rt.status()["forecasters"]["couch1"]["rival_stream"] == "couch1/markers2",
                         timeout_s=5, what="rival_stream in status")
        answers = _answers(sub, 80)
        first_b = next(j for j, a in enumerate(answers) if a.header["stream"] == "couch1/markers2")
        assert first_b <= 2
        gaps = 0
        for a in answers[first_b:]:
            assert a.kind == "hold", (a.kind, a.header)   # never a number while both are live
            if a.header["reason"] == "gap":   # the sending loop stalled past stale_s (a loaded machine)
                gaps += 1
                continue
            assert a.header["reason"] == "unavailable", a.header
            assert "couch1/markers," in a.header["detail"] and "couch1/markers2" in a.header["detail"]
        assert gaps <= 4, f"{gaps} gap holds: the sender stalled too often to test the conflict"
        fc = rt.status()["forecasters"]["couch1"]
        assert fc["stream"] == "couch1/markers" and fc["seen"] >= seen + 40   # learnt all along, no rebuild
        back = _answers(sub, len(dev.realtime(i + 40, 80)))   # the second stream stopped
        kinds = [a.kind for a in back]
        assert "forecast" in kinds[:int(FC.stale_s * FS) + 20]   # within stale_s (+ a loaded machine's lag)
        assert kinds[-10:] == ["forecast"] * 10
        time.sleep(FC.stale_s + 0.2)                          # the first stream stops; the second takes over
        over = [a for a in _answers(sub, len(other.realtime(0, 80))) if a.header["stream"] == "couch1/markers2"]
        fc = rt.status()["forecasters"]["couch1"]
        assert over[-1].kind == "forecast" and fc["stream"] == "couch1/markers2" and fc["rival_stream"] is None
        assert "unavailable" not in {a.header.get("reason") for a in over}
    finally:
        other.sock.close()


def test_silence_turns_into_a_gap_hold_within_stale_s(live):
    rt, sub, dev = live
    _warm(sub, dev)
    t_last = time.time()
    hold = wait_for(lambda: (f := sub.recv(0.05)) and f.kind == "hold" and f, timeout_s=5, what="a hold")
    assert hold.header["reason"] == "gap" and "no input" in hold.header["detail"]
    assert hold.header["t_out_s"] - t_last <= FC.stale_s + 0.3       # documented: stale_s (+ loop tick, noise)


def test_malformed_and_inconsistent_frames_are_rejected_and_never_answered(live):
    """Between valid frames: garbage, a truncated payload, a huge declared shape, NaN and inf
    positions, a changed rate, a changed channel count and a header declaring more samples than
    sent: each rejected and counted, never answered; every valid frame answered exactly once."""
    rt, sub, dev = live
    i = _warm(sub, dev)
    s = "couch1/markers"
    good = _frame(s, 0, _marker(0), time.time())
    nan = _marker(0)
    nan[1, 0] = np.nan
    bad = {
        "garbage": lambda seq, t: [b"\xff\x00garbage"],
        "header": lambda seq, t: [s.encode(), b"\x93\x01", good[2]],
        "payload_size": lambda seq, t: _frame(s, seq, _marker(0), t)[:2] + [bytes(good[2])[:-3]],
        "huge": lambda seq, t: [s.encode(), _frame(s, seq, np.zeros((3, 1048576), np.float32), t)[1], good[2]],
        "nonfinite": lambda seq, t: _frame(s, seq, nan, t),
        "inf": lambda seq, t: _frame(s, seq, np.full((3, 1), np.inf), t),
        "rate": lambda seq, t: _frame(s, seq, _marker(0), t, fs_hz=50.0),
        "channels": lambda seq, t: _frame(s, seq, np.ones((2, 1)), t),
    }
    start, times = time.time(), []
    for k, make in enumerate(list(bad.values()) * 2):
        t = start + k / FS
        time.sleep(max(0.0, t - time.time()))
        dev.sock.send_multipart(make(dev.seq, t))    # same seq as the next valid frame: not a gap
        times.append(dev.send(_marker(i + k), t))
    answers = _answers(sub, len(times))
    assert [a.header["t_s"] for a in answers] == pytest.approx(times, rel=0, abs=1e-6)
    assert sum(a.kind == "forecast" for a in answers) >= len(times) - 3
    st = stream_status(rt, s)
    assert st["rejected"] == {"header": 2, "payload_size": 4, "nonfinite": 4, "inconsistent": 4}
    assert st["gaps"] == 0 and st["duplicates"] == 0
    assert rt.status()["invalid"] == {"frames": 2}       # the garbage (no stream to tell)
    end, more = time.time() + 0.3, []
    while time.time() < end:                             # nothing more than one answer per valid frame
        f = sub.recv(0.05)
        if f is not None and f.kind in ("forecast", "hold") and "no input" not in f.header.get("detail", ""):
            more.append(f)
    assert more == []


def test_a_huge_frame_from_one_client_does_not_stall_another(live):
    """One client sends a single frame of 200,000 marker samples (the protocol allows 2**20): the
    forecast path (the event loop) learns only ``max_frame_steps`` of them; a couch at 30 Hz
    meanwhile keeps its forecasts, answered within a few hundred ms. (Before: 1.6 s of stall
    with ``lms``, 20 s with ``mix``; the couch got only stale holds.)"""
    rt, sub, dev = live
    i = _warm(sub, dev)
    ctx = zmq.Context()
    flood = Device(ctx, rt, "flood/markers")
    big = np.random.default_rng(0).normal(size=(3, 200_000))
    done = threading.Event()

    def send_big():
        time.sleep(0.3)
        flood.send(big, time.time() - big.shape[1] / FS)
        done.set()

    th = threading.Thread(target=send_big)
    th.start()
    times = dev.realtime(i, 100)
    th.join()
    answers = _answers(sub, len(times))
    lag = [a.header["t_out_s"] - a.header["t_s"] for a in answers]
    assert max(lag) < 0.5, max(lag)
    assert sum(a.kind == "forecast" for a in answers) >= 95
    fl = wait_for(lambda: rt.status()["forecasters"].get("flood"), what="the flood forecaster")
    assert fl["seen"] <= 1000                     # the newest samples only (max_frame_steps)
    flood.sock.close()
    ctx.term()


FLOODER = textwrap.dedent("""
    import sys, time, numpy as np, zmq
    from streams import protocol
    ctx = zmq.Context(); s = ctx.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 1000); s.connect(sys.argv[1])
    x = np.zeros((3, 1), np.float32); end = time.time() + float(sys.argv[2]); seq = 0
    while time.time() < end:
        h = protocol.signal_header("flood/markers", seq, 1, time.time(), 100.0, ["a", "b", "c"],
                                   ["mm"] * 3, "motion")
        x[:, 0] = np.sin(seq / 10.0)
        try:
            s.send_multipart(protocol.encode("flood/markers", h, x), zmq.NOBLOCK)
        except zmq.Again:
            time.sleep(0.0005)
        seq += 1
    print(seq)
""")


def test_a_client_flooding_frames_does_not_starve_a_30_hz_couch(live):
    """A second process floods single-sample marker frames as fast as it can while the couch
    streams at 30 Hz: every couch frame is answered (no loss), with bounded latency."""
    import os
    rt, sub, dev = live
    dev.fs = 30.0
    _warm(sub, dev, 30)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", FLOODER, rt.bound.ingest, "3.5"], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        wait_for(lambda: stream_status(rt, "flood/markers").get("frames", 0) > 1000, what="the flood")
        times = dev.realtime(30, 90)              # 3 s at 30 Hz
        answers = _answers(sub, len(times))
        flooded = stream_status(rt, "flood/markers")["frames"]
    finally:
        out, _ = proc.communicate(timeout=20)
    assert [a.header["t_s"] for a in answers] == pytest.approx(times, rel=0, abs=1e-6)     # every frame, in order
    lag = np.array([a.header["t_out_s"] - a.header["t_s"] for a in answers])
    print(f"flood: {out.strip()} frames sent, {flooded} handled; couch lag p50 {np.median(lag) * 1e3:.1f} ms, "
          f"max {lag.max() * 1e3:.1f} ms")
    assert flooded > 3000
    assert np.median(lag) < 0.1 and lag.max() < 0.5
