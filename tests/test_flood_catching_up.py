"""A stream spending its ingest allowance faster than it refills is *catching up*
(streams.ingest_budget): its windows are cut after those of the streams at their real-time rate.
A flood sent at once is; a bed's short outage backlog and a bed at real time are not. Real
ZeroMQ sockets on loopback; counts and flags only, no timings asserted."""
import time

import numpy as np

from streams.ingest_budget import CATCHUP_SLACK_S, IngestBudget
from streams.publisher import Publisher
from test_streams_helpers import config, running, signal, stream_status, wait_for

FS = 50.0


def test_spending_means_more_than_the_slack_of_the_allowance_spent():
    b = IngestBudget(speed=20.0, backlog_s=3600.0, now_s=0.0)
    assert not b.spending()
    b.charge(CATCHUP_SLACK_S)                                  # an outage's minute: not catching up
    assert not b.spending()
    b.charge(1.0)
    assert b.spending()
    assert b.would_admit(0.1, 10.0) and not b.spending()     # 10 s of wall clock at 20 x: refilled
    small = IngestBudget(speed=1.25, backlog_s=20.0, now_s=0.0)   # a strict budget: half its backlog
    small.charge(10.0)
    assert not small.spending()
    small.charge(0.5)
    assert small.spending()


def _send(pub, name, n_frames, t_start, modality="ecg"):
    st = pub.stream(name, FS, ["II"], modality=modality)
    x = np.random.default_rng(0).normal(size=(1, int(FS))).astype(np.float32)
    for k in range(n_frames):                                  # 1 s frames, device time tiled, sent at once
        assert st.send(x, t0_s=t_start + k)


def test_a_flood_is_catching_up_and_a_beds_backlog_is_not():
    cfg = config(windows={"ecg": (2.0, 1.0)}, ingest_speed_max=1.25, ingest_backlog_s=400.0)
    with running(cfg) as rt:
        bed, flooder = Publisher("ward", rt.bound.ingest), Publisher("lab", rt.bound.ingest)
        t_start = time.time() - 300.0
        _send(bed, "bed", 30, t_start)                         # a 30 s outage's backlog at once
        _send(flooder, "flood", 300, t_start)                  # 300 s of samples at once
        seen = lambda name: (s := stream_status(rt, name)) and s["frames"] + s["rejected_total"]
        wait_for(lambda: seen("ward/bed") == 30 and seen("lab/flood") == 300, timeout_s=60,
                 what="every frame counted")
        flags = rt.streams["ward/bed"].catching_up, rt.streams["lab/flood"].catching_up
        bed_s, flood_s = stream_status(rt, "ward/bed"), stream_status(rt, "lab/flood")
        bed.close(), flooder.close()
    assert flags == (False, True)
    assert (bed_s["frames"], flood_s["frames"]) == (30, 300)   # taken whole: within the allowance
    assert bed_s["windows"] == 29 and flood_s["windows"] == 299   # every window cut, the flood's too


def _stream(name: str):
    from streams import protocol
    from streams.ingest import InputStream
    h = protocol.decode(signal(name, 0, np.zeros((1, 5)), fs_hz=FS, modality="ecg", t0_s=0.0)).header
    return InputStream(h, (2.0, 1.0))


def test_the_windows_of_a_drain_are_cut_for_real_time_streams_first():
    """One drain of the ingest socket read a flood's frames, then a bed's: the bed's windows are
    cut and queued first (a stable sort: each stream's frames in order). On a runtime that is not
    started, real streams and a real encoder lane (no worker: nothing is taken from it)."""
    from streams.runtime import Runtime
    from streams.runtime_outputs import Lane
    rt = Runtime(config(windows={"ecg": (2.0, 1.0)}))
    rt.lanes["main"] = Lane("main", None)
    flood, bed = _stream("lab/flood"), _stream("ward/bed")
    flood.catching_up = True
    x = np.random.default_rng(0).normal(size=(1, int(2 * FS))).astype(np.float32)
    for k in range(3):
        rt._deferred.append((flood, x, 2.0 * k, 2.0 * k + 2 - 1 / FS, False))
    rt._deferred.append((bed, x, 0.0, 2 - 1 / FS, False))
    rt._run_deferred()
    lane = rt.lanes["main"]
    assert list(lane.queues) == ["ward/bed", "lab/flood"]      # the bed's window queued first
    assert np.allclose([it[3] for it in lane.queues["lab/flood"]], [0, 1, 2, 3, 4])   # the flood's, in order
    assert not rt._deferred
