"""The runtime's sockets on IPv6 loopback (``tcp://[::1]:P``): ZeroMQ sockets are IPv4-only until
their IPV6 option is set, so `serve --status 'tcp://[::1]:P'` failed with "No such device" and a
client connecting to ``[::1]`` never delivered a frame. Real sockets on ::1; skipped where the
machine has no IPv6 loopback."""
import socket
import time

import numpy as np
import pytest
import zmq

from biosig.cli import main
from streams.config import Endpoints
from streams.security import ipv6_options, is_ipv6
from streams.publisher import Publisher
from streams.subscriber import Subscriber, request_status
from test_streams_helpers import config, running, wait_for


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
V6 = Endpoints("tcp://[::1]:*", "tcp://[::1]:*", "tcp://[::1]:*")


def test_which_endpoints_are_ipv6():
    assert is_ipv6("tcp://[::1]:5557") and is_ipv6("tcp://[::]:*") and is_ipv6("tcp://eth0;[fe80::1]:5")
    assert not any(is_ipv6(e) for e in ("tcp://127.0.0.1:5557", "tcp://*:5557", "tcp://localhost:1",
                                        "ipc:///tmp/x", "inproc://a", "not an endpoint"))
    assert ipv6_options("tcp://[::1]:5557") == [(zmq.IPV6, 1)] and ipv6_options("tcp://*:5557") == []


@needs_ipv6
def test_serve_status_listen_and_ingest_on_ipv6_loopback(capsys):
    with running(config(endpoints=V6)) as rt:
        assert all(e.startswith("tcp://[::1]:") for e in rt.bound.all()), rt.bound
        # ingest: the SDK's Publisher (what monitor and replay use) is heard over IPv6
        pub = Publisher("bed01", rt.bound.ingest)
        try:
            out = pub.stream("resp", 25.0, ["RESP"], modality="resp")
            t0 = time.time() - 3.0
            for k in range(3):
                out.send(np.ones((1, 25), np.float32), t0_s=t0 + k)
            wait_for(lambda: rt.status()["streams"].get("bed01/resp", {}).get("frames") == 3, timeout_s=20,
                     what="3 frames over IPv6")
        finally:
            pub.close()
        # status: the SDK's request and `biosig status`
        body = request_status(rt.bound.status, timeout_s=10)
        assert body["endpoints"]["status"] == rt.bound.status
        capsys.readouterr()
        assert main(["status", "--status", rt.bound.status, "--timeout-s", "10"]) == 0
        assert "bed01/resp" in capsys.readouterr().out
        # output: the subscriber hears the heartbeat; `biosig listen` prints it
        with Subscriber(["hb/"], rt.bound.output) as sub:
            assert wait_for(lambda: sub.recv(0.5), timeout_s=20, what="a heartbeat over IPv6").topic == "hb/runtime"
        assert main(["listen", "--output", rt.bound.output, "--status", rt.bound.status, "--seconds", "2.5"]) == 0
        out = capsys.readouterr()
        assert "hb/runtime" in out.out, out


@needs_ipv6
def test_serve_command_binds_ipv6_endpoints():
    """`biosig serve --ingest/--output/--status tcp://[::1]:P` starts (was: No such device)."""
    import subprocess
    import sys
    ports = []
    for _ in range(3):
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
            ports.append(s.getsockname()[1])
    eps = [f"tcp://[::1]:{p}" for p in ports]
    r = subprocess.run([sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))",
                        "serve", "--models", "none", "--seconds", "0.5", "--ingest", eps[0], "--output", eps[1],
                        "--status", eps[2]], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"(ingest {eps[0]}, output {eps[1]}, status {eps[2]})" in r.stdout, r.stdout
