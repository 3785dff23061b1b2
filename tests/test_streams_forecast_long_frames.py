"""A marker device slower than it declares, sending long frames, is held from its second frame on.

A frame of two or more samples followed by the next sequence number took, in device time, the step
to that frame: when that is far longer than its samples take at the declared rate, the frame itself
contradicts the rate (``streams.device_rate``, ``stretched``). Before 2026-12-05 only a run of
frames could say so: a device declaring 10 Hz and sending 5 Hz in frames of 2 s (the SDK's default
stamps put each step ~1 s past the frame's end, on either side of the runtime's 1 s hole threshold)
had 5 of its first 6 frames forecast, each published 0.3 s ahead for an instant 0.6 s ahead. The
first frame cannot be judged (no device time says anything before a second frame): since
``confirm_first`` it is held as ``rate_pending`` until the second frame judges it (one frame per
connect, tests/test_streams_slots.py); an honest device (jitter, lost single samples, a clock
stepped ahead once) is not held so after it."""
import re
import threading
import time

import numpy as np
import pytest

from streams.config import ForecasterConfig
from streams.device_rate import STRETCH_SLACK_S, DeviceRate
from streams.publisher import Publisher
from streams.subscriber import Subscriber
from test_streams_forecast_rate import RATE_REASONS, _answers, _xyz
from test_streams_helpers import config, running, wait_for

FC = ForecasterConfig(method="lms", horizon_steps=3, lookback=4, warmup_s=0.5, recover_steps=5, stale_s=0.5)


def _send_frames(ep, src, fs_declared, fs_true, n, frames, log):
    """Frames of ``n`` samples taken at ``fs_true``, each sent when its last one is taken, with the
    SDK's default stamps (the newest sample "now" at the declared rate)."""
    pub = Publisher(src, ep)
    out = pub.stream("markers", fs_declared, ["x", "y", "z"], modality="motion")
    try:
        t_first = time.time()
        for j in range(frames):
            time.sleep(max(0.0, t_first + ((j + 1) * n - 1) / fs_true - time.time()))
            out.send(_xyz(t_first + (j * n + np.arange(n)) / fs_true))
            log.append(j)
        time.sleep(0.3)
    finally:
        pub.close()


def test_a_slow_device_with_long_frames_is_held_from_its_second_frame_through_the_runtime():
    with running(config(forecaster=FC)) as rt:
        sub = Subscriber(["fcst/", "hold/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.2) or True, what="subscription")
        time.sleep(0.3)
        logs = {"slow": [], "honest": []}
        threads = [threading.Thread(target=_send_frames, args=(rt.bound.ingest, "slow", 10.0, 5.0, 10, 5, logs["slow"])),
                   threading.Thread(target=_send_frames, args=(rt.bound.ingest, "honest", 10.0, 10.0, 10, 10,
                                                               logs["honest"]))]
        for t in threads:
            t.start()
        got = _answers(sub, threads)
    slow, honest = got["slow"], got["honest"]
    assert len(slow) == len(logs["slow"]) == 5, [(f.kind, f.header.get("reason")) for f in slow]
    assert all(f.kind == "hold" and f.header["reason"] in RATE_REASONS for f in slow[1:]), \
        [(f.kind, f.header.get("reason")) for f in slow]   # before: frames 2-5 were forecast too
    took = re.search(r"the last frame's 10 samples took ([0-9.]+) s of device time, not 1.00 at the declared 10 Hz",
                     slow[1].header["detail"])
    assert took and float(took.group(1)) == pytest.approx(2.0, abs=0.1), slow[1].header["detail"]
    # the same frames at the declared rate: forecast, never held for the rate after the first
    assert len(honest) == 10 and not [f for f in honest[1:] if f.header.get("reason") in RATE_REASONS]
    assert sum(f.kind == "forecast" for f in honest) >= 9


def _feed(rate, frames):
    """``frames``: (t0_s, n, verdict) with verdict add / hole / restart; the pending flags."""
    out = []
    for t0, n, verdict in frames:
        getattr(rate, verdict)(t0, n)
        out.append(rate.pending)
    return out


def test_a_frame_that_took_twice_its_declared_time_is_doubted_at_once():
    rate = DeviceRate(10.0, holes_to_doubt=2, provisional_span_s=0.25)
    assert _feed(rate, [(0.0, 10, "restart"), (2.0, 10, "add")]) == [False, True]
    assert rate.forecast_hold()[0] == "rate_pending"


@pytest.mark.parametrize("jitter_s", [0.0, 0.05, 0.2])
def test_honest_long_frames_with_jitter_are_never_doubted(jitter_s):
    rng = np.random.default_rng(0)
    rate = DeviceRate(10.0, holes_to_doubt=2, provisional_span_s=0.25)
    frames, t = [], 0.0
    for j in range(60):
        n = int(rng.integers(2, 30))
        frames.append((t + rng.uniform(-jitter_s, jitter_s), n, "add" if j else "restart"))
        t += n / 10.0
    assert not any(_feed(rate, frames))


def test_lost_single_samples_and_one_clock_step_are_not_a_rate():
    rate = DeviceRate(10.0, holes_to_doubt=2, provisional_span_s=0.25)
    # one sample a frame, 7 samples lost inside the device with consecutive sequence numbers: no span
    single = [(k / 10.0 + (0.7 if k >= 50 else 0.0), 1, "add" if k else "restart") for k in range(100)]
    assert not any(_feed(rate, single))
    # frames of 1 s, the device clock stepped 1.5 s ahead once: that frame is doubted, the next is not
    rate = DeviceRate(10.0, holes_to_doubt=2, provisional_span_s=0.25)
    frames = [(float(j) + (1.5 if j >= 5 else 0.0), 10, "add" if j else "restart") for j in range(10)]
    frames[5] = (frames[5][0], 10, "hole")
    pending = _feed(rate, frames)
    assert pending[5] and not any(pending[:5]) and not any(pending[6:]), pending
    # a step just within the slack is jitter
    rate = DeviceRate(10.0, holes_to_doubt=2, provisional_span_s=0.25)
    assert _feed(rate, [(0.0, 10, "restart"), (1.0 + STRETCH_SLACK_S - 0.01, 10, "add")]) == [False, False]
