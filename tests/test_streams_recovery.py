"""Restarts that lose nothing, and bounded state, over real sockets: a new runtime epoch resets the
SDK's sequence state, a publisher seq reset within a session is a restart, heartbeats reveal
losses at the end of a topic, slots are bounded and expire, reserved sources always get one,
CURVE refusals are counted on every socket, status shows age and a recent rate."""
import subprocess
import sys
import os
import time

import numpy as np
import pytest
import zmq

from streams.config import ForecasterConfig
from streams.demo import status_table
from streams.publisher import Publisher
from streams.runtime import Runtime
from streams.subscriber import Subscriber, request_status
from test_streams_helpers import config, free_endpoints, push_socket, running, signal, stream_status, wait_for

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]
FC = ForecasterConfig(method="lms", horizon_steps=2, lookback=4, warmup_s=60.0, recover_steps=5, stale_s=30.0)


def _holds(pub_out, n, fs=30.0):
    t0 = time.time()
    for i in range(n):
        pub_out.send(np.ones((3, 1), np.float32) * i, t0_s=t0 + i / fs)


def test_subscriber_follows_a_runtime_restart_without_dropping_frames_as_late():
    ep = free_endpoints()
    cfg = config(endpoints=ep, forecaster=FC)
    sub = Subscriber(["hold/"], ep.output, stale_s=60)
    pub = Publisher("couch1", ep.ingest)
    out = pub.stream("markers", 30.0, ["x", "y", "z"], modality="motion")
    with running(cfg):
        wait_for(lambda: sub.recv(0.1) or sub.epoch, what="the first epoch")   # heartbeats arrive
        _holds(out, 200)
        wait_for(lambda: sub.recv(0.1) is None and sub.stats["hold/couch1"]["frames"] == 200, what="200 holds")
    first_epoch = sub.epoch
    with running(cfg) as rt2:     # a new runtime on the same endpoints: seq starts at 0 again
        _holds(out, 50)           # the SDK may miss these while it reconnects
        wait_for(lambda: stream_status(rt2, "couch1/markers").get("holds") == 50, what="50 holds in runtime 2")
        wait_for(lambda: sub.recv(0.1) is None and sub.epoch == rt2.epoch, what="the new epoch")
        _holds(out, 50)           # seq 50..99, below the old runtime's 199: not late
        wait_for(lambda: stream_status(rt2, "couch1/markers").get("holds") == 100, what="100 holds")
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            sub.recv(0.1)
        s = sub.stats["hold/couch1"]
        assert sub.epoch == rt2.epoch != first_epoch and sub.epochs_seen == 2
        assert s["late"] == 0 and s["restarts"] == 1
        # what was missed while reconnecting is counted as lost, nothing after it is dropped
        assert s["frames"] + s["missing"] == 300 and s["frames"] >= 250
    pub.close()
    sub.close()


def test_publisher_seq_reset_within_its_session_is_a_restart_not_late():
    ctx = zmq.Context()
    with running() as rt:
        push = push_socket(ctx, rt.bound.ingest)
        t0 = time.time() - 10
        for seq in range(10):                        # 0.2 s frames of one session
            push.send_multipart(signal("bed01/resp", seq, np.ones((1, 5)), session=7, t0_s=t0 + seq * 0.2))
        for seq in range(10):                        # the device rebooted: same session, seq from 0
            push.send_multipart(signal("bed01/resp", seq, np.ones((1, 5)), session=7, t0_s=t0 + 5 + seq * 0.2))
        push.send_multipart(signal("bed01/resp", 3, np.ones((1, 5)), session=7, t0_s=t0 + 5 + 3 * 0.2))  # a true late
        s = wait_for(lambda: (st := stream_status(rt, "bed01/resp")) and st["frames"] == 20 and
                     st["late"] + st["duplicates"] == 1 and st, what="20 frames")
        assert s["restarts"] == 1 and s["late"] == 1 and s["gaps"] == 0
        push.close()
    ctx.term()


def test_heartbeats_reveal_frames_lost_at_the_end_of_a_topic():
    with running(config(forecaster=FC)) as rt:
        sub = Subscriber(["hold/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.1) or sub.epoch, what="heartbeats")
        pub = Publisher("couch1", rt.bound.ingest)
        out = pub.stream("markers", 30.0, ["x", "y", "z"], modality="motion")
        _holds(out, 10)
        wait_for(lambda: sub.recv(0.1) is None and sub.stats["hold/couch1"]["frames"] == 10, what="10 holds")
        sub.sock.setsockopt(zmq.UNSUBSCRIBE, b"hold/")     # these frames never reach this subscriber
        time.sleep(0.3)
        _holds(out, 15)
        wait_for(lambda: stream_status(rt, "couch1/markers").get("holds") == 25, what="25 holds")
        time.sleep(0.2)
        sub.sock.setsockopt(zmq.SUBSCRIBE, b"hold/")
        end = time.monotonic() + 1.0                       # no further hold frame: only heartbeats
        while time.monotonic() < end:
            assert sub.recv(0.1) is None or False
        s = sub.stats["hold/couch1"]
        assert (s["frames"], s["gaps"], s["missing"]) == (10, 1, 15)
        pub.close()
        sub.close()


def test_slots_are_bounded_expire_and_reserved_sources_always_get_one():
    cfg = config(forecaster=FC, max_streams=20, max_streams_per_source=4, reserved_sources=("couch1",),
                 idle_expire_s=1.5)
    ctx = zmq.Context()
    with running(cfg) as rt:
        sub = Subscriber(["hold/", "fcst/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.1) or sub.epoch, what="heartbeats")
        push = push_socket(ctx, rt.bound.ingest)
        for i in range(10):                                  # one greedy source: 4 slots at most
            push.send_multipart(signal(f"greedy/s{i}", 0, np.ones((1, 5))))
        for i in range(1100):                                # 1,100 invented stream names
            push.send_multipart(signal(f"inv{i}/resp", 0, np.ones((1, 5))))
        wait_for(lambda: rt.status()["invalid"].get("too_many_streams", 0) == 1100 - 16, what="refusals")
        s = rt.status()
        assert s["invalid"]["source_quota"] == 6 and s["slots"]["general"] == 20 and len(s["streams"]) == 20
        couch1 = Publisher("couch1", rt.bound.ingest).stream("markers", 30.0, ["x", "y", "z"], modality="motion")
        couch2 = Publisher("couch2", rt.bound.ingest).stream("markers", 30.0, ["x", "y", "z"], modality="motion")
        _holds(couch1, 5)
        _holds(couch2, 5)
        got = {}
        end = time.monotonic() + 3
        while time.monotonic() < end and not ("hold/couch1" in got and "hold/couch2" in got):
            f = sub.recv(0.1)
            if f is not None and f.kind == "hold":
                got.setdefault(f.topic, f)
        assert got["hold/couch1"].header["reason"] == "warm_up"           # reserved: served
        assert got["hold/couch2"].header["reason"] == "unavailable"       # refused, but told
        assert "no stream slot" in got["hold/couch2"].header["detail"]
        # idle streams expire and free their slots
        s = wait_for(lambda: (st := rt.status()) and st["slots"]["general"] == 0 and st, timeout_s=6,
                     what="idle streams to expire")
        assert s["slots"]["expired"] >= 20
        push.send_multipart(signal("late1/resp", 0, np.ones((1, 5))))
        wait_for(lambda: stream_status(rt, "late1/resp").get("frames") == 1, what="a new stream admitted")
        push.close()
        sub.close()
        couch1.pub.close()
        couch2.pub.close()
    ctx.term()


def test_auth_failures_are_counted_on_every_socket(tmp_path):
    import shutil
    from streams.security import generate_keys
    keys = generate_keys(tmp_path / "keys")
    generate_keys(tmp_path / "stranger")
    shutil.copy(keys / "server.key", tmp_path / "stranger" / "server.key")   # knows the server, not allowed
    with running(config(key_dir=str(keys))) as rt:
        sub = Subscriber(["hb/"], rt.bound.output, key_dir=tmp_path / "stranger")
        with pytest.raises(Exception, match="refused this client.s key"):
            request_status(rt.bound.status, key_dir=tmp_path / "stranger", timeout_s=0.5)
        assert sub.recv(0.5) is None
        by = wait_for(lambda: (b := rt.status()["auth_failures_by_socket"]) and "output" in b and "status" in b and b,
                      what="refusals on the output and status sockets")
        assert rt.status()["auth_failures"] == sum(by.values())
        sub.close()


def test_status_shows_age_and_a_recent_rate():
    with running(config(rate_window_s=1.0)) as rt:
        pub = Publisher("bed01", rt.bound.ingest)
        out = pub.stream("resp", 25.0, ["RESP"])
        for _ in range(8):                                   # 25 Hz in 0.2 s frames
            out.send(np.ones(5))
            time.sleep(0.2)
        live = stream_status(rt, "bed01/resp")
        assert 15 < live["rate_hz"] < 35 and live["age_s"] < 0.5
        time.sleep(1.5)
        dead = stream_status(rt, "bed01/resp")
        assert dead["rate_hz"] == 0.0 and dead["age_s"] > 1.4 and dead["lifetime_rate_hz"] > 0
        table = status_table(rt.status())
        assert "age s" in table and "bed01/resp" in table
        pub.close()


@pytest.mark.slow
def test_status_says_starting_while_kernels_compile_then_serve_prints_ready(tmp_path):
    ep = free_endpoints()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))   # empty cache: a real compile
    proc = subprocess.Popen(BIOSIG + ["serve", "--models", "none", "--ingest", ep.ingest, "--output", ep.output,
                             "--status", ep.status], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    listen = subprocess.Popen(BIOSIG + ["listen", "--seconds", "4", "--output", ep.output, "--status", ep.status],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        states = []
        end = time.monotonic() + 120
        while time.monotonic() < end and "serving" not in states:
            try:
                states.append(request_status(ep.status, timeout_s=0.2)["state"])
            except Exception:
                time.sleep(0.05)
        assert states[0] == "starting" and states[-1] == "serving"
        assert "starting" in status_table({"state": "starting", "uptime_s": 3.0})
        line = proc.stdout.readline()
        assert line.startswith("biosig serve: ready after") and ep.ingest in line
        listen.wait(60)
        assert "biosig listen: runtime starting" in listen.stderr.read()   # said while the kernels compiled
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read()[-2000:]


def test_status_flags_a_device_clock_ahead_and_never_cuts_a_stream_name():
    """A device clock 150 ms ahead made every latency negative and `status` printed p50 -149 ms
    without a word; the latency summary counts those frames and the table says so. Stream names
    longer than 17 characters were cut (two sessions could read alike)."""
    from streams.metrics import Latency
    lat = Latency()
    for ms in (-150.0, -149.0, 2.0):
        lat.add(ms)
    s = lat.summary()
    assert s["ahead"] == 2 and s["min"] == -150.0 and s["max"] == 2.0
    empty = Latency().summary()
    assert empty["ahead"] == 0 and np.isnan(empty["min"])
    ahead = Latency()                       # every latency negative: max is the largest, not 0.0
    for ms in (-180000.0, -179990.0):
        ahead.add(ms)
    assert ahead.summary()["max"] == -179990.0
    row = {"modality": "motion", "rate_hz": 10.0, "age_s": 0.1, "frames": 3, "windows": 0, "outputs": 0,
           "forecasts": 3, "holds": 0, "gaps": 0, "dropped": 0, "rejected_total": 0}
    status = {"streams": {"201205111055-LAC-1-N/marker": {**row, "latency_ms": s, "latency_ingest_ms": s},
                          "201205111055-UAC-1-N/marker": {**row, "latency_ms": empty, "latency_ingest_ms": empty}},
              "queue": {"pending_windows": 0, "max": 8, "batches": 0}, "invalid": {}, "uptime_s": 5.0}
    table = status_table(status)
    assert "201205111055-LAC-1-N/marker" in table and "201205111055-UAC-1-N/marker" in table
    flagged = [ln for ln in table.splitlines() if "clock runs ahead" in ln]
    assert len(flagged) == 1 and flagged[0].startswith("201205111055-LAC-1-N/marker") and "150 ms" in flagged[0]
