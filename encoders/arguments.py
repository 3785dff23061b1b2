"""Checks of the arguments the encoders' public functions take: a seed, a count, a batch of
windows and the channel positions that go with it, a device and a thread count, and the fields
of :class:`encoders.pretrain.TrainConfig`.

A caller's mistake is an :class:`encoders.errors.EncoderError` naming the value, never a
ValueError from ``range()``, an IndexError from an embedding table, or a silently different
answer (a negative batch size that embedded nothing, a float channel position truncated).
"""
from __future__ import annotations

import numpy as np

from biosig import arguments
from encoders.errors import EncoderError

#: largest seed accepted (torch.manual_seed takes 64-bit seeds; NumPy's generators any int >= 0)
MAX_SEED = 2 ** 63 - 1


def whole_number(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int; :class:`EncoderError` unless it is an integer (not a bool) >= ``minimum``."""
    return arguments.whole_number(value, name, minimum, error=EncoderError)


def seed_value(seed) -> int:
    """``seed`` as an int in 0 .. :data:`MAX_SEED`."""
    return arguments.whole_number(seed, "seed", 0, MAX_SEED, error=EncoderError)


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


def check_train_config(cfg) -> None:
    """Each field of :class:`encoders.pretrain.TrainConfig` of its type and range (the CLI checks
    its flags; a script building the config directly got a ZeroDivisionError or a torch error
    several steps in); normalises ``data`` (one path is one path) and the paths to str."""
    import math
    import os

    def real(name, low, strict):
        v = getattr(cfg, name)
        ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v)
        if not ok or (v <= low if strict else v < low):
            raise EncoderError(f"{name}={v!r} must be a number {'>' if strict else '>='} {low:g}")

    def path(name, optional):
        v = getattr(cfg, name)
        if v is None and optional:
            return
        if not isinstance(v, (str, os.PathLike)) or not os.fspath(v):
            raise EncoderError(f"{name}={v!r} must be a path (str or os.PathLike)")
        object.__setattr__(cfg, name, os.fspath(v))

    for name in ("steps", "batch_size", "ckpt_every", "synthetic_records"):
        whole_number(getattr(cfg, name), name)
    for name in ("warmup_steps", "synthetic_rhythm_records", "synthetic_blow_records", "synthetic_lung_records"):
        whole_number(getattr(cfg, name), name, minimum=0)
    if cfg.log_every is not None:
        whole_number(cfg.log_every, "log_every")
    seed_value(cfg.seed)
    real("lr", 0, True)
    real("grad_clip", 0, True)
    real("synthetic_seconds", 0, True)
    real("weight_decay", 0, False)
    for name in ("window_s", "hop_s"):
        if getattr(cfg, name) is not None:
            real(name, 0, True)
    for name in ("synthetic", "synthetic_rhythm_atrial", "synthetic_pulse_arrhythmia", "resume", "progress", "compile"):
        if not isinstance(getattr(cfg, name), bool):
            raise EncoderError(f"{name}={getattr(cfg, name)!r} must be True or False")
    if not isinstance(cfg.modality, str):
        raise EncoderError(f"modality={cfg.modality!r} must be a str")
    path("out_dir", optional=False)
    path("init_from", optional=True)
    path("pipeline", optional=True)
    data = (cfg.data,) if isinstance(cfg.data, (str, os.PathLike)) else cfg.data
    if data is None or not hasattr(data, "__iter__") or not all(isinstance(p, (str, os.PathLike)) for p in data):
        raise EncoderError(f"data={cfg.data!r}: give a list of paths (str or os.PathLike)")
    object.__setattr__(cfg, "data", tuple(os.fspath(p) for p in data))
    if not isinstance(cfg.overrides, dict):
        raise EncoderError(f"overrides={cfg.overrides!r} must be a dict of EncoderConfig fields")
