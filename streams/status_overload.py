"""The runtime's overload signal: ``status["overload"]`` and the OVERLOADED line of ``biosig status``.

Definition. The runtime watches every queue of its that can grow: each encoder lane's (``encoder``
for the main lane, ``encoder/<modality>`` for a modality with a worker of its own) and the score
thread's (``scores``). A queue is *overloaded* when, over the last ``window_s`` seconds (default
:data:`OVERLOAD_WINDOW_S`):

* items waited in it the whole time (it never emptied: its worker was never idle for want of
  work), **and**
* it grew (more items waiting now than ``window_s`` ago).

Together these say items arrive faster than the worker takes them: the queue will fill, then
items are dropped. The runtime is also overloaded when any window was dropped for a full queue
in that span (data already lost: a full encoder queue drops windows, a full score queue drops their
score frames, ``rejected["score_backlog"]``). ``behind`` names the queues at fault, so ``biosig
status`` says which worker does not keep up (``OVERLOADED: scores``). Why not a latency rule (p99
over the hop): latency includes the batching delay and the model's own time on a large batch; a
runtime embedding 40 beds in one 3 s batch every 5 s keeps up, and one whose queue grows is falling
behind whatever its p99 says so far. A queue that never empties but shrinks is catching up (after a
burst), not overloaded.

Not watched, because they cannot grow: the forecast path (marker frames are forecast on the event
loop at their receipt, :mod:`streams.forecast_worker`; its checkpoint writer keeps one snapshot per
source, the newest). The recorder's writer is not watched (one batch per ``rotate_s``: too coarse
for a verdict over ``window_s``; its losses are in ``status["recorder"]``).

Each queue is sampled after every pass of the event loop (its running minimum), stored every
:data:`SAMPLE_S`; the verdict is ``None`` (not judged) until ``window_s`` has been watched.
"""
from __future__ import annotations

import collections
import math

OVERLOAD_WINDOW_S = 10.0   # long enough that a batch cycle (max_delay_s, one model call) is noise
SAMPLE_S = 0.25


#: What each queue's worker is, for the reason in words, and what to do about it (the OVERLOADED line).
_WORKER = {"encoder": ("encoder queue", "windows", "the encoders do not keep up",
                       "fewer streams, a faster device (--device cuda) or lighter --models"),
           "scores": ("score queue", "windows", "the score thread (measures and heads) does not keep up",
                      "fewer streams or longer window hops (score frames are dropped as score_backlog)")}


def _worker(queue: str) -> tuple:
    return _WORKER.get(queue.split("/")[0], (f"{queue} queue", "items", f"{queue} does not keep up", "fewer streams"))


class OverloadWatch:
    """Watches the runtime's queues (``observe`` once per loop pass: queue name -> items waiting)
    and their drops (``dropped``: a callable giving queue name -> items dropped for a full queue so
    far, by the same names)."""

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
        """``pending``: queue -> items waiting now (monotonic ``now_s``); ``dropped()`` is called
        only when a sample is stored."""
        mins = self._min
        for queue, n in pending.items():
            old = mins.get(queue)
            if old is None or n < old:
                mins[queue] = n
        if now_s < self._next_s:
            return
        self._next_s = now_s + self.sample_s
        self._samples.append((now_s, dict(pending), mins, dict(dropped())))
        self._min = {}
        while len(self._samples) > 2 and self._samples[1][0] <= now_s - self.window_s:
            self._samples.popleft()   # the oldest kept sample is the last one at least window_s old

    def state(self) -> dict:
        """``overloaded`` (True, False, or None while fewer than ``window_s`` were watched),
        ``behind`` (the queues at fault, by name), ``reason`` in words and the numbers behind it."""
        out = {"overloaded": None, "behind": [], "reason": "", "window_s": self.window_s, "watched_s": 0.0,
               "dropped_windows": 0, "dropped": {}, "queues": {}}
        samples = list(self._samples)   # one copy: status() may run in another thread than observe()
        if len(samples) < 2:
            out["reason"] = f"not judged yet (needs {self.window_s:g} s of watching)"
            return out
        (t0, first, _, dropped0), last = samples[0], samples[-1]
        out["watched_s"] = round(last[0] - t0, 3)
        # expired streams take their drops along: never below 0
        dropped = {q: max(0, n - dropped0.get(q, 0)) for q, n in sorted(last[3].items())}
        out["dropped"], out["dropped_windows"] = dropped, sum(dropped.values())
        if last[0] - t0 < self.window_s:
            out["reason"] = f"not judged yet (watched {last[0] - t0:.1f} of {self.window_s:g} s)"
            return out
        behind, reasons = [], []
        for queue, now_n in sorted(last[1].items()):
            least = min(s[2].get(queue, 0) for s in samples[1:])   # the span after the first sample
            growth = now_n - first.get(queue, 0)
            over = least > 0 and growth > 0
            out["queues"][queue] = {"pending": now_n, "growth": growth, "least_pending": least, "overloaded": over}
            if over:
                what, unit = _worker(queue)[:2]
                behind.append(queue)
                reasons.append(f"{queue}: {what} {first.get(queue, 0)} -> {now_n} {unit}, never empty")
        for queue, n in dropped.items():
            if n > 0:
                if queue not in behind:
                    behind.append(queue)
                reasons.append(f"{queue}: {n} {_worker(queue)[1]} dropped for a full {_worker(queue)[0]}")
        out["overloaded"], out["behind"] = bool(reasons), behind
        out["reason"] = (f"over the last {self.window_s:g} s: " + "; ".join(reasons)) if reasons else \
            f"keeping up over the last {self.window_s:g} s"
        return out


def overload_text(status: dict) -> str | None:
    """The line ``biosig status`` prints for an overloaded runtime (``OVERLOADED: scores (...)``),
    else None."""
    o = status.get("overload") or {}
    if not o.get("overloaded"):
        return None
    behind = o.get("behind") or []
    kinds = list(dict.fromkeys(_worker(q) for q in behind))
    says = "; ".join(k[2] for k in kinds) or "a queue does not keep up"
    advice = "; ".join(k[3] for k in kinds) or "fewer streams"
    return (f"OVERLOADED: {', '.join(behind) or 'queues'}: {says} ({o.get('reason', '')}): items wait longer and "
            f"longer, then are dropped; {advice}")
