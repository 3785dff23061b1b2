"""Pretraining objectives beyond masked reconstruction (issue 14).

``config.objective`` (saved in every checkpoint's config.json) selects the loss that
``EncoderModel.forward`` returns during pretraining:

* ``mae`` - masked reconstruction of patches / beat tokens (``EncoderModel.forward_mae``).
* ``contrastive`` - a joint-embedding objective in the style of SimCLR / CLOCS "contrastive across
  time": two views of every window, each a random crop of ``crop_fraction`` of the window at its
  own offset (so the two views cover partly different seconds of the recording) with additive
  Gaussian noise of a random level, are encoded by the same encoder, mean-pooled over real tokens,
  passed through a small projection head and pulled together with a symmetric InfoNCE loss
  (temperature ``temperature``) against the other windows of the batch. What survives the crop and
  the noise - rhythm, rate, morphology - is what the pooled embedding is trained to keep, which
  is what a linear probe reads.
* ``mae+contrastive`` - the MAE loss plus ``contrastive_weight`` times the InfoNCE loss.

Determinism: the crop offsets and noise of step ``s`` come from the training step's generator
(seeded with ``(seed, s)`` by the pretraining loop) and are drawn for the whole global batch, like
the MAE masking noise, so a resumed run takes the same steps. Nothing here is used by
``embed_forward``: export and inference are unchanged (the projection head is dropped).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

NOISE_MAX = 0.15   # largest additive noise std, relative to the window's std


def draw_views(x: torch.Tensor, crop_fraction: float, generator=None, batch_slice=None):
    """Two augmented crops of each window: x (B, C, T) -> (v1, v2), each (B, C, Tc).

    The random numbers are drawn for the global batch ``batch_slice=(start, B_global)`` on the CPU
    and rows ``start .. start + B`` are kept (data-parallel ranks draw what one process would).
    """
    B, C, T = x.shape
    start, total = batch_slice if batch_slice is not None else (0, B)
    tc = max(1, int(T * crop_fraction))
    offsets = (torch.rand(total, 2, generator=generator) * (T - tc + 1)).long().clamp_max(T - tc)
    levels = torch.rand(total, 2, generator=generator) * NOISE_MAX
    noise = torch.randn(total, 2, C, tc, generator=generator)
    offsets, levels, noise = (a[start:start + B].to(x.device) for a in (offsets, levels, noise))
    std = x.std(dim=-1, keepdim=True)                                         # (B, C, 1)
    ar = torch.arange(tc, device=x.device)
    views = []
    for k in range(2):
        idx = (offsets[:, k, None] + ar)[:, None, :].expand(B, C, tc)           # (B, C, Tc)
        v = torch.gather(x, 2, idx)
        views.append(v + levels[:, k, None, None] * std * noise[:, k].to(x.dtype))
    return views[0], views[1]


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between row-matched projections z1, z2 (B, P) (cosine similarity)."""
    z1, z2 = F.normalize(z1.float(), dim=-1), F.normalize(z2.float(), dim=-1)
    logits = z1 @ z2.T / temperature                                          # (B, B)
    target = torch.arange(len(z1), device=z1.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def pooled(model, x: torch.Tensor, channel_idx=None) -> torch.Tensor:
    """The embedding ``embed_forward`` gives, with gradients (B, D)."""
    tok, _, _, valid = model.tokenize_masked(x, channel_idx)
    return model.pool(model._run_encoder(tok), valid)


def objective_loss(model, x: torch.Tensor, channel_idx=None, generator=None, batch_slice=None) -> dict:
    """The training loss of ``model.config.objective``: dict with ``loss``, ``mse`` (the MAE term,
    0 for ``contrastive``) and ``nce``."""
    c = model.config
    out = {}
    loss = x.new_zeros(())
    if "mae" in c.objective.split("+"):
        out = model.forward_mae(x, channel_idx, generator, batch_slice)
        loss = out["loss"]
    else:
        out["mse"] = x.new_zeros(())
    v1, v2 = draw_views(x, c.crop_fraction, generator, batch_slice)
    z1 = model.proj_head(pooled(model, v1, channel_idx))
    z2 = model.proj_head(pooled(model, v2, channel_idx))
    nce = info_nce(z1, z2, c.temperature)
    out.update(nce=nce, loss=loss + c.contrastive_weight * nce)
    return out
