"""`biosig demo` runs its own runtime and clients, so a default port another process holds (5555 taken by anything
on the machine made a fresh `make demo` fail: "cannot bind ingest endpoint ... address already in use") is replaced
by a free loopback port, said on stderr; endpoints the user gives are kept as given. One function chooses them
(``streams.demo_procs.demo_endpoints``): with a taken port and another demo starting, the two demos' endpoints were
chosen in two places and the second bound the first's (test below)."""
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


def test_a_taken_default_port_is_replaced_by_a_free_one_and_said(capsys):
    defaults = _defaults()
    with socket.socket() as holder:   # another process's server on the default ingest port
        holder.bind(("127.0.0.1", _port(defaults.ingest)))
        holder.listen()
        got, claim = demo_endpoints({}, defaults=defaults)
        err = capsys.readouterr().err
        assert (got.output, got.status) == (defaults.output, defaults.status)
        assert _port(got.ingest) not in {_port(e) for e in defaults.all()} and got.ingest.startswith("tcp://127.0.0.1:")
        with socket.socket() as probe:   # the port given is one a runtime can bind
            probe.bind(("127.0.0.1", _port(got.ingest)))
        assert f"{defaults.ingest} is taken by another process" in err and "--ingest" in err, err
        given, no_claim = demo_endpoints({"ingest": defaults.ingest, "output": None}, defaults=defaults)
        assert given.ingest == defaults.ingest   # given: kept (its bind says what is wrong)
        assert no_claim is None                   # the default set is claimed by the first
    if claim is not None:
        claim.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract Unix sockets are Linux's")
def test_a_second_demo_never_shares_an_endpoint_with_a_first_whose_port_was_taken(capsys):
    """The first demo moved its ingest off a taken port, so its endpoints were no longer the defaults and it claimed
    nothing; a second demo then moved only the ingest too and kept the defaults' output and status, which the first's
    runtime held: 'cannot bind output endpoint ...: address already in use'."""
    defaults = _defaults()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", _port(defaults.ingest)))
        holder.listen()
        first, claim = demo_endpoints({}, defaults=defaults)
        try:
            second, second_claim = demo_endpoints({}, defaults=defaults)
        finally:
            claim.close()
    assert second_claim is None
    assert not set(first.all()) & set(second.all()), (first, second)
    assert "another biosig demo is starting on the default endpoints" in capsys.readouterr().err


def test_demo_endpoints_default_to_none_so_a_taken_port_can_be_replaced():
    from biosig.cli import build_parser
    args = build_parser().parse_args(["demo"])
    assert (args.ingest, args.output, args.status) == (None, None, None)
