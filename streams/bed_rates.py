"""A bed's PPG pulse rate about twice its ECG heart rate is withheld: the ECG is the second source.

One PPG channel cannot tell a reflected (dicrotic) wave at half the pulse period from pulsus alternans
at twice the rate: slopes, rise times and the acceleration PPG of the two overlap on real PPG, so a PPG
window can publish twice the true heart rate with ``ok`` true. A bedside monitor arbitrates with its
ECG; the runtime does the same where a bed publishes both: streams are named ``<source>/<stream>``
(``bed01/ecg``, ``bed01/ppg``), so the streams of one source are one bed.

:class:`BedRates` keeps, per source and ECG stream, the heart rate of that stream's newest score
window (window end in device time, publisher session). A PPG window of the same source whose pulse
rate is :data:`RATIO_LO` to :data:`RATIO_HI` times an ECG rate of a window that ended within
:data:`MAX_AGE_S` of it is withheld as :data:`REASON`. Never otherwise: a bed without an ECG, an ECG
rate older than that, an ECG whose newest window was withheld (no rate to trust now), or a PPG rate
near the ECG's or below it (an AF pulse deficit makes the PPG rate LOWER than the ECG's: never
withheld by this). An ECG stream's new session, or its device time going back, drops its old rate
(a new time base). Pure Python, no state but the rates; :class:`streams.scores.ScoreHost` calls it on
the score thread, one window at a time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from streams.protocol import bed_of

#: The PPG / ECG rate ratio read as a PPG counting each pulse twice (a reflected wave as a beat).
RATIO_LO, RATIO_HI = 1.8, 2.2
#: How far apart (device time, s) the ECG window's end and the PPG window's end may be.
MAX_AGE_S = 30.0
#: The score frame's ``missing`` for a PPG window withheld so.
REASON = "rate_disagrees_with_ecg"


@dataclass(frozen=True)
class EcgRate:
    """The heart rate of an ECG stream's newest window: None when that window was withheld."""

    hr_bpm: float | None
    t_end_s: float
    session: int


class BedRates:
    """Per source, the newest ECG heart rates; judges the PPG rates of the same source against them."""

    def __init__(self, ratio: tuple[float, float] = (RATIO_LO, RATIO_HI), max_age_s: float = MAX_AGE_S):
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.max_age_s = float(max_age_s)
        self._ecg: dict[str, dict[str, EcgRate]] = {}   # source -> ECG stream -> its newest window's rate

    def note_ecg(self, stream: str, session: int, t_end_s: float, hr_bpm: float | None) -> None:
        """Record the newest window of ECG stream ``stream``: its ``hr_bpm`` when it was published
        ``ok``, None when withheld (then no PPG is judged against this stream until it has a rate
        again). A window ending before the stored one of the same session (device time went back)
        replaces it like any newer one."""
        source = bed_of(stream)
        if source is None:
            return
        ok = isinstance(hr_bpm, (int, float)) and math.isfinite(hr_bpm) and hr_bpm > 0
        self._ecg.setdefault(source, {})[stream] = EcgRate(float(hr_bpm) if ok else None, float(t_end_s), session)

    def ecg_rates(self, stream: str, t_end_s: float) -> list[EcgRate]:
        """The ECG rates of ``stream``'s source whose window ended within ``max_age_s`` of ``t_end_s``."""
        source = bed_of(stream)
        bed = self._ecg.get(source, {}) if source is not None else {}
        return [r for r in bed.values() if r.hr_bpm is not None and abs(t_end_s - r.t_end_s) <= self.max_age_s]

    def ppg_reason(self, stream: str, t_end_s: float, hr_bpm: float | None) -> str | None:
        """:data:`REASON` when the PPG window of ``stream`` ending at ``t_end_s`` reads a pulse rate
        ``hr_bpm`` that is ``ratio`` times a recent ECG rate of the same source; None otherwise."""
        if not isinstance(hr_bpm, (int, float)) or not math.isfinite(hr_bpm) or hr_bpm <= 0:
            return None
        lo, hi = self.ratio
        for r in self.ecg_rates(stream, float(t_end_s)):
            if lo <= hr_bpm / r.hr_bpm <= hi:
                return REASON
        return None
