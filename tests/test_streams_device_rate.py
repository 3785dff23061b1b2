"""A stream whose device time disagrees with its declared rate publishes no measures as ok.

A monitor declaring 250 Hz but sending 500 samples per second of its own clock read half the heart
rate (the runtime cut, filtered and measured its samples at 250 Hz), published as ok. Device time
(each frame's ``t0_s``) says the real rate: the stream's score frames are withheld as
``rate_mismatch`` and ``status`` says the measured rate. Jitter, batching, gaps and ``replay --speed``
(device time runs at the recording's rate) are not a mismatch."""
import time

import msgpack
import numpy as np
import pytest
import zmq

from streams import protocol
from streams.device_rate import DeviceRate
from test_streams_helpers import config, push_socket, running, stream_status, sub_socket, wait_for


def _run(rate: DeviceRate, fs_true: float, seconds: float, rng, jitter_s=0.0, max_frame=50, gap_at_s=None):
    """Frames of 1..max_frame samples taken at ``fs_true``, stamped with uniform jitter; the verdicts."""
    k, verdicts = 0, []
    gap_done = gap_at_s is None
    while k < seconds * fs_true:
        n = int(rng.integers(1, max_frame + 1))
        t0 = 1000.0 + k / fs_true + rng.uniform(-jitter_s, jitter_s)
        if not gap_done and k >= gap_at_s * fs_true:
            gap_done = True
            k += int(3.7 * fs_true)          # samples lost in a sequence gap
            verdicts.append(rate.restart(1000.0 + k / fs_true, n) or rate.mismatch)
        else:
            verdicts.append(rate.add(t0, n))
        k += n
    return verdicts


@pytest.mark.parametrize("fs_true, flagged", [(250.0, False), (242.5, False), (257.5, False),   # 3 % off: within
                                              (500.0, True), (125.0, True), (275.0, True)])    # 2x, 1/2, +10 %
def test_the_declared_rate_is_checked_against_device_time_with_jitter_batching_and_a_gap(fs_true, flagged):
    rng = np.random.default_rng(int(fs_true))
    rate = DeviceRate(250.0)
    verdicts = _run(rate, fs_true, 180.0, rng, jitter_s=0.1, max_frame=400, gap_at_s=60.0)
    assert verdicts[-1] is flagged and rate.measured_hz == pytest.approx(fs_true, rel=0.01)
    if not flagged:
        assert not any(verdicts)              # never, not even at the start or after the gap
    else:
        assert "declared 250 Hz but " in rate.text() and f"{rate.measured_hz:.1f} samples per second" in rate.text()


def test_a_backlog_sent_at_once_with_default_stamps_is_no_verdict():
    """The SDK stamps a frame sent without ``t0_s`` as ending now: 60 s of samples sent in a burst
    span milliseconds of device time, which says nothing of the rate."""
    rate = DeviceRate(250.0)
    assert not any(rate.add(1000.0 + i * 1e-4, 250) for i in range(60))
    assert rate.measured_hz is None and rate.text() == ""


FS_TRUE = 500.0


def _send_and_score(fs_declared: float, x: np.ndarray, n_expected: int):
    """``x`` sampled at FS_TRUE, sent as bed1/ecg declaring ``fs_declared``, stamped with the device's
    true clock (1 s frames, all at once): its score headers, status and the last embedding header."""
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": (10.0, 5.0)})) as rt:
            sub = sub_socket(ctx, rt.bound.output, b"score/")
            emb = sub_socket(ctx, rt.bound.output, b"emb/")
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.3)   # the subscription reaches the PUB socket
            t0 = time.time() - x.shape[1] / FS_TRUE
            n = int(FS_TRUE)
            for i in range(0, x.shape[1], n):
                h = protocol.signal_header("bed1/ecg", i // n, 7, t0 + i / FS_TRUE, fs_declared, ["II"], ["mV"], "ecg")
                push.send_multipart(protocol.encode("bed1/ecg", h, x[:, i:i + n]))
            wait_for(lambda: stream_status(rt, "bed1/ecg").get("samples") == x.shape[1], what="every sample")
            frames, end = [], time.monotonic() + 60
            while len(frames) < n_expected and time.monotonic() < end:
                if sub.poll(500):
                    frames.append(msgpack.unpackb(sub.recv_multipart()[1]))
            status = stream_status(rt, "bed1/ecg")
            last_emb = None
            while emb.poll(200):
                last_emb = msgpack.unpackb(emb.recv_multipart()[1])
            emb.close()
            sub.close()
            push.close()
            return frames, status, last_emb
    finally:
        ctx.destroy(linger=0)


def test_a_monitor_sending_twice_its_declared_rate_publishes_no_measure_as_ok():
    """60 s of sinus ECG at 500 Hz (sent 60 s of device time) declared as 250 Hz: status says 500
    samples per second of device time and every score frame scored after that is withheld
    (before: ok, heart rate half the truth). The same samples declared 500 Hz: ok and right."""
    from biosig.measures_window import window_measures
    from biosig.synthetic import simulate
    x = simulate("ecg", 60, seed=2, rhythm="sinus", fs_hz=FS_TRUE).samples[:1].astype(np.float32)
    truth = window_measures(x[:, :int(10 * FS_TRUE)], FS_TRUE, "ecg")["hr_bpm"]

    frames, status, last_emb = _send_and_score(250.0, x, 23)    # 120 s of declared signal: 23 windows of 10 s every 5 s
    assert status["device_rate_hz"] == pytest.approx(FS_TRUE, rel=0.01), status
    assert "declared 250 Hz" in status["rate_mismatch"] and "500.0 samples per second" in status["rate_mismatch"]
    assert len(frames) == 23
    # the score thread reads the verdict when it scores: the frames scored after the last sample
    # arrived (here nearly all) are withheld; none is ever ok with a wrong rate once it is known
    withheld = [f for f in frames if f.get("missing") == "rate_mismatch"]
    assert len(withheld) >= 15, [(f["ok"], f.get("missing")) for f in frames]
    for f in withheld:
        assert not f["ok"] and all(v is None for v in f["measures"].values())
        assert f["heads"]["af_prob"]["value"] is None and f["heads"]["af_prob"]["missing"] == "rate_mismatch"
    assert frames[-1] in withheld
    assert "declared 250 Hz" in last_emb["rate_mismatch"]          # the embedding says so too
    from streams import protocol as wire
    header = {k: v for k, v in last_emb.items() if k not in ("v", "dtype", "shape")}
    wire.decode(wire.encode("emb/bed1/ecg", header, np.zeros(3, np.float32)))   # and passes the schema

    frames, status, last_emb = _send_and_score(FS_TRUE, x, 11)
    assert status["device_rate_hz"] == pytest.approx(FS_TRUE, rel=0.01) and status["rate_mismatch"] == ""
    assert last_emb["rate_mismatch"] == ""
    assert all(f["ok"] for f in frames) and len(frames) == 11
    assert all(abs(f["measures"]["hr_bpm"] - truth) < 3.0 for f in frames), ([f["measures"]["hr_bpm"] for f in frames], truth)


def test_replay_faster_than_real_time_keeps_the_recordings_rate_in_device_time(tmp_path):
    """`replay --speed 6` of a 250 Hz ECG: frames go out 6 times faster than real time, but device
    time runs at 250 samples a second (stamped at the wall clock it said 1500: a misdeclared rate)."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    from streams.replay import replay_sources
    from streams.simulate import run_sources
    rec = simulate("ecg", 40, seed=3, fs_hz=250.0)
    path = tmp_path / "ecg.edf"
    write(rec, path)
    with running(config(windows={"ecg": (10.0, 5.0)})) as rt:
        pubs, sources = replay_sources([path], speed=6.0, endpoint=rt.bound.ingest)
        run_sources(sources, seconds=40.0 / 6.0)
        name = f"{pubs[0].source}/ecg"
        wait_for(lambda: stream_status(rt, name).get("samples", 0) >= 0.95 * rec.n_samples, what="the replay")
        status = stream_status(rt, name)
        for p in pubs:
            p.close()
    assert status["gaps"] == 0 and status["rate_mismatch"] == ""
    assert status["device_rate_hz"] == pytest.approx(250.0, rel=0.01)
