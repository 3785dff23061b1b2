"""A stream whose device time disagrees with its declared rate publishes no measures as ok.

A monitor declaring 250 Hz but sending 500 samples per second of its own clock read half the heart
rate (the runtime cut, filtered and measured its samples at 250 Hz), published as ok. Device time
(each frame's ``t0_s``) says the real rate: the stream's score frames are withheld as
``rate_mismatch`` and ``status`` says the measured rate. Jitter, batching, gaps and ``replay --speed``
(device time runs at the recording's rate) are not a mismatch."""
import time

import numpy as np
import pytest

from streams.device_rate import DeviceRate
from test_streams_helpers import config, ecg_frames, ecg_session, running, stream_status, wait_for


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
    return ecg_session([ecg_frames(x, FS_TRUE, time.time() - x.shape[1] / FS_TRUE)], n_expected,
                       declared_hz=fs_declared)


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


def test_a_monitor_sending_twice_its_declared_rate_has_no_window_ok_before_the_verdict():
    """The windows cut before the verdict (10 s of device time) were published as ok at half the heart
    rate (HR 48 of 95). The run already doubts the rate after 2 s of device time: they are withheld as
    ``rate_pending``. An honest monitor's first window is published as ok as before."""
    from biosig.synthetic import simulate
    x = simulate("ecg", 30, seed=2, rhythm="sinus", fs_hz=FS_TRUE).samples[:1].astype(np.float32)
    frames = ecg_frames(x, FS_TRUE, 1000.0, frame_n=int(FS_TRUE))
    before = [f for f in frames if f[0] - 1000.0 < 9.5]   # device time 0-10 s: no verdict yet
    scores, status, _ = ecg_session([before, frames[len(before):]], 26, declared_hz=250.0, window=(10.0, 2.0))
    assert len(scores) == 26 and "declared 250 Hz" in status["rate_mismatch"]
    assert [s.get("missing") for s in scores[:6]] == ["rate_pending"] * 6, [(s["ok"], s.get("missing")) for s in scores]
    assert not any(s["ok"] for s in scores) and scores[-1]["missing"] == "rate_mismatch"
    assert all(v is None for s in scores for v in s["measures"].values())

    scores, status, _ = ecg_session([before, frames[len(before):]], 11, declared_hz=FS_TRUE, window=(10.0, 2.0))
    assert status["rate_mismatch"] == "" and len(scores) == 11
    assert all(s["ok"] for s in scores) and scores[0]["window_end_s"] == pytest.approx(1010.0, abs=0.01)


def test_a_backlog_with_default_stamps_then_live_frames_is_not_a_mismatch():
    """60 s sent at once with the SDK's default stamps (each frame "ends now", milliseconds apart), then
    live 1 s frames: the live part was flagged (declared 250 Hz but ~1700 samples per second) from its
    10th second until the backlog aged out of the 120 s span, and its measures withheld."""
    from biosig.synthetic import simulate
    fs = 250.0
    x = simulate("ecg", 100, seed=5, rhythm="sinus", fs_hz=fs).samples[:1].astype(np.float32)
    n_back = int(60 * fs)
    backlog = [(1000.0 + k * 1e-4 - (n - 1) / fs, x[:, i:i + n])   # as Publisher.send stamps a frame sent at 1000 + k * 1e-4
               for k, (i, n) in enumerate((i, 250) for i in range(0, n_back, 250))]
    live = ecg_frames(x[:, n_back:], fs, 1000.01)
    scores, status, last_emb = ecg_session([backlog, live], 19, declared_hz=fs)
    assert status["rate_mismatch"] == "" and last_emb["rate_mismatch"] == "", status["rate_mismatch"]
    assert status["device_rate_hz"] == pytest.approx(fs, rel=0.01) and status["gaps"] == 0
    assert len(scores) == 19 and all(s["ok"] for s in scores), [s.get("missing") for s in scores]


def test_a_device_declaring_twice_its_rate_in_long_frames_is_flagged():
    """Declared 500 Hz, 250 samples per second of device time, in 8 s frames: each frame's samples span
    4 s at the declared rate, so every frame leaves a 4 s device-time hole (a gap, windows restart) and
    the rate was never measured: every window ok at twice the heart rate (HR 190 of 95). Frames that
    each follow a hole are measured as one run: flagged, and no window after the first frame is ok."""
    from biosig.synthetic import simulate
    x = simulate("ecg", 60, seed=2, rhythm="sinus", fs_hz=250.0).samples[:1].astype(np.float32)
    frames = ecg_frames(x, 250.0, 1000.0, frame_n=2000)
    scores, status, _ = ecg_session([frames], 7, declared_hz=500.0, window=(4.0, 4.0))
    assert status["gaps"] == 7 and len(scores) == 7
    assert "declared 500 Hz but 250.0 samples per second" in status["rate_mismatch"], status
    assert not any(s["ok"] for s in scores[1:]), [(s["ok"], s.get("missing")) for s in scores]
    assert {s.get("missing") for s in scores[1:]} <= {"rate_pending", "rate_mismatch"}


def test_an_honest_device_that_pauses_is_never_flagged_and_doubted_only_just_after_a_pause():
    """Pauses (device-time holes of 1.5-30 s) before one frame, three frames in a row, and every 7th
    frame, frames of 0.1-1.6 s: never a mismatch; the suspicion a pause raises ends once the run
    after it spans 2 s (the windows restart at a gap: few are cut meanwhile)."""
    from streams.device_rate import PROVISIONAL_SPAN_S
    rng = np.random.default_rng(1)
    rate = DeviceRate(250.0)
    t, t_pause, doubted = 1000.0, None, []
    for k in range(300):
        n = int(rng.integers(25, 400))
        if k in (40, 41, 42) or (k > 100 and k % 7 == 0):   # a pause before this frame
            t += float(rng.uniform(1.5, 30.0))
            t_pause = t
            assert not rate.hole(t, n)
        else:
            assert not rate.add(t, n)
            if rate.pending:
                doubted.append(t - t_pause)
        t += n / 250.0
    assert rate.measured_hz == pytest.approx(250.0, rel=0.01)
    assert doubted and max(doubted) < PROVISIONAL_SPAN_S, doubted


@pytest.mark.parametrize("fs_true", [250.0, 242.5, 257.5])
def test_an_honest_device_with_jitter_and_batching_is_never_suspect(fs_true):
    rng = np.random.default_rng(int(fs_true))
    rate = DeviceRate(250.0)
    k, pending = 0, []
    while k < 60 * fs_true:
        n = int(rng.integers(1, 401))
        rate.add(1000.0 + k / fs_true + rng.uniform(-0.1, 0.1), n)
        pending.append(rate.pending)
        k += n
    assert not any(pending) and not rate.mismatch
