"""An encoder lane serves its streams in turn: one client's huge frames (thousands of windows
each) filled the shared FIFO, and another bed's windows waited 7-10 s behind them or were
dropped in their place (integration bug bash, 2026-12-05)."""
import numpy as np
import pytest

from streams.publisher import Publisher
from streams.runtime_outputs import Lane
from streams.subscriber import Subscriber
from test_streams_helpers import config, running, wait_for

MODEL = object()


def _items(stream, n, t0=0.0, shape=(1, 4)):
    return [(stream, np.zeros(shape, np.float32), None, 0.0, 1.0, 1.0, t0 + k * 1e-6) for k in range(n)]


class _Stream:   # what a lane reads of the runtime's InputStream: a hashable object with .model
    def __init__(self, name, catching_up=False):
        self.name, self.model, self.catching_up = name, MODEL, catching_up


def test_a_lane_takes_one_window_per_stream_in_turn_and_keeps_each_streams_order():
    lane = Lane("ecg", worker=None)
    a, b, c = _Stream("a"), _Stream("b"), _Stream("c")
    for it in _items(a, 100, 0.0):
        assert lane.add(it, 4096, 8) is None
    for it in _items(b, 3, 1.0) + _items(c, 3, 2.0):
        lane.add(it, 4096, 8)
    batch = lane.take(8)
    assert [it[0].name for it in batch] == ["a", "b", "c", "a", "b", "c", "a", "b"]
    assert [it[-1] for it in batch if it[0] is a] == sorted(it[-1] for it in batch if it[0] is a)
    assert [it[0].name for it in lane.take(8)] == ["a", "c"]       # c's last window: not padded with a's
    assert len(lane) == 106 - 10 and list(lane.queues) == ["a"]      # b and c emptied, a goes on
    rest = []
    while len(lane):
        rest += lane.take(8)
    assert len(rest) == 96 and all(it[0] is a for it in rest)


def test_a_stream_keeping_up_is_not_batched_with_another_streams_backlog():
    """A bed with one window waiting beside a client with 100: the batch is one window of each (the
    bed's window costs the model time of 2 windows, not of max_batch), the backlog fills the next.
    Before, the batch was padded with 7 of the client's windows."""
    lane = Lane("ecg", worker=None)
    flood, bed = _Stream("flood"), _Stream("bed")
    for it in _items(flood, 100, 0.0):
        lane.add(it, 4096, 8)
    lane.add(_items(bed, 1, 1.0)[0], 4096, 8)
    assert [it[0].name for it in lane.take(8)] == ["flood", "bed"]
    assert [it[0].name for it in lane.take(8)] == ["flood"] * 8      # nobody else waits: full batches
    lane.add(_items(bed, 1, 2.0)[0], 4096, 8)
    assert [it[0].name for it in lane.take(8)] == ["flood", "bed"]
    assert len(lane) == 100 - 10


def test_a_stream_catching_up_waits_for_the_real_time_streams_and_gets_short_batches():
    """A client catching up (spending its ingest allowance faster than it refills) beside a bed: while
    a bed's window waits, the batch is the bed's alone; the flood alone gets batches of
    CATCHUP_MAX_BATCH, so a bed's window that comes meanwhile waits for a short batch. Before, the
    bed's window shared a batch with the flood's (and waited behind its full batches)."""
    from streams.runtime_outputs import CATCHUP_MAX_BATCH
    lane = Lane("ecg", worker=None)
    flood, bed, other = _Stream("flood", catching_up=True), _Stream("bed"), _Stream("other")
    for it in _items(flood, 100, 0.0):
        lane.add(it, 4096, 8)
    lane.add(_items(bed, 1, 1.0)[0], 4096, 8)
    lane.add(_items(other, 2, 2.0)[0], 4096, 8)
    assert [it[0].name for it in lane.take(8)] == ["bed", "other"]    # the real-time streams first
    assert [it[0].name for it in lane.take(8)] == ["flood"] * CATCHUP_MAX_BATCH and CATCHUP_MAX_BATCH < 8
    flood.catching_up = False                                         # caught up: full batches again
    assert [it[0].name for it in lane.take(8)] == ["flood"] * 8
    assert len(lane) == 100 - CATCHUP_MAX_BATCH - 8


def test_a_full_lane_drops_the_oldest_window_of_the_stream_holding_most():
    lane = Lane("ecg", worker=None)
    a, b = _Stream("a"), _Stream("b")
    dropped = [lane.add(it, 20, 4) for it in _items(a, 30)]          # alone: its share is the lane
    assert sum(d is not None for d in dropped) == 10 and len(lane) == 20
    assert all(d[0] is a for d in dropped if d is not None)
    dropped_b = [lane.add(it, 20, 4) for it in _items(b, 5, 1.0)]    # b arrives: a gives way
    assert all(d is None or d[0] is a for d in dropped_b)
    assert len(lane.queues["b"]) == 5 and len(lane) == 20
    more_b = [lane.add(it, 20, 4) for it in _items(b, 20, 2.0)]      # b never takes more than its share
    assert len(lane.queues["b"]) == 10 and len(lane.queues["a"]) == 10
    assert all(d[0] is b for d in more_b[-10:])


def test_a_window_of_one_model_shape_waits_for_its_own_batch():
    lane = Lane("ecg", worker=None)
    a, b = _Stream("a"), _Stream("b")
    for it in _items(a, 3, 0.0):
        lane.add(it, 100, 4)
    for it in _items(b, 3, 1.0, shape=(1, 8)):
        lane.add(it, 100, 4)
    first = lane.take(8)
    assert {it[0].name for it in first} == {"a"} and len(first) == 3
    assert [it[0].name for it in lane.take(8)] == ["b"] * 3 and len(lane) == 0


@pytest.mark.timeout(180)
def test_a_huge_frame_does_not_delay_another_beds_windows():
    """Over real sockets with ecg-tiny: bed A sends one frame of 400 windows, bed B one window
    just after it. B's embedding comes out among the first batches, not after A's 400."""
    pytest.importorskip("encoders")
    fs = 250.0
    rng = np.random.default_rng(4)
    cfg = config(models={"ecg": "ecg-tiny"}, backend="torch", windows={"ecg": (2.0, 2.0)},
                 max_batch=8, max_delay_s=0.01)
    with running(cfg) as rt:
        sub = Subscriber(["emb/", "hb/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.1) is not None, what="the subscription (a heartbeat)")
        pub = Publisher("ward", rt.bound.ingest)
        pub.stream("bedA", fs, ["II"]).send(rng.normal(size=(1, int(800 * fs))).astype(np.float32))
        pub.stream("bedB", fs, ["II"]).send(rng.normal(size=(1, int(2 * fs))).astype(np.float32))
        order = []
        wait_for(lambda: (f := sub.recv(0.1)) is not None and order.append(f.topic) is None and "emb/ward/bedB" in order,
                 timeout_s=120, what="bed B's embedding")
        a_before_b = order[:order.index("emb/ward/bedB")].count("emb/ward/bedA")
        s = rt.status()["streams"]
        pub.close()
        sub.close()
    assert s["ward/bedB"]["dropped"] == 0 and s["ward/bedA"]["windows"] == 400
    assert a_before_b < 100, a_before_b      # FIFO: all 400 of A's first


def test_each_own_worker_modality_is_embedded_in_its_own_lane():
    """Over real sockets: an ECG and a RESP stream (own_worker_modalities) are windowed into the
    ``ecg`` and ``resp`` lanes, an "other" stream (no lane of its own) into ``main``. Before, an empty
    lane was falsy (it has a length) and every window went to ``main``: a modality's own worker
    never ran, so one client's audio or ECG flood delayed every other modality's windows."""
    fs = 50.0
    rng = np.random.default_rng(5)
    cfg = config(windows={"ecg": (2.0, 1.0), "resp": (2.0, 1.0), "other": (2.0, 1.0)})
    with running(cfg) as rt:
        pub = Publisher("bed", rt.bound.ingest)
        for name, modality in (("ecg", "ecg"), ("resp", "resp"), ("other", "other")):
            pub.stream(name, fs, ["c0"], modality=modality).send(rng.normal(size=(1, int(5 * fs))).astype(np.float32))
        s = wait_for(lambda: (s := rt.status())["totals"].get("outputs", 0) >= 12 and s, what="12 windows out")
        pub.close()
    lanes = s["queue"]["lanes"]
    per_stream = {k.split("/")[-1]: v["windows"] for k, v in s["streams"].items()}
    assert per_stream == {"ecg": 4, "resp": 4, "other": 4}, per_stream
    assert (lanes["ecg"]["windows"], lanes["resp"]["windows"], lanes["main"]["windows"]) == (4, 4, 4), lanes
