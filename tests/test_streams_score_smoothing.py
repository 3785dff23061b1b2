"""`smoothed` on score/ frames never averages in a stale AF probability (real sockets)."""

import numpy as np

from test_streams_helpers import ecg_score_headers

FS_HZ = 250.0
SMOOTH = 5


def test_smoothed_af_ignores_values_from_before_a_run_of_withheld_windows():
    """30 s of AF, a minute of lead-off noise (every window withheld), then sinus rhythm: the first
    sinus window's `smoothed` was 0.72 (four AF values a minute old averaged in) with `ok: true`, a
    false AF alarm. Now it averages only the values among the stream's last 5 windows; through the
    noise it becomes null once no such value is left."""
    from biosig.synthetic import simulate
    af = simulate("ecg", 30, seed=4, rhythm="af", fs_hz=FS_HZ).samples[:1]
    sinus = simulate("ecg", 20, seed=5, rhythm="sinus", fs_hz=FS_HZ).samples[:1]
    noise = np.random.default_rng(0).normal(size=(1, int(60 * FS_HZ)))
    x = np.concatenate([af, noise, sinus], axis=1).astype(np.float32)
    n_windows = (x.shape[1] - int(10 * FS_HZ)) // int(FS_HZ) + 1
    frames = ecg_score_headers(x, ["II"], n_windows, window=(10.0, 1.0), timeout_s=120,
                               score_smooth_windows=SMOOTH)
    assert len(frames) == n_windows, (len(frames), n_windows)
    ends = np.array([f["window_end_s"] for f in frames])
    values = [f["heads"]["af_prob"]["value"] for f in frames]
    assert max(v for v in values[:15] if v is not None) > 0.5           # the AF part reads AF
    for i, f in enumerate(frames):                                      # the oracle, frame by frame
        recent = [v for j, v in enumerate(values[:i + 1]) if v is not None and ends[i] - ends[j] < SMOOTH - 0.5]
        out = f["heads"]["af_prob"]
        assert out["n_smoothed"] == len(recent), (i, out, recent)
        if recent:
            assert abs(out["smoothed"] - np.mean(recent)) < 1e-9, (i, out, recent)
        else:
            assert out["smoothed"] is None, (i, out)
    rel = np.array([f["window_start_s"] for f in frames]) - frames[0]["window_start_s"]   # AF 0-30 s, noise to 90 s
    sinus_frames = [f for f, r in zip(frames, rel) if r >= 90 - 0.01]
    assert sinus_frames and all(f["ok"] for f in sinus_frames)
    assert all(f["heads"]["af_prob"]["smoothed"] < 0.5 for f in sinus_frames), \
        [f["heads"]["af_prob"]["smoothed"] for f in sinus_frames]
    noise_only = [f for f, r in zip(frames, rel) if 30 - 0.01 <= r <= 80 + 0.01]
    assert len(noise_only) > SMOOTH and all(f["heads"]["af_prob"]["smoothed"] is None for f in noise_only[SMOOTH:])


def test_smoothed_restarts_when_device_time_goes_back():
    """Same session, same ScoreHost: a window ending before the last one (device clock stepped back)
    starts the average afresh instead of mixing two time bases."""
    from streams.scores import ScoreHost
    from biosig.synthetic import simulate
    host = ScoreHost(smooth_windows=3)
    ecg = simulate("ecg", 40, seed=2, rhythm="af")
    w = int(10 * ecg.fs_hz)
    hs = [host.header("b/ecg", 1, "ecg", ecg.samples[:1, a:a + w], ecg.fs_hz, 100.0 + k, 110.0 + k, hop_s=1.0)
          for k, a in enumerate((0, w, 2 * w))]
    assert [h["heads"]["af_prob"]["n_smoothed"] for h in hs] == [1, 2, 3]
    back = host.header("b/ecg", 1, "ecg", ecg.samples[:1, :w], ecg.fs_hz, 0.0, 10.0, hop_s=1.0)
    assert back["heads"]["af_prob"]["n_smoothed"] == 1
