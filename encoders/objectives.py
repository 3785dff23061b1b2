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
* ``clocs`` - contrastive across time within a recording (CLOCS, Kiyasseh et al. 2021, "CMSC"):
  the positive of a window is *another* window of the same recording (drawn by the pretraining
  loop, :func:`pair_indices`), both whole windows with additive noise; windows of the same
  recording are left out of each other's negatives. What is the same all through one recording
  and differs between recordings - the rhythm (regular or irregularly irregular), rate, beat
  morphology - is what the embedding is trained to keep; the exact content of one window is not.
* ``mae+clocs`` - the MAE loss plus ``contrastive_weight`` times the CLOCS InfoNCE loss.
* ``descriptors`` / ``mae+descriptors`` / ``mae+contrastive+descriptors`` - knowledge-guided pretext
  regression (PaPaGei-style): a training-only linear head on the pooled embedding of the whole
  window predicts standardised rhythm (RR mean/std, RMSSD, pNN50, irregularity, turning points,
  beat rate) and morphology (P-region and T-region energy, QRS energy fraction, beat-to-template
  correlation) descriptors computed from the window's own beat tokens (encoders/descriptors.py),
  times ``descriptor_weight``, added to the other terms. A linear head means a linear probe can read
  the same quantities from the embedding. For ``modality="audio"`` the descriptors are spectral and
  envelope statistics of the window (coarse log-mel band mean/std, spectral centroid, flatness and
  roll-off, RMS envelope and zero-crossing rate; encoders/audio_descriptors.py). With
  ``modality="audio"`` the two contrastive views also pass through two random recording channels
  (band limits, tilt, resonances; encoders/audio_augment.py), so that the channel is not what
  the InfoNCE term can use to match them.

Determinism: the crop offsets and noise of step ``s`` come from the training step's generator
(seeded with ``(seed, s)`` by the pretraining loop) and are drawn for the whole global batch, like
the MAE masking noise, so a resumed run takes the same steps. Nothing here is used by
``embed_forward``: export and inference are unchanged (the projection head is dropped).
"""
from __future__ import annotations

import numpy as np
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


def pair_indices(groups: np.ndarray, idx: np.ndarray, seed: int, step: int) -> np.ndarray:
    """For each window ``idx[i]``, another window of the same group (recording), uniformly drawn
    by a generator seeded with ``(seed, step)``; itself only when its recording has one window.
    ``groups`` (N,) int recording id of every training window."""
    groups = np.asarray(groups)
    order = np.argsort(groups, kind="stable")                                # windows by group
    counts = np.bincount(groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(groups), dtype=np.int64)
    rank[order] = np.arange(len(groups)) - starts[groups[order]]             # position within group
    g = groups[idx]
    u = np.random.default_rng([seed, step, 7]).random(len(idx))
    n_other = counts[g] - 1
    k = np.minimum((u * n_other).astype(np.int64), np.maximum(n_other - 1, 0))
    k = np.where(n_other > 0, k + (k >= rank[idx]), rank[idx])                # skip itself
    return order[starts[g] + k]


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float, groups=None) -> torch.Tensor:
    """Symmetric InfoNCE between row-matched projections z1, z2 (B, P) (cosine similarity).
    ``groups`` (B,): rows of the same group are not negatives of each other."""
    z1, z2 = F.normalize(z1.float(), dim=-1), F.normalize(z2.float(), dim=-1)
    logits = z1 @ z2.T / temperature                                          # (B, B)
    if groups is not None:
        same = (groups[:, None] == groups[None, :]) & ~torch.eye(len(z1), dtype=torch.bool, device=z1.device)
        logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(z1), device=z1.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def pooled(model, x: torch.Tensor, channel_idx=None) -> torch.Tensor:
    """The embedding ``embed_forward`` gives, with gradients (B, D)."""
    tok, _, _, valid = model.tokenize_masked(x, channel_idx)
    return model.pool(model._run_encoder(tok), valid)


def add_noise(x: torch.Tensor, generator=None, batch_slice=None) -> torch.Tensor:
    """x (B, C, T) plus Gaussian noise of a random level (up to NOISE_MAX of each window's std),
    drawn for the global batch like :func:`draw_views`."""
    B, C, T = x.shape
    start, total = batch_slice if batch_slice is not None else (0, B)
    levels = (torch.rand(total, generator=generator) * NOISE_MAX)[start:start + B].to(x.device)
    noise = torch.randn(total, C, T, generator=generator)[start:start + B].to(x.device, x.dtype)
    return x + levels[:, None, None] * x.std(dim=-1, keepdim=True) * noise


def reconstructs(objective: str) -> bool:
    """Whether ``objective`` (``"mae+contrastive"``, ``"clocs"``, ...) has the masked-reconstruction term: only then
    does ``metrics.jsonl`` hold an ``mse`` (a contrastive run logged ``"mse": 0.0``, which read as a perfect
    reconstruction); like ``nce`` and ``desc``, a term the objective lacks is absent."""
    return "mae" in objective.split("+")


def objective_loss(model, x: torch.Tensor, channel_idx=None, generator=None, batch_slice=None, pair=None) -> dict:
    """The training loss of ``model.config.objective``: dict with ``loss``, ``mse`` (the MAE term,
    0 without MAE, and then not logged: :func:`reconstructs`), ``nce`` (with a contrastive term) and ``desc`` (with the descriptor term).
    ``pair`` = (x2, channel_idx2, groups) for ``clocs``."""
    c = model.config
    parts = c.objective.split("+")
    out = {}
    loss = x.new_zeros(())
    if "mae" in parts:
        out = model.forward_mae(x, channel_idx, generator, batch_slice)
        loss = out["loss"]
    else:
        out["mse"] = x.new_zeros(())
    if "contrastive" in parts or "clocs" in parts:
        groups, ci2 = None, channel_idx
        if "clocs" in parts:
            if pair is None:
                raise ValueError("the clocs objective needs pair=(x2, channel_idx2, groups)")
            x2, ci2, groups = pair
            v1, v2 = add_noise(x, generator, batch_slice), add_noise(x2, generator, batch_slice)
        else:
            v1, v2 = draw_views(x, c.crop_fraction, generator, batch_slice)
            if c.modality == "audio":   # each view through its own recording channel (encoders/audio_augment.py)
                from encoders.audio_augment import channel_augment
                v1 = channel_augment(v1, c.input_fs_hz, generator, batch_slice)
                v2 = channel_augment(v2, c.input_fs_hz, generator, batch_slice)
        z1 = model.proj_head(pooled(model, v1, channel_idx))
        z2 = model.proj_head(pooled(model, v2, ci2))
        nce = info_nce(z1, z2, c.temperature, groups)
        out["nce"] = nce
        loss = loss + c.contrastive_weight * nce
    if "descriptors" in parts:
        desc = descriptor_loss(model, x, channel_idx, generator, batch_slice)
        out["desc"] = desc
        loss = loss + c.descriptor_weight * desc
    out["loss"] = loss
    return out


def descriptor_loss(model, x: torch.Tensor, channel_idx=None, generator=None, batch_slice=None) -> torch.Tensor:
    """Mean squared error of the linear descriptor head on the pooled embedding of the whole window
    against the standardised descriptors of its beat tokens (encoders/descriptors.py); the running
    statistics take in the batch when the model is training. With ``descriptor_noise`` > 0 the
    embedding is that of the window plus acquisition noise (encoders/acquisition_noise.py) and the
    targets stay those of the clean window. With ``descriptor_flip`` > 0 that input is also
    sign-flipped with this probability per window (:func:`polarity_signs`); the targets are those of
    the window as recorded."""
    c = model.config
    tok, patches, _, valid = model.tokenize_masked(x, channel_idx)
    xn = x
    if c.descriptor_noise > 0:
        from encoders.acquisition_noise import acquisition_noise
        xn = acquisition_noise(x, c.input_fs_hz, c.descriptor_noise, generator, batch_slice)
    if c.descriptor_flip > 0:
        xn = xn * polarity_signs(x.shape[0], c.descriptor_flip, generator, batch_slice).to(x.device, x.dtype)
    if xn is not x:
        tok_n, _, _, valid_n = model.tokenize_masked(xn, channel_idx)
        emb = model.pool(model._run_encoder(tok_n), valid_n)                  # (B, D), altered input
    else:
        emb = model.pool(model._run_encoder(tok), valid)                      # (B, D)
    fe = model.frontend
    if c.modality == "audio":   # spectral / envelope descriptors (encoders/audio_descriptors.py)
        from encoders.audio_descriptors import compute as compute_audio
        d = compute_audio(fe, x, c.descriptor_set)
    elif c.modality == "spiro":   # blow-shape descriptors (encoders/spiro_descriptors.py)
        from encoders.spiro_descriptors import compute as compute_spiro
        d = compute_spiro(x, c.input_fs_hz)
    else:
        from encoders.descriptors import compute
        B, N, pd = patches.shape
        C = x.shape[1]                                                        # beat tokens: (B, K, C) slots
        d = compute(patches.reshape(B, N // C, C, pd), valid.reshape(B, N // C, C),
                    fe.fs_hz, fe.before, fe.r, c.descriptor_set)              # (B, n_desc), clean window
    target = model.desc_head.standardise(d, update=model.training)
    pred = model.desc_head(emb.float())                                       # (B, N_DESC)
    return (pred - target).pow(2).mean()


def polarity_signs(batch: int, p_flip: float, generator=None, batch_slice=None) -> torch.Tensor:
    """(B, 1, 1) of -1 (probability ``p_flip``) or +1, one per window, drawn for the global batch
    ``batch_slice=(start, B_global)`` on the CPU from the step's generator (rows start .. start + B
    kept), like :func:`encoders.acquisition_noise.acquisition_noise`: ranks and resumed runs agree."""
    start, total = batch_slice if batch_slice is not None else (0, batch)
    u = torch.rand(total, generator=generator)[start:start + batch]
    return torch.where(u < p_flip, -1.0, 1.0)[:, None, None]
