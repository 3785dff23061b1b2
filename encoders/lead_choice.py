"""Which of a record's channels a model is fed: one rule for ``score`` and ``embed``.

``unusable_reasons`` says which channels cannot be fed at all (mostly missing, constant);
``choose_channels`` orders the usable channels of the model's modality: leads within
:data:`biosig.lead_quality.LEAD_SHARE_MARGIN` of the best share of windows passing the quality gate
first, then the model's vocabulary order (MLII as II), then record order.
:func:`lead_usable_shares` measures those shares (only where there is a choice to make);
:func:`ranked_leads` applies both, the one call ``Scorer.select`` and ``encoder_channels`` (embed, and
through it the probe's hrv and ibi baselines) make.
"""
from __future__ import annotations

import logging
import re
from typing import Callable

import numpy as np

from biosig.lead_quality import lead_summaries, near_best_share

log = logging.getLogger(__name__)

MIN_VALID_FRACTION = 0.5  # a channel with fewer finite samples than this is not usable
# modalities whose leads are ranked by their share of windows passing the quality gate (score, embed, serve)
QUALITY_RANKED_MODALITIES = ("ecg", "ppg")

# Common lead names onto the standard ones of the model vocabularies (MIT-BIH, MIMIC, PTB, CinC).
LEAD_ALIASES = {"MLI": "I", "MLII": "II", "MLIII": "III", "MCL1": "V1", "D1": "I", "D2": "II", "D3": "III",
                "PLETH": "PPG", "PULSE": "PPG", "VOLUME_ML": "VOLUME"}


def canonical_lead(name: str) -> str:
    """Upper-cased standard name of a channel: ``"ECG lead II"`` -> ``"II"``, ``"MLII"`` -> ``"II"``.

    >>> canonical_lead("MLII"), canonical_lead("ECG_V5"), canonical_lead("avr")
    ('II', 'V5', 'AVR')
    """
    key = re.sub(r"^(ECG|EKG)?[ _-]*(LEAD)?[ _-]*(?=\S)", "", name.strip().upper()) or name.strip().upper()
    return LEAD_ALIASES.get(key, key)


def choose_channels(channels: tuple[str, ...], channel_modalities: tuple[str, ...], usable: list[bool],
                    modality: str, vocabulary: tuple[str, ...], n: int, why: list[str] | None = None,
                    usable_share: list[float] | None = None) -> list[int]:
    """Indices of the ``n`` channels fed to the model, in the order they are fed.

    Candidates are the usable channels of the model's modality. Channels whose standard name
    (:func:`canonical_lead`) is in the model's vocabulary come first, in vocabulary order (so a
    12-lead record gives lead I to a one-lead model whose vocabulary starts with I, and MIT-BIH
    gives MLII before V5), then the others in record order. With ``usable_share`` (per channel, the
    share of its windows that pass the quality gate) the leads within
    :data:`biosig.lead_quality.LEAD_SHARE_MARGIN` of the best come before the others
    (:func:`biosig.lead_quality.near_best_share`, the rule ``biosig.measures.choose_channel`` uses too): a
    lead the model prefers but whose every window is noise (MIMIC 041s lead I) does not hide a clean
    one (lead III).

    >>> choose_channels(("V5", "MLII"), ("ecg", "ecg"), [True, True], "ecg", ("I", "II", "V5"), 1)
    [1]
    >>> choose_channels(("ii", "i"), ("ecg", "ecg"), [True, True], "ecg", ("I", "II"), 2)
    [1, 0]
    >>> choose_channels(("III", "I"), ("ecg", "ecg"), [True, True], "ecg", ("I", "II", "III"), 1,
    ...                 usable_share=[1.0, 0.0])
    [0]
    """
    cand = [i for i, (m, ok) in enumerate(zip(channel_modalities, usable)) if m == modality and ok]
    if not cand:
        why = why or [""] * len(channels)
        present = ", ".join(f"{c} ({m}{'' if ok else ', ' + (w or 'unusable')})"
                            for c, m, ok, w in zip(channels, channel_modalities, usable, why))
        raise ValueError(f"no usable {modality} channel among: {present or 'no channels'}")
    rank = {name.upper(): k for k, name in enumerate(vocabulary)}
    share = [0.0] * len(channels) if usable_share is None else list(usable_share)
    near = dict(zip(cand, near_best_share([share[i] for i in cand])))
    cand.sort(key=lambda i: (not near[i], rank.get(canonical_lead(channels[i]), len(rank)), i))
    if len(cand) < n:
        raise ValueError(f"the model needs {n} {modality} channels, the record has {len(cand)} usable: "
                         f"{', '.join(channels[i] for i in cand)}")
    return cand[:n]


def unusable_reasons(samples: np.ndarray) -> list[str]:
    """Per channel, why it cannot be fed to a model ("" when it can): too many missing samples, or
    a constant (flat) signal, which a one-sample record always is."""
    out = []
    for row in samples:
        finite = np.isfinite(row)
        if not row.size or finite.mean() < MIN_VALID_FRACTION:
            out.append(f"{100 * (1 - finite.mean()) if row.size else 100:.0f} % missing")
        elif row.size < 2:
            out.append("one sample")
        elif not np.ptp(row[finite]) > 0:
            out.append("constant")
        else:
            out.append("")
    return out


def gate_shares(usable: list[bool], modalities: tuple[str, ...], modality: str, n: int,
                shares_of: Callable[[list[int]], dict[int, float]]) -> list[float] | None:
    """Per channel, the share of its windows at or above the quality gate, ``shares_of(candidates)`` (NaN for
    channels not assessed), when ``modality`` is one of :data:`QUALITY_RANKED_MODALITIES` and more than ``n``
    usable channels of it compete; else None (nothing to choose: no quality is computed)."""
    cand = [i for i, (mod, ok) in enumerate(zip(modalities, usable)) if mod == modality and ok]
    if modality not in QUALITY_RANKED_MODALITIES or len(cand) <= n:
        return None
    share = [float("nan")] * len(usable)
    for i, value in shares_of(cand).items():
        share[i] = float(value)
    return share


def lead_usable_shares(rec, usable: list[bool], n: int, modality: str = "ecg",
                       modalities: tuple[str, ...] | None = None) -> list[float] | None:
    """:func:`gate_shares` of ``rec``'s channels over the record: per channel the share of its windows passing
    the gate (:func:`biosig.quality_summary.quality_summary`, at most 24 windows spread over the record).
    ``modalities``: each channel's (default ``rec.channel_modalities``)."""
    mods = rec.channel_modalities if modalities is None else tuple(modalities)
    return gate_shares(usable, mods, modality, n, lambda cand: {
        i: summary["fraction_usable"] for i, summary in lead_summaries(rec, cand, modality).items()})


def ranked_leads(rec, usable: list[bool], why: list[str] | None, modality: str, vocabulary: tuple[str, ...], n: int,
                 modalities: tuple[str, ...] | None = None) -> list[int]:
    """Indices of the ``n`` channels of ``rec`` fed to a model of ``modality`` (:func:`choose_channels`),
    ranked first by :func:`lead_usable_shares` where ``modality`` is one of
    :data:`QUALITY_RANKED_MODALITIES`. ``modalities``: each channel's (default ``rec.channel_modalities``).
    What ``score`` (:meth:`encoders.scoring.scorer.Scorer.select`) and ``embed``
    (:func:`encoders.data.encoder_channels`, through :func:`fed_lead_order`) each wrote out; they differ only
    around it (score: every channel of the record, an unusable one refused; embed: the modality's channels, all
    of them usable where too few are, and none reordered where there are no more than the model takes)."""
    mods = modality_candidates(rec, modality, rec.channel_modalities if modalities is None else tuple(modalities))
    share = lead_usable_shares(rec, usable, n, modality, modalities=mods)
    return choose_channels(rec.channels, mods, usable, modality, vocabulary, n, why, share)


def modality_candidates(rec, modality: str, mods: tuple[str, ...]) -> tuple[str, ...]:
    """``mods`` (each channel's modality, as ``score`` sees them: every channel ``modality`` for a record read
    with ``--modality`` whose names say nothing) with every channel the one rule does not give ``modality``
    (:func:`biosig.modality.modality_channel_indices`: a pressure, a trend, an unknown channel beside named leads)
    as ``"other"``, and the channels left out named in one warning on stderr (once per record: ``score`` selects
    once). A blood pressure wave in mmHg read with ``--modality ecg`` was a candidate ECG lead."""
    from biosig.modality import modality_channel_indices
    taken, _ = modality_channel_indices(rec.channels, rec.channel_modalities, rec.units, modality, rec.modality)
    out = tuple(m if i in taken or m != modality or rec.channel_modalities[i] == modality else "other"
                for i, m in enumerate(mods))
    left = [i for i, m in enumerate(out) if m != modality]
    if left and len(left) < len(out):   # none of the modality: choose_channels' error names them all
        say_left_out(rec, out, left, modality)
    return out


def say_left_out(rec, mods: tuple[str, ...], left: list[int], modality: str) -> None:
    """One warning (stderr) naming the channels of ``rec`` (positions ``left``; ``mods``: each one's modality) that
    a ``modality`` model is not fed, with the ones it is: ``041s.hea: ecg channels III, I, V; left out: ABP (other,
    mmHg), PAP (other, mmHg), PLETH (ppg), RESP (resp)``. ``score`` (:func:`ranked_leads`) and ``embed``
    (:func:`encoders.data.select_channels`) each select once per record, from the record's channels."""
    from biosig.modality import left_out_text
    where = rec.metadata.get("source") or rec.metadata.get("record_name") or "record"
    text = (f"{where}: {modality} channels {', '.join(c for i, c in enumerate(rec.channels) if i not in left)}; "
            f"left out: {left_out_text(rec.channels, mods, rec.units, left, modality)}")
    if text in _SAID_LEFT_OUT:   # embed selects from the record twice (the fed record and the recorded one)
        return
    _SAID_LEFT_OUT[text] = None
    while len(_SAID_LEFT_OUT) > 64:   # the latest records of a long job: a bounded memory
        del _SAID_LEFT_OUT[next(iter(_SAID_LEFT_OUT))]
    log.warning("%s", text)


_SAID_LEFT_OUT: dict[str, None] = {}   # the latest left-out lines said in this process (insertion order)


def fed_lead_order(channels: tuple[str, ...], modality: str, vocabulary: tuple[str, ...], n: int, why: list[str],
                   shares_of: Callable[[list[int]], dict[int, float]]) -> list[int]:
    """The ``n`` leads of a block of ``modality`` channels (``why``: :func:`unusable_reasons` of each) fed to a
    model: the usable ones (every one where fewer than ``n`` are usable), ranked by :func:`gate_shares` with
    ``shares_of``, then the model's order. Offline (``embed``: :func:`encoders.data.encoder_channels`) the shares
    are counted over the record's windows, live (``serve``: :func:`streams.models.fed_leads`) over the window
    embedded (what the runtime knows when it embeds it): one rule, two ways of counting."""
    usable = [not w for w in why]
    if sum(usable) < n:
        usable = [True] * len(channels)
    mods = (modality,) * len(channels)
    share = gate_shares(usable, mods, modality, n, shares_of)
    return choose_channels(tuple(channels), mods, usable, modality, vocabulary, n, why, share)
