"""Delivery checks of ``replay`` / ``monitor`` (:class:`biosig.cli.replay_checks.DeliveryCheck`) that are true for host
names, over real sockets and one real runtime on loopback.

Endpoints were compared as strings: ``tcp://localhost:P`` against a runtime bound to ``tcp://0.0.0.0:P`` (a ``*``
bind) read "delivery unconfirmed". Now host names are resolved as the client's socket resolves them and a wildcard
bind takes any address of this machine; a port, a host that is elsewhere, or a name that does not resolve is said
(never a false "confirmed"). The oracle of each verdict: frames really sent to the client's endpoint, and whether the
runtime (or a bare socket bound there) got them. A stop (Ctrl-C) before a slow runtime answered said that no runtime
answered; now: not answered yet.
"""
import socket
import time
import types

import numpy as np
import pytest
import zmq

from biosig.cli.replay_checks import DeliveryCheck, endpoint_mismatch
from streams.config import Endpoints
from streams.publisher import Publisher
from test_streams_helpers import config, free_port, running, wait_for


@pytest.fixture(scope="module")
def rt():
    """One runtime (its start takes 1 s) whose ingest is a wildcard bind (``tcp://*:*``, status as
    ``tcp://0.0.0.0:P``); each test sends a source name of its own."""
    ends = Endpoints("tcp://*:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
    with running(config(endpoints=ends, insecure=True)) as runtime:
        yield runtime


def _port(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[1]


def _send(source: str, ingest: str, frames: int = 3):
    """A real publisher of ``SOURCE/resp`` at ``ingest`` that sent ``frames`` frames: ``(publisher, sources)`` as
    :class:`DeliveryCheck` reads them (each with ``.out``, the stream)."""
    pub = Publisher(source, ingest, insecure=True)   # a host name: loopback only once resolved
    out = pub.stream("resp", 25.0, ["resp"], [""], modality="resp")
    t0 = time.time()
    for k in range(frames):
        out.send(np.sin(np.arange(5, dtype=np.float32))[None, :], t0_s=t0 + k * 0.2)
    return pub, [types.SimpleNamespace(out=out)]


def _kept(rt, topic: str) -> int:
    return (rt.status()["streams"].get(topic) or {}).get("frames", 0)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2", socket.gethostname()])
def test_a_name_or_address_of_this_machine_reaches_a_wildcard_bind_and_is_confirmed(rt, host):
    assert rt.status()["endpoints"]["ingest"].startswith("tcp://0.0.0.0:")
    ingest = f"tcp://{host}:{_port(rt.bound.ingest)}"
    source = f"w{abs(hash(host)) % 10_000}"
    check = DeliveryCheck([], ingest, rt.bound.status)   # asks before the frames go
    pub, check.sources = _send(source, ingest)
    try:
        wait_for(lambda: _kept(rt, f"{source}/resp") == 3, 6.0, "the runtime's 3 frames")   # the oracle: they came
        lines, lost = check.finish()
    finally:
        pub.close()
    assert lines == [] and not lost, lines


def test_another_port_is_said(rt):
    """Frames to a bare PULL socket on another port (they arrive: the oracle) are no frames of the runtime's."""
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    ingest = f"tcp://localhost:{free_port()}"
    pull.bind(ingest.replace("localhost", "127.0.0.1"))
    try:
        check = DeliveryCheck([], ingest, rt.bound.status)
        pub, check.sources = _send("port", ingest, frames=1)
        assert pull.poll(2000)
        lines, _ = check.finish()
        pub.close(linger_s=0)
    finally:
        ctx.destroy(linger=0)
    bound = rt.status()["endpoints"]["ingest"]
    assert len(lines) == 1 and lines[0].startswith("delivery unconfirmed"), lines
    assert lines[0].endswith(f"takes frames on {bound}, not {ingest}: another port ({_port(ingest)}, not "
                             f"{_port(bound)})"), lines


@pytest.mark.parametrize("host, said", [("192.0.2.250", "192.0.2.250 is no address of this machine"),
                                        ("nohost.invalid", "nohost.invalid d")])
def test_a_host_elsewhere_or_a_name_that_does_not_resolve_is_never_confirmed(rt, host, said):
    ingest = f"tcp://{host}:{_port(rt.bound.ingest)}"
    check = DeliveryCheck([types.SimpleNamespace(out=None)], ingest, rt.bound.status)
    t0 = time.monotonic()
    lines, _ = check.finish()
    assert time.monotonic() - t0 < 2.5
    assert len(lines) == 1 and lines[0].startswith("delivery unconfirmed") and said in lines[0], lines
    if host.endswith(".invalid"):   # said how: refused by the resolver, or not in time
        assert "not resolve" in lines[0], lines


def test_the_verdict_is_what_real_sockets_do_for_each_bind_and_connect_host():
    """A bare PULL bound at each host and a PUSH connected through each name or address, on a port of their own:
    a frame arrives (the oracle) exactly when :func:`endpoint_mismatch` says nothing (old: ``vm`` against a runtime
    bound to 127.0.0.1 read unconfirmed; a runtime bound to 127.0.0.2 confirmed ``localhost``)."""
    binds = ["127.0.0.1", "127.0.0.2", "0.0.0.0"]
    connects = ["localhost", "127.0.0.1", "127.0.0.2", socket.gethostname()]
    ctx = zmq.Context()
    try:
        pairs = []
        for b in binds:
            for c in connects:
                pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
                for sock in (pull, push):
                    sock.setsockopt(zmq.LINGER, 0)
                port = pull.bind_to_random_port(f"tcp://{b}")
                push.connect(f"tcp://{c}:{port}")
                pairs.append((pull.getsockopt_string(zmq.LAST_ENDPOINT), f"tcp://{c}:{port}", pull, push))
        unsent, deadline = list(range(len(pairs))), time.monotonic() + 2.0
        while unsent and time.monotonic() < deadline:   # the connections that can be made are made (a loaded machine)
            for k in list(unsent):
                try:
                    pairs[k][3].send(b"x", zmq.NOBLOCK)
                    unsent.remove(k)
                except zmq.Again:   # no connection (yet): nothing to deliver to
                    pass
            time.sleep(0.05)
        status = f"tcp://127.0.0.1:{free_port()}"   # the runtime answers on this machine
        for k, (bound, given, pull, _) in enumerate(pairs):
            arrived = bool(pull.poll(0 if k in unsent else 2000))
            why = endpoint_mismatch(bound, given, status)
            assert (why is None) == arrived, (bound, given, arrived, why)
    finally:
        ctx.destroy(linger=0)
    assert endpoint_mismatch("tcp://127.0.0.2:5", "tcp://localhost:5", status) == \
        "localhost (127.0.0.1) is not 127.0.0.2"


def test_where_the_runtime_is_decides_for_wildcard_and_loopback_binds():
    """198.51.100.0/24 (TEST-NET-2) is no address of this machine: a runtime answering there is on another host."""
    here, there = "tcp://127.0.0.1:9", "tcp://198.51.100.7:9"
    assert endpoint_mismatch("tcp://0.0.0.0:5", "tcp://198.51.100.7:5", there) is None
    assert endpoint_mismatch("tcp://0.0.0.0:5", "tcp://198.51.100.8:5", there) == \
        "198.51.100.8 is not the runtime's host 198.51.100.7"
    assert "loopback on its host" in endpoint_mismatch("tcp://127.0.0.1:5", "tcp://localhost:5", there)
    assert endpoint_mismatch("tcp://127.0.0.1:5", "tcp://localhost:5", here) is None
    assert endpoint_mismatch("tcp://0.0.0.0:5", "tcp://[::1]:5", here) == \
        "::1 is IPv6, and the runtime listens on IPv4 only (0.0.0.0)"
    assert endpoint_mismatch("tcp://[::]:5", "tcp://localhost:5", here) is None   # dual-stack
    assert endpoint_mismatch("ipc:///tmp/a", "ipc:///tmp/b", here) == "another address"


def test_a_stop_before_a_slow_runtime_answered_says_it_had_not_answered_yet():
    """A REP socket that takes the status request and answers later (a busy runtime), and a stop at 0.1 s."""
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    status = f"tcp://127.0.0.1:{free_port()}"
    rep.bind(status)
    try:
        check = DeliveryCheck([types.SimpleNamespace(out=None)], "tcp://127.0.0.1:1", status)
        assert rep.poll(1000)   # the request came: someone is there
        time.sleep(0.1)
        t0 = time.monotonic()
        lines, lost = check.finish(stopped=True)
        assert time.monotonic() - t0 < 0.5 and not lost
        assert len(lines) == 1 and f"the runtime at {status} had not answered yet when the run ended" in lines[0], lines
        assert "no runtime answered" not in lines[0], lines
    finally:
        ctx.destroy(linger=0)


def test_a_stop_right_after_the_start_still_confirms_a_runtime_that_answers(rt):
    ingest = f"tcp://localhost:{_port(rt.bound.ingest)}"
    check = DeliveryCheck([], ingest, rt.bound.status)
    pub, check.sources = _send("quick", ingest, frames=1)
    try:
        wait_for(lambda: _kept(rt, "quick/resp") == 1, 6.0, "the runtime's frame")
        lines, lost = check.finish(stopped=True)
    finally:
        pub.close()
    assert lines == [] and not lost, lines


def test_a_status_host_that_does_not_resolve_is_said():
    """(docs walk, 2026-12-07) "no runtime answered on tcp://name:P" alone hid that the name does not resolve."""
    check = DeliveryCheck([], f"tcp://127.0.0.1:{free_port()}", f"tcp://no-such-host.invalid:{free_port()}",
                          insecure=True)   # (a name is no loopback: plain TCP asked for)
    time.sleep(0.6)   # the first ask has its answer (none)
    lines, _ = check.finish()
    assert len(lines) == 1 and "no runtime answered" in lines[0], lines
    assert ("no-such-host.invalid does not resolve" in lines[0]   # (or, where the name server is slow to say so:)
            or "no-such-host.invalid did not resolve within" in lines[0]), lines
    check = DeliveryCheck([], f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}")
    time.sleep(0.6)
    lines, _ = check.finish()
    assert lines[0].endswith("no runtime answered on " + check.status)   # an address: nothing to resolve
