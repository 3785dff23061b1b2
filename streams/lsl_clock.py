"""liblsl, loaded once with its log cut to errors, and the clock mapping between LSL time and biosig device time
(:class:`LslClock`), shared by the two LSL bridges (:mod:`streams.lsl`, :mod:`streams.lsl_out`)."""
from __future__ import annotations

import os
import time

from streams.errors import StreamError

_configured = False


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


class LslClock:
    """Maps LSL time to biosig device time (Unix seconds) and back (the mapping is described in :mod:`streams.lsl`)."""

    def __init__(self, tries: int = 7):
        pylsl = _pylsl()
        best = None
        for _ in range(tries):
            a = time.time()
            lsl = pylsl.local_clock()
            b = time.time()
            if best is None or b - a < best[0]:
                best = (b - a, (a + b) / 2 - lsl)
        self.offset_s = best[1]

    def to_device(self, lsl_s: float, correction_s: float = 0.0) -> float:
        return lsl_s + correction_s + self.offset_s

    def to_lsl(self, device_s: float) -> float:
        return device_s - self.offset_s
