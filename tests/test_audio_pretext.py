"""benchmarks/audio_pretext.py: the held-out synthetic scene windows and their content targets, and
the nested-CV ridge R^2 (a linear signal column scores high, a noise column does not)."""
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_cv_r2_separates_signal_from_noise_and_is_grouped():
    from audio_pretext import cv_r2
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    groups = np.repeat(np.arange(24), 5)
    Y = np.stack([X @ rng.standard_normal(6) + 0.3 * rng.standard_normal(120), rng.standard_normal(120),
                  np.repeat(rng.standard_normal(24), 5)], 1)        # column 2: a per-record constant
    got = cv_r2(X, Y, groups)
    assert got[0] > 0.8 and got[1] < 0.1
    # a record's identity cannot be predicted for unseen records (grouped folds)
    assert got[2] < 0.1


def test_held_out_windows_have_content_targets_from_the_scene_truth():
    import encoders
    from audio_pretext import held_out_windows
    enc = encoders.load("audio-tiny")
    x, groups, content, chans = held_out_windows(enc.config, enc.pipeline, 2, 5.0, seed=900)
    assert x.shape == (8, 1, 32000) and list(groups) == [0] * 4 + [1] * 4
    assert content.shape == (8, 3) and (content[:, 1] >= content[:, 2]).all()    # voiced part of the cough cover
    assert ((content[:, 1] >= 0) & (content[:, 1] <= 1)).all() and content[:, 0].sum() > 0
    assert len(set(chans[:4])) == 1


def test_held_out_lung_windows_have_targets_from_the_auscultation_truth():
    import encoders
    from audio_pretext import held_out_lung_windows, record_auroc
    enc = encoders.load("audio-tiny")
    x, groups, content, labels = held_out_lung_windows(enc.config, enc.pipeline, 6, 5.0, seed=900)
    assert x.shape == (24, 1, 32000) and content.shape == (24, 3) and labels.shape == (6,)
    assert ((content[:, 0] >= 0) & (content[:, 0] <= 1)).all() and set(np.unique(content[:, 2])) <= {0.0, 1.0}
    # a window with a wheeze or a crackle holds an adventitious sound
    assert (content[(content[:, 0] > 0) | (content[:, 1] > 0), 2] == 1).all()
    # records without any adventitious sound have none in their windows
    for g in np.flatnonzero(labels == 0):
        assert (content[groups == g, 2] == 0).all()
    # the record AUROC of an embedding that is the label itself is 1
    lab = np.array([0, 1] * 5)
    emb = np.repeat(lab[:, None].astype(float), 2, 0) + 0.01 * np.random.default_rng(0).standard_normal((20, 1))
    assert record_auroc(emb, np.repeat(np.arange(10), 2), lab, folds=2) == 1.0
