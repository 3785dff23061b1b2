"""Shape checks of the windows an encoder embeds, shared by :class:`encoders.embed.Encoder` (torch)
and :class:`encoders.inference.InferenceModel` (any backend) without importing either: ``embed``
imports torch, which an onnxruntime ``score`` never loads, and ``inference`` reaches ``embed``
through the backends' export cache (an import cycle). Its natural home is
:func:`encoders.arguments.window_batch`, which does not know the model's modality.
"""
from __future__ import annotations

import numpy as np

from encoders.errors import EncoderError


def check_window_shape(x: np.ndarray, channel_idx, config) -> None:
    """:class:`EncoderError` for windows ``x`` (B, C, T) a model of ``config`` cannot embed: fewer
    samples than its smallest input, or, without ``channel_idx``, more channels than its channel
    names (the default ids 0..C-1 ran past the channel embedding: a 2-channel PPG window gave
    torch's "IndexError: index out of range in self"). Audio mixes its channels and the spirogram
    front end reads channel 0, so any C is theirs. (B, T, C) windows are named as such."""
    from encoders.config import min_input_samples
    turned = "; samples first? pass x.transpose(0, 2, 1)" if x.shape[1] > x.shape[2] else ""
    min_t = min_input_samples(config)
    if x.shape[-1] < min_t:
        raise EncoderError(f"windows of {x.shape[-1]} samples are shorter than the smallest input of this model "
                           f"({min_t} samples){turned}")
    names = config.channels
    if channel_idx is None and config.modality not in ("audio", "spiro") and x.shape[1] > len(names):
        raise EncoderError(f"windows shaped {x.shape} have {x.shape[1]} channels and {config.name} has "
                           f"{len(names)} channel name(s) ({', '.join(names)}); give channel_idx (positions in "
                           f"them) or fewer channels{turned}")


def short_record_problem(n_samples: int, fs_hz: float, min_samples: int) -> str:
    """Why a record of ``n_samples`` at ``fs_hz`` (after the model's preprocessing) cannot be embedded at all: its
    one window of its own length is below the model's smallest input; "" when it is not. ``embed`` and ``score``
    say it alike, the lengths in seconds first (a summary line is cut at 120 characters)."""
    if n_samples >= min_samples:
        return ""
    return (f"record too short ({n_samples / fs_hz:.3g} s; this model needs at least {min_samples / fs_hz:.3g} s): "
            f"windows of {n_samples} samples are shorter than the smallest input of this model ({min_samples} "
            f"samples at {fs_hz:g} Hz)")


def short_record_note(record_s: float, window_s: float, modality: str) -> str:
    """What ``embed`` warns and ``score`` sums up for a record shorter than the model's window (but not than its
    smallest input): it is one window of its own length, never zero-padded (:func:`biosig.windows.embedding_grid`),
    so its row differs from what the window asks for (``t1_s - t0_s``; no ``af_prob`` below the head's window)."""
    af = "; no af_prob where the AF head was fitted on longer windows" if modality in ("ecg", "ppg") else ""
    return (f"{record_s:.3g} s, shorter than the model's {window_s:g} s window: embedded as one window of its own "
            f"length (t1_s - t0_s{af})")
