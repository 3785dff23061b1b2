"""Modalities and inference of a channel's modality from its name."""
from __future__ import annotations

import re

from biosig.errors import SignalError

MODALITIES = ("ecg", "ppg", "resp", "audio", "spiro", "motion", "other")

# Patterns on upper-cased channel names, first match wins.  Sources: MIT-BIH, PTB, MIMIC, CinC.
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("ppg", r"^(PLETH|PPG|SPO2? ?WAVE|PULSE|PLETHY.*)$"),
    ("resp", r"^(RESP|RESPIRATION|IMP|THOR.*|ABDO?.*|AIRFLOW|FLOW|CO2)$"),
    ("ecg", r"^(ECG.*|EKG.*|MLI+|ML[0-9]|MCL[0-9]?|I|II|III|AVR|AVL|AVF|-?AV[RLF]|V[0-9R]?[0-9]?R?|V|"
            r"LEAD ?.*|VX|VY|VZ|D[1-3]|CM[0-9]|MV[0-9]?)$"),
    ("audio", r"^(AUDIO|MIC|SOUND|MONO|LEFT|RIGHT|CH[0-9]+)$"),
    ("spiro", r"^(VOLUME.*|VOLUME_ML|SPIRO.*)$"),
    ("motion", r"^([A-Z0-9]+_)?[XYZ]$"),
)


def channel_modality(name: str) -> str:
    """Return the modality a channel name suggests, or ``"other"``.

    >>> channel_modality("MLII"), channel_modality("PLETH"), channel_modality("RESP")
    ('ecg', 'ppg', 'resp')
    """
    key = name.strip().upper()
    for modality, pattern in _PATTERNS:
        if re.match(pattern, key):
            return modality
    return "other"


def infer_modality(channels) -> str:
    """The record-level modality: the most common channel modality (ties: first channel's)."""
    mods = [channel_modality(c) for c in channels]
    known = [m for m in mods if m != "other"]
    if not known:
        return "other"
    return max(dict.fromkeys(known), key=known.count)


def check_modality(modality: str) -> str:
    """Validate a modality name; the error lists the accepted ones."""
    if modality not in MODALITIES:
        raise SignalError(f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}")
    return modality
