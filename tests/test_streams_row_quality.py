"""Each lead's quality of a multi-lead ECG window is computed once (real sockets): the encoder worker
computes it, the fed leads' quality is its mean and the score thread measures the best lead with it
(before, the score thread computed every lead's again: 4 leads' quality per 2-lead window)."""
import collections
import threading

import numpy as np

from test_streams_helpers import ecg_frames, ecg_session

FS_HZ = 250.0


def test_each_leads_quality_is_computed_once_per_window(monkeypatch):
    import biosig.quality as bq
    from biosig.quality import block_quality
    from biosig.synthetic import simulate
    real = bq._channel_quality
    calls = collections.Counter()

    def counting(row, *args, **kwargs):   # the real computation, counted per thread
        calls[threading.current_thread().name] += 1
        return real(row, *args, **kwargs)

    clean = simulate("ecg", 30, seed=5, rhythm="sinus", fs_hz=FS_HZ).samples[:1]
    noisy = clean + 3.0 * clean.std() * np.random.default_rng(1).normal(size=clean.shape)
    x = np.concatenate([noisy, clean]).astype(np.float32)
    monkeypatch.setattr(bq, "_channel_quality", counting)
    scores, _, last_emb = ecg_session([ecg_frames(x, FS_HZ, 1000.0)], 5, channels=("V5", "II"))
    assert len(scores) == 5
    per_window = (calls["biosig-encoder"] + calls["biosig-scores"]) / 5
    assert per_window == 2, dict(calls)
    # the numbers are those of the leads' own quality (biosig.quality, computed here)
    w = int(10 * FS_HZ)
    last = x[:, -w:]
    q_rows = [block_quality(last[i:i + 1], FS_HZ, "ecg") for i in range(2)]
    assert scores[-1]["quality"] == max(q_rows) and scores[-1]["ok"]
    assert last_emb["quality"] == np.mean(q_rows) == block_quality(last, FS_HZ, "ecg")
