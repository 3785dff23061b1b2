"""The runtime's socket options take effect: ZeroMQ copies a socket's options into its TCP
listener when it binds, so an option set after ``bind`` never reaches the connections it accepts.
The ingest's 256 MiB frame cap (``MAXMSGSIZE``) and its ``RCVHWM``, and the output's ``SNDHWM``
(``out_hwm``), were set after the bind and silently ignored (pyzmq 27.3, libzmq 4.3.5: a PULL
with a 1000-byte cap set after bind received a 5000-byte message). Real runtime, real loopback
sockets: an ingest frame over the cap is refused by ZeroMQ (the sender is disconnected) and the
runtime goes on."""
import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

from test_streams_helpers import config, push_socket, running, signal, stream_status, wait_for

CAP_BYTES = 256 * 1024 * 1024      # streams/runtime.py: the largest ingest frame


def test_an_ingest_frame_over_the_cap_is_refused_and_the_runtime_goes_on():
    ctx = zmq.Context()
    try:
        with running(config()) as rt:
            big = ctx.socket(zmq.PUSH)
            big.setsockopt(zmq.LINGER, 0)
            # the monitor before the connect: attached after it, a connection already made is never
            # told (a fresh-clone CI run: "the sender never connected" after 10 s)
            mon = big.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            big.connect(rt.bound.ingest)
            assert mon.poll(10_000), "the sender never connected"
            assert recv_monitor_message(mon)["event"] == zmq.EVENT_CONNECTED
            big.send(np.zeros(CAP_BYTES + 1, np.uint8), copy=False)
            # the cap in force: ZeroMQ drops the connection at the frame's header (never read whole)
            assert mon.poll(60_000), "a frame over the ingest cap was accepted"
            assert recv_monitor_message(mon)["event"] == zmq.EVENT_DISCONNECTED
            big.disable_monitor()
            mon.close(linger=0)
            big.close(linger=0)
            ok = push_socket(ctx, rt.bound.ingest)     # the runtime serves on
            for seq in range(3):
                ok.send_multipart(signal("couch1/resp", seq, np.zeros((1, 25), np.float32)))
            wait_for(lambda: "couch1/resp" in rt.status()["streams"]
                     and stream_status(rt, "couch1/resp")["frames"] == 3, timeout_s=20, what="frames after")
            assert rt.status()["totals"]["invalid"] == 0     # the big frame never reached the runtime
            ok.close(linger=0)
    finally:
        ctx.destroy(linger=0)   # closes whatever a failed assertion left open


def test_a_huge_status_request_is_dropped_and_status_still_answers():
    """A status request is the word ``status``; one of 1 MiB was read whole and copied on the event
    loop. It is now dropped by ZeroMQ at its header (the sender disconnected) and others are served."""
    from streams.runtime import STATUS_REQUEST_MAX_BYTES
    from streams.subscriber import request_status
    ctx = zmq.Context()
    try:
        with running(config()) as rt:
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.LINGER, 0)
            mon = req.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            req.connect(rt.bound.status)
            assert mon.poll(10_000) and recv_monitor_message(mon)["event"] == zmq.EVENT_CONNECTED
            req.send(np.zeros(STATUS_REQUEST_MAX_BYTES + 1, np.uint8), copy=False)
            assert mon.poll(30_000), "a status request over the cap was accepted"
            assert recv_monitor_message(mon)["event"] == zmq.EVENT_DISCONNECTED
            req.disable_monitor()
            mon.close(linger=0)
            req.close(linger=0)
            assert request_status(rt.bound.status, timeout_s=10)["state"] == "serving"
    finally:
        ctx.destroy(linger=0)
