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


# Channels that are no waveform of any modality here, whatever the record's modality: invasive and cuff pressures
# (MIMIC / PhysioNet ABP, ART, PAP, CVP, ICP, ...), saturation and rate trends, temperatures. Their name or unit says
# so, so they never join a stream or an encoder as "the record's modality" (041s replayed ABP and PAP, in mmHg, as
# ECG leads).
_NOT_A_WAVEFORM = (r"^(ABP|ART|ARTERIAL|AOBP|AO|PAP|PA|CVP|ICP|LAP|RAP|UAP|NBP.*|[SDM]?BP|PRESSURE.*|"
                   r"SPO2|SAO2|SPO2%|HR|HEART ?RATE|PULSE ?RATE|TEMP.*)$")
_NOT_A_WAVEFORM_UNITS = {"mmhg", "cmh2o", "kpa", "torr", "%", "bpm", "/min", "1/min", "beats/min", "°c", "degc", "°f"}
# modalities whose waveform can be recorded in one of those units (airway and nasal pressure in cmH2O: resp)
_UNIT_ALLOWED = {"resp": {"cmh2o", "kpa", "mmhg", "torr"}}


def ruled_out(name: str, unit: str, modality: str) -> str:
    """Why channel ``name`` (in ``unit``) cannot be a ``modality`` waveform ("" when it can): a pressure, a
    trend or a temperature by its name (``ABP``, ``PAP``, ``SpO2``, ``HR``) or unit (``mmHg``, ``%``, ``bpm``).
    Only for waveform modalities (``"other"`` takes anything).

    >>> ruled_out("ABP", "mmHg", "ecg"), ruled_out("ch2", "mmHg", "ecg"), ruled_out("ch1", "mV", "ecg")
    ('a pressure, trend or temperature channel', 'unit mmHg', '')
    """
    if modality == "other":
        return ""
    if re.match(_NOT_A_WAVEFORM, str(name).strip().upper()):
        return "a pressure, trend or temperature channel"
    key = str(unit or "").strip().lower()
    if key in _NOT_A_WAVEFORM_UNITS and key not in _UNIT_ALLOWED.get(modality, ()):
        return f"unit {unit}"
    return ""


def modality_channel_indices(channels, channel_modalities, units, modality: str,
                             record_modality: str) -> tuple[list[int], list[int]]:
    """``(taken, left_out)``: positions of the channels of ``modality`` and of the others, the one rule by
    which replay's streams, ``score``, ``embed`` and the pretraining windows pick a modality's channels.

    Taken are the channels whose modality (the user's ``--channel NAME=MODALITY``, else the guess from name
    and rate) is ``modality``. A channel of unknown modality (``"other"``) is taken only where no channel is
    named ``modality`` and the record is of ``modality`` (the reader's word, or ``--modality``: a camera's
    ``R``, ``G``, ``B``, a CSV's ``ch1`` read with ``--modality ecg``), and never when its name or unit rules
    it out (:func:`ruled_out`). Before, unknown channels went with the record's modality: MIMIC 041s's ABP
    and PAP (mmHg) rode beside III, I, V as ECG leads in replay, and the runtime's ECG quality averaged them.

    >>> modality_channel_indices(["III", "ABP", "PLETH"], ["ecg", "other", "ppg"], ["mV", "mmHg", "mV"],
    ...                          "ecg", "ecg")
    ([0], [1, 2])
    >>> modality_channel_indices(["ch1", "ch2"], ["other", "other"], ["mV", "mmHg"], "ecg", "ecg")
    ([0], [1])
    """
    mods, names = list(channel_modalities), list(channels)
    units = list(units) if units is not None else [""] * len(names)
    taken = [i for i, m in enumerate(mods) if m == modality]
    if not taken and modality != "other" and record_modality == modality:
        taken = [i for i, m in enumerate(mods) if m == "other" and not ruled_out(names[i], units[i], modality)]
    return taken, [i for i in range(len(names)) if i not in taken]


def left_out_text(channels, channel_modalities, units, left_out, modality: str) -> str:
    """``ABP (other, mmHg), PLETH (ppg)``: the channels ``left_out`` of a ``modality`` selection, each with its
    modality and, where :func:`ruled_out` says why it cannot be ``modality``, its unit."""
    parts = []
    for i in left_out:
        why = ruled_out(channels[i], units[i] if units is not None else "", modality)
        unit = f", {units[i]}" if why and units is not None and units[i] else ""
        parts.append(f"{channels[i]} ({channel_modalities[i]}{unit})")
    return ", ".join(parts)
