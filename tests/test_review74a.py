"""Review of the streaming side of the commits after 26a60f1 (helper R1, 2026-12-07): each test failed on the code
before its fix."""
import socket
import sys

import pytest

from streams.config import Endpoints
from streams.demo_procs import demo_endpoints
from test_streams_helpers import free_port


def _defaults():
    """A default set of this test's own (free ports), as the demo's defaults are."""
    return Endpoints(*(f"tcp://127.0.0.1:{free_port()}" for _ in range(3)))


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def _bindable(endpoints) -> None:
    """Each endpoint's port bound at once, as the runtime binds them: a shared one fails (EADDRINUSE)."""
    socks = []
    try:
        for ep in endpoints:
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", _port(ep)))
            s.listen()
    finally:
        for s in socks:
            s.close()


def test_a_default_endpoint_equal_to_a_given_one_moves(capsys):
    """``biosig demo --ingest tcp://127.0.0.1:5556`` (the default output's port): the default output moves to a free
    port. The check that should move it (``port in others``) was never true (the port was taken out of its own set),
    so both kept 5556 and the runtime refused them ('each socket needs its own')."""
    d = _defaults()
    for given, moved in (({"ingest": d.output}, "output"), ({"status": d.ingest}, "ingest"),
                         ({"output": d.status.replace("127.0.0.1", "*")}, "status")):
        got, claim = demo_endpoints(given, defaults=d)
        if claim is not None:   # (the defaults kept are claimed)
            claim.close()
        chosen = dict(zip(("ingest", "output", "status"), got.all()))
        for name, ep in given.items():
            assert chosen[name] == ep   # given: kept
        assert len({_port(e) for e in got.all()}) == 3, (given, got)
        assert chosen[moved] != getattr(d, moved)
        assert f"is another endpoint of this demo: the {moved} endpoint is {chosen[moved]}" in capsys.readouterr().err
        _bindable(got.all())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract Unix sockets are Linux's")
def test_a_demo_given_one_endpoint_keeps_no_default_another_demo_claims(capsys):
    """A plain demo claims the default set while its runtime loads (its ports not bound yet); a second demo started
    then with ``--ingest`` only probed the two other defaults, found them free and kept them: the two runtimes bound
    the same output and status ports, and one failed after its warm-up ('address already in use')."""
    d = _defaults()
    first, claim = demo_endpoints({}, defaults=d)
    try:
        assert claim is not None and first == d
        ingest = f"tcp://127.0.0.1:{free_port()}"
        second, second_claim = demo_endpoints({"ingest": ingest}, defaults=d)
    finally:
        claim.close()
    assert second_claim is None and second.ingest == ingest
    assert not set(first.all()) & set(second.all()), (first, second)
    assert "is another biosig demo's" in capsys.readouterr().err
    _bindable([*first.all(), *second.all()])
    alone, claim = demo_endpoints({"ingest": ingest}, defaults=d)   # no other demo: the defaults kept, claimed
    try:
        assert claim is not None and (alone.output, alone.status) == (d.output, d.status)
        third, _ = demo_endpoints({}, defaults=d)   # and a plain demo after it moves all three
        assert not set(third.all()) & set(alone.all())
    finally:
        claim.close()
