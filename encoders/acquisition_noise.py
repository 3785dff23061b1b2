"""Acquisition noise for the descriptor term (issue 14): what a handheld single-lead ECG or a
finger PPG adds to the signal that a Holter in a lab does not.

``acquisition_noise(x, fs_hz, level_max, ...)`` returns ``x`` plus three independent parts, each
scaled by each window's own standard deviation:

* in-band Gaussian noise (electrode / muscle noise): white noise limited to ``BAND_HZ``, the
  band that survives the model's preprocessing (bandpass 0.5-40 Hz), std ``U(0, level_max)``;
* baseline wander: a sinusoid of ``WANDER_HZ`` (drawn per window) with a random phase, amplitude
  ``U(0, level_max)`` - what a breathing patient or a moving hand leaves after a 0.5 Hz high-pass;
* a motion burst, in a fraction ``BURST_P`` of the windows: Gaussian noise limited to ``BURST_HZ``
  over ``BURST_S`` seconds under a Hann taper, std ``U(0, 2 level_max)``.

With ``EncoderConfig.descriptor_noise > 0`` the descriptor term embeds the noisy window and regresses
the descriptors of the CLEAN window (encoders/objectives.py): the embedding is trained to report the
rhythm and morphology under the noise, where HRV read off noisy beat detections goes wrong.

Determinism: like :func:`encoders.objectives.draw_views`, every random number is drawn for the
global batch ``batch_slice=(start, B_global)`` on the CPU from the step's generator, and rows
``start .. start + B`` are kept, so data-parallel ranks and resumed runs add the same noise.
"""
from __future__ import annotations

import math

import torch

BAND_HZ = (0.5, 40.0)
WANDER_HZ = (0.1, 0.6)
BURST_HZ = (1.0, 10.0)
BURST_S = (0.5, 2.0)
BURST_P = 0.3


def band_limited(noise: torch.Tensor, fs_hz: float, band_hz: tuple[float, float]) -> torch.Tensor:
    """``noise`` (..., T) with every FFT bin outside ``band_hz`` set to 0, rescaled to unit std
    along the last axis (0 where the band holds no bin)."""
    T = noise.shape[-1]
    f = torch.fft.rfftfreq(T, d=1.0 / fs_hz)
    keep = ((f >= band_hz[0]) & (f <= band_hz[1])).to(noise.dtype)
    y = torch.fft.irfft(torch.fft.rfft(noise, dim=-1) * keep, n=T, dim=-1)
    return y / y.std(dim=-1, keepdim=True, correction=0).clamp_min(1e-12)


def acquisition_noise(x: torch.Tensor, fs_hz: float, level_max: float, generator=None,
                      batch_slice=None) -> torch.Tensor:
    """x (B, C, T) plus in-band noise, baseline wander and (sometimes) a motion burst; see the
    module docstring. ``level_max`` = 0 returns ``x`` unchanged."""
    if level_max <= 0:
        return x
    B, C, T = x.shape
    start, total = batch_slice if batch_slice is not None else (0, B)
    rows = slice(start, start + B)
    g = generator
    u = torch.rand(total, 8, generator=g)                                  # per-window draws
    white = torch.randn(total, C, T, generator=g)
    burst = torch.randn(total, C, T, generator=g)
    u, white, burst = u[rows], white[rows], burst[rows]
    dt = x.dtype
    t_s = torch.arange(T, dtype=torch.float64) / fs_hz
    std = x.std(dim=-1, keepdim=True)                                      # (B, C, 1)

    noise = (u[:, 0] * level_max)[:, None, None] * band_limited(white.double(), fs_hz, BAND_HZ)
    f_w = WANDER_HZ[0] + u[:, 1] * (WANDER_HZ[1] - WANDER_HZ[0])
    wander = torch.sin(2 * math.pi * f_w.double()[:, None] * t_s[None] + 2 * math.pi * u[:, 2].double()[:, None])
    noise = noise + (u[:, 3] * level_max * math.sqrt(2.0))[:, None, None].double() * wander[:, None, :]

    n_b = (BURST_S[0] + u[:, 4] * (BURST_S[1] - BURST_S[0])) * fs_hz          # burst length, samples
    n_b = n_b.clamp(max=T).round().long()
    b0 = (u[:, 5] * (T - n_b + 1).double()).long().clamp(min=0)
    idx = torch.arange(T)[None]
    pos = (idx - b0[:, None]).double() / n_b[:, None].double().clamp_min(1)
    taper = torch.where((pos >= 0) & (pos < 1), torch.sin(math.pi * pos) ** 2, torch.zeros_like(pos))
    on = (u[:, 6] < BURST_P).double() * u[:, 7].double() * 2 * level_max
    noise = noise + on[:, None, None] * taper[:, None, :] * band_limited(burst.double(), fs_hz, BURST_HZ)
    return x + std * noise.to(x.device, dt)
