"""A device integrator's bug bash: a device clock 2 h behind the runtime's, as `biosig status` shows it.

Its latencies (7220902.1 ms) ran into the column before them (``07220902.1``: the ``rej`` count 0 and
the p50 as one number) and nothing said why they were so large (a clock ahead had its line). Now
every latency cell fits its column and a line under the table names the offset and what to do.
Real sockets on loopback, the runtime's own status reply.
"""
import time

import numpy as np
import zmq

from streams import protocol
from streams.demo import status_table
from tests.test_streams_helpers import config, push_socket, running, signal, wait_for

BEHIND_S = 7200.0


def _status(req) -> dict:
    req.send(b"status")
    return protocol.decode(req.recv_multipart()).header["body"]


def test_a_device_clock_two_hours_behind_is_said_and_keeps_the_table_readable():
    fs = 250.0
    x = np.random.default_rng(3).normal(size=(1, 250)).astype(np.float32)
    ctx = zmq.Context()
    try:
        with running(config()) as rt:
            push = push_socket(ctx, rt.bound.ingest)
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.LINGER, 0)
            req.setsockopt(zmq.RCVTIMEO, 30000)
            req.connect(rt.bound.status)
            t0 = time.time() - BEHIND_S - 3.0
            for k in range(3):   # 3 s of ECG stamped 2 h ago, and a stream on time beside it
                push.send_multipart(signal("bb/lag", k, x, fs_hz=fs, modality="ecg", t0_s=t0 + k))
                push.send_multipart(signal("bb/now", k, x, fs_hz=fs, modality="ecg"))
            body = wait_for(lambda: (lambda b: b if all(b["streams"].get(n, {}).get("frames") == 3
                                                        and b["streams"][n]["outputs"] >= 1
                                                        for n in ("bb/lag", "bb/now")) else None)(_status(req)),
                            what="both streams' frames accepted and a window published")
            table = status_table(body)
    finally:
        ctx.destroy(linger=0)
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.startswith("bb/") and "ecg" in line.split()[:2]}
    head = table.splitlines()[0]
    assert len(rows["bb/lag"]) == len(rows["bb/now"]) == 16, table     # no two columns run together
    assert len(head) == len(next(line for line in table.splitlines() if line.startswith("bb/lag ")))
    assert float(rows["bb/lag"][-4]) >= 0.99 * BEHIND_S * 1e3    # p50 still read in ms (7.2e+06)
    said = [line for line in table.splitlines() if line.startswith("bb/lag:")]
    assert len(said) == 1 and "runs behind" in said[0] and "NTP" in said[0], table
    assert int(said[0].split("at least ")[1].split(" s")[0]) >= BEHIND_S
    assert not any(line.startswith("bb/now:") for line in table.splitlines())


def test_every_latency_cell_fits_its_column_for_a_clock_ahead_too():
    """A device clock ahead gives large negative latencies: -996812.6 (9 characters) ran into the column before."""
    from streams.demo import _lat
    for v in (-996812.6, -7220902.1, -123456789.0, -99999.9, 7220902.1, 999999.9, 1e300, -1e300, 0.04):
        cell = _lat(v)
        assert len(cell) <= 8 and abs(float(cell) - v) <= 0.06 * abs(v) + 0.05, (v, cell)
