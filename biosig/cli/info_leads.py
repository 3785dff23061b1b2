"""``biosig info``: which lead its quality summary is of, and which channels its gaps are in.

Bug bash (2026-12-06): a record with a clean lead II and a disconnected (all-NaN) V5 read
"gaps 1 (30.000 s)" and "ecg mean 0.50 (min 0.50, usable 0% of 3 windows)", as if nothing usable had
been recorded, while ``score`` used II at quality 1.00. On a camera-PPG CSV it also names a colour
channel usable in clearly more windows than PPG (bug bash 66, :func:`colour_hint`). Kept light at
import (``biosig --version``): NumPy and the quality code are imported inside the functions.
"""
from __future__ import annotations


def modality_channels(rec, modality: str):
    """The channels of ``rec`` that ``info`` summarises as ``modality``: :meth:`biosig.record.Record.pick`, the
    one rule by which replay, ``score`` and ``embed`` take them (:func:`biosig.modality.modality_channel_indices`):
    those its channel table lists as ``modality``, or the channels of a record of that modality whose names say
    nothing (``--modality ppg`` on ``ch1, ch2``), never a pressure, trend or temperature (``ch2`` in mmHg beside
    ``ch1`` read with ``--modality ecg`` was summarised as an ECG lead). A camera-PPG CSV's
    ``G`` and ``B`` (colours as recorded, listed as other) stay out beside ``PPG`` (the summary named G in 9 of
    the 21 Welltory recordings, bug bash 66); ``--channel G=ppg`` puts G in."""
    return rec.pick(modality)


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


#: A camera-PPG CSV's colour channels as the reader names them (:mod:`biosig.readers.camera_ppg`:
#: ``PPG`` is ``-R``; ``G`` and ``B`` stay as recorded, listed other).
CAMERA_COLOURS = ("G", "B")
#: A colour is named when its share of usable windows beats the ppg lead's by this much AND by
#: :data:`HINT_MIN_RATIO` x. A Welltory recording has 6-11 windows, so 0.25 is 2-3 windows, well
#: above the 0.1 within which leads count as equal (``LEAD_SHARE_MARGIN``); the ratio keeps quiet
#: where the ppg lead already holds half or more of the colour's windows (subject 21: PPG 57 %,
#: G 100 %). Named on the 21 Welltory recordings: subjects 14 (PPG 12 %, G 100 %), 18 (25 %, 100 %)
#: and 20 (red clipped: 0 %, 83 %); not 08, 09, 19, 21, where G is 12-43 points better.
HINT_MIN_GAIN = 0.25
HINT_MIN_RATIO = 2.0


def colour_hint(rec, quality: dict | None) -> dict | None:
    """On a camera-PPG CSV whose ppg lead is usable in clearly fewer windows than ``G`` or ``B``
    (:data:`HINT_MIN_GAIN`, :data:`HINT_MIN_RATIO`), the better colour, both shares and the options
    that feed it: ``--channel G=ppg`` for ``info``, ``score`` and ``embed`` (each then takes, per
    recording, the ppg lead usable in most windows, as among ECG leads: G on Welltory subject 14,
    tests/test_ppg_lead_choice.py), ``--channel G`` for ``pretrain``. None otherwise. The colours are assessed only where the lead's share leaves
    room for the margin (at most 0.5), a few tens of ms per recording."""
    q = (quality or {}).get("ppg") or {}
    leads = [c for c, m in zip(rec.channels, rec.channel_modalities) if m == "ppg"]
    base = q.get("fraction_usable")
    if rec.metadata.get("format") != "camera-ppg-csv" or not leads or base is None or not base == base:
        return None
    base = float(base)
    colours = [i for i, (c, m) in enumerate(zip(rec.channels, rec.channel_modalities))
               if c in CAMERA_COLOURS and m == "other"]
    if not colours or not 1.0 >= max(base + HINT_MIN_GAIN, HINT_MIN_RATIO * base) - 1e-9:
        return None
    from biosig.lead_quality import lead_summaries

    summ = lead_summaries(rec, colours, "ppg")
    share = {i: float(s["fraction_usable"]) if s["fraction_usable"] == s["fraction_usable"] else 0.0
             for i, s in summ.items()}
    mean = {i: float(s["mean_quality"]) if s["mean_quality"] == s["mean_quality"] else -1.0 for i, s in summ.items()}
    best = max(colours, key=lambda i: (share[i], mean[i], -i))
    if not share[best] + 1e-9 >= max(base + HINT_MIN_GAIN, HINT_MIN_RATIO * base):
        return None
    name, lead = rec.channels[best], q.get("lead", leads[0])
    option = f"--channel {name}=ppg"
    return {"channel": name, "fraction_usable": share[best], "lead": lead, "lead_fraction_usable": base,
            "option": option, "commands": ["info", "score", "embed"], "pretrain_option": f"--channel {name}"}


def format_colour_hint(hint: dict) -> str:
    """"G usable 100%, PPG 12%: ..." (the table's hint row)."""
    return (f"{hint['channel']} usable {100 * hint['fraction_usable']:.0f}%, {hint['lead']} "
            f"{100 * hint['lead_fraction_usable']:.0f}%: {hint['option']} lets {', '.join(hint['commands'])} take "
            f"the better of them per recording; {hint['pretrain_option']} for pretrain")
