"""Recording-channel augmentation of audio views for the contrastive objectives (issue 14).

With ``modality="audio"`` and a ``contrastive`` term, each of the two views of a window
(encoders/objectives.py: crop + noise) also goes through its own random recording channel, so
the InfoNCE loss pulls together the same sound heard through two microphones / lines / codecs and
the embedding is trained to keep the sound rather than the channel. The channel is a zero-phase
magnitude response applied in the frequency domain (rfft of the whole view):

    H(f) = LP(f) * HP(f) * T(f) * prod_k P_k(f)

* LP, with probability 1/2: 1 / sqrt(1 + (f / fc)^8), fc ~ U(3000, 7500) Hz (telephone / codec
  band limit; 4th-order Butterworth magnitude);
* HP, with probability 1/2: 1 / sqrt(1 + (fh / f)^4), fh ~ U(50, 400) Hz (microphone / line
  high-pass; 2nd order);
* T: spectral tilt of s ~ U(-6, 6) dB per octave around 1 kHz, (max(f, 50) / 1000)^(s / 20 log10 2);
* P_1, P_2: resonant boosts / cuts, 10^(g / 20 * exp(-0.5 (log2(f / fp) / w)^2)),
  g ~ U(-8, 8) dB, fp log-uniform in 200 .. 6000 Hz, w ~ U(0.3, 1.5) octaves.

The random numbers are drawn for the global batch on the CPU from the step's generator (like the
crops and noise of :func:`encoders.objectives.draw_views`), so runs are seeded and resume
exactly. Training only: nothing here is exported.
"""
from __future__ import annotations

import math

import torch

N_PEAKS = 2


def draw_channels(total: int, generator=None) -> dict:
    """The random channel parameters of ``total`` views (CPU tensors of shape (total,) or
    (total, N_PEAKS))."""
    u = torch.rand(total, 4 + 3 * N_PEAKS, generator=generator, dtype=torch.float64)
    return {"lp_on": u[:, 0] < 0.5, "fc": 3000 + 4500 * u[:, 1],
            "hp_on": u[:, 2] < 0.5, "fh": 50 + 350 * u[:, 3],
            "tilt_db": -6 + 12 * torch.rand(total, generator=generator, dtype=torch.float64),
            "gain_db": -8 + 16 * u[:, 4:4 + N_PEAKS],
            "fp": 200 * (6000 / 200) ** u[:, 4 + N_PEAKS:4 + 2 * N_PEAKS],
            "width_oct": 0.3 + 1.2 * u[:, 4 + 2 * N_PEAKS:]}


def response(params: dict, f_hz: torch.Tensor) -> torch.Tensor:
    """|H(f)| (total, len(f_hz)) float64 of the channels ``params`` at frequencies ``f_hz``."""
    f = f_hz.double()[None]
    fpos = f.clamp_min(1e-3)
    h = torch.ones(len(params["fc"]), f.shape[1], dtype=torch.float64)
    lp = 1 / torch.sqrt(1 + (f / params["fc"][:, None]) ** 8)
    hp = 1 / torch.sqrt(1 + (params["fh"][:, None] / fpos) ** 4)
    h = h * torch.where(params["lp_on"][:, None], lp, 1.0) * torch.where(params["hp_on"][:, None], hp, 1.0)
    h = h * (f.clamp_min(50.0) / 1000.0) ** (params["tilt_db"][:, None] / (20 * math.log10(2)))
    for k in range(params["gain_db"].shape[1]):
        z = torch.log2(fpos / params["fp"][:, k, None]) / params["width_oct"][:, k, None]
        h = h * 10 ** (params["gain_db"][:, k, None] / 20 * torch.exp(-0.5 * z ** 2))
    return h


def channel_augment(v: torch.Tensor, fs_hz: float, generator=None, batch_slice=None) -> torch.Tensor:
    """Views v (B, C, T) through random recording channels (see the module docstring); rows
    ``start .. start + B`` of a global batch ``batch_slice=(start, B_global)``."""
    B, C, T = v.shape
    start, total = batch_slice if batch_slice is not None else (0, B)
    params = {k: a[start:start + B] for k, a in draw_channels(total, generator).items()}
    f = torch.fft.rfftfreq(T, d=1.0 / fs_hz, dtype=torch.float64)
    h = response(params, f).to(v.device, v.dtype)                               # (B, K)
    return torch.fft.irfft(torch.fft.rfft(v, dim=-1) * h[:, None, :], n=T, dim=-1)
