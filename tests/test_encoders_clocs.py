"""Issue 14, second round: CLOCS-style contrastive across time (pairs from one recording),
statistics pooling (mean + std over real beat tokens), the rhythm-weighted masked-beat loss.
NumPy oracles, determinism and exact resume of a clocs run, ONNX parity with variable beat counts."""
import json

import numpy as np
import pytest
import torch

import encoders
from biosig.cli import main
from biosig.synthetic import simulate
from encoders.beat_tokens import N_RHYTHM
from encoders.config import get_config
from encoders.errors import EncoderError
from encoders.model import EncoderModel
from encoders.objectives import info_nce, pair_indices

from pretrain_helpers import straight_and_resumed

SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
ECG = ["--modality", "ecg", "--synthetic", "--synthetic-records", "3", "--synthetic-seconds", "40",
       "--batch-size", "8", "--hop-s", "5", "--no-progress", *TINY,
       "--objective", "mae+clocs", "--set", 'tokenizer="beat"', "--set", 'pool="mean+std"',
       "--set", "rhythm_loss_weight=1.0"]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _ecg(hr, seed, seconds=10.0, fs=250.0):
    r = simulate("ecg", seconds + 2, seed=seed, fs_hz=fs, heart_rate_bpm=hr)
    return r.samples[0, : int(seconds * fs)].astype(np.float32)


def test_pair_indices_same_recording_never_itself_and_seeded():
    groups = np.array([0, 0, 0, 1, 2, 2, 1, 0, 3])          # recording 3 has one window
    idx = np.arange(len(groups))
    seen = {i: set() for i in idx}
    for step in range(200):
        p = pair_indices(groups, idx, seed=5, step=step)
        assert (groups[p] == groups[idx]).all()
        assert (p[idx != 8] != idx[idx != 8]).all() and p[8] == 8
        for i, j in zip(idx, p):
            seen[i].add(int(j))
    assert seen[0] == {1, 2, 7} and seen[3] == {6} and seen[4] == {5}   # every other window, uniformly drawn
    assert np.array_equal(pair_indices(groups, idx, 5, 3), pair_indices(groups, idx, 5, 3))
    assert not all(np.array_equal(pair_indices(groups, idx, 5, k), pair_indices(groups, idx, 6, k))
                   for k in range(10))


def test_info_nce_with_groups_matches_numpy_oracle():
    rng = np.random.default_rng(1)
    z1, z2 = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    groups = np.array([0, 1, 0, 2, 1, 3])
    tau = 0.3
    a = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    b = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    s = a @ b.T / tau
    drop = (groups[:, None] == groups[None, :]) & ~np.eye(6, dtype=bool)

    def ce(logits):   # cross-entropy with the same-recording negatives left out
        out = []
        for i in range(6):
            keep = ~drop[i]
            row = logits[i, keep]
            out.append(np.log(np.exp(row).sum()) - logits[i, i])
        return np.mean(out)
    expected = 0.5 * (ce(s) + ce(s.T))
    got = info_nce(torch.from_numpy(z1), torch.from_numpy(z2), tau, torch.from_numpy(groups))
    assert float(got) == pytest.approx(expected, rel=1e-6)
    assert float(got) != pytest.approx(float(info_nce(torch.from_numpy(z1), torch.from_numpy(z2), tau)), rel=1e-3)


def test_statistics_pooling_matches_numpy_and_keeps_dim():
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", pool="mean+std", **SMALL)).eval()
    G = m.config.n_global
    h = torch.randn(2, G + 7, 32)
    valid = torch.tensor([[1, 1, 0, 1, 1, 0, 1], [1, 0, 0, 0, 1, 1, 0]], dtype=torch.bool)
    with torch.no_grad():
        got = m.pool(h, valid).numpy()
        u = m.pool_proj(h[:, G:]).numpy()
    for b in range(2):
        real = u[b][valid[b].numpy()]
        ref = np.concatenate([real[:, :16].mean(0), np.sqrt(real[:, 16:].var(0) + 1e-6)])
        np.testing.assert_allclose(got[b], ref, rtol=1e-5, atol=1e-6)
    x = torch.from_numpy(np.stack([_ecg(60, 0), _ecg(130, 1)]))[:, None]
    with torch.no_grad():
        assert m.embed_forward(x).shape == (2, 32)
        assert torch.isfinite(m.embed_forward(torch.zeros(1, 1, 2500))).all()   # no beat at all


def test_std_pooling_sees_rhythm_irregularity_that_the_mean_averages_out():
    """Two token sets with the same mean but different spread: the mean pool cannot tell them
    apart, the statistics pool can (what a linear probe of AF needs)."""
    torch.manual_seed(0)
    G = 2
    base = torch.randn(1, 1, 32)
    spread = torch.randn(1, 8, 32)
    spread = spread - spread.mean(1, keepdim=True)
    regular = torch.cat([torch.zeros(1, G, 32), base.expand(1, 8, 32)], 1)
    irregular = torch.cat([torch.zeros(1, G, 32), base + spread], 1)
    mean_m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", **SMALL))
    stat_m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", pool="mean+std", **SMALL))
    with torch.no_grad():
        torch.testing.assert_close(mean_m.pool(regular), mean_m.pool(irregular))
        assert (stat_m.pool(irregular) - stat_m.pool(regular))[0, 16:].abs().min() > 1e-3


def test_rhythm_weighted_mae_loss_against_numpy():
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", rhythm_loss_weight=2.0, **SMALL))
    x = torch.from_numpy(np.stack([_ecg(hr, seed=i) for i, hr in enumerate((55, 140))]))[:, None]
    out = m(x, generator=torch.Generator().manual_seed(2))
    _, valid = m.frontend(x)
    w = (out["mask"] * valid.reshape(2, -1).float()).numpy()
    d = (out["pred"] - out["target"]).detach().numpy()
    mse = ((d ** 2).mean(-1) * w).sum() / w.sum()
    rhythm = ((d[..., -N_RHYTHM:] ** 2).mean(-1) * w).sum() / w.sum()
    assert float(out["mse"]) == pytest.approx(mse, rel=1e-5)
    assert float(out["loss"]) == pytest.approx(mse + 2.0 * rhythm, rel=1e-5)


@pytest.mark.parametrize("objective", ["clocs", "mae+clocs"])
def test_clocs_loss_deterministic_and_trains_encoder(objective):
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", pool="mean+std", objective=objective, **SMALL))
    x = torch.from_numpy(np.stack([_ecg(hr, seed=i) for i, hr in enumerate((55, 80, 110, 140))]))[:, None]
    x2 = torch.from_numpy(np.stack([_ecg(hr, seed=10 + i) for i, hr in enumerate((55, 80, 110, 140))]))[:, None]
    pair = (x2, None, torch.tensor([0, 1, 2, 0]))
    a = m(x, generator=torch.Generator().manual_seed(0), pair=pair)
    b = m(x, generator=torch.Generator().manual_seed(0), pair=pair)
    assert torch.equal(a["loss"], b["loss"])
    if objective == "clocs":
        assert float(a["mse"]) == 0 and torch.equal(a["loss"], a["nce"])
    a["loss"].backward()
    assert m.pool_proj.weight.grad.abs().sum() > 0 and m.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pair"):
        m(x, generator=torch.Generator().manual_seed(0))


def test_config_errors():
    with pytest.raises(EncoderError, match="unknown pool"):
        get_config("ecg-tiny", pool="max")
    with pytest.raises(EncoderError, match="unknown objective"):
        get_config("ecg-tiny", objective="byol")
    with pytest.raises(EncoderError, match="rhythm_loss_weight"):
        get_config("ecg-tiny", rhythm_loss_weight=-1.0)
    assert get_config("ecg-tiny").pool == "mean"                    # the default recipe is unchanged


def test_onnx_parity_statistics_pooling_variable_beat_counts(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from encoders.export import export_onnx
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", pool="mean+std", objective="mae+clocs",
                                **SMALL)).eval()
    export_onnx(m, tmp_path / "stat.onnx")
    sess = ort.InferenceSession(str(tmp_path / "stat.onnx"), providers=["CPUExecutionProvider"])
    x = np.stack([_ecg(hr, seed=i) for i, hr in enumerate((50, 80, 140))])[:, None]
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


def _losses(d):
    return [json.loads(line)["loss"] for line in (d / "metrics.jsonl").read_text().splitlines()]


def test_clocs_run_is_seeded_and_saves_its_config(tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main(["pretrain", *ECG, "--steps", "3", "--seed", seed, "--out", str(tmp_path / name)]) == 0
    a, b, c = (_weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a) and not all(torch.equal(a[k], c[k]) for k in a)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    assert cfg["objective"] == "mae+clocs" and cfg["pool"] == "mean+std" and cfg["rhythm_loss_weight"] == 1.0
    enc = encoders.load(tmp_path / "a")
    emb = enc.embed(simulate("ecg", 25, seed=9))
    assert len(emb) >= 2 and len(emb["embedding"][0]) == 32


@pytest.mark.slow
def test_clocs_run_resumes_exactly_after_sigkill(tmp_path):
    args = [*ECG, "--steps", "10", "--ckpt-every", "2"]
    straight, killed = straight_and_resumed(args, tmp_path)
    a, b = _weights(straight), _weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(straight) == _losses(killed)
