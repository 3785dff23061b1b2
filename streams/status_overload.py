"""The runtime's overload signal: ``status["overload"]`` and the OVERLOADED line of ``biosig status``.

Definition. An encoder lane is *overloaded* when, over the last ``window_s`` seconds (default
:data:`OVERLOAD_WINDOW_S`):

* windows waited for it the whole time (its queue never emptied: the encoder was never idle for
  want of work), **and**
* its queue grew (more windows waiting now than ``window_s`` ago).

Together these say windows arrive faster than the encoder embeds them: the queue will fill, then
windows are dropped. The runtime is also overloaded when any window was dropped for a full queue
in that span (data already lost). Why not a latency rule (p99 over the hop): latency includes the
batching delay and the model's own time on a large batch; a runtime embedding 40 beds in one 3 s
batch every 5 s keeps up, and one whose queue grows is falling behind whatever its p99 says so far.
A queue that never empties but shrinks is catching up (after a burst), not overloaded.

The queue is sampled after every pass of the event loop (its running minimum), stored every
:data:`SAMPLE_S`; the verdict is ``None`` (not judged) until ``window_s`` has been watched.
"""
from __future__ import annotations

import collections
import math

OVERLOAD_WINDOW_S = 10.0   # long enough that a batch cycle (max_delay_s, one model call) is noise
SAMPLE_S = 0.25


class OverloadWatch:
    """Watches the encoder lanes' queues (``observe`` once per loop pass) and drops (``dropped``:
    a callable giving the runtime's total of windows dropped for a full queue)."""

    def __init__(self, window_s: float = OVERLOAD_WINDOW_S, sample_s: float = SAMPLE_S):
        if not (isinstance(window_s, (int, float)) and 0 < window_s < math.inf):
            from streams.errors import StreamError
            raise StreamError(f"overload window_s must be a number of seconds > 0, got {window_s!r}")
        self.window_s = float(window_s)
        self.sample_s = min(float(sample_s), self.window_s / 4)
        self._samples: collections.deque = collections.deque()   # (t, pending, min since last, dropped)
        self._min: dict[str, int] = {}
        self._next_s = -math.inf

    def observe(self, now_s: float, pending: dict, dropped) -> None:
        """``pending``: lane -> windows waiting now (monotonic ``now_s``); ``dropped()`` is called
        only when a sample is stored."""
        mins = self._min
        for lane, n in pending.items():
            old = mins.get(lane)
            if old is None or n < old:
                mins[lane] = n
        if now_s < self._next_s:
            return
        self._next_s = now_s + self.sample_s
        self._samples.append((now_s, dict(pending), mins, dropped()))
        self._min = {}
        while len(self._samples) > 2 and self._samples[1][0] <= now_s - self.window_s:
            self._samples.popleft()   # the oldest kept sample is the last one at least window_s old

    def state(self) -> dict:
        """``overloaded`` (True, False, or None while fewer than ``window_s`` were watched),
        ``reason`` in words and the numbers behind it."""
        out = {"overloaded": None, "reason": "", "window_s": self.window_s, "watched_s": 0.0,
               "dropped_windows": 0, "lanes": {}}
        samples = list(self._samples)   # one copy: status() may run in another thread than observe()
        if len(samples) < 2:
            out["reason"] = f"not judged yet (needs {self.window_s:g} s of watching)"
            return out
        (t0, first, _, dropped0), last = samples[0], samples[-1]
        out["watched_s"] = round(last[0] - t0, 3)
        out["dropped_windows"] = dropped = max(0, last[3] - dropped0)   # expired streams take theirs
        if last[0] - t0 < self.window_s:
            out["reason"] = f"not judged yet (watched {last[0] - t0:.1f} of {self.window_s:g} s)"
            return out
        behind = []
        for lane, now_n in sorted(last[1].items()):
            least = min(s[2].get(lane, 0) for s in samples[1:])   # the span after the first sample
            growth = now_n - first.get(lane, 0)
            over = least > 0 and growth > 0
            out["lanes"][lane] = {"pending_windows": now_n, "growth_windows": growth, "least_pending_windows": least,
                                  "overloaded": over}
            if over:
                behind.append(f"{lane} encoder queue {first.get(lane, 0)} -> {now_n} windows, never empty")
        reasons = behind + ([f"{dropped} window(s) dropped for a full encoder queue"] if dropped > 0 else [])
        out["overloaded"] = bool(reasons)
        out["reason"] = (f"over the last {self.window_s:g} s: " + "; ".join(reasons)) if reasons else \
            f"keeping up over the last {self.window_s:g} s"
        return out


def overload_text(status: dict) -> str | None:
    """The line ``biosig status`` prints for an overloaded runtime, else None."""
    o = status.get("overload") or {}
    if not o.get("overloaded"):
        return None
    return (f"OVERLOADED: the encoders do not keep up ({o.get('reason', '')}): windows wait longer and "
            "longer, then are dropped; fewer streams, a faster device (--device cuda) or lighter --models")
