"""The ingest budget is also the source's (streams.ingest_budget): one source may hold up to
``max_streams_per_source`` streams, and with a budget per stream only, a flooder spreading its
frames over N stream names had N backlogs. The source shares one backlog of ``ingest_backlog_s``
(refilled at ``ingest_speed_max`` x its streams); an honest bed's few streams and another source
are untouched. Real ZeroMQ sockets on loopback; counts only, no timings asserted."""
import time

import numpy as np

from streams.ingest_budget import IngestBudget
from streams.publisher import Publisher
from test_streams_helpers import config, running, stream_status, wait_for

FS = 50.0
SPEED, BACKLOG_S = 1.0, 30.0
N_FLOOD, FRAMES = 8, 60


def _send(pub, name, n_frames, frame_s, t_start, modality="ecg"):
    st = pub.stream(name, FS, ["II"], modality=modality)
    x = np.random.default_rng(0).normal(size=(1, int(frame_s * FS))).astype(np.float32)
    for k in range(n_frames):                                  # device time tiled, sent at once
        assert st.send(x, t0_s=t_start + k * frame_s)


def _counted(rt, names, n):
    def done():
        seen = [stream_status(rt, name) for name in names]
        return all(s and s["frames"] + s["rejected_total"] == n for s in seen) and seen
    return done


def test_a_source_shares_one_backlog_over_its_streams():
    cfg = config(windows={"ecg": (2.0, 1.0)}, ingest_speed_max=SPEED, ingest_backlog_s=BACKLOG_S)
    with running(cfg) as rt:
        t_start = time.time() - 10.0
        wall0 = time.time()
        flood, bed = Publisher("flood", rt.bound.ingest), Publisher("bed", rt.bound.ingest)
        for i in range(N_FLOOD):                               # 8 x 60 s of samples at once, one source
            _send(flood, f"s{i}", FRAMES, 1.0, t_start)
        for m in ("ecg", "ppg", "resp"):                       # another source's 10 s outage, 3 streams
            _send(bed, m, 10, 1.0, t_start, modality=m)
        flooded = wait_for(_counted(rt, [f"flood/s{i}" for i in range(N_FLOOD)], FRAMES), timeout_s=120,
                           what="every flood frame counted")
        beds = wait_for(_counted(rt, ["bed/ecg", "bed/ppg", "bed/resp"], 10), timeout_s=60,
                        what="every bed frame counted")
        elapsed_s = time.time() - wall0
        flood.close(), bed.close()
    accepted = sum(s["frames"] for s in flooded)
    rejected = sum(s["rejected"].get("over_rate", 0) for s in flooded)
    assert accepted + rejected == N_FLOOD * FRAMES
    # one backlog for the source, refilled at SPEED x its streams (a budget per stream took 8 x 30 s)
    assert BACKLOG_S <= accepted <= BACKLOG_S + SPEED * N_FLOOD * elapsed_s + 1, (accepted, elapsed_s)
    assert any(s["last_rejected"].startswith("over_rate: 1 s of samples") and "source flood" in s["last_rejected"]
               for s in flooded), [s["last_rejected"] for s in flooded]
    assert [(s["frames"], s["rejected_total"]) for s in beds] == [(10, 0)] * 3   # another source: its own budget


def test_an_honest_bed_at_real_time_is_untouched():
    """ECG + PPG + RESP at real time, each frame sent when its last sample is taken, with a strict
    budget (1.25 x real time, a backlog of 3 s): not one frame rejected. (The source's refill is
    1.25 x its 3 streams: at 1.25 x alone its 3 s of samples a second ran dry within 2 s.)"""
    cfg = config(windows={"ecg": (2.0, 1.0)}, ingest_speed_max=1.25, ingest_backlog_s=3.0)
    with running(cfg) as rt:
        pub = Publisher("bed", rt.bound.ingest)
        streams = {m: pub.stream(m, FS, ["x"], modality=m) for m in ("ecg", "ppg", "resp")}
        x = np.zeros((1, int(0.25 * FS)), np.float32)
        t_start = time.time()
        for k in range(24):                                   # 6 s
            due = t_start + (k + 1) * 0.25
            time.sleep(max(0.0, due - time.time()))
            for st in streams.values():
                assert st.send(x + k, t0_s=due - 0.25)
        seen = wait_for(_counted(rt, ["bed/ecg", "bed/ppg", "bed/resp"], 24), timeout_s=60, what="every frame counted")
        pub.close()
    assert [(s["frames"], s["rejected_total"]) for s in seen] == [(24, 0)] * 3


def test_the_source_budget_refills_at_its_streams_rate():
    b = IngestBudget(speed=2.0, backlog_s=10.0, now_s=0.0)
    assert b.admit(10.0, 0.0) and not b.admit(0.1, 0.0)
    b.speed = 6.0                                              # three streams at 2 x: 6 s of samples a second
    assert b.admit(6.0, 1.0) and not b.admit(0.1, 1.0)
    assert b.would_admit(3.0, 1.5) and b.would_admit(3.0, 1.5) and b.tokens_s == 3.0   # a look charges nothing
    b.charge(3.0)
    assert not b.would_admit(0.1, 1.5)
