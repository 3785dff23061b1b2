"""A stream that expired while idle and comes back within its session has its lost frames counted
(real sockets)."""
import time

import numpy as np
import zmq

from test_streams_helpers import config, push_socket, running, signal, stream_status, wait_for


def test_frames_lost_while_a_stream_was_expired_are_counted_as_missing():
    """A monitor sends frames 0-2, goes quiet past ``idle_expire_s`` (the runtime forgets the
    stream) and comes back with frame 10 of the same session. Its new counters said gaps 0,
    missing 0: the 7 frames lost in the outage were counted nowhere. Now they are a gap."""
    ctx = zmq.Context()
    x = np.zeros((1, 25), np.float32) + np.arange(25, dtype=np.float32)
    try:
        with running(config(idle_expire_s=1.0)) as rt:
            push = push_socket(ctx, rt.bound.ingest)
            for seq in range(3):
                push.send_multipart(signal("bed01/resp", seq, x, session=5))
            wait_for(lambda: stream_status(rt, "bed01/resp").get("frames") == 3, what="the first frames")
            wait_for(lambda: "bed01/resp" not in rt.status()["streams"], timeout_s=30, what="the stream to expire")
            push.send_multipart(signal("bed01/resp", 10, x, session=5))
            s = wait_for(lambda: (st := stream_status(rt, "bed01/resp")).get("frames") == 1 and st,
                         what="the stream back")
            assert s["gaps"] == 1 and s["missing"] == 7, s
            # another session (the device restarted) is a fresh start, not a gap
            wait_for(lambda: "bed01/resp" not in rt.status()["streams"], timeout_s=30, what="the stream to expire")
            push.send_multipart(signal("bed01/resp", 0, x, session=6))
            s = wait_for(lambda: (st := stream_status(rt, "bed01/resp")).get("frames") == 1 and st,
                         what="the new session")
            assert s["gaps"] == 0 and s["missing"] == 0, s
            push.close()
    finally:
        ctx.destroy(linger=0)   # closes the sockets a failed assertion left open
