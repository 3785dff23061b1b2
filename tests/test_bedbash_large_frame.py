"""A device integrator's bug bash: one legal but huge frame must not stall the runtime's event loop.

A frame of 2^20 ECG samples at 50 Hz (4 MiB, every limit of docs/protocol.md kept) was cut into its
~21000 windows in one go on the event loop: 2.6 s with ecg-tiny's pipeline (2 loaded cores) during
which no marker frame was forecast and no ``status`` answered. Its windows are now cut a slice at a
time between turns of the loop (streams.runtime_ingest.WINDOW_SLICE_VALUES): ``status`` answers while
they are cut, and in the end they are exactly the windows the whole frame gives (the offline
InputStream of the same samples), each published or counted as dropped. Real sockets on loopback;
no timings asserted.

With no model's pipeline (the runtime here serves none) the same frame is cut in ~50 ms: three turns
of 20 ms, and a status round trip on a loaded machine can take longer than that (CI: the first answer
that showed the frame showed all its windows). So the slices are made small here, one a turn
(WINDOW_SLICE_S 0): ~4000 turns over a second or more, the slicing itself and not the cost of
a pipeline being what is tested.
"""
import time

import numpy as np
import zmq

from streams import protocol, runtime_ingest
from streams.ingest import InputStream
from tests.test_streams_helpers import config, push_socket, running, wait_for

FS_HZ = 50.0
WINDOW = (2.0, 1.0)
T = 1 << 20      # the most samples a frame may hold


def _status(req) -> dict:
    req.send(b"status")
    frame = protocol.decode(req.recv_multipart())
    return frame.header["body"]


def test_a_huge_legal_frame_is_windowed_between_status_answers_and_loses_nothing(monkeypatch):
    monkeypatch.setattr(runtime_ingest, "WINDOW_SLICE_VALUES", 256)   # 5 windows a slice
    monkeypatch.setattr(runtime_ingest, "WINDOW_SLICE_S", 0.0)         # one slice a turn
    x = np.random.default_rng(7).normal(size=(1, T)).astype("<f4")
    h = protocol.signal_header("bb/huge", 0, 1, time.time() - T / FS_HZ, FS_HZ, ["II"], ["mV"], "ecg")
    expected = len(InputStream({**h, "dtype": "<f4"}, WINDOW).windows(x, h["t0_s"]))   # offline twin
    assert expected > 20000
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": WINDOW})) as rt:
            push = push_socket(ctx, rt.bound.ingest)
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.LINGER, 0)
            req.setsockopt(zmq.RCVTIMEO, 30000)
            req.connect(rt.bound.status)
            push.send_multipart(protocol.encode("bb/huge", h, x))
            # the first answer that shows the frame accepted: before, it came only once every
            # window of it was cut (accepting and cutting were one turn of the loop)
            while True:
                s = _status(req)["streams"].get("bb/huge", {})
                if s.get("frames"):
                    break
            assert s["windows"] < expected, "status waited for the whole frame's windows"
            final = wait_for(lambda: (lambda b: b if b["windows"] == expected
                                      and b["outputs"] + b["dropped"] == expected else None)(
                _status(req)["streams"]["bb/huge"]), timeout_s=120, what="every window cut and published")
            assert final["frames"] == 1 and final["gaps"] == 0 and not final["rejected"]
    finally:
        ctx.destroy(linger=0)   # closes the sockets too, also when an assertion failed
