"""``status`` totals hold every counter from 0, also before the first stream: a runtime that had
received nothing answered ``{"invalid": 0}`` (and ``serve`` printed that on exit), so a client reading
``totals["frames"]`` met a KeyError. Real runtime, real status socket."""
import numpy as np

from streams.runtime_status import TOTAL_KEYS
from streams.subscriber import request_status
from test_streams_helpers import config, push_socket, running, signal, wait_for


def test_totals_count_from_zero_and_then_the_frames():
    import zmq
    with running(config()) as rt:
        totals = request_status(rt.bound.status, insecure=True)["totals"]
        assert totals == {**dict.fromkeys(TOTAL_KEYS, 0), "invalid": 0}
        ctx = zmq.Context()
        try:
            push = push_socket(ctx, rt.bound.ingest)
            for seq in range(2):
                push.send_multipart(signal("couch1/resp", seq, np.zeros((1, 25), np.float32)))
            wait_for(lambda: rt.status()["totals"]["frames"] == 2, what="two frames counted")
        finally:
            ctx.destroy(linger=0)
        assert set(rt.status()["totals"]) == {*TOTAL_KEYS, "invalid"}
