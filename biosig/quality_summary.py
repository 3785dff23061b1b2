"""A record's quality in one summary (``biosig info``, :mod:`biosig.lead_quality`): the windows of
:func:`biosig.quality.block_quality`, at most :data:`biosig.quality.SUMMARY_MAX_WINDOWS` of them,
evenly spread."""
from __future__ import annotations

import numpy as np

from biosig.arguments import whole_number
from biosig.quality import SUMMARY_MAX_WINDOWS, USABLE, block_quality, quality_modalities
from biosig.record import Record, require_record


def quality_summary(record: Record, window_s: float | None = None, max_windows: int = SUMMARY_MAX_WINDOWS,
                    method: str = "templatematch", modality: str | None = None) -> dict:
    """Summary of window quality: at most ``max_windows`` windows, evenly spread, are assessed.

    Returns ``{"mean_quality", "min_quality", "fraction_usable", "usable_threshold",
    "n_windows", "n_assessed", "window_s", "method"}``; ``fraction_usable`` is the share of
    assessed windows at or above :data:`biosig.quality.USABLE` for the modality (``modality``, else the
    record's; finite fraction 1 elsewhere). Channels are scored as :func:`biosig.quality.quality_modalities`
    says; irregular sample times are put on a uniform grid first (as :func:`biosig.quality.window_quality`).
    """
    from biosig.windows import default_window, uniform_record, window_bounds

    mods = quality_modalities(require_record(record, "quality_summary()"), modality)
    mod = record.modality if modality is None else mods[0]
    record = uniform_record(record)
    max_windows = whole_number(max_windows, "max_windows", minimum=1)
    window_s = default_window(mod)[0] if window_s is None else window_s
    w, _, starts = window_bounds(record.n_samples, record.fs_hz, window_s, window_s)
    if len(starts) > max_windows:
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, max_windows).round().astype(int))]
    q = []
    for s in starts:
        x = record.samples[:, s:s + w]
        q.append(block_quality(x, record.fs_hz, mods, method) * min(1.0, x.shape[1] / w))
    q = np.asarray(q)
    thr = USABLE.get(mod, 1.0)
    return {"mean_quality": float(q.mean()) if len(q) else float("nan"),
            "min_quality": float(q.min()) if len(q) else float("nan"),
            "fraction_usable": float(np.mean(q >= thr)) if len(q) else 0.0,
            "usable_threshold": thr, "n_windows": int(len(window_bounds(record.n_samples, record.fs_hz,
                                                                          window_s, window_s)[2])),
            "n_assessed": int(len(q)), "window_s": float(window_s), "method": method}
