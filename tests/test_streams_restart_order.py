"""A publisher restart while windows wait: the old session's windows go out before the new
session's, each topic in device-time order (real sockets on loopback). Before, the encoder lane and
the score thread served the two sessions in turn as two streams: ``emb/bed1/ecg`` stepped back in
device time 26 times after a restart with a backlog of 30 windows, and a dashboard showing the
newest reading showed the old session's between the new one's."""
import time

import msgpack
import numpy as np
import zmq

from streams import protocol
from streams.ingest import InputStream
from streams.runtime_outputs import Lane
from test_streams_helpers import config, push_socket, running, sub_socket

FS_HZ = 250.0


def _header(session, seq=0):
    return dict(protocol.signal_header("bed1/ecg", seq, session, 0.0, FS_HZ, ["II"], ["mV"], "ecg"), dtype="<f4")


def test_a_lane_serves_an_old_sessions_windows_before_the_new_ones():
    """Real InputStreams of one stream name (two publisher sessions) in one lane: FIFO by name."""
    old, new = InputStream(_header(1), (2.0, 1.0)), InputStream(_header(2), (2.0, 1.0))
    lane = Lane("main", worker=None)
    win = np.zeros((1, 500), np.float32)
    for k in range(5):
        lane.add((old, win, None, float(k), k + 2.0, k + 2.0, float(k)), 4096, 8)
    for k in range(5):
        lane.add((new, win, None, 100.0 + k, 102.0 + k, 102.0 + k, 10.0 + k), 4096, 8)
    got = []
    while len(lane):
        got += lane.take(3)
    assert [it[0].session for it in got] == [1] * 5 + [2] * 5
    assert [it[4] for it in got] == sorted(it[4] for it in got)


def _collect(sub, want: dict, timeout_s=60.0):
    """The frames of the topics in ``want`` (topic -> count) until each has its count or ``timeout_s``
    passed, then those that come within 0.5 s more (a window too many fails the test's count)."""
    got, end = [], time.monotonic() + timeout_s
    counts = dict.fromkeys(want, 0)
    while any(counts[t] < want[t] for t in want) and time.monotonic() < end:
        if sub.poll(500):
            topic, header = sub.recv_multipart()[:2]
            topic = topic.decode()
            if topic in want:
                counts[topic] += 1
                got.append((topic, msgpack.unpackb(header)))
    time.sleep(0.5)   # a window more than expected (a step back would add one) arrives within this
    while sub.poll(0):
        topic, header = sub.recv_multipart()[:2]
        if topic.decode() in want:
            got.append((topic.decode(), msgpack.unpackb(header)))
    return got


def test_windows_of_a_restarted_publisher_never_step_back_in_device_time():
    """Session 1 sends 60 s of ECG in 10 s frames (a backlog of 59 windows of 2 s every 1 s), then
    session 2 the next 60 s at once: every emb/ and score/ frame of the stream comes in device-time
    order, the old session's windows all before the new one's."""
    from biosig.synthetic import simulate
    x = simulate("ecg", 60, seed=1, fs_hz=FS_HZ).samples.astype(np.float32)
    n = int(10 * FS_HZ)
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": (2.0, 1.0)})) as rt:
            sub = sub_socket(ctx, rt.bound.output, b"")
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.3)   # the subscription reaches the PUB socket
            t0 = time.time() - 130.0
            for session, start in ((1, t0), (2, t0 + 65.0)):
                for i in range(0, x.shape[1], n):
                    h = protocol.signal_header("bed1/ecg", i // n, session, start + i / FS_HZ, FS_HZ, ["II"],
                                               ["mV"], "ecg")
                    push.send_multipart(protocol.encode("bed1/ecg", h, x[:, i:i + n]))
            frames = _collect(sub, {"emb/bed1/ecg": 2 * 59, "score/bed1/ecg": 2 * 59})
            status = rt.status()["streams"]["bed1/ecg"]
            push.close()
            sub.close()
    finally:
        ctx.destroy(linger=0)
    assert status["restarts"] == 1 and status["dropped"] == 0
    for topic in ("emb/bed1/ecg", "score/bed1/ecg"):
        ends = [h["window_end_s"] - t0 for tp, h in frames if tp == topic]
        assert len(ends) == 2 * 59, (topic, len(ends))
        back = [(a, b) for a, b in zip(ends, ends[1:]) if b <= a]
        assert not back, (topic, back[:5])
