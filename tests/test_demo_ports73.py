"""`biosig demo` runs its own runtime and clients, so a default port another process holds (5555 taken by anything
on the machine made a fresh `make demo` fail: "cannot bind ingest endpoint ... address already in use") is replaced
by a free loopback port, said on stderr; endpoints the user gives are kept as given."""
import argparse
import socket

from biosig.cli import _stream_checks
from biosig.cli._stream_checks import free_endpoints
from test_streams_helpers import free_port


def test_a_taken_default_port_is_replaced_by_a_free_one_and_said(monkeypatch, capsys):
    ports = {name: free_port() for name in ("ingest", "output", "status")}
    monkeypatch.setattr(_stream_checks, "DEFAULT_ENDPOINTS", {n: f"tcp://127.0.0.1:{p}" for n, p in ports.items()})
    with socket.socket() as holder:   # another process's server on the default ingest port
        holder.bind(("127.0.0.1", ports["ingest"]))
        holder.listen()
        got = free_endpoints(argparse.Namespace(ingest=None, output=None, status=None), "demo")
        err = capsys.readouterr().err
        assert got["output"] == f"tcp://127.0.0.1:{ports['output']}" and got["status"] == f"tcp://127.0.0.1:{ports['status']}"
        port = int(got["ingest"].rsplit(":", 1)[1])
        assert port not in ports.values() and got["ingest"].startswith("tcp://127.0.0.1:")
        with socket.socket() as probe:   # the port given is one a runtime can bind
            probe.bind(("127.0.0.1", port))
        assert f"tcp://127.0.0.1:{ports['ingest']} is taken by another process" in err and "--ingest" in err, err
        given = free_endpoints(argparse.Namespace(ingest=f"tcp://127.0.0.1:{ports['ingest']}", output=None,
                                                  status=None), "demo")
        assert given["ingest"] == f"tcp://127.0.0.1:{ports['ingest']}"   # given: kept (its bind says what is wrong)


def test_demo_endpoints_default_to_none_so_a_taken_port_can_be_replaced():
    from biosig.cli import build_parser
    args = build_parser().parse_args(["demo"])
    assert (args.ingest, args.output, args.status) == (None, None, None)
