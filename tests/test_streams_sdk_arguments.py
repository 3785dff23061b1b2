"""The streams SDK's arguments, on real loopback sockets: a caller's mistake (a count that is no
integer, a rate of 0, text for samples, a NaN timeout) is a StreamError naming the argument and
its value, never a TypeError / ValueError / ZMQError from deep inside, and never silently wrong
behaviour (a str iterated into characters, a re-declared stream keeping its old rate, a frame the
runtime will reject counted as sent)."""
import math
import threading

import numpy as np
import pytest
import zmq

from streams import protocol
from streams.errors import StreamError
from streams.publisher import Publisher
from streams.security import generate_keys
from streams.subscriber import Subscriber, request_status, runtime_state
from test_streams_helpers import free_port


def _ep() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def _one_line(info, *parts):
    msg = str(info.value)
    assert isinstance(info.value, StreamError) and "\n" not in msg, msg
    for part in parts:
        assert part in msg, (part, msg)
    return msg


@pytest.fixture
def pull():
    """A real PULL socket on a free loopback port: ``(endpoint, socket)``."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    yield f"tcp://127.0.0.1:{port}", sock
    sock.close()
    ctx.term()


def _received(sock, n, timeout_ms=5000):
    frames = []
    for _ in range(n):
        assert sock.poll(timeout_ms), f"only {len(frames)} of {n} frames arrived"
        frames.append(protocol.decode(sock.recv_multipart(), check_finite=False))
    return frames


def _raises_within(fn, timeout_s=5.0):
    """The exception ``fn()`` raises, run in a thread (a negative ZeroMQ poll waits forever)."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:   # noqa: BLE001  (handed to the test)
            out["exc"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout_s)
    assert not t.is_alive(), f"still waiting after {timeout_s} s"
    assert "exc" in out, f"returned {out.get('value')!r} instead of raising"
    return out["exc"]


# --- Publisher --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, parts", [
    (dict(source=3), ["source name 3"]),
    (dict(hwm=-1), ["hwm=-1"]), (dict(hwm=1.5), ["hwm=1.5"]), (dict(hwm="x"), ["hwm='x'"]),
    (dict(hwm=True), ["hwm=True"]), (dict(hwm=None), ["hwm=None"]), (dict(hwm=2**40), [f"hwm={2**40}"]),
    (dict(block_s=-1), ["block_s=-1"]), (dict(block_s=math.nan), ["block_s=nan"]),
    (dict(block_s="x"), ["block_s='x'"]), (dict(block_s=None), ["block_s=None"]),
    (dict(block_s=True), ["block_s=True"]),
    (dict(session="x"), ["session='x'"]), (dict(session="5"), ["session='5'"]),
    (dict(session=1.5), ["session=1.5"]), (dict(session=-1), ["session=-1"]),
    (dict(session=2**63), [f"session={2**63}"]), (dict(session=2**70), [f"session={2**70}"]),
    (dict(session=True), ["session=True"]),
    (dict(key_dir=3), ["key_dir=3"]), (dict(client=None), ["client=None"]),
    (dict(insecure="yes"), ["insecure='yes'"]),
    (dict(endpoint="tcp://127.0.0.1:*"), ["'tcp://127.0.0.1:*'", "binding"]),
], ids=repr)
def test_publisher_refuses_bad_arguments(kwargs, parts):
    kwargs = {"source": "bed01", "endpoint": _ep(), **kwargs}
    with pytest.raises(StreamError) as info:
        Publisher(**kwargs)
    _one_line(info, *parts)


@pytest.mark.parametrize("endpoint", ["nope", "tcp://127.0.0.1:*", "tcp://*:5555"])
def test_publisher_with_keys_refuses_an_endpoint_it_cannot_connect_to(tmp_path, endpoint):
    keys = generate_keys(tmp_path / "keys")
    with pytest.raises(StreamError) as info:
        Publisher("bed01", endpoint, key_dir=keys)
    _one_line(info, repr(endpoint))


@pytest.mark.parametrize("linger_s", [-1, "x", math.nan, 1e9])
def test_close_refuses_a_bad_linger(linger_s):
    pub = Publisher("bed01", _ep())
    with pytest.raises(StreamError) as info:
        pub.close(linger_s=linger_s)
    _one_line(info, f"linger_s={linger_s!r}")
    pub.close()


# --- Publisher.stream ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, parts", [
    (dict(name=3), ["stream name 3"]),
    (dict(fs_hz=0), ["fs_hz=0"]), (dict(fs_hz=-1), ["fs_hz=-1"]), (dict(fs_hz=math.nan), ["fs_hz=nan"]),
    (dict(fs_hz=math.inf), ["fs_hz=inf"]), (dict(fs_hz="x"), ["fs_hz='x'"]), (dict(fs_hz="250"), ["fs_hz='250'"]),
    (dict(fs_hz=None), ["fs_hz=None"]), (dict(fs_hz=True), ["fs_hz=True"]),
    (dict(fs_hz=1e9), ["fs_hz=1000000000.0"]),
    (dict(fs_hz=1.0), ["fs_hz=1.0", "ecg"]),          # lead II is ECG: 1 Hz is below what the runtime takes
    (dict(channels=[]), ["channels=[]"]), (dict(channels=None), ["channels=None"]),
    (dict(channels=3), ["channels=3"]), (dict(channels=[3]), ["channels=[3]"]),
    (dict(channels=[""]), ["channels=['']"]), (dict(channels=["x" * 65]), ["channels=['xxx"]),
    (dict(channels=[f"c{i}" for i in range(257)]), ["channels=['c0', 'c1'"]),
    pytest.param(dict(channels={"II", "V5"}), ["channels={"], id="channels_set"),   # a set has no order
    (dict(units=3), ["units=3"]), (dict(units=[3]), ["units=[3]"]), (dict(units=[]), ["units=[]"]),
    (dict(units=["mV", "mV"]), ["['mV', 'mV']", "['II']"]),
    (dict(modality="xyz"), ["modality='xyz'"]), (dict(modality=3), ["modality=3"]),
    (dict(modality="ECG"), ["modality='ECG'"]),
], ids=repr)
def test_stream_refuses_bad_arguments(kwargs, parts):
    kwargs = {"name": "ecg", "fs_hz": 250.0, "channels": ["II"], **kwargs}
    with Publisher("bed01", _ep()) as pub:
        with pytest.raises(StreamError) as info:
            pub.stream(**kwargs)
        _one_line(info, *parts)
        assert not pub.streams


def test_one_str_is_one_channel_and_one_unit_for_every_channel(pull):
    endpoint, sock = pull
    with Publisher("bed01", endpoint) as pub:
        resp = pub.stream("resp", 25.0, "RESP")
        assert resp.channels == ["RESP"] and resp.units == [""]
        assert resp.send(np.ones(25))
        ecg = pub.stream("ecg", 250.0, ["II", "V5"], units="mV")
        assert ecg.units == ["mV", "mV"]
        assert ecg.send(np.ones((2, 25)))
        a, b = _received(sock, 2)
    assert a.header["channels"] == ["RESP"] and a.array.shape == (1, 25)
    assert b.header["channels"] == ["II", "V5"] and b.header["units"] == ["mV", "mV"]


def test_declaring_a_stream_again_differently_is_refused():
    with Publisher("bed01", _ep()) as pub:
        ecg = pub.stream("ecg", 250.0, ["II"], ["mV"])
        assert pub.stream("ecg", 250.0, ["II"], ["mV"]) is ecg
        assert pub.stream("ecg", 250.0, "II") is ecg          # units/modality left out: the first ones
        for kwargs, part in [(dict(fs_hz=500.0), "fs_hz=500"), (dict(channels=["II", "V5"]), "'V5'"),
                             (dict(units=["uV"]), "'uV'"), (dict(modality="ppg"), "'ppg'")]:
            with pytest.raises(StreamError) as info:
                pub.stream(**{"name": "ecg", "fs_hz": 250.0, "channels": ["II"], **kwargs})
            _one_line(info, "bed01/ecg", "declared already", part)
        assert ecg.fs_hz == 250.0 and ecg.channels == ["II"] and pub.streams == {"ecg": ecg}


# --- OutStream.send -----------------------------------------------------------------------------

@pytest.mark.parametrize("samples, parts", [
    ("text", ["<U4"]),
    (np.ones((2, 3), complex), ["complex128"]),
    ([["a", "b"], ["c", "d"]], ["<U1"]),
    ([[1.0, 2.0], [3.0]], ["not an array"]),
    (np.ones((2, 0)), ["0 samples"]),
    (np.ones((2, protocol.MAX_FRAME_SAMPLES + 1), np.float32), [f"{protocol.MAX_FRAME_SAMPLES + 1} samples"]),
], ids=["text", "complex", "strings", "ragged", "empty", "too_long"])
def test_send_refuses_samples_that_are_no_frame(pull, samples, parts):
    endpoint, sock = pull
    with Publisher("bed01", endpoint) as pub:
        out = pub.stream("ecg", 250.0, ["II", "V5"])
        with pytest.raises(StreamError) as info:
            out.send(samples)
        _one_line(info, "bed01/ecg", *parts)
        assert (out.seq, out.sent, out.dropped) == (0, 0, 0)
        assert out.send(np.ones((2, 5)))                      # the stream still works, from seq 0
        (frame,) = _received(sock, 1)
    assert frame.header["seq"] == 0


@pytest.mark.parametrize("t0_s", ["x", "5", math.nan, math.inf, -math.inf, True, 10**400], ids=repr)
def test_send_refuses_a_bad_t0(t0_s):
    with Publisher("bed01", _ep()) as pub:
        out = pub.stream("resp", 25.0, ["RESP"])
        with pytest.raises(StreamError) as info:
            out.send(np.ones(5), t0_s=t0_s)
        _one_line(info, "t0_s=")
        assert out.seq == 0


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39], ids=["nan", "inf", "-inf", "beyond_float32"])
def test_a_frame_holding_nan_or_inf_is_a_gap_not_a_frame_the_runtime_rejects(pull, bad):
    endpoint, sock = pull
    with Publisher("bed01", endpoint) as pub:
        out = pub.stream("resp", 25.0, ["RESP"])
        x = np.ones((1, 5))
        assert out.send(x, t0_s=1000.0)
        assert out.send(np.where(np.arange(5) == 2, bad, x), t0_s=1000.2) is False
        assert out.send(x, t0_s=1000.4)
        assert (out.seq, out.sent, out.dropped, out.nonfinite) == (3, 2, 1, 1)
        frames = _received(sock, 2)
    assert [f.header["seq"] for f in frames] == [0, 2]        # seq 1 never sent: the runtime sees a gap
    assert all(np.isfinite(f.array).all() for f in frames)


# --- Subscriber ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, parts", [
    (dict(topics=3), ["topics=3"]), (dict(topics=[3]), ["topics=[3]"]), (dict(topics=None), ["topics=None"]),
    (dict(topics=[b"emb/"]), ["topics=[b'emb/']"]),
    (dict(stale_s=0), ["stale_s=0"]), (dict(stale_s=-1), ["stale_s=-1"]), (dict(stale_s=math.nan), ["stale_s=nan"]),
    (dict(stale_s="x"), ["stale_s='x'"]), (dict(stale_s=None), ["stale_s=None"]), (dict(stale_s=True), ["stale_s=True"]),
    (dict(hwm=-1), ["hwm=-1"]), (dict(hwm=1.5), ["hwm=1.5"]), (dict(hwm="x"), ["hwm='x'"]),
    (dict(hwm=True), ["hwm=True"]), (dict(hwm=None), ["hwm=None"]),
    (dict(insecure="yes"), ["insecure='yes'"]),
    (dict(endpoint="tcp://127.0.0.1:*"), ["'tcp://127.0.0.1:*'"]),
], ids=repr)
def test_subscriber_refuses_bad_arguments(kwargs, parts):
    kwargs = {"topics": [""], "endpoint": _ep(), **kwargs}
    with pytest.raises(StreamError) as info:
        Subscriber(**kwargs)
    _one_line(info, *parts)


def _hold(topic, seq):
    h = {"kind": "hold", "stream": topic.split("/", 1)[1], "seq": seq, "t_s": 1.0, "reason": "gap", "t_out_s": 1.0}
    return protocol.encode(topic, h)


def test_one_str_topic_is_one_prefix_not_its_characters():
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = Subscriber("hold/", f"tcp://127.0.0.1:{port}", ctx=ctx)
    try:
        assert sub.topics == ["hold/"]
        seq = 0
        while sub.recv(0.05) is None:                         # slow joiner: wait until frames flow
            pub.send_multipart(_hold("hold/bed01", seq))
            seq += 1
            assert seq < 100
        pub.send_multipart(_hold("demo/bed01", 0))            # "d" of "hold/": not subscribed
        pub.send_multipart(_hold("hold/bed01", seq))
        topics = []
        while (f := sub.recv(0.3)) is not None:
            topics.append(f.topic)
        assert topics == ["hold/bed01"]
    finally:
        sub.close()
        pub.close()
        ctx.term()


@pytest.mark.parametrize("timeout_s", [-1, "x", math.nan, True], ids=repr)
def test_recv_and_latest_refuse_a_bad_timeout(timeout_s):
    with Subscriber([""], _ep()) as sub:
        for fn in (sub.recv, sub.latest):
            exc = _raises_within(lambda: fn(timeout_s))
            assert isinstance(exc, StreamError) and f"timeout_s={timeout_s!r}" in str(exc), repr(exc)


def test_recv_with_an_infinite_timeout_waits_for_the_next_frame():
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = Subscriber(["hold/"], f"tcp://127.0.0.1:{port}", ctx=ctx)
    try:
        seq = 0
        while sub.recv(0.05) is None:
            pub.send_multipart(_hold("hold/bed01", seq))
            seq += 1
            assert seq < 100
        while sub.recv(0.05) is not None:
            pass
        pub.send_multipart(_hold("hold/bed01", seq))
        assert sub.recv(math.inf).header["seq"] == seq
        pub.send_multipart(_hold("hold/bed01", seq + 1))
        assert sub.latest(math.inf)["hold/bed01"].header["seq"] == seq + 1
    finally:
        sub.close()
        pub.close()
        ctx.term()


# --- request_status / runtime_state -------------------------------------------------------------

@pytest.mark.parametrize("timeout_s", [-1, "x", math.nan, math.inf, None, True, 1e300], ids=repr)
def test_status_requests_refuse_a_bad_timeout(timeout_s):
    for fn in (request_status, runtime_state):
        exc = _raises_within(lambda: fn(_ep(), timeout_s=timeout_s))
        assert isinstance(exc, StreamError) and f"timeout_s={timeout_s!r}" in str(exc), repr(exc)


def _answer(answers):
    """A REP socket on a free loopback port answering each request with the next of ``answers``."""
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    port = rep.bind_to_random_port("tcp://127.0.0.1")

    def serve():
        for answer in answers:
            if rep.poll(5000):
                rep.recv_multipart()
                rep.send_multipart(answer)
        rep.close()
        ctx.term()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return f"tcp://127.0.0.1:{port}", t


def test_runtime_state_tells_a_callers_mistake_from_an_absent_runtime(tmp_path):
    for kwargs, part in [(dict(endpoint=None), "endpoint None"), (dict(endpoint="nope"), "'nope'"),
                         (dict(endpoint="tcp://10.1.2.3:5555"), "not loopback"),
                         (dict(insecure="yes"), "insecure='yes'"),
                         (dict(key_dir=tmp_path / "no-keys"), "no-keys")]:
        with pytest.raises(StreamError) as info:
            runtime_state(**{"endpoint": _ep(), "timeout_s": 0.05, **kwargs})
        _one_line(info, part)
    # what is no caller's mistake stays "absent": silence, garbage, a frame that is not status
    assert runtime_state(_ep(), timeout_s=0.05) == "absent"
    heartbeat = protocol.encode("hb/runtime", {"kind": "heartbeat", "stream": "runtime", "seq": 0, "t_s": 1.0})
    status = protocol.encode("status", {"kind": "status", "stream": "runtime", "seq": 0, "t_s": 1.0,
                                        "body": {"state": "starting"}})
    endpoint, server = _answer([[b"status", b"garbage"], heartbeat, status])
    assert runtime_state(endpoint, timeout_s=5) == "absent"
    assert runtime_state(endpoint, timeout_s=5) == "absent"
    assert runtime_state(endpoint, timeout_s=5) == "starting"
    server.join(5)
