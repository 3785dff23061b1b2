"""A multi-lead ECG stream is scored on one lead, gated on that lead's quality (real sockets)."""
import time

import msgpack
import numpy as np
import pytest
import zmq

from streams import protocol
from test_streams_helpers import config, push_socket, running, sub_socket

FS_HZ = 250.0


def _scores(x: np.ndarray, channels, n_expected: int):
    """Send ``x`` (C, T) as one model-less ECG stream in 1 s frames; its score headers
    (10 s windows every 5 s)."""
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": (10.0, 5.0)})) as rt:
            sub = sub_socket(ctx, rt.bound.output, b"score/")
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.3)   # the subscription reaches the PUB socket
            t0 = time.time() - x.shape[1] / FS_HZ
            n = int(FS_HZ)
            for i in range(0, x.shape[1], n):
                h = protocol.signal_header("bed1/ecg", i // n, 7, t0 + i / FS_HZ, FS_HZ, channels,
                                           ["mV"] * len(channels), "ecg")
                push.send_multipart(protocol.encode("bed1/ecg", h, x[:, i:i + n]))
            frames, end = [], time.monotonic() + 60
            while len(frames) < n_expected and time.monotonic() < end:
                if sub.poll(500):
                    frames.append(msgpack.unpackb(sub.recv_multipart()[1]))
            sub.close()
            push.close()
            return frames
    finally:
        ctx.destroy(linger=0)   # closes the sockets a failed assertion left open


@pytest.mark.parametrize("noisy_first", [True, False])
def test_a_noisy_lead_beside_a_clean_one_never_spoils_the_measures(noisy_first):
    """Lead V5 noisy (quality below the ECG gate alone), lead II clean sinus rhythm (SDNN ~9 ms).
    Before: measures read the first lead, gated on the mean quality of both. Noisy lead first: the
    mean passed the gate and the noisy lead's SDNN (88 ms, an AF-like value) was published as ok, or
    the window was withheld as uncertain_beats; clean lead first: withheld as low_quality. Now the
    lead with the best quality is measured and gated on its own quality: every window is ok and
    reads the clean lead's numbers."""
    from biosig.measures_window import window_measures
    from biosig.synthetic import simulate
    clean = simulate("ecg", 30, seed=5, rhythm="sinus", fs_hz=FS_HZ).samples[:1]
    noise_sd = 2.0 if noisy_first else 4.0
    noisy = clean + noise_sd * clean.std() * np.random.default_rng(1).normal(size=clean.shape)
    w = int(10 * FS_HZ)
    assert not window_measures(noisy[:, :w], FS_HZ, "ecg")["ok"]     # the noisy lead alone is withheld
    leads = [noisy, clean] if noisy_first else [clean, noisy]
    x = np.concatenate(leads).astype(np.float32)
    frames = _scores(x, ["V5", "II"], 5)
    assert len(frames) == 5, len(frames)
    for f in frames:
        assert f["ok"], f
        truth = window_measures(clean[:, :w], FS_HZ, "ecg")
        assert f["measures"]["sdnn_ms"] < 30.0, f["measures"]
        assert abs(f["measures"]["hr_bpm"] - truth["hr_bpm"]) < 2.0, f["measures"]
        assert f["quality"] >= f["min_quality"]
