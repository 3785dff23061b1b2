"""A stream may send at most ``ingest_speed_max`` seconds of samples per wall-clock second beyond a
backlog of ``ingest_backlog_s`` (streams.ingest_budget): a client sending at 500 x real time took
the event loop from every other bed (a real-time bed's embeddings 0.9-3.6 s late). Frames beyond
the budget are rejected as ``over_rate`` and counted; an honest device's backlog gets through.
Real ZeroMQ sockets on loopback; counts only, no timings asserted."""
import time

import numpy as np

from streams.ingest_budget import IngestBudget
from streams.publisher import Publisher
from test_streams_helpers import config, running, stream_status, wait_for

FS = 50.0


def test_budget_refills_with_the_wall_clock_up_to_the_backlog():
    b = IngestBudget(speed=2.0, backlog_s=10.0, now_s=0.0)
    assert b.admit(10.0, 0.0) and not b.admit(0.1, 0.0)        # the backlog, then nothing
    assert b.admit(2.0, 1.0) and not b.admit(0.1, 1.0)         # 1 s of wall clock: 2 s of samples
    assert not b.admit(3.0, 2.0) and b.admit(2.0, 2.0)         # a frame is taken whole or not at all
    assert b.admit(100.0, 100.0) and not b.admit(1.0, 100.0)   # one frame over the allowance: when it is full
    assert not b.admit(1.0, 50.0) and b.tokens_s == 0.0        # a clock set back refills nothing


def _send(pub, name, n_frames, frame_s, t_start):
    st = pub.stream(name, FS, ["II"], modality="ecg")
    x = np.random.default_rng(0).normal(size=(1, int(frame_s * FS))).astype(np.float32)
    for k in range(n_frames):                                  # device time tiled, sent at once
        assert st.send(x, t0_s=t_start + k * frame_s)
    return st


def test_a_flooder_is_cut_to_its_budget_and_a_beds_backlog_gets_through():
    cfg = config(windows={"ecg": (2.0, 1.0)}, ingest_speed_max=1.25, ingest_backlog_s=20.0)
    with running(cfg) as rt:
        pub, flooder = Publisher("ward", rt.bound.ingest), Publisher("lab", rt.bound.ingest)   # two sources:
        t_start = time.time() - 15.0                                     # each has its own budget too
        wall0 = time.time()
        _send(pub, "bed", 15, 1.0, t_start)                    # 15 s outage's backlog: within 20 s
        _send(flooder, "flood", 400, 1.0, t_start)             # 400 s of samples at once
        seen = lambda name: (s := stream_status(rt, name)) and s["frames"] + s["rejected_total"]
        wait_for(lambda: seen("ward/bed") == 15 and seen("lab/flood") == 400, timeout_s=60, what="every frame counted")
        elapsed_s = time.time() - wall0
        bed, flood = stream_status(rt, "ward/bed"), stream_status(rt, "lab/flood")
        pub.close(), flooder.close()
    assert bed["frames"] == 15 and bed["rejected_total"] == 0
    assert bed["windows"] == 14                                # 2 s windows every 1 s over 15 s: nothing cut
    assert flood["rejected"] == {"over_rate": 400 - flood["frames"]}
    assert 20 <= flood["frames"] <= 20 + 1.25 * elapsed_s + 1
    assert flood["last_rejected"].startswith("over_rate: 1 s of samples")


def test_the_budget_survives_a_new_session_per_frame():
    """A client changing its session id every frame restarts the stream each time: the budget is
    the stream's, so it buys nothing."""
    cfg = config(windows={"ecg": (2.0, 1.0)}, ingest_speed_max=1.25, ingest_backlog_s=10.0)
    with running(cfg) as rt:
        t_start = time.time()
        for k in range(60):
            pub = Publisher("ward", rt.bound.ingest, session=k + 1)
            _send(pub, "flood", 1, 1.0, t_start + k)
            pub.close()
        wall_end = time.time()
        s = wait_for(lambda: (s := stream_status(rt, "ward/flood")) and s["frames"] + s["rejected_total"] == 60 and s,
                     timeout_s=60, what="every frame counted")
    assert s["rejected"].get("over_rate", 0) >= 60 - 10 - 1.25 * (wall_end - t_start) - 1
    assert s["rejected"].get("over_rate", 0) > 0
