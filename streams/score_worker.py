"""The score thread of the runtime: the queue of windows waiting for their ``score`` frame and the thread
that computes (:meth:`streams.scores.ScoreHost.compute`) and publishes them.

Score headers are computed in :class:`ScoreWorker`'s own thread, never on the runtime's event loop
(neurokit2's beat detection takes ~3 ms per ECG window; on the event loop it delayed the receipt of
marker frames) and never in an encoder lane (where it would serialise with the model). What a header
holds, and how one window is measured, is :mod:`streams.scores`, which still re-exports the names
here (:class:`ScoreWorker`, :data:`SCORE_BURST`, :data:`STOP_DRAIN_S`).
"""
from __future__ import annotations

import logging
import threading
import time

from streams.fair_share import admit

log = logging.getLogger("streams.scores")   # the score thread's warnings, under its name as before

#: Windows a stream may have waiting for the score thread and still be served first come, first
#: served among the other streams' (beyond them each of its windows waits one more turn).
SCORE_BURST = 4

#: At the runtime's shutdown the score thread publishes the windows waiting for this long, then drops
#: the rest (counted): ``serve`` stops within a second of SIGINT (:meth:`ScoreWorker.stop`).
STOP_DRAIN_S = 0.3


class ScoreWorker:
    """A thread that computes and publishes score frames, each stream's in window order.

    Windows wait in one queue per stream name (a publisher restart's old and new sessions share it,
    so the old session's windows are scored first, never in turn with the new one's) and are served in start-time fair
    order: a window's tag is the tag of the window being scored when it came (in submission order
    among equals), one more than its stream's previous one while that stream has
    :data:`SCORE_BURST` windows or more waiting. Streams that send as fast as they are scored are
    served first come, first served; one client's backlog (an hour of ECG sent at once is 3,591
    windows, ~3 ms of beat detection each) is served one window per turn beside the others and
    never delays another bed's scores (in one FIFO it delayed them by 4-8 s). ``submit`` never
    blocks: at most ``max_pending`` windows wait, a stream holds at most its share of them
    (``max_pending`` over the streams waiting); beyond it, or when full, the oldest window of the
    stream holding most gets no score frame and is counted under its stream's
    ``rejected["score_backlog"]`` (never silently). ``send(topic, header)`` must be thread-safe (the
    runtime's ``_send``). ``host``: the runtime's :class:`streams.scores.ScoreHost` (its ``compute``;
    not imported here, where :mod:`streams.scores` imports this module).
    """

    def __init__(self, host, send, max_pending: int = 4096):
        self.host, self._send = host, send
        self.max_pending = max(1, int(max_pending))
        self._cv = threading.Condition()
        self._queues: dict = {}      # stream name -> deque of (tag, arrival, item)
        self._count = 0
        self._arrival = 0            # submissions so far (ties between equal tags)
        self._vtime = 0              # tag of the window scored last
        self._stopping = False
        self._drain_until = float("inf")   # monotonic time after which stop() drops what still waits
        self.published = 0
        self.dropped = 0             # windows that got no score frame for a full queue (all streams, ever)
        self._thread = threading.Thread(target=self._run, name="biosig-scores", daemon=True)
        self._thread.start()

    def submit(self, st, win, t_start, t_end, quality, rows=None):
        item = (st, win, t_start, t_end, quality, rows)
        with self._cv:
            q, dropped, self._count = admit(self._queues, st.name, self._count, self.max_pending, 1)
            tag = self._vtime if not q else max(self._vtime, q[-1][0]) + (len(q) >= SCORE_BURST)
            self._arrival += 1
            q.append((tag, self._arrival, item))
            self._cv.notify()
        if dropped is not None:
            self.dropped += 1
            dropped[2][0].stats.rejected["score_backlog"] += 1

    def _take(self):
        """The waiting window with the lowest (tag, arrival), or None once stopped with nothing left."""
        with self._cv:
            while not self._count and not self._stopping:
                self._cv.wait()
            if self._count and self._stopping and time.monotonic() > self._drain_until:
                self._drop_waiting()
            if not self._count:
                return None
            key = min((k for k, q in self._queues.items() if q), key=lambda k: self._queues[k][0][:2])
            q = self._queues[key]
            tag, _, item = q.popleft()
            self._count -= 1
            self._vtime = max(self._vtime, tag)
            if not q:
                del self._queues[key]
            return item

    def _run(self):
        from streams.models import background_thread_priority
        background_thread_priority()
        while True:
            item = self._take()
            if item is None:
                return
            st = item[0]
            h = self.host.compute(*item)
            if h is not None:
                try:
                    self._send(f"score/{st.name}", dict(h, t_out_s=time.time()))
                    self.published += 1
                except Exception as exc:  # e.g. the socket closed at shutdown
                    log.warning("score frame of %s not sent: %s", st.name, exc)

    @property
    def pending(self) -> int:
        return self._count

    def stop(self, timeout_s: float = 10.0, drain_s: float | None = None):
        """Publish what is waiting (for up to ``drain_s``, None: all of it), then end the thread; with
        ``drain_s``, windows still waiting then get no score frame, each counted under its stream's ``rejected["score_backlog"]`` and all in
        one logged line (never silently). Publishing every waiting window took ``serve`` 1.8-1.9 s to
        stop after SIGINT with ~4000 windows of a large frame waiting (~3 ms of beat detection each;
        the README's promise is within a second)."""
        with self._cv:
            self._stopping = True
            if drain_s is not None:
                self._drain_until = time.monotonic() + max(0.0, drain_s)
            self._cv.notify()
        self._thread.join(timeout_s)

    def _drop_waiting(self) -> None:
        """(With the lock held.) Count and forget every waiting window, at shutdown."""
        n = 0
        for q in self._queues.values():
            for _, _, item in q:
                item[0].stats.rejected["score_backlog"] += 1
                n += 1
        self._queues.clear()
        self._count = 0
        self.dropped += n
        log.warning("runtime stopping: %d window(s) waiting for their measures got no score frame "
                    "(rejected score_backlog)", n)
