"""Issue 14, third round: knowledge-guided pretext targets (``*+descriptors`` objectives).
Descriptors vs a NumPy oracle and vs the known RR series of a synthetic pulse train, pad slots
excluded with variable beat counts, exact running statistics, seeded determinism, exact resume
after SIGKILL, ONNX parity (the head is training-only) and the config checks."""
import json
import sys

import numpy as np
import pytest
import torch

import encoders
from biosig.cli import main
from biosig.synthetic import simulate
from encoders.config import get_config
from encoders.descriptors import CLIP, LOG_FLOORS, N_DESC, NAMES, DescriptorHead, compute
from encoders.descriptors_twin import descriptors_numpy
from encoders.errors import EncoderError
from encoders.model import EncoderModel, count_parameters
from encoders.objectives import objective_loss

from conftest import ROOT
from pretrain_helpers import straight_and_resumed

SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
ECG = ["--modality", "ecg", "--synthetic", "--synthetic-records", "3", "--synthetic-seconds", "40",
       "--batch-size", "8", "--hop-s", "5", "--no-progress", *TINY,
       "--objective", "mae+descriptors", "--set", 'tokenizer="beat"', "--set", 'pool="mean+std"']
FS, BEFORE, R = 250.0, 62, 62


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _tokens(beat_times, K=40, C=1, L=174, seed=0):
    """Hand-built beat tokens: per (window, channel) a list of beat times (s) in slot order; the
    interval features as BeatTokens.rhythm writes them, random morphology, pad slots random junk."""
    rng = np.random.default_rng(seed)
    B = len(beat_times)
    tok = rng.standard_normal((B, K, C, L + 6)).astype(np.float32) * 3     # junk everywhere
    valid = np.zeros((B, K, C), bool)
    for b, per_ch in enumerate(beat_times):
        for c, times in enumerate(per_ch):
            slots = np.sort(rng.choice(K, size=len(times), replace=False))
            for j, (k, t) in enumerate(zip(slots, times)):
                valid[b, k, c] = True
                prev = times[j] - times[j - 1] if j else 0.0
                nxt = times[j + 1] - times[j] if j + 1 < len(times) else 0.0
                tok[b, k, c, L:L + 4] = [prev, nxt, float(j > 0), float(j + 1 < len(times))]
    return tok, valid


def test_descriptors_match_numpy_oracle_with_variable_beat_counts_and_channels():
    rng = np.random.default_rng(1)
    windows = []
    for n in (0, 1, 2, 3, 5, 12, 25, 40):   # no beat, one beat (no interval), ..., every slot a beat
        windows.append([np.cumsum(rng.uniform(0.3, 1.2, size=n)), np.cumsum(rng.uniform(0.4, 0.9, size=max(n - 1, 0)))])
    tok, valid = _tokens(windows, C=2)
    got = compute(torch.from_numpy(tok), torch.from_numpy(valid), FS, BEFORE, R).numpy()
    want = descriptors_numpy(tok, valid, FS, BEFORE, R)
    assert got.shape == (8, N_DESC) and np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # pad slots are excluded: changing what they hold changes nothing
    tok2 = tok.copy()
    tok2[~valid] = 100.0
    again = compute(torch.from_numpy(tok2), torch.from_numpy(valid), FS, BEFORE, R).numpy()
    np.testing.assert_allclose(again, got, rtol=1e-6, atol=1e-6)


def test_rhythm_descriptors_of_a_known_rr_series():
    rr = np.array([0.8, 0.6, 0.9, 0.7, 0.7, 1.0])
    tok, valid = _tokens([[np.concatenate([[0.1], 0.1 + np.cumsum(rr)])]])
    d = dict(zip(NAMES, compute(torch.from_numpy(tok), torch.from_numpy(valid), FS, BEFORE, R)[0].tolist()))
    dd = np.diff(rr)                                  # -0.2, 0.3, -0.2, 0, 0.3
    assert d["beat_rate_hz"] == pytest.approx(7 / (40 * R / FS), rel=1e-6)
    assert d["mean_rr_s"] == pytest.approx(rr.mean(), abs=1e-6)
    assert d["std_rr_s"] == pytest.approx(rr.std(), abs=1e-6)
    assert d["rmssd_s"] == pytest.approx(np.sqrt(np.mean(dd ** 2)), abs=1e-6)
    assert d["pnn50"] == pytest.approx(4 / 5)
    assert d["irregularity"] == pytest.approx(0.2 / 0.75, abs=1e-6)   # median |dRR| / median RR
    assert d["turning_points"] == pytest.approx(2 / 4)                # sign changes -+, +-, (-0), (0+)


def test_descriptors_of_a_real_tokenizer_on_a_pulse_train_with_known_beats():
    """Gaussian QRS-like spikes at known times through the model's own beat tokenizer: the rhythm
    descriptors equal those of the true RR series to the sample resolution."""
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors", **SMALL))
    rng = np.random.default_rng(3)
    t = np.arange(2500) / FS
    rows, truths = [], []
    for irregular in (False, True):
        rr = rng.uniform(0.4, 1.1, 14) if irregular else np.full(14, 0.75)
        beats = 0.4 + np.concatenate([[0], np.cumsum(rr)])
        beats = beats[beats < 9.6]
        x = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in beats) + 0.01 * rng.standard_normal(len(t))
        rows.append(x.astype(np.float32))
        truths.append(np.diff(beats))
    x = torch.from_numpy(np.stack(rows))[:, None]
    tok, valid = m.frontend(x)
    d = compute(tok, valid, m.frontend.fs_hz, m.frontend.before, m.frontend.r).numpy()
    for row, rr in zip(d, truths):
        dd = np.diff(rr)
        assert row[1] == pytest.approx(rr.mean(), abs=0.005)
        assert row[2] == pytest.approx(rr.std(), abs=0.005)
        assert row[3] == pytest.approx(np.sqrt(np.mean(dd ** 2)), abs=0.008)
        assert row[4] == pytest.approx(np.mean(np.abs(dd) > 0.05), abs=0.15)
    assert d[1, 5] > 5 * d[0, 5] + 0.05                                      # irregular >> regular
    assert d[0, 10] > 0.95                                                  # identical beats


def test_running_statistics_are_exact_and_targets_clipped():
    rng = np.random.default_rng(0)
    head = DescriptorHead(8).double()
    batches = [rng.standard_normal((n, N_DESC)) * rng.uniform(0.1, 5, N_DESC) + 3 for n in (7, 16, 5)]
    for bt in batches:
        z = head.standardise(torch.from_numpy(bt), update=True)
    batches = [bt.copy() for bt in batches]
    for bt in batches:   # the scale descriptors are standardised on a log scale
        for i, floor in LOG_FLOORS.items():
            bt[:, i] = np.log(np.maximum(bt[:, i], 0) + floor)
    allv = np.concatenate(batches)
    np.testing.assert_allclose(head.mean.numpy(), allv.mean(0), rtol=1e-10)
    np.testing.assert_allclose((head.m2 / head.count).numpy(), allv.var(0), rtol=1e-8)
    want = np.clip((batches[-1] - allv.mean(0)) / allv.std(0), -CLIP, CLIP)
    np.testing.assert_allclose(z.numpy(), want, rtol=1e-8)
    n = float(head.count)
    head.standardise(torch.from_numpy(batches[0]), update=False)                # eval: no update
    assert float(head.count) == n
    assert {"count", "mean", "m2"} <= {k.split(".")[-1] for k in head.state_dict()}   # saved


@pytest.mark.parametrize("objective", ["descriptors", "mae+descriptors", "mae+contrastive+descriptors"])
def test_descriptor_objective_trains_encoder_and_head(objective):
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", objective=objective, tokenizer="beat", pool="mean+std", **SMALL))
    x = torch.from_numpy(np.stack([simulate("ecg", 12, seed=s, fs_hz=250.0, heart_rate_bpm=hr).samples[:1, :2500]
                                   for s, hr in enumerate((50, 70, 100, 130))]))
    out = m(x, generator=torch.Generator().manual_seed(0))
    assert float(m.desc_head.count) == 4
    # beat tokens: the MAE term is the masked-token MSE (no spectral term); weights 1
    terms = sum(float(out[k].detach()) for k in ("mse", "nce", "desc") if k in out)
    assert ("nce" in out) == ("contrastive" in objective) and (float(out["mse"]) > 0) == ("mae" in objective)
    assert float(out["loss"]) == pytest.approx(terms, rel=1e-5)
    out["loss"].backward()
    assert m.blocks[0].attn.qkv.weight.grad.abs().sum() > 0 and m.desc_head.linear.weight.grad.abs().sum() > 0
    assert count_parameters(m, encoder_only=True) < count_parameters(m)       # the head is training-only
    # weight 0 removes the term from the loss (the term itself is still reported)
    m0 = EncoderModel(get_config("ecg-tiny", objective="descriptors", tokenizer="beat", descriptor_weight=0.0, **SMALL))
    out0 = objective_loss(m0, x, generator=torch.Generator().manual_seed(0))
    assert float(out0["loss"]) == 0.0 and float(out0["desc"]) > 0


def test_config_errors_and_defaults():
    with pytest.raises(EncoderError, match="beat tokenizer"):
        get_config("ecg-tiny", objective="mae+descriptors")
    with pytest.raises(EncoderError, match="descriptor_weight"):
        get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors", descriptor_weight=-1.0)
    assert get_config("ecg-tiny").objective == "mae"
    assert not hasattr(EncoderModel(get_config("ecg-tiny", tokenizer="beat", objective="mae+contrastive", **SMALL)),
                        "desc_head")


def test_onnx_parity_descriptor_model_variable_beat_counts(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from encoders.export import export_onnx
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", pool="mean+std", objective="mae+descriptors",
                                **SMALL))
    x = np.stack([simulate("ecg", 12, seed=i, fs_hz=250.0, heart_rate_bpm=hr).samples[0, :2500]
                  for i, hr in enumerate((50, 80, 140))]).astype(np.float32)[:, None]
    m(torch.from_numpy(x), generator=torch.Generator().manual_seed(0))      # statistics are not exported
    m.eval()
    export_onnx(m, tmp_path / "desc.onnx")
    sess = ort.InferenceSession(str(tmp_path / "desc.onnx"), providers=["CPUExecutionProvider"])
    for T in (2500, 1900):
        xt = np.ascontiguousarray(x[..., :T])
        assert len(set(m.frontend(torch.from_numpy(xt))[1].sum((1, 2)).tolist())) > 1
        idx = np.full((3, 1), 12, np.int64)
        got = sess.run(None, {"x": xt, "channel_idx": idx})[0]
        with torch.no_grad():
            ref = m.embed_forward(torch.from_numpy(xt), torch.from_numpy(idx)).numpy()
        assert got.shape == (3, 32) and np.abs(got - ref).max() <= 1e-4


def _weights(d):
    return torch.load(d / "weights.pt", weights_only=True)


def _metrics(d):
    return [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]


def test_descriptor_run_is_seeded_and_saves_its_config(tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main(["pretrain", *ECG, "--steps", "3", "--seed", seed, "--out", str(tmp_path / name)]) == 0
    a, b, c = (_weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a) and not all(torch.equal(a[k], c[k]) for k in a)
    la = [(r["loss"], r["desc"]) for r in _metrics(tmp_path / "a")]
    assert la == [(r["loss"], r["desc"]) for r in _metrics(tmp_path / "b")]
    assert float(a["desc_head.count"]) == 3 * 8
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    assert cfg["objective"] == "mae+descriptors" and cfg["descriptor_weight"] == 1.0
    enc = encoders.load(tmp_path / "a")
    emb = enc.embed(simulate("ecg", 25, seed=9))
    assert len(emb) >= 2 and len(emb["embedding"][0]) == 32


@pytest.mark.slow
def test_descriptor_run_resumes_exactly_after_sigkill(tmp_path):
    args = [*ECG, "--steps", "10", "--ckpt-every", "2"]
    straight, killed = straight_and_resumed(args, tmp_path)
    a, b = _weights(straight), _weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)                          # includes the running statistics
    assert [(r["loss"], r["desc"]) for r in _metrics(straight)] == [(r["loss"], r["desc"]) for r in _metrics(killed)]


def test_synthetic_rhythm_records_vary_rhythm_not_morphology():
    from encoders.data import synthetic_rhythm_records
    a = list(synthetic_rhythm_records(6, 30.0, seed=0))
    b = list(synthetic_rhythm_records(6, 30.0, seed=0))
    assert [s for s, _ in a] == [s for s, _ in b] and all(np.array_equal(x.samples, y.samples) for (_, x), (_, y) in zip(a, b))
    assert a[0][1].samples.shape == (1, 7500) and a[0][1].fs_hz == 250.0
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors", **SMALL))
    x = torch.from_numpy(np.stack([r.samples[:, :2500] for _, r in a]))
    tok, valid = m.frontend(x)
    d = compute(tok, valid, m.frontend.fs_hz, m.frontend.before, m.frontend.r).numpy()
    irr = d[:, NAMES.index("irregularity")]
    assert irr[1::2].min() > irr[0::2].max()          # odd records irregular, even records regular
    assert d[:, NAMES.index("template_corr_mean")].min() > 0.8                 # one beat model (plus noise)


def test_synthetic_rhythm_records_need_ecg_or_ppg(tmp_path, capsys):
    rc = main(["pretrain", "--modality", "audio", "--synthetic-rhythm-records", "2", "--steps", "1",
               "--no-progress", *TINY, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "needs --modality ecg" in err and "Traceback" not in err


def test_eval_pretext_ridge_r2_matches_sklearn():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from eval_pretext import ridge_r2
    from sklearn.linear_model import Ridge
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    Y = np.stack([X @ rng.standard_normal(5) + 0.3 * rng.standard_normal(60), rng.standard_normal(60)], 1)
    groups = np.repeat(np.arange(12), 5)
    got = ridge_r2(X, Y, groups, alpha=0.1)
    f = np.array([i % 5 for i in range(12)])[groups]
    pred = np.zeros_like(Y)
    for i in range(5):
        tr, te = f != i, f == i
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
        pred[te] = Ridge(alpha=0.1 * tr.sum()).fit((X[tr] - mu) / sd, Y[tr]).predict((X[te] - mu) / sd)
    want = 1 - ((Y - pred) ** 2).sum(0) / ((Y - Y.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[0] > 0.8 and got[1] < 0.1                                    # signal vs noise column
