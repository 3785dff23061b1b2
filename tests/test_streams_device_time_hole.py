"""A device that pauses (consecutive seq, device time jumps ahead) is a gap: no window joins the
samples on either side and window times follow the device's clock (real sockets)."""
import time

import msgpack
import numpy as np
import zmq

from streams import protocol
from test_streams_helpers import config, push_socket, running, stream_status, sub_socket, wait_for

FS_HZ = 250.0
PAUSE_S = 37.37


def _send(push, k, t0, x):
    h = protocol.signal_header("bed1/ecg", k, 7, t0, FS_HZ, ["II"], ["mV"], "ecg")
    push.send_multipart(protocol.encode("bed1/ecg", h, x))


def test_a_pause_in_device_time_restarts_the_windows_and_their_times():
    """30 s of ECG, then the monitor pauses for 37.37 s (it numbers the frames it sends, so seq
    goes on by one) and sends 30 s more. Before: windows were cut across the pause as if the
    samples were contiguous, and every later window was stamped 37.37 s early (window_end_s on the
    old time base). Now the pause is a gap: counted, no window spans it, window times are the
    device's."""
    from biosig.synthetic import simulate
    y = simulate("ecg", 100, seed=5, rhythm="sinus", fs_hz=FS_HZ).samples[:1].astype(np.float32)
    n = int(FS_HZ)
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": (10.0, 1.0)})) as rt:
            sub = sub_socket(ctx, rt.bound.output, b"emb/")
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.3)   # the subscription reaches the PUB socket
            t0 = time.time() - 200.0
            resume = int((30 + PAUSE_S) * FS_HZ)
            for k in range(60):
                if k < 30:
                    _send(push, k, t0 + k, y[:, k * n:(k + 1) * n])
                else:   # the samples recorded after the pause, stamped when they were taken
                    a = resume + (k - 30) * n
                    _send(push, k, t0 + 30 + PAUSE_S + (k - 30), y[:, a:a + n])
            want = 2 * (30 - 10 + 1)   # 21 windows on each side of the pause
            frames, end = [], time.monotonic() + 60
            while len(frames) < want and time.monotonic() < end:
                if sub.poll(500):
                    frames.append(msgpack.unpackb(sub.recv_multipart()[1]))
            s = wait_for(lambda: (st := stream_status(rt, "bed1/ecg")).get("frames") == 60 and st, what="60 frames")
            assert s["gaps"] == 1 and s["missing"] == 0, s
    finally:
        ctx.destroy(linger=0)   # closes the sockets a failed assertion left open
    assert len(frames) == want, len(frames)
    pause = (t0 + 30 - 1 / FS_HZ, t0 + 30 + PAUSE_S)          # last sample before, first after
    for f in frames:   # each window lies on one side of the pause, timed by the device's clock
        start, stop = f["window_start_s"], f["window_end_s"]
        assert stop <= pause[0] + 1e-6 or start >= pause[1] - 1e-6, (start - t0, stop - t0)
    after = sorted(f["window_end_s"] - t0 for f in frames if f["window_start_s"] >= pause[1] - 1e-6)
    assert len(after) == 21 and abs(after[0] - (30 + PAUSE_S + 10 - 1 / FS_HZ)) < 1e-3, after[:3]


def test_timestamp_jitter_and_overlap_are_not_gaps():
    """Frames stamped up to 0.4 s late or early (a device clocking frames at send time) and frames
    overlapping in device time (replay above real time) keep the windows whole."""
    x = np.sin(np.arange(250) / 10.0).astype(np.float32)[None]
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": (2.0, 1.0)})) as rt:
            push = push_socket(ctx, rt.bound.ingest)
            t0 = time.time() - 100.0
            jitter = [0.0, 0.4, -0.3, 0.2, -0.5, 0.0, 0.4, -0.4]
            for k, j in enumerate(jitter):
                _send(push, k, t0 + k + j, x)
            for k in range(len(jitter), len(jitter) + 4):   # 1 s of samples every 0.2 s of device time
                _send(push, k, t0 + len(jitter) + 0.2 * (k - len(jitter)), x)
            s = wait_for(lambda: (st := stream_status(rt, "bed1/ecg")).get("frames") == 12 and st, what="12 frames")
            assert s["gaps"] == 0, s
    finally:
        ctx.destroy(linger=0)
