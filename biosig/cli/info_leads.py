"""``biosig info``: which lead its quality summary is of, and which channels its gaps are in.

Bug bash (2026-12-06): a record with a clean lead II and a disconnected (all-NaN) V5 read
"gaps 1 (30.000 s)" and "ecg mean 0.50 (min 0.50, usable 0% of 3 windows)", as if nothing usable had
been recorded, while ``score`` used II at quality 1.00. Kept light at import (``biosig --version``):
NumPy and the quality code are imported inside the functions.
"""
from __future__ import annotations


def modality_channels(rec, modality: str):
    """The channels of ``rec`` that ``info`` summarises as ``modality``: those its channel table lists
    as ``modality`` (the channels ``measures``, ``score`` and ``embed`` take), or every channel of a
    record of that modality whose names say nothing (``--modality ppg`` on ``ch1, ch2``), as they do.
    ``Record.pick`` also keeps the channels guessed ``other`` of a record of the modality: a camera-PPG
    CSV's ``G`` and ``B`` (colours as recorded, listed as other) competed with ``PPG``, and the summary
    named G in 9 of the 21 Welltory recordings (bug bash 66); ``--channel G=ppg`` puts G in."""
    idx = [i for i, m in enumerate(rec.channel_modalities) if m == modality]
    return rec.select(idx).replace(modality=modality) if idx else rec.pick(modality)


def best_lead_quality(part, modality: str) -> dict:
    """The quality summary of the lead the record-level measures take (:func:`biosig.lead_quality.best_lead`;
    ``score`` and ``embed`` take the leads near its share, in the model's lead order), with ``lead``
    naming it, ``n_leads`` and ``lead_usable`` every lead's share of usable windows. The summary of
    all leads at once was their mean: MIMIC 041s (lead I all noise, III clean) read 0.78, III alone
    1.00."""
    from biosig.lead_quality import best_lead, lead_summaries

    leads = list(range(part.n_channels))
    summaries = lead_summaries(part, leads, modality)
    best = best_lead(part, leads, modality)
    return {**summaries[best], "lead": part.channels[best], "n_leads": len(leads),
            "lead_usable": {part.channels[i]: summaries[i]["fraction_usable"] for i in leads}}


def format_leads(q: dict) -> str:
    """"; lead II, best of 2 (V5 usable 0%)": the lead summarised and the leads well below it."""
    if "lead" not in q:
        return ""
    from biosig.lead_quality import LEAD_SHARE_MARGIN   # (the quality code, imported when a table is printed)
    best = q["lead_usable"].get(q["lead"], 0.0)
    worse = [f"{name} usable {100 * share:.0f}%" for name, share in q["lead_usable"].items()
             if not share >= best - LEAD_SHARE_MARGIN]
    shown = ", ".join(worse[:5]) + (f" and {len(worse) - 5} more" if len(worse) > 5 else "")
    return f"; lead {q['lead']}, best of {q['n_leads']}" + (f" ({shown})" if worse else "")


def missing_by_channel(rec) -> dict[str, float]:
    """Seconds of missing (NaN) samples of each channel that has any. The gaps are merged across
    channels, so a record with one disconnected lead read "gaps 1 (30.000 s)" for 30 s, as if
    nothing had been recorded; this says which channel is missing and how much."""
    import numpy as np

    counts = np.isnan(rec.samples).sum(axis=1)
    return {name: float(n / rec.fs_hz) for name, n in zip(rec.channels, counts) if n}


def format_gaps(gaps: dict) -> str:
    """"1 (30.000 s; missing by channel: V5 30.000 s)": the merged gaps, then the channels with NaN."""
    text = f"{gaps['count']} ({gaps['total_s']:.3f} s"
    by_channel = gaps.get("by_channel_s") or {}
    if len(by_channel) > 0 and gaps["count"]:
        shown = [f"{name} {seconds:.3f} s" for name, seconds in list(by_channel.items())[:5]]
        more = f" and {len(by_channel) - 5} more" if len(by_channel) > 5 else ""
        text += "; missing by channel: " + ", ".join(shown) + more
    return text + ")"
