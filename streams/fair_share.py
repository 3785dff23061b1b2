"""Per-stream queues sharing one bound: the admission rule of the encoder lanes
(:class:`streams.runtime_outputs.Lane`) and the score queue (:class:`streams.scores.ScoreWorker`).

A stream holds at most its fair share of the bound (the bound over the streams waiting, at least a
minimum): at its share, its own oldest item goes; when the whole is full, the stream holding most
gives its oldest. So one client's backlog neither delays nor displaces the items of the others.
"""
from __future__ import annotations

import collections


def admit(queues: dict, key, count: int, max_total: int, min_share: int):
    """Make room for one more item of stream ``key`` in ``queues`` (key -> deque, created here) of
    ``count`` items in all. Returns ``(queue of key, dropped item or None, the new count)``: the
    caller appends to the queue (the count already includes that item) and counts the drop against
    the dropped item's stream."""
    q = queues.get(key)
    if q is None:
        q = queues[key] = collections.deque()
    if len(q) >= max(min_share, max_total // len(queues)):   # this stream has its share: its own oldest goes
        return q, q.popleft(), count
    if count >= max_total:                                    # full: the stream holding most gives its oldest
        most = max(queues, key=lambda k: len(queues[k]))
        dropped = queues[most].popleft()
        if not queues[most] and most != key:
            del queues[most]
        return q, dropped, count
    return q, None, count + 1
