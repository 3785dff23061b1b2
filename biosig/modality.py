"""Modalities and a conservative inference of a channel's modality from its name and rate.

Guessing is conservative: a name that does not clearly say what a channel is stays ``"other"``
(unknown), and a waveform modality is only assigned when the sampling rate can carry that
waveform (:data:`MIN_FS_HZ`: a 1 Hz "II" column is a trend, not an ECG; a 1 Hz WAV is not
sound). Generic names (``ch1``, ``pulse``, ``signal``) say nothing and stay unknown; the user
says what they are with ``--modality`` or ``--channel NAME=MODALITY`` on the CLI (stored in
``Record.metadata["channel_modalities"]``).
"""
from __future__ import annotations

import re

from biosig.errors import SignalError

MODALITIES = ("ecg", "ppg", "resp", "audio", "spiro", "motion", "other")

# Patterns on upper-cased channel names, first match wins.  Sources: MIT-BIH, PTB, MIMIC, CinC,
# PhysioNet fetal ECG (FECG, abdominal leads: "Abdomen_1" is an ECG lead, not a belt, so it stays
# unknown), and the respiration channels of polysomnography EDFs (Sleep-EDF "Resp oro-nasal", SHHS
# "THOR RES" / "ABDO RES" / "NEW AIR", MESA "Thor" / "Abdo" / "Flow", Apnea-ECG "Resp C" / "Resp N",
# MIT-BIH polysomnographic "Resp (chest)", "Effort THO" / "Effort ABD", nasal pressure, thermistor).
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("ppg", r"^(PLETH|PPG|SPO2? ?WAVE|PLETHY.*)$"),
    ("resp", r"^(RESP|RESPIRATION|IMP|THOR.*|ABDO?|ABDOMEN|AIRFLOW|FLOW|CO2|"
             r"RESP(IRATION|IRATORY)?[ _\-]*\(?(C|A|N|CHEST|ABD|ABDO|ABDOMEN|THOR|THORAX|NASAL|ORO-?NASAL|"
             r"EFFORT|BELT|FLOW|AIRFLOW|WAVE)\)?|"   # Resp chest, RESP (nasal), Resp C; never a rate trend
             r"(ABDO?|ABDOMEN|CHEST|THORAX|RIBCAGE)( RES| EFFORT| BELT| MOVEMENT)?|"
             r"EFFORT[ _\-]?(THO|THOR|THORAX|ABD|ABDO|ABDOMEN|CHEST)|"
             r"NEW AIR|NASAL[ _]?(PRESSURE|FLOW)|PFLOW|PTAF|THERM|THERMISTOR|ORO-?NASAL[ _]?FLOW|ETCO2|"
             r"BREATHING|BELT)$"),
    ("ecg", r"^(ECG.*|EKG.*|[FAM]ECG.*|MLI+|ML[0-9]|MCL[0-9]?|I|II|III|AVR|AVL|AVF|-?AV[RLF]|V[0-9R]?[0-9]?R?|V|"
            r"LEAD ?.*|VX|VY|VZ|D[1-3]|CM[0-9]|MV[0-9]?)$"),
    ("audio", r"^(AUDIO|MIC|MICROPHONE|SOUND|MONO|LEFT|RIGHT)$"),
    ("spiro", r"^(VOLUME.*|VOLUME_ML|SPIRO.*)$"),
    ("motion", r"^([A-Z0-9]+_)?[XYZ]$"),
)

#: Lowest sampling rate (Hz) at which a channel can be a waveform of each modality.
MIN_FS_HZ = {"ecg": 50.0, "ppg": 10.0, "resp": 1.0, "audio": 1000.0, "spiro": 10.0, "motion": 1.0}


def channel_modality(name: str, fs_hz: float | None = None) -> str:
    """The modality a channel name suggests at ``fs_hz`` (None: rate unknown), or ``"other"``.

    >>> channel_modality("MLII"), channel_modality("PLETH"), channel_modality("RESP")
    ('ecg', 'ppg', 'resp')
    >>> channel_modality("ch1"), channel_modality("II", fs_hz=1.0)
    ('other', 'other')
    """
    if not isinstance(name, str):
        raise SignalError(f"a channel name is a str, got {name!r}")
    key = name.strip().upper()
    for modality, pattern in _PATTERNS:
        if re.match(pattern, key):
            if fs_hz is not None and fs_hz < MIN_FS_HZ[modality]:
                return "other"
            return modality
    return "other"


def infer_modality(channels, fs_hz: float | None = None) -> str:
    """The record-level modality: the most common known channel modality (ties: first channel's);
    ``"other"`` when no channel is known."""
    if isinstance(channels, str):   # one name, not its characters
        channels = [channels]
    if channels is None or not hasattr(channels, "__iter__"):
        raise SignalError(f"channels={channels!r}: give the channel names")
    mods = [channel_modality(str(c), fs_hz) for c in channels]
    known = [m for m in mods if m != "other"]
    if not known:
        return "other"
    return max(dict.fromkeys(known), key=known.count)


def check_modality(modality: str) -> str:
    """Validate a modality name; the error lists the accepted ones."""
    if modality not in MODALITIES:
        if hasattr(modality, "modality") and hasattr(modality, "samples"):   # a Record, printed whole
            raise SignalError(f"expected a modality name, got a Record: pass rec.modality "
                              f"({modality.modality!r}); one of {', '.join(MODALITIES)}")
        hint = f" (names are lower case: {modality.lower()!r})" if isinstance(modality, str) \
            and modality.lower() in MODALITIES else ""
        raise SignalError(f"unknown modality {modality!r}{hint}; expected one of {', '.join(MODALITIES)}")
    return modality


#: Other spellings of a modality that :func:`normalise_modality` accepts (lower case).
MODALITY_ALIASES = {"ekg": "ecg", "pleth": "ppg", "respiration": "resp", "sound": "audio", "spirometry": "spiro"}


def normalise_modality(modality) -> str:
    """``modality`` as one of :data:`MODALITIES`: case and surrounding spaces ignored, the aliases of
    :data:`MODALITY_ALIASES` mapped (``"EKG"`` -> ``"ecg"``); :class:`SignalError` listing the accepted
    names otherwise (an unknown name must not be scored as some default: ``"ekg"`` got quality 1.0).

    >>> normalise_modality(" EKG "), normalise_modality("Pleth")
    ('ecg', 'ppg')
    """
    if not isinstance(modality, str):
        raise SignalError(f"a modality is a str, got {modality!r}; expected one of {', '.join(MODALITIES)}")
    key = modality.strip().lower()
    key = MODALITY_ALIASES.get(key, key)
    if key not in MODALITIES:
        raise SignalError(f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)} "
                          f"(or {', '.join(f'{a}={m}' for a, m in MODALITY_ALIASES.items())})")
    return key


def parse_channel_modalities(items) -> dict[str, str]:
    """``["II=ecg", "ch2=ppg"]`` -> ``{"II": "ecg", "ch2": "ppg"}``; one-line errors."""
    out: dict[str, str] = {}
    if isinstance(items, str):
        items = [items]
    if items is not None and not hasattr(items, "__iter__"):
        raise SignalError(f"--channel {items!r}: expected NAME=MODALITY items, e.g. II=ecg")
    for item in items or ():
        name, sep, modality = str(item).rpartition("=")
        if not sep or not name.strip():
            raise SignalError(f"--channel {item!r}: expected NAME=MODALITY, e.g. II=ecg")
        out[name.strip()] = check_modality(modality.strip().lower())
    return out
