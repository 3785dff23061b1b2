"""`biosig status` and the runtime's log say why a stream's frames are rejected and what to do
(real runtime, real sockets, the real CLI)."""
import logging
import subprocess
import sys
import time

import numpy as np
import zmq

from test_streams_helpers import config, free_endpoints, push_socket, running, signal, stream_status, wait_for

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def test_status_and_log_name_each_reject_reason_its_detail_and_what_to_do(caplog):
    """A monitor changes its rate within a session, another sends ECG at 5 Hz, a third sends a
    one-part message. `biosig status` printed only "rej 5", "rej 1" and "invalid frames 1", and
    the runtime logged nothing above DEBUG: the integrator had to guess. Now status prints per
    stream each reason with its count and what to do, and the newest rejected frame's detail; the
    runtime logs one warning per stream and reason."""
    ctx = zmq.Context()
    ep = free_endpoints()
    x = np.ones((1, 25), np.float32)
    try:
        with caplog.at_level(logging.WARNING, logger="streams.runtime"), running(config(endpoints=ep)) as rt:
            push = push_socket(ctx, ep.ingest)
            push.send_multipart(signal("bed1/resp", 0, x))
            for k in range(1, 6):
                push.send_multipart(signal("bed1/resp", k, x, fs_hz=50.0))     # rate changed in the session
            push.send_multipart(signal("bed2/ecg", 0, x, fs_hz=5.0, modality="ecg"))
            push.send_multipart([b"junk"])
            wait_for(lambda: stream_status(rt, "bed1/resp").get("rejected_total") == 5
                     and rt.status()["invalid"].get("frames") == 1, what="the rejects")
            out = subprocess.run(BIOSIG + ["status", "--status", ep.status], capture_output=True, text=True,
                                 timeout=120)
            push.close()
    finally:
        ctx.destroy(linger=0)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    bed1 = next(ln for ln in lines if ln.startswith("bed1/resp: rejected"))
    assert "inconsistent 5" in bed1 and "new session id" in bed1, bed1
    assert "last: inconsistent: fs_hz changed from 25.0 to 50.0 within session 1" in bed1, bed1
    bed2 = next(ln for ln in lines if ln.startswith("bed2/ecg: rejected"))
    assert "rate 1" in bed2 and "fs_hz 5.0 outside [50.0, 20000.0] for ecg" in bed2, bed2
    junk = next(ln for ln in lines if ln.startswith("invalid frames (no stream could be told)"))
    assert "frames 1" in junk and "expected 2 or 3 parts" in junk, junk
    warned = [r.getMessage() for r in caplog.records if r.name == "streams.runtime" and "rejected a frame" in r.getMessage()]
    assert len([m for m in warned if "bed1/resp" in m]) == 1, warned     # once per stream and reason
    assert any("bed2/ecg" in m and "plausible range" in m for m in warned), warned
