"""Which lead of a multi-lead record to measure: each lead's share of windows passing the quality
gate (:func:`biosig.quality_summary.quality_summary`), the leads near the best share, and the best of them
(used by :func:`biosig.measures.choose_channel` and ``encoders.lead_choice``)."""
from __future__ import annotations

import numpy as np

from biosig.modality import normalise_modality
from biosig.quality import SUMMARY_MAX_WINDOWS
from biosig.quality_summary import quality_summary
from biosig.record import Record, require_record


#: Leads whose share of windows passing the quality gate is within this of the best lead's count as
#: good as it; a choice among them is made on something else (the model's lead order in ``score``,
#: the mean quality in :func:`biosig.measures.choose_channel`).
LEAD_SHARE_MARGIN = 0.1


def lead_summaries(record: Record, channels, modality: str, max_windows: int = SUMMARY_MAX_WINDOWS) -> dict[int, dict]:
    """:func:`quality_summary` of each of ``channels`` (indices into ``record``) on its own, read as
    ``modality``: ``{index: summary}``."""
    rec = require_record(record, "lead_summaries()")
    modality = normalise_modality(modality)
    return {int(i): quality_summary(rec.select([int(i)]).replace(modality=modality), max_windows=max_windows)
            for i in channels}


def near_best_share(shares, margin: float = LEAD_SHARE_MARGIN) -> list[bool]:
    """Per lead, whether its share of usable windows is within ``margin`` of the best (NaN counts 0).

    >>> near_best_share([0.95, 1.0, 0.5, float("nan")])
    [True, True, False, False]
    """
    s = [float(v) if v == v else 0.0 for v in shares]
    best = max(s, default=0.0)
    return [v >= best - margin for v in s]


def best_lead(record: Record, channels, modality: str, max_windows: int = SUMMARY_MAX_WINDOWS) -> int:
    """The one of ``channels`` to measure: among the leads within :data:`LEAD_SHARE_MARGIN` of the best
    share of windows passing the gate (:func:`near_best_share`), the one with the highest mean window
    quality (the first on ties). The share comes first so that a lead with a few perfect windows and
    many noisy ones does not win over one that is usable throughout."""
    channels = [int(i) for i in channels]
    summ = lead_summaries(record, channels, modality, max_windows)
    near = near_best_share([summ[i]["fraction_usable"] for i in channels])
    mean = [summ[i]["mean_quality"] if np.isfinite(summ[i]["mean_quality"]) else -1.0 for i in channels]
    return channels[min(range(len(channels)), key=lambda k: (not near[k], -mean[k], k))]
