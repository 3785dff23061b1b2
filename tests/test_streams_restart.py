"""SIGKILL the runtime (`biosig serve` in a subprocess) mid-stream and restart it: forecasting
resumes from the checkpoint (no new warm-up), and the marker stream goes on."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from streams.publisher import Publisher
from streams.subscriber import Subscriber, request_status
from test_streams_helpers import free_endpoints, wait_for

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _serve(ep, cfg_path, state_dir):
    cmd = BIOSIG + ["serve", "--config", str(cfg_path), "--state", str(state_dir), "--ingest", ep.ingest,
                    "--output", ep.output, "--status", ep.status]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _status(ep):
    try:
        return request_status(ep.status, timeout_s=0.3)
    except Exception:
        return None


@pytest.mark.timeout(180)
def test_sigkill_and_restart_resumes_forecasting_from_checkpoint(tmp_path):
    ep = free_endpoints()
    cfg = {"models": {}, "checkpoint_every_s": 0.1, "status_every_s": 0.2,
           "forecaster": {"method": "lms", "horizon_steps": 3, "lookback": 5, "warmup_s": 4.0,
                          "recover_steps": 6, "stale_s": 30.0}}
    cfg_path = tmp_path / "runtime.json"
    cfg_path.write_text(json.dumps(cfg))
    state = tmp_path / "state"
    fs = 30.0
    t = np.arange(2000) / fs
    x = np.stack([np.sin(2 * np.pi * 0.25 * t + k) * (k + 1) for k in range(9)]).astype(np.float32)
    proc = _serve(ep, cfg_path, state)
    try:
        wait_for(lambda: (s := _status(ep)) and s["state"] == "serving", timeout_s=60, what="the runtime to serve")
        pub = Publisher("couch1", ep.ingest)
        out = pub.stream("markers", fs, [f"m{i // 3 + 1}_{'xyz'[i % 3]}" for i in range(9)], modality="motion")
        # a backlog ending now (samples stamped ahead of the wall clock are held as stale_input)
        t0 = time.time() - 299 / fs
        for i in range(300):
            out.send(x[:, i:i + 1], t0_s=t0 + i / fs)
        before = wait_for(lambda: (s := _status(ep)) and s["forecasters"].get("couch1", {}).get("seen") == 300 and s,
                          timeout_s=30, what="300 samples learned")
        assert before["streams"]["couch1/markers"]["forecasts"] > 0 and before["forecasters"]["couch1"]["ready"]
        ckpt = state / "forecasters" / "couch1.npz"
        time.sleep(0.5)   # at least one checkpoint after the last sample
        assert ckpt.exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL

        proc = _serve(ep, cfg_path, state)
        wait_for(lambda: (s := _status(ep)) and s["state"] == "serving", timeout_s=60,
                 what="the restarted runtime to serve")
        sub = Subscriber(["fcst/", "hold/", "hb/"], ep.output, stale_s=60)
        wait_for(lambda: sub.recv(0.2), what="the subscription")
        frames = []
        t1 = time.time()   # fresh samples (an old backlog would be answered with stale_input holds)
        for i in range(300, 360):   # in real time: each sample sent when it is taken
            time.sleep(max(0.0, t1 + (i - 300) / fs - time.time()))
            out.send(x[:, i:i + 1], t0_s=t1 + (i - 300) / fs)
        after = wait_for(lambda: (s := _status(ep)) and s["forecasters"].get("couch1", {}).get("seen", 0) >= 360 and s,
                         timeout_s=30, what="samples after the restart")
        end = time.monotonic() + 1.0   # heartbeats keep coming: read for a bounded time
        while time.monotonic() < end:
            f = sub.recv(0.1)
            if f is not None and f.kind in ("forecast", "hold"):
                frames.append(f)
        fc = after["forecasters"]["couch1"]
        assert fc["resumed"] and fc["ready"]
        assert fc["seen"] == 360          # 300 learned before the kill, counting on from the checkpoint
        # once the frames stop, the standing forecast is held ("no input"): count the holds up to the last forecast
        last_fc = max(i for i, f in enumerate(frames) if f.kind == "forecast")
        reasons = [f.header["reason"] for f in frames[:last_fc] if f.kind == "hold"]
        assert "warm_up" not in reasons    # a fresh forecaster would hold for warmup_s * fs = 120 samples
        assert set(reasons) <= {"gap"}     # device time jumped: held until the window is whole
        assert len(reasons) <= cfg["forecaster"]["recover_steps"] + cfg["forecaster"]["lookback"]
        n_fc = sum(f.kind == "forecast" for f in frames)
        assert n_fc >= 60 - 11 and after["streams"]["couch1/markers"]["forecasts"] == n_fc
        pred = frames[last_fc].array
        assert pred.shape == (9,) and np.isfinite(pred).all()
        sub.close()
        pub.close()
    finally:
        proc.kill()
        proc.wait(10)
