"""A multi-lead ECG stream is scored on one lead, gated on that lead's quality (real sockets)."""

import numpy as np
import pytest

from test_streams_helpers import ecg_score_headers

FS_HZ = 250.0


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
    frames = ecg_score_headers(x, ["V5", "II"], 5)
    assert len(frames) == 5, len(frames)
    for f in frames:
        assert f["ok"], f
        truth = window_measures(clean[:, :w], FS_HZ, "ecg")
        assert f["measures"]["sdnn_ms"] < 30.0, f["measures"]
        assert abs(f["measures"]["hr_bpm"] - truth["hr_bpm"]) < 2.0, f["measures"]
        assert f["quality"] >= f["min_quality"]
