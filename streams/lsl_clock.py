"""liblsl, loaded once with its log cut to errors, and the clock mapping between LSL time and biosig device time
(:class:`LslClock`), shared by the two LSL bridges (:mod:`streams.lsl`, :mod:`streams.lsl_out`)."""
from __future__ import annotations

import logging
import os
import time

from streams.errors import StreamError

_configured = False
log = logging.getLogger("streams.lsl")


def _pylsl():
    """pylsl, with liblsl's own log cut to errors (it prints INFO lines on stderr otherwise)
    unless the user points ``LSLAPICFG`` at a configuration file of their own."""
    global _configured
    try:
        import pylsl
    except ImportError:
        raise StreamError("the LSL bridge needs pylsl, an optional extra: pip install 'biosig[lsl]'") from None
    except Exception as exc:  # the wheel is there but liblsl cannot be loaded
        raise StreamError(f"pylsl is installed but liblsl cannot be loaded: {exc}") from None
    if not _configured:
        _configured = True
        if not os.environ.get("LSLAPICFG"):
            try:
                pylsl.set_config_content("[log]\nlevel = -2\n")
            except Exception:  # older liblsl without it: its INFO lines stay, nothing else changes
                pass
    return pylsl


#: a re-measured offset that moved more than this is a step of the wall clock, said in a warning with its size
STEP_TOLERANCE_S = 0.005
#: how often :meth:`LslClock.refresh` is due (the bridge measures between pulls, never on the sample path)
REFRESH_EVERY_S = 5.0
#: after the wall clock went back, device time runs this much slower until it caught up (1 %: a fifth of the
#: runtime's device-rate tolerance, :data:`streams.device_rate.RATE_TOLERANCE`; a step of 1 s back takes 100 s)
SLEW_BACK = 0.01
#: what a step does, said after its size: ``bridge lsl``'s device time ({over_s}: how long a slew back takes)
SAID_IN = ("device time of the LSL streams jumps ahead by as much",
           "device time of the LSL streams slows by {slew:.0%} to follow it, never going back (over {over_s:.0f} s)")


class LslClock:
    """Maps LSL time to biosig device time (Unix seconds) and back (the mapping is described in :mod:`streams.lsl`).

    ``offset_s`` (Unix time minus LSL time) is measured at start and again by :meth:`refresh`. LSL time is liblsl's
    steady clock (``CLOCK_MONOTONIC`` on Linux): Linux slews it with the wall clock, so the offset moves only when
    the wall clock is *stepped* (NTP's step, a clock set by hand, a VM resumed); on Windows and macOS the steady clock
    is not slewed, and NTP's tens of ppm move it ~0.1-0.2 s an hour. A move ahead is applied at once (device time
    jumps ahead); a move back is slewed in at :data:`SLEW_BACK` from the LSL time it was seen, so that the device
    time of later stamps never goes back (the runtime reads a frame before the previous one as a clock set back, a
    gap). :meth:`to_lsl` is the exact inverse of :meth:`to_device`, so that ``bridge lsl-out`` maps device time back
    by the same rule (a stamp brought in by ``bridge lsl`` goes out as it came). ``wall`` is the wall clock read
    (``time.time``; a test passes one that steps); ``said`` what a step ahead and back does (:data:`SAID_IN`)."""

    def __init__(self, tries: int = 7, wall=time.time, every_s: float = REFRESH_EVERY_S,
                 said: tuple[str, str] = SAID_IN):
        self._local = _pylsl().local_clock
        self.tries, self.wall, self.every_s, self.said = tries, wall, every_s, said
        self.target_s = self._measure()   # the offset measured last
        self._back_from_s, self._back_at = self.target_s, self._local()   # where a slew back started (LSL time)
        self.steps: list[float] = []   # the steps said, in seconds (+: the wall clock went ahead)

    def _measure(self) -> float:
        """Unix minus LSL time, from the reading with the shortest round trip of the wall clock."""
        best = None
        for _ in range(self.tries):
            a = self.wall()
            lsl = self._local()
            b = self.wall()
            if best is None or b - a < best[0]:
                best = (b - a, (a + b) / 2 - lsl)
        return best[1]

    def offset_at(self, lsl_s: float) -> float:
        """The offset applied to a stamp at LSL time ``lsl_s``: the last one measured, or on the way to it after
        the wall clock went back (stamps before the step was seen keep the offset then)."""
        slewed = self._back_from_s - SLEW_BACK * max(0.0, lsl_s - self._back_at)
        return max(self.target_s, slewed)

    @property
    def offset_s(self) -> float:
        return self.offset_at(self._local())

    def refresh(self) -> float:
        """Measure the offset again; returns how much it moved (seconds). A move of more than
        :data:`STEP_TOLERANCE_S` is said in a warning with its size."""
        now = self._local()
        applied, new = self.offset_at(now), self._measure()
        change, slewing = new - self.target_s, applied > self.target_s
        self.target_s = new
        if new >= applied:   # ahead (or a slew back done): at once
            self._back_from_s, self._back_at = new, now
        elif not slewing:   # back: slewed from here (a slew under way goes on along its line, to the new target)
            self._back_from_s, self._back_at = applied, now
        if abs(change) > STEP_TOLERANCE_S:
            self.steps.append(change)
            how = self.said[change <= 0].format(slew=SLEW_BACK, over_s=(applied - new) / SLEW_BACK)
            log.warning("the wall clock stepped %+.1f ms against LSL's clock (NTP, or a clock set by hand): %s",
                        change * 1e3, how)
        return change

    def to_device(self, lsl_s: float, correction_s: float = 0.0) -> float:
        return lsl_s + correction_s + self.offset_at(lsl_s)

    def to_lsl(self, device_s: float) -> float:
        """The LSL time whose :meth:`to_device` is ``device_s``. ``to_device`` is ``x + max(target, slewed(x))``,
        both terms rising with ``x``: its inverse is the earlier of the two inverses (the slewed line is flat at
        ``_back_from_s`` up to ``_back_at``, then falls at :data:`SLEW_BACK`)."""
        before = device_s - self._back_from_s
        slewed = before if before <= self._back_at else self._back_at + (before - self._back_at) / (1 - SLEW_BACK)
        return min(device_s - self.target_s, slewed)
