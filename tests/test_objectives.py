"""Joint-embedding objective: InfoNCE vs a NumPy oracle, deterministic views, the objective saved
in the checkpoint, seeded determinism and exact resume of a contrastive + beat-token run."""
import json

import numpy as np
import pytest
import torch

import encoders
from biosig.cli import main
from encoders.config import get_config
from encoders.model import EncoderModel, count_parameters
from encoders.objectives import draw_views, info_nce, objective_loss

from pretrain_helpers import straight_and_resumed

SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
PPG = ["--modality", "ppg", "--synthetic", "--synthetic-records", "3", "--synthetic-seconds", "30",
       "--batch-size", "8", "--no-progress", *TINY]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_info_nce_matches_numpy_oracle():
    rng = np.random.default_rng(0)
    z1, z2 = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    tau = 0.2
    a = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    b = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    s = a @ b.T / tau

    def ce(logits):
        m = logits.max(1, keepdims=True)
        lse = np.log(np.exp(logits - m).sum(1)) + m[:, 0]
        return np.mean(lse - np.diag(logits))
    expected = 0.5 * (ce(s) + ce(s.T))
    got = info_nce(torch.from_numpy(z1), torch.from_numpy(z2), tau)
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_views_are_deterministic_crops_and_shard_like_one_process():
    x = torch.arange(2 * 1 * 100, dtype=torch.float32).reshape(2, 1, 100)
    v1, v2 = draw_views(x, 0.7, torch.Generator().manual_seed(3))
    w1, w2 = draw_views(x, 0.7, torch.Generator().manual_seed(3))
    assert torch.equal(v1, w1) and torch.equal(v2, w2) and v1.shape == (2, 1, 70)
    # a data-parallel rank with rows 1..2 of a global batch of 2 draws row 1 of the whole batch
    r1, _ = draw_views(x[1:], 0.7, torch.Generator().manual_seed(3), batch_slice=(1, 2))
    torch.testing.assert_close(r1, v1[1:])


@pytest.mark.parametrize("objective", ["contrastive", "mae+contrastive"])
@pytest.mark.parametrize("tokenizer", ["patch", "beat"])
def test_objective_loss_trains_the_encoder(objective, tokenizer):
    torch.manual_seed(0)
    m = EncoderModel(get_config("ppg-tiny", objective=objective, tokenizer=tokenizer, **SMALL))
    from biosig.synthetic import simulate
    x = torch.from_numpy(np.stack([simulate("ppg", 10, seed=s, fs_hz=125.0).samples[:, :1250]
                                   for s in range(4)]).astype(np.float32))
    out = m(x, generator=torch.Generator().manual_seed(0))
    again = objective_loss(m, x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out["loss"], again["loss"])
    if objective == "contrastive":
        assert float(out["mse"]) == 0 and torch.equal(out["loss"], out["nce"])
    else:
        assert float(out["loss"]) == pytest.approx(float(out["mse"] + out.get("amp", 0) * 0.1
                                                         + out.get("phase", 0) * 0.1 + out["nce"]), rel=1e-5)
    out["loss"].backward()
    assert m.blocks[0].attn.qkv.weight.grad.abs().sum() > 0 and m.proj_head[0].weight.grad.abs().sum() > 0
    # the projection head is training-only: not an encoder parameter
    assert count_parameters(m, encoder_only=True) < count_parameters(m)


def test_mae_recipe_unchanged_by_default():
    c = get_config("ecg-tiny")
    assert c.objective == "mae" and c.tokenizer == "patch"
    m = EncoderModel(c)
    assert not hasattr(m, "proj_head") and not hasattr(m, "pad_token")


def _weights(d):
    return torch.load(d / "weights.pt", weights_only=True)


def _losses(d):
    return [json.loads(line)["loss"] for line in (d / "metrics.jsonl").read_text().splitlines()]


NEW = ["--objective", "mae+contrastive", "--set", 'tokenizer="beat"']


def test_contrastive_run_is_seeded_and_saves_its_objective(tmp_path):
    for name in ("a", "b"):
        assert main(["pretrain", *PPG, *NEW, "--steps", "3", "--seed", "0", "--out", str(tmp_path / name)]) == 0
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    assert cfg["objective"] == "mae+contrastive" and cfg["tokenizer"] == "beat"
    assert "nce" in json.loads((tmp_path / "a" / "metrics.jsonl").read_text().splitlines()[-1])
    enc = encoders.load(tmp_path / "a")
    assert enc.config.objective == "mae+contrastive"
    emb = enc.embed(__import__("biosig.synthetic", fromlist=["simulate"]).simulate("ppg", 25, seed=9))
    assert len(emb) >= 2


@pytest.mark.slow
def test_contrastive_beat_run_resumes_exactly_after_sigkill(tmp_path):
    args = [*PPG, *NEW, "--steps", "10", "--ckpt-every", "2"]
    straight, killed = straight_and_resumed(args, tmp_path)
    a, b = _weights(straight), _weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(straight) == _losses(killed)


def test_embedding_window_is_the_training_window_unless_overridden():
    audio = encoders.load("audio-tiny")
    assert audio.window_s == 2.0 and audio.hop_s == 1.0          # trained on 2 s crops
    ecg = encoders.load("ecg-tiny")
    assert ecg.window_s == 10.0 and ecg.hop_s == 5.0             # the ECG default window and hop
    audio.window_s_override = 8.0
    assert audio.window_s == 8.0 and audio.hop_s == 4.0           # audio's default 8 s window and hop
    from biosig.synthetic import simulate
    rec = simulate("audio", 9, seed=0)
    audio.window_s_override = None
    df = audio.embed(rec)
    assert (df["t1_s"] - df["t0_s"]).to_list() == pytest.approx([2.0] * len(df)) and len(df) >= 7
