"""Window quality by NeuroKit2 (``method="neurokit"`` of :func:`biosig.quality.block_quality`): the
independent method beside biosig's own template matching; NeuroKit2 is imported only when asked for."""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def neurokit_quality(x: np.ndarray, fs_hz: float, modality: str) -> tuple[float, np.ndarray]:
    """``(score in [0, 1], beats)`` of one channel by NeuroKit2's clean, peaks and templatematch quality
    (``method="neurokit"`` of :func:`biosig.quality.block_quality`); ``(0.0, no beats)`` where NeuroKit2
    raises (a window with too few beats)."""
    import warnings

    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = int(round(fs_hz))
        try:
            if modality == "ecg":
                clean = nk.ecg_clean(x, sampling_rate=sr)
                beats = np.asarray(nk.ecg_peaks(clean, sampling_rate=sr)[1]["ECG_R_Peaks"])
                q = nk.ecg_quality(clean, rpeaks=beats, sampling_rate=sr, method="templatematch")
            else:
                clean = nk.ppg_clean(x, sampling_rate=sr)
                beats = np.asarray(nk.ppg_findpeaks(clean, sampling_rate=sr)["PPG_Peaks"])
                q = nk.ppg_quality(clean, peaks=beats, sampling_rate=sr, method="templatematch")
        except Exception as exc:  # NeuroKit2 raises on windows with too few beats
            log.debug("neurokit quality failed: %s", exc)
            return 0.0, np.zeros(0, np.int64)
    return float(np.nanmean(q)) if np.isfinite(q).any() else 0.0, beats
