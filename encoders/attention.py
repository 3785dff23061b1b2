"""Windowed sparse self-attention, O(N * w) in time and memory.

Tokens are split into blocks of ``w``; each block attends to itself and its two neighbouring
blocks (a band of half-width between w and 2w - 1 tokens), plus ``G`` global tokens that attend to
everything and are attended by everything. Only plain tensor ops (pad, reshape, cat, matmul,
masked_fill, softmax) are used, so ``torch.onnx.export`` and TensorRT take it with a dynamic
sequence length. :func:`dense_band_attention` is the test oracle: full attention with the same
mask written out as an (G + N, G + N) matrix.

One public function, :func:`windowed_attention`, and one mask definition (:func:`band_mask` for
dense kernels, :func:`band_mask_mod` for FlexAttention: the same predicate); the kernels behind it
are private choices:

``blocked``  the blocked-matmul form below: any device and dtype, O(N * w) memory, the only
             kernel used inside ONNX / TorchScript / torch.export tracing (plain ops, dynamic N).
``sdpa``     ``F.scaled_dot_product_attention`` with the boolean (L, L) band mask: dense, so
             O(L^2) memory, but one fused kernel; wins on CUDA for short sequences.
``flex``     FlexAttention (``torch.nn.attention.flex_attention``) with a block mask from
             ``create_block_mask`` over :func:`band_mask_mod`: sparse blocks are skipped, so
             O(N * w) work; compiled with ``torch.compile`` on CUDA. On CPU it runs eagerly
             (a dense reference implementation: correct, slow; used by the tests only).

Selection (:func:`select_kernel`): the ``kernel`` argument, else ``$BIOSIG_ATTN_KERNEL``, else the
model's ``EncoderConfig.attn_kernel``; ``auto`` (the default) picks ``blocked`` on CPU and while
exporting, and on CUDA ``sdpa`` up to :data:`SDPA_MAX_TOKENS` tokens and ``flex`` above (``blocked``
if FlexAttention is unavailable).
"""
from __future__ import annotations

import functools
import logging
import math
import os
import warnings

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

KERNELS = ("auto", "blocked", "sdpa", "flex")
ENV_KERNEL = "BIOSIG_ATTN_KERNEL"
# On CUDA, dense SDPA with the band mask beats the sparse kernels up to about this many tokens
# (issue 15, H200: SDPA 0.066 ms vs blocked 1.05 ms at 1k tokens; FlexAttention wins at 16k).
SDPA_MAX_TOKENS = 2048


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


def band_mask_mod(w: int, n_global: int):
    """The :func:`band_mask` predicate as a FlexAttention ``mask_mod(b, h, q_idx, kv_idx)``."""
    def mask_mod(b, h, q_idx, kv_idx):
        local = ((q_idx - n_global) // w - (kv_idx - n_global) // w).abs() <= 1
        return (q_idx < n_global) | (kv_idx < n_global) | local
    return mask_mod


def _exporting() -> bool:
    """True while torch.onnx / TorchScript / torch.export trace the model."""
    if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export():
        return True
    is_exporting = getattr(getattr(torch, "compiler", None), "is_exporting", None)
    return bool(is_exporting and is_exporting())


@functools.lru_cache(maxsize=1)
def _have_flex() -> bool:
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention  # noqa: F401
    except ImportError:
        return False
    return True


def select_kernel(q: torch.Tensor, kernel: str | None = None) -> str:
    """The kernel :func:`windowed_attention` runs for ``q`` (B, H, L, d).

    Precedence: ``kernel`` (the argument, or the model config's ``attn_kernel``) when it is not
    ``auto``/None, else ``$BIOSIG_ATTN_KERNEL``, else ``auto``. Export tracing always gets
    ``blocked`` (the only kernel made of plain ONNX ops with a dynamic length).
    """
    if _exporting():
        return "blocked"
    choice = kernel if kernel not in (None, "auto") else (os.environ.get(ENV_KERNEL) or "auto")
    if choice not in KERNELS:
        raise ValueError(f"unknown attention kernel {choice!r}; expected one of {', '.join(KERNELS)}")
    if choice == "flex" and not _have_flex():
        raise ValueError("attention kernel 'flex' needs torch.nn.attention.flex_attention (torch >= 2.5)")
    if choice == "flex" and q.device.type != "cuda" and q.requires_grad and torch.is_grad_enabled():
        raise ValueError(f"FlexAttention has no backward on {q.device.type}; use kernel 'blocked' or 'sdpa' "
                         "for training there")
    if choice != "auto":
        return choice
    if q.device.type != "cuda":
        return "blocked"
    if q.shape[-2] <= SDPA_MAX_TOKENS:
        return "sdpa"
    return "flex" if _have_flex() else "blocked"


def windowed_attention(q, k, v, w: int, n_global: int = 0, *, kernel: str | None = None) -> torch.Tensor:
    """Local attention in blocks of ``w`` tokens (each block sees itself and its two neighbours)
    plus ``n_global`` global tokens; the mask of :func:`band_mask`.

    Parameters
    ----------
    q, k, v : float tensors (B, H, G + N, d); the first ``n_global`` positions are global tokens.
    w : block size in tokens. Any N >= 1 works.
    n_global : number of global tokens G.
    kernel : ``auto`` (default), ``blocked``, ``sdpa`` or ``flex``; see the module docstring and
        :func:`select_kernel` (``$BIOSIG_ATTN_KERNEL`` overrides ``auto``).

    Returns
    -------
    (B, H, G + N, d), equal to :func:`dense_band_attention` up to float rounding whatever the kernel.
    """
    chosen = select_kernel(q, kernel)
    if chosen == "sdpa":
        return _sdpa_attention(q, k, v, w, n_global)
    if chosen == "flex":
        return _flex_attention(q, k, v, w, n_global)
    return _blocked_attention(q, k, v, w, n_global)


@functools.lru_cache(maxsize=16)
def _cached_band_mask(n_tokens: int, w: int, n_global: int, device: torch.device) -> torch.Tensor:
    return band_mask(n_tokens, w, n_global, device=device)


def _sdpa_attention(q, k, v, w: int, n_global: int) -> torch.Tensor:
    """Dense fused SDPA with the boolean band mask (True = attend); O(L^2) memory."""
    mask = _cached_band_mask(q.shape[-2] - n_global, w, n_global, q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@functools.lru_cache(maxsize=16)
def _block_mask(length: int, w: int, n_global: int, device: torch.device):
    from torch.nn.attention.flex_attention import create_block_mask
    # On CUDA the mask is built by a compiled kernel block by block (_compile=True), not from a
    # materialised (L, L) boolean matrix (4 GB at 64k tokens).
    return create_block_mask(band_mask_mod(w, n_global), None, None, length, length, device=device,
                             _compile=device.type == "cuda")


@functools.lru_cache(maxsize=1)
def _compiled_flex():
    # Default dynamic mode: the first length compiles statically, a second length recompiles with
    # a symbolic length (dynamic=False would recompile per length and, past the recompile limit,
    # fall back to eager FlexAttention, a dense reference implementation).
    from torch.nn.attention.flex_attention import flex_attention
    return torch.compile(flex_attention)


def _flex_attention(q, k, v, w: int, n_global: int) -> torch.Tensor:
    """FlexAttention with the band + global block mask: compiled on CUDA, eager elsewhere."""
    from torch.nn.attention.flex_attention import flex_attention
    block_mask = _block_mask(q.shape[-2], w, n_global, q.device)
    if q.device.type == "cuda":
        return _compiled_flex()(q, k, v, block_mask=block_mask)
    with warnings.catch_warnings():  # "flex_attention called without torch.compile()": intended on CPU
        warnings.simplefilter("ignore")
        return flex_attention(q, k, v, block_mask=block_mask)


def _blocked_attention(q, k, v, w: int, n_global: int = 0) -> torch.Tensor:
    """Blocked-matmul kernel; memory and time O((G + N) * (3w + G)) per head."""
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

    def __init__(self, dim: int, heads: int, window: int, n_global: int = 0, kernel: str = "auto"):
        super().__init__()
        self.heads, self.window, self.n_global, self.kernel = heads, window, n_global, kernel
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        qkv = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        out = windowed_attention(qkv[0], qkv[1], qkv[2], self.window, self.n_global,
                                 kernel=self.kernel)                                  # (B, H, L, d)
        return self.proj(out.transpose(1, 2).reshape(B, L, D))                         # (B, L, D)


class Block(nn.Module):
    """Pre-norm transformer block with windowed attention."""

    def __init__(self, dim: int, heads: int, window: int, n_global: int, mlp_ratio: float = 4.0,
                 kernel: str = "auto"):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowedSelfAttention(dim, heads, window, n_global, kernel)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
