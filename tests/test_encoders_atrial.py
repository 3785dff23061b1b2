"""Issue 14, fourth round: atrial-activity descriptors (descriptor set ``atrial``), synthetic ECG
with P waves and rhythms whose irregularity and atrial activity vary independently, the
``--synthetic-rhythm-atrial`` flag and ``--init-from`` across descriptor sets. Descriptors vs the
NumPy oracle and vs signals with known P waves / f-waves; the 13-descriptor ``v1`` set (the shipped
ecg-tiny) unchanged."""
import json

import numpy as np
import pytest
import torch

import encoders
from biosig.cli import main
from biosig.synthetic_af import ecg_from_beats
from encoder_helpers import SMALL, TINY, random_beat_tokens
from encoders.config import get_config
from encoders.data import ATRIAL_KINDS, synthetic_atrial_records, synthetic_rhythm_records
from encoders.descriptors import ATRIAL_NAMES, DESCRIPTOR_SETS, N_DESC, compute, n_desc
from encoders.descriptors_twin import descriptors_numpy
from encoders.errors import EncoderError
from encoders.model import EncoderModel

FS, BEFORE, R = 250.0, 62, 62
ALL = DESCRIPTOR_SETS["atrial"]

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _model(**kw):
    return EncoderModel(get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors", **SMALL, **kw))


def _random_tokens(counts, C=2, K=40, L=174, seed=0):
    return random_beat_tokens(counts, L, C, K, seed)


def test_atrial_descriptors_match_numpy_oracle_and_v1_is_unchanged():
    tok, valid = _random_tokens([0, 1, 2, 3, 6, 17, 40])
    t, v = torch.from_numpy(tok), torch.from_numpy(valid)
    got = compute(t, v, FS, BEFORE, R, "atrial").numpy()
    want = descriptors_numpy(tok, valid, FS, BEFORE, R, "atrial")
    assert got.shape == (7, N_DESC + 4) == (7, n_desc("atrial")) and np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    v1 = compute(t, v, FS, BEFORE, R).numpy()
    assert v1.shape == (7, N_DESC) and np.array_equal(v1, compute(t, v, FS, BEFORE, R, "v1").numpy())
    np.testing.assert_array_equal(got[:, :N_DESC], v1)                  # the first 13 are the v1 set
    tok2 = tok.copy()
    tok2[~valid] = 50.0                                                  # pad slots never count
    np.testing.assert_allclose(compute(torch.from_numpy(tok2), v, FS, BEFORE, R, "atrial").numpy(), got,
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="descriptor set"):
        compute(t, v, FS, BEFORE, R, "v9")


def test_ecg_from_beats_p_waves_are_additive_and_where_expected():
    beats = np.arange(-1.0, 12.0, 0.8)
    a = ecg_from_beats(beats, 2500, FS, 2, np.random.default_rng(0))
    b = ecg_from_beats(beats, 2500, FS, 2, np.random.default_rng(0), p_wave_mv=0.0)
    assert np.array_equal(a, b)                                          # default: the AF model, bit-identical
    c = ecg_from_beats(beats, 2500, FS, 2, np.random.default_rng(0), p_wave_mv=0.2, pr_s=0.16, p_width_s=0.025)
    d = c - a
    k = int(round((beats[5] - 0.16) * FS))
    assert d[0, k] == pytest.approx(0.2, abs=1e-3) and d[1, k] == pytest.approx(0.2, abs=1e-3)
    assert np.abs(d[:, int(round(beats[5] * FS))]).max() < 1e-3          # nothing at the R peak


def test_atrial_descriptors_see_p_waves_and_f_waves_through_the_tokenizer():
    """The same irregular beat times, with a P wave before every beat vs no P wave + f-waves:
    P-wave consistency high vs low, f-wave band fraction lower on average, P-peak timing stable vs not;
    the rhythm descriptors are the same."""
    m = _model(descriptor_set="atrial")
    rng = np.random.default_rng(4)
    rows = []
    for k in range(4):
        beats = np.cumsum(np.concatenate([[-0.5], 0.8 * (1 + 0.15 * rng.standard_normal(20))]))
        rows.append(ecg_from_beats(beats, 2500, FS, 1, np.random.default_rng(k), fwave_mv=0.0, p_wave_mv=0.15)[0])
        rows.append(ecg_from_beats(beats, 2500, FS, 1, np.random.default_rng(k), fwave_mv=0.08)[0])
    x = torch.from_numpy(np.stack(rows).astype(np.float32))[:, None]
    tok, valid = m.frontend(x)
    d = compute(tok, valid, FS, m.frontend.before, m.frontend.r, "atrial").numpy()
    p, af = d[0::2], d[1::2]
    i = {n: ALL.index(n) for n in ("irregularity", *ATRIAL_NAMES)}
    np.testing.assert_allclose(p[:, i["irregularity"]], af[:, i["irregularity"]], atol=0.02)
    assert p[:, i["p_consistency"]].min() > 0.9 and af[:, i["p_consistency"]].max() < 0.6
    assert p[:, i["fwave_band_frac"]].mean() < af[:, i["fwave_band_frac"]].mean()   # a weaker cue (T waves
    # of short intervals reach into the atrial segment and into the band)
    assert p[:, i["p_peak_std_s"]].max() < af[:, i["p_peak_std_s"]].min()
    # P wave 0.15 mV over a QRS of R 1 mV and S -0.25 mV (peak-to-peak about 1.2 mV); f-waves 2 x 0.08 mV
    np.testing.assert_allclose(p[:, i["p_amp_rel"]], 0.15 / 1.2, atol=0.01)
    np.testing.assert_allclose(af[:, i["p_amp_rel"]], 0.16 / 1.2, atol=0.015)


def test_synthetic_atrial_records_vary_rhythm_and_atrial_activity_independently():
    a = list(synthetic_atrial_records(8, 30.0, seed=0))
    b = list(synthetic_rhythm_records(8, 30.0, seed=0, atrial=True))
    assert [s for s, _ in a] == [s for s, _ in b] and all(np.array_equal(x.samples, y.samples) for (_, x), (_, y) in zip(a, b))
    old = list(synthetic_rhythm_records(2, 30.0, seed=0))
    assert old[0][0].startswith("synthetic:ecg-rhythm:") and a[0][0].startswith("synthetic:ecg-atrial:")
    m = _model(descriptor_set="atrial")
    x = torch.from_numpy(np.stack([r.samples[:, :2500] for _, r in a]))
    tok, valid = m.frontend(x)
    d = compute(tok, valid, FS, m.frontend.before, m.frontend.r, "atrial").numpy()
    kinds = np.array([ATRIAL_KINDS[i % 4] for i in range(8)])
    irr, pc = d[:, ALL.index("irregularity")], d[:, ALL.index("p_consistency")]
    irregular = np.char.startswith(kinds, "irregular")
    with_p = np.char.endswith(kinds, "+P")
    assert irr[irregular].min() > irr[~irregular].max()
    assert pc[with_p].mean() > pc[~with_p].mean() + 0.2
    with pytest.raises(EncoderError, match="atrial rhythm kind"):
        from encoders.data import atrial_rhythm_beats
        atrial_rhythm_beats("sinus", 10.0, np.random.default_rng(0))


def test_descriptor_set_config_and_head_width():
    assert get_config("ecg-tiny").descriptor_set == "v1"
    with pytest.raises(EncoderError, match="descriptor_set"):
        get_config("ecg-tiny", descriptor_set="p-waves")
    assert _model().desc_head.linear.out_features == N_DESC
    assert _model(descriptor_set="atrial").desc_head.linear.out_features == N_DESC + 4
    enc = encoders.load("ecg-tiny")                                      # shipped checkpoint: its set
    assert enc.config.descriptor_set in DESCRIPTOR_SETS


def test_atrial_run_from_a_v1_checkpoint_keeps_the_encoder_and_starts_a_fresh_head(tmp_path):
    base = ["--modality", "ecg", "--synthetic-rhythm-records", "4", "--synthetic-rhythm-atrial",
            "--synthetic-seconds", "30", "--batch-size", "8", "--hop-s", "10", "--no-progress", *TINY,
            "--objective", "mae+descriptors", "--set", 'tokenizer="beat"', "--set", 'pool="mean+std"']
    assert main(["pretrain", *base, "--steps", "2", "--out", str(tmp_path / "v1")]) == 0
    meta = json.loads((tmp_path / "v1" / "meta.json").read_text())
    assert meta["train_config"]["synthetic_rhythm_atrial"] is True and meta["n_sources"] == 4
    assert main(["pretrain", *base, "--steps", "1", "--lr", "1e-12", "--set", 'descriptor_set="atrial"',
                 "--init-from", str(tmp_path / "v1"), "--out", str(tmp_path / "atrial")]) == 0
    a = torch.load(tmp_path / "v1" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "atrial" / "weights.pt", weights_only=True)
    assert b["desc_head.linear.weight"].shape == (N_DESC + 4, 32) and float(b["desc_head.count"]) == 8
    enc_keys = [k for k in a if not k.startswith(("desc_head.", "dec_", "mask_token"))]
    assert enc_keys and all(torch.allclose(a[k], b[k], atol=1e-6) for k in enc_keys)   # lr ~0: encoder kept
    assert json.loads((tmp_path / "atrial" / "config.json").read_text())["descriptor_set"] == "atrial"


def test_eval_probe_atrial_task_matches_rr_model_across_classes():
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from eval_probe import synthetic_atrial_ecg
    recs, y = synthetic_atrial_ecg(n_per_class=3, seconds=12.0)
    recs2, y2 = synthetic_atrial_ecg(n_per_class=3, seconds=12.0)
    assert y.tolist() == [1, 0] * 3 == y2.tolist()
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(recs, recs2))
    assert recs[0].samples.shape == (1, 3000) and recs[0].fs_hz == 250.0
