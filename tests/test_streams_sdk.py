"""Publisher and subscriber SDKs on real sockets: back-pressure policy, gap/duplicate/restart
accounting, staleness and reconnect."""
import time

import numpy as np
import pytest
import zmq

from streams import protocol
from streams.errors import StreamError
from streams.publisher import Publisher
from streams.subscriber import Subscriber
from test_streams_helpers import free_port


def _hb(seq):
    return protocol.encode("hb/runtime", {"kind": "heartbeat", "stream": "runtime", "seq": seq, "t_s": 1.0})


def test_subscriber_counts_gaps_duplicates_late_and_restarts():
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = Subscriber(["hb/"], f"tcp://127.0.0.1:{port}", ctx=ctx)
    deadline = time.monotonic() + 5
    while sub.recv(0.05) is None:          # slow joiner: wait until frames flow
        pub.send_multipart(_hb(0))
        assert time.monotonic() < deadline
    sub._last_seq.clear()
    sub.stats.clear()
    for seq in (10, 11, 11, 9, 14, 15, 0, 1):
        pub.send_multipart(_hb(seq))
    pub.send_multipart([b"hb/runtime", b"garbage"])
    got = []
    while (f := sub.recv(0.3)) is not None:
        got.append(f.header["seq"])
    assert got == [10, 11, 14, 15, 0, 1]
    s = sub.stats["hb/runtime"]
    assert (s["frames"], s["gaps"], s["missing"], s["duplicates"], s["late"], s["restarts"]) == (6, 1, 2, 1, 1, 1)
    assert sub.invalid["header"] == 1
    sub.close()
    pub.close()
    ctx.term()


def test_stale_subscriber_reconnects():
    sub = Subscriber([""], f"tcp://127.0.0.1:{free_port()}", stale_s=0.2)
    assert sub.recv(0.7) is None and sub.reconnects >= 2
    sub.close()


def test_drop_policy_counts_drops_and_still_consumes_sequence_numbers():
    pub = Publisher("bed01", f"tcp://127.0.0.1:{free_port()}", policy="drop", hwm=2)   # nobody listening
    out = pub.stream("resp", 25.0, ["RESP"])
    sent = [out.send(np.ones(25)) for _ in range(10)]
    assert out.seq == 10 and out.dropped == sent.count(False) > 0 and out.sent == sent.count(True)
    pub.close()


def test_block_policy_gives_up_after_the_bound():
    pub = Publisher("bed01", f"tcp://127.0.0.1:{free_port()}", policy="block", hwm=1, block_s=0.1)
    out = pub.stream("resp", 25.0, ["RESP"])
    t = time.monotonic()
    results = [out.send(np.ones(25)) for _ in range(4)]
    assert results.count(False) >= 1 and time.monotonic() - t < 2.0
    pub.close()


@pytest.mark.parametrize("kwargs, match", [
    (dict(source="bad name"), "source name"), (dict(source="bed01", policy="wait"), "policy"),
    (dict(source="bed01", endpoint="tcp://10.1.2.3:5555"), "not loopback"),
])
def test_publisher_argument_errors(kwargs, match):
    with pytest.raises(StreamError, match=match):
        Publisher(**kwargs)


def test_wrong_sample_shape_is_refused_before_sending():
    with Publisher("bed01", f"tcp://127.0.0.1:{free_port()}") as pub:
        out = pub.stream("ecg", 250.0, ["II", "V5"])
        with pytest.raises(StreamError, match=r"expected \(2, T\)"):
            out.send(np.ones((3, 10)))
        assert out.seq == 0
