"""One missing sample in one lead of a replayed record costs at most the windows that span it (task G, 74).

MIMIC 041s (16 s, III, I, V at 500 Hz) has one NaN in lead I at 8.356 s. Replay left the whole 0.1 s frame out (a
sequence gap of every lead) and the runtime restarted its windows there and at each loop: no 10 s ECG window ever,
in any pass. Now replay sends the frame split at the missing instant (a gap of that instant only) and the runtime
bridges a gap of at most 60 ms of an ECG stream, marked missing in the windows spanning it: every pass gives its
7 windows, as the record with the sample filled in does. Real replay sources, a real runtime, real sockets.
"""
import pathlib
import time

import numpy as np
import pytest

from test_streams_helpers import config, free_endpoints, running, stream_status, wait_for

MIMIC = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "wfdb" / "multi-segment" / "041s" / "041s.hea"


def _replay(path, passes: int):
    """Replay ``path`` into a runtime cutting 10 s ECG windows every 1 s, ``passes`` times round the record as
    fast as the sockets take it; the ECG stream's status and its score frames."""
    import msgpack
    import zmq

    from streams.replay import replay_sources
    from test_streams_helpers import sub_socket
    ep = free_endpoints()
    cfg = config(endpoints=ep, windows={"ecg": (10.0, 1.0)})
    with running(cfg) as rt:
        ctx = zmq.Context.instance()
        sub = sub_socket(ctx, ep.output, b"score/")
        time.sleep(0.2)   # the subscription reaches the runtime
        pubs, sources = replay_sources([path], endpoint=ep.ingest)
        try:
            (src,) = [s for s in sources if s.out.topic.endswith("/ecg")]
            src.t_start = time.time() - passes * src.samples.shape[1] / src.fs_hz   # device time in the past
            n_frames = 0
            while src.sent_n < passes * src.samples.shape[1]:
                src.send()
                n_frames += 1
            name = src.out.topic
            sent = src.out.sent
            wait_for(lambda: stream_status(rt, name).get("frames") == sent, 3.0, "every frame")
            st = wait_for(lambda: (s := stream_status(rt, name)) and s["outputs"] >= s["windows"] and s, 3.0, "scores")
            scores = []
            while sub.poll(200):
                parts = sub.recv_multipart()
                h = msgpack.unpackb(parts[1])
                if h["stream"] == name:
                    scores.append(h)
            sub.close()
            return src, st, scores
        finally:
            for p in pubs:
                p.close()


def _check(src, st, scores, passes: int, n_windows: int):
    assert st["windows"] == passes * n_windows, st   # was 0: no 10 s stretch between the NaN's gap and the loop's
    assert st["gaps"] == 2 * passes - 1 and st["missing"] == 2 * passes - 1, st   # the instant and each loop
    assert (src.skipped, getattr(src, "missing_n", None)) == (passes, passes)   # the instant only, said
    assert len(scores) == passes * n_windows
    ok = [h for h in scores if h["ok"]]
    assert len(ok) == len(scores), [h.get("missing") for h in scores]
    return [h["quality"] for h in scores]


def test_mimic_041s_with_one_missing_sample_in_lead_i_gives_every_window():
    if not MIMIC.exists():
        pytest.skip(f"{MIMIC} is absent (the shared recordings, ../shared/data): nothing to replay")
    from biosig.readers import read
    rec = read(MIMIC)
    i = rec.channels.index("I")
    assert np.flatnonzero(~np.isfinite(rec.samples[i])).tolist() == [4178] and rec.duration_s == 16.0
    src, st, scores = _replay(MIMIC, passes=2)
    _check(src, st, scores, passes=2, n_windows=7)


def test_a_synthetic_3_lead_record_with_one_nan_gives_every_window(tmp_path):
    from biosig.synthetic import simulate
    from biosig.writers import write
    two = simulate("ecg", 16.0, 3, leads=2)   # II, V5; III = II - I with I = 0.6 II (Einthoven), finite
    x = np.vstack([two.samples, 0.4 * two.samples[:1]]).astype(np.float64)
    x[1, int(8.356 * two.fs_hz)] = np.nan     # one sample lost in V5
    rec = two.replace(samples=x, channels=("II", "V5", "III"), units=("mV",) * 3)
    path = write(rec, tmp_path / "three.parquet")
    src, st, scores = _replay(path, passes=1)
    n = int(np.floor((rec.duration_s - 10.0) / 1.0)) + 1
    quality = _check(src, st, scores, passes=1, n_windows=n)
    # the bridged instant is missing data, not signal: each window (all span it) scores below the record whose
    # lost sample is filled in, by about the share of the window it is (1 of 2500 samples), never above
    full = two.replace(samples=np.vstack([two.samples, 0.4 * two.samples[:1]]), channels=rec.channels, units=rec.units)
    _, _, scores_full = _replay(write(full, tmp_path / "full.parquet"), passes=1)
    q_full = [h["quality"] for h in scores_full]
    assert len(q_full) == n and all(a < b <= a * (1 + 2e-3) for a, b in zip(quality, q_full)), (quality, q_full)
