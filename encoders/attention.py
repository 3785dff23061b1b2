"""Windowed sparse self-attention, O(N * w) in time and memory.

Tokens are split into blocks of ``w``; each block attends to itself and its two neighbouring
blocks (a band of half-width between w and 2w - 1 tokens), plus ``G`` global tokens that attend to
everything and are attended by everything. Only plain tensor ops (pad, reshape, cat, matmul,
masked_fill, softmax) are used, so ``torch.onnx.export`` and TensorRT take it with a dynamic
sequence length. :func:`dense_band_attention` is the test oracle: full attention with the same
mask written out as an (G + N, G + N) matrix.
"""
from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


def band_mask(n_tokens: int, w: int, n_global: int = 0, device=None) -> torch.Tensor:
    """Boolean (G + N, G + N) mask, True where query i may attend to key j.

    Local token i (block ``i // w``) sees local tokens of blocks ``i // w - 1 .. i // w + 1``;
    global tokens (the first ``n_global``) see and are seen by all.
    """
    blk = torch.arange(n_tokens, device=device) // w
    local = (blk[:, None] - blk[None, :]).abs() <= 1                     # (N, N)
    total = n_global + n_tokens
    mask = torch.ones(total, total, dtype=torch.bool, device=device)
    mask[n_global:, n_global:] = local
    return mask


def dense_band_attention(q, k, v, w: int, n_global: int = 0) -> torch.Tensor:
    """Oracle: dense softmax attention with :func:`band_mask`. q, k, v: (B, H, G + N, d)."""
    n = q.shape[-2] - n_global
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1])   # (B, H, L, L)
    mask = band_mask(n, w, n_global, device=q.device)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), v)             # (B, H, L, d)


def windowed_attention(q, k, v, w: int, n_global: int = 0) -> torch.Tensor:
    """Blocked local attention plus global tokens.

    Parameters
    ----------
    q, k, v : float tensors (B, H, G + N, d); the first ``n_global`` positions are global tokens.
    w : block size in tokens. Any N >= 1 works (the last block is padded and padded keys masked).
    n_global : number of global tokens G.

    Returns
    -------
    (B, H, G + N, d), equal to :func:`dense_band_attention` up to float rounding; memory and time
    are O((G + N) * (3w + G)) per head.
    """
    B, H, L, d = q.shape
    scale = 1.0 / math.sqrt(d)
    G = n_global
    qg, kg, vg = q[:, :, :G], k[:, :, :G], v[:, :, :G]                        # (B, H, G, d)
    ql, kl, vl = q[:, :, G:], k[:, :, G:], v[:, :, G:]                        # (B, H, N, d)
    n = L - G
    pad = (w - n % w) % w
    nb = (n + pad) // w
    qb = F.pad(ql, (0, 0, 0, pad)).reshape(B, H, nb, w, d)                   # (B, H, Nb, w, d)
    kb = F.pad(kl, (0, 0, w, pad + w)).reshape(B, H, nb + 2, w, d)           # (B, H, Nb+2, w, d)
    vb = F.pad(vl, (0, 0, w, pad + w)).reshape(B, H, nb + 2, w, d)
    k_nb = torch.cat([kb[:, :, :-2], kb[:, :, 1:-1], kb[:, :, 2:]], dim=3)   # (B, H, Nb, 3w, d)
    v_nb = torch.cat([vb[:, :, :-2], vb[:, :, 1:-1], vb[:, :, 2:]], dim=3)
    # key j of block b sits at local position (b - 1) * w + j; valid when inside [0, N)
    pos = (torch.arange(nb, device=q.device)[:, None] - 1) * w + torch.arange(3 * w, device=q.device)
    valid = (pos >= 0) & (pos < n)                                             # (Nb, 3w)
    # batched matmuls rather than einsum: ONNX Runtime runs MatMul directly, Einsum through
    # transposes and a generic contraction
    s_loc = torch.matmul(qb, k_nb.transpose(-1, -2)) * scale                  # (B, H, Nb, w, 3w)
    s_loc = s_loc.masked_fill(~valid[:, None, :], torch.finfo(s_loc.dtype).min)
    if G > 0:
        s_glob = torch.matmul(qb, kg.transpose(-1, -2).unsqueeze(2)) * scale   # (B, H, Nb, w, G)
        p = torch.cat([s_glob, s_loc], dim=-1).softmax(-1)                   # (B, H, Nb, w, G+3w)
        out = torch.matmul(p[..., :G], vg.unsqueeze(2)) + torch.matmul(p[..., G:], v_nb)  # (B, H, Nb, w, d)
    else:
        out = torch.matmul(s_loc.softmax(-1), v_nb)
    out = out.reshape(B, H, nb * w, d)[:, :, :n]                              # (B, H, N, d)
    if G == 0:
        return out
    s_g = torch.matmul(qg, k.transpose(-1, -2)) * scale                       # (B, H, G, G+N)
    out_g = torch.matmul(s_g.softmax(-1), v)                                  # (B, H, G, d)
    return torch.cat([out_g, out], dim=2)                                     # (B, H, G+N, d)


class WindowedSelfAttention(nn.Module):
    """Multi-head self-attention over (B, G + N, D) with :func:`windowed_attention`."""

    def __init__(self, dim: int, heads: int, window: int, n_global: int = 0):
        super().__init__()
        self.heads, self.window, self.n_global = heads, window, n_global
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        qkv = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        out = windowed_attention(qkv[0], qkv[1], qkv[2], self.window, self.n_global)  # (B, H, L, d)
        return self.proj(out.transpose(1, 2).reshape(B, L, D))                         # (B, L, D)


class Block(nn.Module):
    """Pre-norm transformer block with windowed attention."""

    def __init__(self, dim: int, heads: int, window: int, n_global: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowedSelfAttention(dim, heads, window, n_global)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
