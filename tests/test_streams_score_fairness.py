"""One bed's backlog never delays another bed's score frames (real sockets)."""
import time

import msgpack
import numpy as np
import pytest
import zmq

from streams import protocol
from test_streams_helpers import config, push_socket, running, sub_socket, wait_for

FS_HZ = 250.0
BACKLOG = 200   # bed1 windows waiting for the score thread when bed2 sends


def test_a_backlog_of_one_bed_does_not_queue_another_beds_scores_behind_it():
    """bed1 sends 40 minutes of ECG in one frame (2,391 windows, a few ms of beat detection each);
    while hundreds of its windows wait for the score thread, bed2 sends 10 s (one window). Its score
    frame used to wait behind every bed1 window queued before it (one FIFO: 4-8 s behind an hour's
    backlog); now the score thread takes one window per stream in turn."""
    from biosig.synthetic import simulate
    ecg = simulate("ecg", 60, seed=5, rhythm="sinus", fs_hz=FS_HZ).samples[:1].astype(np.float32)
    flood = np.tile(ecg, (1, 40))
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": (10.0, 1.0)})) as rt:
            sub = sub_socket(ctx, rt.bound.output, b"score/")
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.3)   # the subscription reaches the PUB socket
            now = time.time()
            h = protocol.signal_header("bed1/ecg", 0, 1, now - flood.shape[1] / FS_HZ, FS_HZ, ["II"], ["mV"], "ecg")
            push.send_multipart(protocol.encode("bed1/ecg", h, flood))
            # a backlog of a few hundred windows (how deep it gets depends on the machine: the windows
            # are cut on the event loop, and given their quality by an encoder lane, while the score
            # thread drains them: here ~510 cut and ~400 scored a second, so it peaks at ~540)
            peak = _backlog(rt, BACKLOG, int((flood.shape[1] / FS_HZ - 10.0) / 1.0) + 1, 120)
            if peak < BACKLOG:   # the score thread kept pace with the cutting: no backlog to be fair over
                pytest.skip(f"the score thread kept pace with the cutting of bed1's 2,391 windows (the backlog "
                            f"peaked at {peak} < {BACKLOG} and drained): nothing to test fairness on here")
            pending, published = rt.score_worker.pending, rt.score_worker.published
            h = protocol.signal_header("bed2/ecg", 0, 2, now - 10.0, FS_HZ, ["II"], ["mV"], "ecg")
            push.send_multipart(protocol.encode("bed2/ecg", h, ecg[:, :int(10 * FS_HZ)]))
            order, end = [], time.monotonic() + 120
            while time.monotonic() < end and "score/bed2/ecg" not in order:
                if sub.poll(500):
                    order.append(sub.recv_multipart()[0].decode())
            assert "score/bed2/ecg" in order
            sub.close()
            push.close()
    finally:
        ctx.destroy(linger=0)   # closes the sockets a failed assertion left open
    # bed1 frames published after bed2's window was sent and before its score frame (PUB -> SUB
    # keeps the order): a handful (the windows the encoder lane and the score thread were already
    # on), not the backlog
    ahead = order.index("score/bed2/ecg") - published
    assert ahead < pending // 2, (ahead, pending)


def _backlog(rt, depth: int, n_windows: int, timeout_s: float) -> int:
    """Wait until ``depth`` windows wait for the score thread (returns the count), or until every one
    of the flood's ``n_windows`` was scored with the backlog below ``depth`` all along (returns its
    peak: the score thread kept pace; once in ~10 runs, in a no-shared run of session 67, the
    backlog never reached 200). Neither within ``timeout_s``:
    an AssertionError that says where the runtime stood."""
    peak, end = 0, time.monotonic() + timeout_s
    while time.monotonic() < end:
        pending = rt.score_worker.pending
        if pending >= depth or rt.score_worker.published + rt.score_worker.dropped >= n_windows:
            return max(peak, pending)
        peak = max(peak, pending)
        time.sleep(0.005)
    status = rt.status()
    raise AssertionError(f"no score backlog after {timeout_s} s: score pending {rt.score_worker.pending} (peak "
                         f"{peak}), published {rt.score_worker.published}, dropped {rt.score_worker.dropped}; "
                         f"bed1 {status.get('streams', {}).get('bed1/ecg')}; queues {status.get('queue')}")
