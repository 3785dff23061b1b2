"""Masked-autoencoder objective: argsort masking, spans, cross-modal masking, loss on masked only."""
import pytest
import torch

import encoders

TINY = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_depth=1, decoder_heads=2)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _model(name="ecg-tiny", **kw):
    torch.manual_seed(0)
    return encoders.create_model(name, **{**TINY, **kw})


def test_mask_ratio_and_restore_order():
    m = _model(mask_ratio=0.75)
    x = torch.randn(3, 2, 2500)
    latent, target, mask, ids_restore, token_ids = m.forward_encoder(x)
    N = 100 * 2
    assert mask.shape == (3, N) and int(mask.sum(1)[0]) == N - int(N * 0.25)
    assert latent.shape == (3, m.config.n_global + int(N * 0.25), 32)
    # restoring the unshuffled order: visible tokens first (in positional order) then masked ones
    ids_all = torch.argsort(ids_restore, dim=1)
    keep = int(N * 0.25)
    assert (mask.gather(1, ids_all[:, :keep]) == 0).all()
    assert (mask.gather(1, ids_all[:, keep:]) == 1).all()
    assert (ids_all[:, :keep].diff(dim=1) > 0).all()  # visible tokens kept in positional order


def test_loss_counts_masked_patches_only():
    m = _model()
    x = torch.randn(2, 1, 2500)
    out = m(x)
    pred = out["pred"].detach().requires_grad_(True)
    loss = m.forward_loss(out["target"], pred, out["mask"], 1)["mse"]
    (grad,) = torch.autograd.grad(loss, pred)
    visible = out["mask"] == 0
    assert grad[visible].abs().max() == 0
    assert grad[~visible].abs().max() > 0
    expected = ((pred - out["target"]) ** 2).mean(-1)[~visible].mean()
    torch.testing.assert_close(loss, expected)


def test_span_mode_masks_contiguous_runs():
    m = _model(mask_mode="span", span_patches=10, mask_ratio=0.5)
    _, _, mask, _, _ = m.forward_encoder(torch.randn(4, 1, 2500))
    # 100 patches in spans of 10: each span is all-masked or all-kept except at most one cut span
    spans = mask.reshape(4, 10, 10)
    mixed = ((spans.sum(-1) > 0) & (spans.sum(-1) < 10)).sum(-1)
    assert (mixed <= 1).all()
    r = _model(mask_mode="random", mask_ratio=0.5)
    _, _, mask_r, _, _ = r.forward_encoder(torch.randn(4, 1, 2500))
    mixed_r = ((mask_r.reshape(4, 10, 10).sum(-1) % 10) != 0).sum(-1)
    assert (mixed_r > 1).all()


def test_cross_modal_ppg_always_masked():
    m = _model(cross_modal=("PPG",), mask_ratio=0.3)
    ppg = m.config.channels.index("PPG")
    x = torch.randn(2, 2, 2500)
    _, _, mask, _, token_ids = m.forward_encoder(x, torch.tensor([1, ppg]))
    assert token_ids.shape == mask.shape
    assert (mask[token_ids == ppg] == 1).all()
    assert (mask[token_ids == 1] == 0).any()
    # per-sample channel ids (B, C): the second sample has no PPG, so nothing is forced there
    ids = torch.tensor([[1, ppg], [1, 6]])
    _, _, mask2, _, tid2 = m.forward_encoder(x, ids)
    assert (mask2[0][tid2[0] == ppg] == 1).all() and (mask2[1] == 0).any()
    out = m(x, torch.tensor([1, ppg]))
    assert torch.isfinite(out["loss"])


def test_spectral_term_is_finite_and_differentiable():
    m = _model(spectral_loss_weight=0.5)
    out = m(torch.randn(2, 1, 2500))
    assert {"amp", "phase"} <= set(out) and torch.isfinite(out["loss"])
    torch.testing.assert_close(out["loss"], out["mse"] + 0.5 * (out["amp"] + out["phase"]))
    out["loss"].backward()
    assert m.patch_embed.weight.grad.abs().sum() > 0
    # a perfect reconstruction has zero spectral error
    t = out["target"].detach()
    zero = m.forward_loss(t, t.clone(), out["mask"], 1)
    assert zero["amp"] < 1e-6 and zero["phase"] < 1e-4 and zero["mse"] == 0


@pytest.mark.parametrize("name", ["ecg-tiny", "ppg-tiny", "audio-tiny", "spiro-tiny"])
def test_a_few_steps_reduce_loss_on_a_fixed_batch(name):
    m = _model(name)
    c = m.config
    T = c.hop_length * 32 if c.modality == "audio" else min(c.window_samples, 1000)
    t = torch.arange(T) / c.input_fs_hz
    x = (torch.sin(2 * torch.pi * 1.3 * t) + 0.3 * torch.sin(2 * torch.pi * 7.1 * t))[None, None].repeat(4, 1, 1)
    if c.modality == "audio":
        x = torch.sin(2 * torch.pi * 440 * t * (1 + t))[None, None].repeat(4, 1, 1)
    if c.modality == "spiro":
        x = (1 - torch.exp(-t / 0.7))[None, None].repeat(4, 1, 1)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(20):
        g.manual_seed(0)  # same mask every step: a fixed objective
        loss = m(x, generator=g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
