"""A bed's PPG pulse rate about twice its ECG heart rate is withheld (streams/bed_rates.py): alone and
through a real runtime on loopback."""

import time

import numpy as np
import pytest

from streams.bed_rates import MAX_AGE_S, REASON, BedRates
from streams.protocol import bed_of, source_of
from test_streams_helpers import config, running, sub_socket, wait_for

# --- the module alone -------------------------------------------------------------------------------------------


def test_bed_of_and_source_of():
    assert bed_of("bed01/ppg") == "bed01" == source_of("bed01/ppg")
    assert bed_of("bed01/ppg/2") == "bed01" == source_of("bed01/ppg/2")
    assert bed_of("ppg") is None and bed_of("/ppg") is None and bed_of("bed01/") is None
    assert source_of("ppg") == "ppg"   # (its own source: quotas, forecasters)


@pytest.mark.parametrize("ratio, withheld", [(2.0, True), (1.8, True), (2.2, True), (1.79, False), (2.21, False),
                                             (1.0, False), (1.3, False), (0.7, False), (0.5, False), (3.0, False)])
def test_ppg_withheld_only_near_twice_the_ecg_rate(ratio, withheld):
    """1.8-2.2 x the ECG rate (ends included) is withheld; a rate near the ECG's, a LOWER one (an AF
    pulse deficit) or three times it are not."""
    b = BedRates()
    b.note_ecg("bed01/ecg", 1, 100.0, 62.5)
    assert b.ppg_reason("bed01/ppg", 101.0, 62.5 * ratio) == (REASON if withheld else None)


def test_no_ecg_at_the_bed_or_another_beds_ecg():
    b = BedRates()
    assert b.ppg_reason("bed01/ppg", 100.0, 120.0) is None
    b.note_ecg("bed02/ecg", 1, 100.0, 60.0)
    assert b.ppg_reason("bed01/ppg", 100.0, 120.0) is None
    assert b.ppg_reason("bed02/ppg", 100.0, 120.0) == REASON
    b.note_ecg("ecg", 1, 100.0, 60.0)        # no source: no bed
    assert b.ppg_reason("ppg", 100.0, 120.0) is None


def test_an_old_ecg_rate_is_not_used():
    b = BedRates()
    b.note_ecg("bed01/ecg", 1, 100.0, 60.0)
    assert b.ppg_reason("bed01/ppg", 100.0 + MAX_AGE_S, 120.0) == REASON
    assert b.ppg_reason("bed01/ppg", 100.0 + MAX_AGE_S + 0.5, 120.0) is None
    assert b.ppg_reason("bed01/ppg", 100.0 - MAX_AGE_S + 1.0, 120.0) == REASON   # the ECG a little ahead


def test_a_withheld_ecg_window_leaves_no_rate_until_the_next_ok_one():
    b = BedRates()
    b.note_ecg("bed01/ecg", 1, 100.0, 60.0)
    b.note_ecg("bed01/ecg", 1, 101.0, None)                 # the ECG's newest window withheld
    assert b.ppg_reason("bed01/ppg", 101.0, 120.0) is None
    for bad in (float("nan"), 0.0, -60.0):
        b.note_ecg("bed01/ecg", 1, 102.0, bad)
        assert b.ppg_reason("bed01/ppg", 102.0, 120.0) is None
    b.note_ecg("bed01/ecg", 1, 103.0, 60.0)
    assert b.ppg_reason("bed01/ppg", 103.0, 120.0) == REASON
    for bad in (None, float("nan"), 0.0):                   # a PPG window without a rate: nothing to judge
        assert b.ppg_reason("bed01/ppg", 103.0, bad) is None


def test_a_new_ecg_session_or_time_base_replaces_the_old_rate():
    b = BedRates()
    b.note_ecg("bed01/ecg", 1, 1000.0, 60.0)
    b.note_ecg("bed01/ecg", 2, 5.0, 100.0)                  # reconnected: a new session on a new time base
    assert b.ppg_reason("bed01/ppg", 1000.0, 120.0) is None
    assert b.ppg_reason("bed01/ppg", 6.0, 200.0) == REASON
    assert b.ppg_reason("bed01/ppg", 6.0, 120.0) is None


def test_any_of_a_beds_ecg_streams_counts():
    b = BedRates()
    b.note_ecg("bed01/ecg", 1, 100.0, 60.0)
    b.note_ecg("bed01/ecg_holter", 1, 100.0, 90.0)
    assert b.ppg_reason("bed01/ppg", 100.0, 180.0) == REASON
    assert b.ppg_reason("bed01/ppg", 100.0, 120.0) == REASON
    assert b.ppg_reason("bed01/ppg", 100.0, 90.0) is None


# --- through a runtime ------------------------------------------------------------------------------------------

ECG_HZ, PPG_HZ, SECONDS, WINDOW = 250.0, 125.0, 10, (6.0, 2.0)


def _pulse_wave(period_s: float, seed: int) -> np.ndarray:
    """(1, n) PPG: a two-log-normal pulse every ``period_s`` (biosig.synthetic_pulse) plus a little noise.
    A period of half the heartbeat's is what a PPG with a reflected wave as tall as its pulse, half a
    period later, looks like to a pulse detector."""
    from biosig.synthetic_pulse import ppg_from_pulse_beats
    rng = np.random.default_rng(seed)
    n = int(SECONDS * PPG_HZ)
    x = ppg_from_pulse_beats(np.arange(-1.0, SECONDS + 1.0, period_s), n, PPG_HZ, rng) + 0.02 * rng.normal(size=n)
    return x[None].astype(np.float32)


def _bed_scores(ppg: np.ndarray) -> tuple[list[dict], list[dict]]:
    """Send a 60/min ECG, then ``ppg``, as ``bed01/ecg`` and ``bed01/ppg`` (1 s frames, contiguous device time
    ending now) to a model-less runtime over real sockets; the score headers of each stream."""
    import msgpack
    import zmq

    from biosig.synthetic import simulate
    from streams import protocol
    from test_streams_helpers import push_socket
    ecg = simulate("ecg", SECONDS, seed=3, heart_rate_bpm=60, fs_hz=ECG_HZ).samples[:1].astype(np.float32)
    n_win = int((SECONDS - WINDOW[0]) / WINDOW[1]) + 1
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": WINDOW, "ppg": WINDOW})) as rt:
            sub = sub_socket(ctx, rt.bound.output, b"score/bed01/")
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.2)   # the subscription reaches the PUB socket
            frames = {"bed01/ecg": [], "bed01/ppg": []}
            t0 = time.time() - SECONDS
            for name, x, fs, modality in (("bed01/ecg", ecg, ECG_HZ, "ecg"), ("bed01/ppg", ppg, PPG_HZ, "ppg")):
                for seq, i in enumerate(range(0, x.shape[1], int(fs))):
                    h = protocol.signal_header(name, seq, 1, t0 + i / fs, fs, ["c0"], ["mV"], modality)
                    push.send_multipart(protocol.encode(name, h, x[:, i:i + int(fs)]))

                def got(name=name):   # this stream's windows all scored (the ECG's before the PPG is sent)
                    while sub.poll(20):
                        f = msgpack.unpackb(sub.recv_multipart()[1])
                        frames[f["stream"]].append(f)
                    return len(frames[name]) >= n_win
                wait_for(got, timeout_s=10.0, what=f"{n_win} score frames of {name}")
            sub.close()
            push.close()
            return frames["bed01/ecg"], frames["bed01/ppg"]
    finally:
        ctx.destroy(linger=0)


def test_runtime_withholds_a_ppg_rate_twice_the_beds_ecg_rate():
    from biosig.measures_window import window_measures
    ppg = _pulse_wave(0.5, seed=1)
    oracle = window_measures(ppg[:, -int(WINDOW[0] * PPG_HZ):], PPG_HZ, "ppg")   # what the PPG alone would read
    assert oracle["ok"] and 110 < oracle["hr_bpm"] < 130, oracle
    ecg, ppg_frames = _bed_scores(ppg)
    assert ecg and all(f["ok"] and 55 < f["measures"]["hr_bpm"] < 65 for f in ecg), [f.get("missing") for f in ecg]
    assert ppg_frames and all(not f["ok"] and f["missing"] == REASON for f in ppg_frames), ppg_frames
    assert all(v is None for f in ppg_frames for v in f["measures"].values())
    assert all(out["value"] is None for f in ppg_frames for out in f["heads"].values())


def test_runtime_publishes_a_ppg_rate_at_the_ecg_rate():
    ecg, ppg_frames = _bed_scores(_pulse_wave(1.0, seed=1))
    assert ecg and all(f["ok"] for f in ecg)
    assert ppg_frames and all(f["ok"] and 55 < f["measures"]["hr_bpm"] < 65 for f in ppg_frames), \
        [(f.get("missing"), f["measures"].get("hr_bpm")) for f in ppg_frames]
