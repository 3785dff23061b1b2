"""Modality front ends: raw model input (B, C, T) -> patches (B, P, C', patch_dim).

All three use only tensor ops that ``torch.onnx.export`` takes with dynamic B and T:

* :class:`SignalPatches` (ECG, PPG): per-window, per-channel z-score, then non-overlapping
  1-D patches of ``patch_size`` samples. The channel identity is added later by the model as a
  learned embedding indexed by the channel's position in the vocabulary, so any lead subset works.
* :class:`LogMelPatches` (respiratory audio): STFT written as a strided convolution with a
  Hann-windowed DFT basis, power spectrum, a librosa mel filterbank stored as a buffer,
  ``log(mel + 1e-6)``, per-window z-score, then patches of ``patch_size`` frames x all mel bins.
* :class:`SpiroPatches` (spirograms): from volume-time (B, 1, T) derives three channels -- volume,
  flow (first difference times fs) and the flow-volume curve (flow sampled on a fixed grid of
  volume levels) -- then z-scores and patches them like :class:`SignalPatches`.
"""
from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

EPS = 1e-5


def zscore(x: torch.Tensor, dims) -> torch.Tensor:
    """(x - mean) / (std + 1e-5) over ``dims`` (population std)."""
    mean = x.mean(dim=dims, keepdim=True)
    std = (x - mean).pow(2).mean(dim=dims, keepdim=True).sqrt()
    return (x - mean) / (std + EPS)


def to_patches(x: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, T) -> (B, P, C, patch) with P = T // patch (a trailing remainder is dropped)."""
    B, C, T = x.shape
    p = T // patch
    return x[..., : p * patch].reshape(B, C, p, patch).transpose(1, 2)        # (B, P, C, patch)


def from_patches(p: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_patches`: (B, P, C, patch) -> (B, C, P * patch)."""
    B, P, C, k = p.shape
    return p.transpose(1, 2).reshape(B, C, P * k)


class SignalPatches(nn.Module):
    """ECG / PPG: z-score each channel of each window, cut into patches."""

    def __init__(self, patch_size: int):
        super().__init__()
        self.patch_size = patch_size
        self.patch_dim = patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float32 (B, C, T) at the model rate -> (B, T // patch, C, patch)."""
        return to_patches(zscore(x, dims=-1), self.patch_size)


class SpiroPatches(nn.Module):
    """Spirogram (B, C, T) with volume-time in channel 0 (the pipeline's ``flow_volume`` step
    gives volume_ml, flow_l_s; further channels are ignored) -> volume, flow and flow-volume
    channels derived in the graph, z-scored, patched."""

    n_derived = 3

    def __init__(self, patch_size: int, fs_hz: float):
        super().__init__()
        self.patch_size, self.fs_hz = patch_size, float(fs_hz)
        self.patch_dim = patch_size

    def channels(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T), volume (any unit) in channel 0 -> (B, 3, T): volume and flow in FVC units,
        flow-volume curve on a grid of T volume levels."""
        v = x[:, :1] - x[:, :1, :1]                                            # (B, 1, T)
        scale = v.amax(dim=-1, keepdim=True).clamp_min(EPS)                    # FVC proxy
        vn = v / scale                                                         # (B, 1, T)
        flow = F.pad((vn[..., 1:] - vn[..., :-1]) * self.fs_hz, (1, 0))       # (B, 1, T)
        T = x.shape[-1]
        levels = (torch.arange(T, device=x.device, dtype=x.dtype) + 0.5) / T  # (T,) volume grid
        idx = count_below(vn[:, 0], levels)                                   # (B, T)
        idx = idx.clamp_max(T - 1)
        fv = torch.gather(flow[:, 0], 1, idx)[:, None]                         # (B, 1, T)
        return torch.cat([vn, flow, fv], dim=1)                               # (B, 3, T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_patches(zscore(self.channels(x), dims=-1), self.patch_size)


class LogMelPatches(nn.Module):
    """Raw 16 kHz waveform (B, 1, T) -> log-mel patches (B, P, 1, n_mels * patch_size)."""

    def __init__(self, fs_hz: float, n_fft: int, hop_length: int, n_mels: int, fmin_hz: float,
                 fmax_hz: float, patch_size: int):
        super().__init__()
        import librosa  # the filterbank is librosa's, stored as a buffer
        self.n_fft, self.hop_length, self.n_mels, self.patch_size = n_fft, hop_length, n_mels, patch_size
        self.patch_dim = n_mels * patch_size
        fb = librosa.filters.mel(sr=fs_hz, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=fmax_hz)
        self.register_buffer("mel_fb", torch.from_numpy(fb.astype(np.float32)), persistent=False)
        n = np.arange(n_fft)
        k = np.arange(n_fft // 2 + 1)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)                     # periodic Hann
        ang = 2 * np.pi * np.outer(k, n) / n_fft                               # (K, n_fft)
        basis = np.concatenate([np.cos(ang), -np.sin(ang)]) * window           # (2K, n_fft)
        self.register_buffer("dft", torch.from_numpy(basis[:, None, :].astype(np.float32)),
                             persistent=False)

    def power_mel(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) -> mel power spectrogram (B, n_mels, 1 + T // hop), like
        ``librosa.feature.melspectrogram(center=True, pad_mode="constant", power=2)``."""
        half = self.n_fft // 2
        spec = F.conv1d(F.pad(x, (half, half)), self.dft, stride=self.hop_length)  # (B, 2K, F)
        k = spec.shape[1] // 2
        power = spec[:, :k].pow(2) + spec[:, k:].pow(2)                            # (B, K, F)
        return torch.einsum("mk,bkf->bmf", self.mel_fb, power)                     # (B, M, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logmel = zscore(torch.log(self.power_mel(x[:, :1]) + 1e-6), dims=(-2, -1))   # (B, M, F)
        B, M, Fr = logmel.shape
        p = Fr // self.patch_size
        patches = logmel[..., : p * self.patch_size].reshape(B, M, p, self.patch_size)
        return patches.permute(0, 2, 1, 3).reshape(B, p, 1, M * self.patch_size)   # (B, P, 1, M*k)


def count_below(v: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """``out[b, j] = #{t : v[b, t] < levels[j]}`` for the equispaced grid ``levels[j] = (j + 0.5) / T``.

    O(T) and plain ONNX ops (Floor, Gather, ScatterElements add, CumSum), so eager torch, ONNX
    Runtime and TensorRT share one path: each sample's bucket ``c`` (the first level above it) is
    estimated with ``floor(v T - 0.5) + 1``, corrected by exact comparisons against the same
    float32 ``levels`` (rounding moves the estimate by at most one), counted with a scatter-add and
    accumulated.  NaN samples count below no level, like the comparison they replace (the test
    oracle is the O(T^2) compare-and-count).
    """
    B, T = v.shape
    top = torch.ones_like(v) * T  # T as a tensor: float(T) would freeze the length at export
    est = v * T - 0.5
    est = torch.minimum(torch.where(torch.isnan(est), top, est).clamp_min(-1.0), top)
    c = (torch.floor(est) + 1).long().clamp_max(T)                                  # (B, T) in [0, T]
    # finite sentinels (the TorchScript exporter cannot write an inf constant); the clamps below
    # make them behave as -inf / +inf
    above = torch.cat([levels, levels[-1:] + 2.0])                                  # above[c] = level c
    below = torch.cat([levels[:1] - 2.0, levels])                                   # below[c] = level c - 1
    c = (c - (below[c] > v).long()).clamp_min(0)                                    # too high by one
    c = (c + (above[c] <= v).long()).clamp_max(T)                                   # too low by one; +inf: T
    ones = torch.ones_like(v)
    hist = torch.zeros(B, T + 1, dtype=v.dtype, device=v.device).scatter_add(1, c, ones)
    return hist.cumsum(-1)[:, :T].long()                                            # (B, T)


def sinusoid(n: int, dim: int, device=None) -> torch.Tensor:
    """Sinusoidal position table (n, dim) computed from ``arange`` (so n may be dynamic)."""
    half = dim // 2
    inv = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * (-math.log(10000.0) / half))
    ang = torch.arange(n, device=device, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([ang.sin(), ang.cos()], dim=-1)                            # (n, dim)


def build_frontend(config) -> nn.Module:
    """The front end for ``config.modality``."""
    if config.modality == "audio":
        return LogMelPatches(config.input_fs_hz, config.n_fft, config.hop_length, config.n_mels,
                             config.fmin_hz, config.fmax_hz, config.patch_size)
    if config.modality == "spiro":
        return SpiroPatches(config.patch_size, config.input_fs_hz)
    if getattr(config, "tokenizer", "patch") == "beat":   # returns (tokens, valid): encoders/beat_tokens.py
        from encoders.beat_tokens import BeatTokens
        return BeatTokens(config.modality, config.input_fs_hz, config.beat_before_s, config.beat_after_s,
                          config.beat_refractory_s, getattr(config, "pulse_detector", "relu"),
                          getattr(config, "ecg_detector", "threshold"))
    return SignalPatches(config.patch_size)
