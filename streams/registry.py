"""Bounded, expiring per-stream state: which input streams hold a slot, and their counters.

* at most ``max_streams`` streams hold a general slot; one source holds at most
  ``max_streams_per_source`` (so one client inventing names cannot take every slot);
* sources listed in ``reserved_sources`` (a treatment couch, say) are admitted outside
  ``max_streams`` (their own per-source quota still applies): a couch joining after 1,100
  invented stream names still gets its forecasts and holds;
* a stream with no accepted frame for ``idle_expire_s`` seconds is forgotten (slot and counters);
  counters of names that were only ever rejected expire the same way. Its publisher session and
  last sequence number are kept (the last ``MAX_FORGOTTEN``): when it comes back within that
  session, the frames it sent meanwhile count as a gap (``gaps``, ``missing``) of its new counters.
"""
from __future__ import annotations

import collections
import logging

from streams.protocol import source_of
from streams.metrics import StreamStats

log = logging.getLogger(__name__)


MAX_FORGOTTEN = 4096   # expired streams whose session and last sequence number are remembered


class StreamRegistry:
    def __init__(self, max_streams: int, per_source: int, reserved=(), idle_expire_s: float = 300.0,
                 rate_window_s: float = 10.0):
        self.max_streams, self.per_source = int(max_streams), int(per_source)
        self.reserved = frozenset(reserved or ())
        self.idle_expire_s, self.rate_window_s = float(idle_expire_s), float(rate_window_s)
        self.streams: dict = {}                       # name -> streams.ingest.InputStream
        self.stats: dict[str, StreamStats] = {}       # name -> counters (also for rejected names)
        self.by_source = collections.Counter()        # source -> streams holding a slot
        self.general = 0                              # slots taken outside reserved sources
        self.expired = 0
        # name -> (session, last seq) of expired streams (bounded): a stream that comes back within
        # its session has its frames sent meanwhile counted as missing, not forgotten with it
        self.forgotten: collections.OrderedDict = collections.OrderedDict()

    def new_stats(self, name: str) -> StreamStats:
        st = StreamStats(name)
        st.rate_window_s = self.rate_window_s
        return st

    def admit(self, name: str) -> str:
        """'' when a new stream ``name`` may take a slot, else the reason it may not."""
        src = source_of(name)
        if self.by_source[src] >= self.per_source:
            return "source_quota"
        if src not in self.reserved and self.general >= self.max_streams:
            return "too_many_streams"
        return ""

    def add(self, st) -> None:
        if st.name not in self.streams:
            src = source_of(st.name)
            self.by_source[src] += 1
            if src not in self.reserved:
                self.general += 1
        self.streams[st.name] = st
        self.stats[st.name] = st.stats

    def stats_for_reject(self, name: str) -> StreamStats | None:
        """Counters to charge a rejected frame of ``name`` to (bounded like the slots)."""
        s = self.stats.get(name)
        if s is None and name and len(self.stats) < self.max_streams + len(self.reserved) * self.per_source:
            s = self.stats[name] = self.new_stats(name)
        return s

    def release(self, name: str):
        """Forget stream ``name`` and free its slot (its session and last sequence number remembered,
        so that a late frame of that session is told apart from a new one)."""
        self.stats.pop(name, None)
        gone_st = self.streams.pop(name, None)
        if gone_st is None:
            return
        self.forgotten[name] = (gone_st.session, gone_st.last_seq)
        self.forgotten.move_to_end(name)
        while len(self.forgotten) > MAX_FORGOTTEN:
            self.forgotten.popitem(last=False)
        src = source_of(name)
        self.by_source[src] -= 1
        if self.by_source[src] <= 0:
            del self.by_source[src]
        if src not in self.reserved:
            self.general -= 1

    def expire(self, now_s: float) -> list[str]:
        """Forget streams idle for longer than ``idle_expire_s``; the names forgotten."""
        gone = []
        for name, s in list(self.stats.items()):
            last = max(s.last_seen, s.last_rejected, s.first_seen)
            if now_s - last > self.idle_expire_s:
                gone.append(name)
                self.release(name)
        if gone:
            self.expired += len(gone)
            log.info("expired %d idle stream(s) (no frame for %g s): %s", len(gone), self.idle_expire_s,
                     ", ".join(gone[:5]) + (" ..." if len(gone) > 5 else ""))
        return gone
