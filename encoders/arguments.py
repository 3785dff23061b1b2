"""Checks of the arguments the encoders' public functions take: a seed, a count, a batch of
windows and the channel positions that go with it.

A caller's mistake is an :class:`encoders.errors.EncoderError` naming the value, never a
ValueError from ``range()``, an IndexError from an embedding table, or a silently different
answer (a negative batch size that embedded nothing, a float channel position truncated).
"""
from __future__ import annotations

import numpy as np

from encoders.errors import EncoderError

#: largest seed accepted (torch.manual_seed takes 64-bit seeds; NumPy's generators any int >= 0)
MAX_SEED = 2 ** 63 - 1


def whole_number(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int; :class:`EncoderError` unless it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise EncoderError(f"{name}={value!r} must be a whole number, {minimum} or more")
    return int(value)


def seed_value(seed) -> int:
    """``seed`` as an int in 0 .. :data:`MAX_SEED`."""
    seed = whole_number(seed, "seed", minimum=0)
    if seed > MAX_SEED:
        raise EncoderError(f"seed={seed} must be at most 2**63 - 1")
    return seed


def window_batch(x, channel_idx, batch_size, n_channel_names: int) -> tuple[np.ndarray, np.ndarray | None, int]:
    """``(x float32 (B, C, T), channel positions int64 (C,) or (B, C) or None, batch size)``.

    ``channel_idx`` gives one position in the model's channel vocabulary (``n_channel_names``
    names) per channel of ``x``, or one row of them per window.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise EncoderError(f"windows hold real numbers, got an array of dtype {x.dtype}")
    if x.ndim != 3:
        raise EncoderError(f"windows must be shaped (B, C, T), got shape {x.shape}")
    batch_size = whole_number(batch_size, "batch_size")
    if channel_idx is None:
        return x.astype(np.float32, copy=False), None, batch_size
    idx = np.asarray(channel_idx)
    if idx.dtype.kind not in "iu" or idx.ndim not in (1, 2):
        raise EncoderError(f"channel_idx holds whole-number positions shaped (C,) or (B, C), got "
                           f"{idx.dtype} shaped {idx.shape}")
    expected = (x.shape[1],) if idx.ndim == 1 else x.shape[:2]
    if idx.shape != expected:
        raise EncoderError(f"channel_idx shaped {idx.shape} for windows shaped {x.shape}; expected {expected}")
    if idx.size and not (0 <= idx.min() and idx.max() < n_channel_names):
        raise EncoderError(f"channel_idx {idx.min()}..{idx.max()} outside the model's {n_channel_names} "
                           f"channel names (0..{n_channel_names - 1})")
    return x.astype(np.float32, copy=False), idx.astype(np.int64, copy=False), batch_size


def device_name(device) -> str | None:
    """``device`` as ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (None: the backend picks)."""
    if device is None:
        return None
    t = device.strip().lower() if isinstance(device, str) else ""
    if t in ("cpu", "cuda") or (t.startswith("cuda:") and t[5:].isdigit()):
        return t
    raise EncoderError(f"device={device!r} is not a device; use cpu, cuda or cuda:N")


def thread_count(threads) -> int | None:
    """``threads`` (intra-op threads) as an int >= 1, or None for the backend's default."""
    return None if threads is None else whole_number(threads, "threads")
