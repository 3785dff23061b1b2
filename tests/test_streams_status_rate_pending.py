"""`status` says when a stream's measures are withheld as ``rate_pending``.

A monitor declaring 250 Hz but sending 500 samples per second of device time has its score frames
withheld as ``rate_pending`` from 2 s of device time until the verdict at 10 s
(streams/device_rate.py); `status` (JSON and table) said nothing of it: the operator saw a stream
flowing, without measures and without a word why. Real sockets on loopback."""

import numpy as np

from biosig.cli import main
from streams import protocol
from streams.subscriber import request_status
from test_streams_helpers import config, push_socket, running, stream_status, wait_for


def _send(rt, stream: str, fs_declared: float, fs_true: float, seconds: int):
    """``seconds`` 1 s frames of ``fs_true`` samples each (contiguous device time from 1000 s), declared
    ``fs_declared``, to ``rt`` over a real PUSH socket; waits until every sample is in."""
    import zmq
    ctx = zmq.Context()
    try:
        push = push_socket(ctx, rt.bound.ingest)
        n = int(fs_true)
        x = np.sin(np.arange(n, dtype=np.float32) / 10.0)[None, :]
        for seq in range(seconds):
            h = protocol.signal_header(stream, seq, 3, 1000.0 + seq, fs_declared, ["II"], ["mV"], "ecg")
            push.send_multipart(protocol.encode(stream, h, x))
        wait_for(lambda: stream_status(rt, stream).get("samples") == seconds * n, what="every sample")
        push.close()
    finally:
        ctx.destroy(linger=0)


def test_status_shows_rate_pending_per_stream_in_json_and_table(capsys):
    with running(config(windows={"ecg": (10.0, 5.0)})) as rt:
        _send(rt, "bed1/ecg", 250.0, 500.0, 6)     # 6 s of device time: suspect, short of the 10 s verdict
        _send(rt, "bed2/ecg", 250.0, 250.0, 6)     # honest
        body = request_status(rt.bound.status, timeout_s=10.0)
        code = main(["status", "--status", rt.bound.status, "--timeout-s", "10"])
    out = capsys.readouterr().out
    assert code == 0
    wrong, honest = body["streams"]["bed1/ecg"], body["streams"]["bed2/ecg"]
    assert wrong["rate_pending"] is True and wrong["rate_mismatch"] == "", wrong
    assert honest["rate_pending"] is False and honest["rate_mismatch"] == ""
    assert body["totals"]["frames"] == 12
    lines = [ln for ln in out.splitlines() if "rate_pending" in ln]
    assert len(lines) == 1 and lines[0].startswith("bed1/ecg: rate_pending:"), out
    assert "bed2/ecg: rate" not in out


def test_status_table_shows_rate_mismatch_after_the_verdict(capsys):
    """After 10 s of device time the verdict replaces the suspicion: ``rate_mismatch`` with the measured
    rate, in the JSON and as a line under the table (it was only in the JSON)."""
    with running(config(windows={"ecg": (10.0, 5.0)})) as rt:
        _send(rt, "bed1/ecg", 250.0, 500.0, 14)
        body = request_status(rt.bound.status, timeout_s=10.0)
        code = main(["status", "--status", rt.bound.status, "--timeout-s", "10"])
    out = capsys.readouterr().out
    s = body["streams"]["bed1/ecg"]
    assert code == 0 and s["rate_pending"] is False and "declared 250 Hz but 500.0" in s["rate_mismatch"]
    assert f"bed1/ecg: rate_mismatch: {s['rate_mismatch']}" in out.splitlines(), out
