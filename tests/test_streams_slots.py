"""No client can starve another of stream slots (streams.runtime_slots ``_make_room``), and a marker
stream's first frame of a session waits for a second (streams.device_rate ``first_frame``).

Before: a client inventing stream names (1024 names over 16 sources, one frame each) held every
general slot until each expired (``idle_expire_s``, 300 s): a bed connecting then was refused as
``too_many_streams``, every frame. Now a new stream takes the slot of a stream that never had a
frame accepted, or went silent, or of a source holding more than its fair share; a live stream of a
source within its share (an honest ward) is never evicted. Real ZeroMQ sockets on loopback; counts
only, no timings asserted."""
import threading
import time

import numpy as np
import zmq

from streams.config import ForecasterConfig
from streams.device_rate import DeviceRate
from streams.publisher import Publisher
from streams.subscriber import Subscriber
from test_streams_helpers import config, push_socket, running, signal, stream_status, wait_for

FS = 25.0


def _flood(rt, names, ctx):
    push = push_socket(ctx, rt.bound.ingest)
    for i, name in enumerate(names):
        push.send_multipart(signal(name, 0, np.ones((1, 5)) * i))
        if i % 200 == 199:
            time.sleep(0.01)
    return push


def _bed_until_windows(rt, source, n_windows=2, timeout_s=60.0):
    """A bed (RESP at 25 Hz, 0.25 s frames sent at once on contiguous device time, a frame each
    20 ms) sends until its stream has ``n_windows`` windows; its status."""
    pub = Publisher(source, rt.bound.ingest)
    out = pub.stream("resp", FS, ["RESP"], modality="resp")
    t0, k, end = time.time() - 60.0, 0, time.monotonic() + timeout_s
    try:
        while time.monotonic() < end:
            out.send(np.sin(np.arange(k * 6, k * 6 + 6) / 5.0)[None].astype(np.float32), t0_s=t0 + k * 0.24)
            k += 1
            time.sleep(0.02)
            s = stream_status(rt, f"{source}/resp")
            if s.get("windows", 0) >= n_windows:
                return s
        raise AssertionError(f"{source}/resp: no {n_windows} windows in {timeout_s} s: {s}")
    finally:
        pub.close()


def test_a_flood_of_names_over_several_sources_does_not_starve_a_bed():
    """1024 invented names from 16 sources fill every general slot (64 each, the per-source cap);
    a bed connecting right after takes a slot from a source over its fair share and gets windows."""
    ctx = zmq.Context()
    with running(config()) as rt:
        names = [f"flood{s}/n{i}" for s in range(16) for i in range(64)]
        push = _flood(rt, names, ctx)
        wait_for(lambda: rt.status()["slots"]["general"] == 1024, timeout_s=60, what="every slot taken")
        s = _bed_until_windows(rt, "bed")
        status = rt.status()
        push.close()
    ctx.term()
    assert s["windows"] >= 2 and s["restarts"] == 0
    assert status["slots"]["evicted"] == {"over_share": 1}, status["slots"]
    assert status["slots"]["general"] == 1024
    assert status["invalid"].get("too_many_streams", 0) == 0   # not one of the bed's frames refused


def test_names_that_went_silent_give_their_slots_to_a_bed_and_a_busy_ward_keeps_every_slot():
    """Sybil names (one source each, a frame each) beside an honest ward of 20 beds x ECG, PPG, RESP
    sending all along: the names fill the free slots; once silent (``slot_silent_s``) they give their
    slots to a new bed; no bed of the ward loses its slot (its frames all counted in one stream)."""
    ctx = zmq.Context()
    cfg = config(max_streams=100, slot_silent_s=1.0, windows={"resp": (2.0, 1.0), "ecg": (2.0, 1.0),
                                                               "ppg": (2.0, 1.0)})
    with running(cfg) as rt:
        stop, sent = threading.Event(), {}

        def ward():
            pubs = [Publisher(f"ward{b}", rt.bound.ingest) for b in range(20)]
            outs = [(p.stream(m, 50.0, ["x"], modality=m), f"ward{b}/{m}") for b, p in enumerate(pubs)
                    for m in ("ecg", "ppg", "resp")]
            t0, k = time.time() - 30.0, 0
            while not stop.is_set():
                for out, name in outs:
                    out.send(np.full((1, 10), k, np.float32), t0_s=t0 + k * 0.2)
                    sent[name] = k + 1
                k += 1
                time.sleep(0.1)
            for p in pubs:
                p.close()

        th = threading.Thread(target=ward)
        th.start()
        wait_for(lambda: rt.status()["slots"]["general"] == 60, timeout_s=30, what="the ward's 60 streams")
        push = _flood(rt, [f"sybil{i}/resp" for i in range(300)], ctx)
        wait_for(lambda: rt.status()["invalid"].get("too_many_streams", 0) >= 300 - 40, timeout_s=60,
                 what="the flood refused once the slots were full")
        bed = _bed_until_windows(rt, "bed")
        stop.set()
        th.join()
        ward_s = wait_for(lambda: (st := rt.status()) and all(
            st["streams"].get(n, {}).get("frames") == k for n, k in sent.items()) and st,
            timeout_s=30, what="every ward frame counted")
        push.close()
    ctx.term()
    assert bed["windows"] >= 2
    ev = ward_s["slots"]["evicted"]
    assert ev.get("silent", 0) >= 1 and set(ev) <= {"silent"}, ev
    for name in sent:   # never evicted: one stream, every frame, no restart
        assert ward_s["streams"][name]["restarts"] == 0 and ward_s["streams"][name]["rejected_total"] == 0, name


def test_a_marker_streams_first_frame_is_held_until_a_second_confirms_the_rate():
    """10 Hz declared, 5 Hz sent in frames of 2 s (SDK default stamps): the first frame was forecast
    (a horizon of 0.3 s published for an instant 0.6 s ahead); now it is held as ``rate_pending``
    and the next frames too (stretched). An honest device pays one frame; a reconnect (a new
    publisher session) holds its first frame again."""
    fc = ForecasterConfig(method="lms", horizon_steps=3, lookback=4, warmup_s=0.5, recover_steps=5, stale_s=5.0)
    with running(config(forecaster=fc)) as rt:
        sub = Subscriber(["fcst/", "hold/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.2) or True, what="subscription")
        time.sleep(0.3)
        got = {}

        def answers(src, n):
            out = got.setdefault(src, [])
            end = time.monotonic() + 30
            while len(out) < n and time.monotonic() < end:
                f = sub.recv(0.2)
                if f is not None and f.kind in ("forecast", "hold") and not \
                        str(f.header.get("detail", "")).startswith("no input"):
                    got.setdefault(f.topic.split("/")[1], []).append(f)
            return out

        for src, fs_true, n_frames in (("slow", 5.0, 3), ("honest", 10.0, 4), ("honest", 10.0, 4)):
            pub = Publisher(src, rt.bound.ingest)   # a new Publisher: a new session (a reconnect)
            out = pub.stream("markers", 10.0, ["x", "y", "z"], modality="motion")
            t_first = time.time()
            for j in range(n_frames):
                time.sleep(max(0.0, t_first + ((j + 1) * 10 - 1) / fs_true - time.time()))
                t = t_first + (j * 10 + np.arange(10)) / fs_true
                out.send(np.stack([np.sin(t), np.cos(t), 0.3 * t]).astype(np.float32))
            answers(src, n_frames if src == "slow" else len(got.get("honest", [])) + n_frames)
            pub.close()
    kinds = {src: [(f.kind, f.header.get("reason")) for f in fs] for src, fs in got.items()}
    assert kinds["slow"] == [("hold", "rate_pending")] * 3, kinds
    assert "first frame of the session (10 samples" in got["slow"][0].header["detail"]
    honest = kinds["honest"]
    assert len(honest) == 8 and honest[0] == honest[4] == ("hold", "rate_pending"), honest
    # after the first frame, never held for the rate (a loaded machine may make one stale_input)
    assert not [k for k in honest[1:4] + honest[5:8] if k[1] in ("rate_pending", "rate_mismatch")], honest
    assert sum(k[0] == "forecast" for k in honest) >= 4, honest


def test_the_first_frame_doubt_is_one_record_and_single_samples_are_not_held():
    rate = DeviceRate(10.0, confirm_first=True)
    rate.add(100.0, 20)
    assert rate.pending and rate.doubt.kind == "first_frame" and rate.doubt.k == 20
    assert rate.forecast_hold()[0] == "rate_pending"
    rate.restart(105.0, 20)            # a gap: still no step to judge a frame by
    assert rate.doubt.kind == "first_frame"
    rate.add(107.0, 20)                # 20 samples took 2 s at 10 Hz: confirmed
    assert not rate.pending and rate.forecast_hold() is None
    one = DeviceRate(10.0, confirm_first=True)
    one.add(100.0, 1)
    assert not one.pending
    plain = DeviceRate(10.0)           # windowed streams: never held for a first frame
    plain.add(100.0, 20)
    assert not plain.pending
