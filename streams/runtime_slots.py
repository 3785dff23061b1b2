"""The runtime's stream slots: who gives a slot up when a new stream finds none free.

:class:`SlotsMixin` is part of :class:`streams.runtime.Runtime` (with :mod:`streams.runtime_ingest`,
which asks it for room when the registry refuses a new stream); it runs on the event loop only. No
client can starve another: a flood of invented names holds its slots only while each name keeps
sending, a source over its fair share gives its slots to a source under it, and a live stream of a
source within its share (every bed of an honest ward) is never evicted (``tests/test_streams_slots.py``,
docs/protocol.md).
"""
from __future__ import annotations

import logging
import time

from streams.protocol import source_of
from streams.ingest import InputStream

log = logging.getLogger("streams.runtime")

# Stream slots (:meth:`SlotsMixin._make_room`): a new stream finding none free takes one of a stream
# that never had a frame accepted, or is silent (no accepted frame for ``slot_silent_s`` and for
# SLOT_SILENT_FRAMES of its own frames), or one of a source holding more than its fair share.
SLOT_SILENT_FRAMES = 10
SLOT_SHARE_FLOOR = 8         # a source holding at most this many streams never holds more than its share
SLOT_SCAN_EVERY_S = 0.1      # the candidates are listed at most this often (one pass over the slots) ...
SLOT_SCAN_MAX_AGE_S = 0.5    # ... and listed afresh when older than this
EVICT_WARN_EVERY_S = 10.0    # evictions are logged at most this often (all counted: status slots.evicted)


class SlotsMixin:
    """Event-loop side of :class:`streams.runtime.Runtime`: stream slots given up and taken."""

    def _fair_share(self, src: str) -> int:
        """Slots a source may hold while others want one: ``max_streams`` over the sources holding
        general slots (``src`` counted), never less than SLOT_SHARE_FLOOR (a bed's few streams)."""
        reg = self.registry
        n = len(reg.by_source) - sum(1 for r in reg.reserved if r in reg.by_source)
        n += src not in reg.by_source and src not in reg.reserved
        return max(min(SLOT_SHARE_FLOOR, reg.per_source), reg.max_streams // max(1, n))

    def _slot_tier(self, st, now_s: float, share: int):
        """How readily ``st`` gives its slot up: 0 never had a frame accepted, 1 silent and its source
        over its share, 2 silent, 3 live and its source over its share; None: never (a live stream
        of a source within its share, e.g. every bed of an honest ward)."""
        stats = st.stats
        if stats.frames == 0:
            return 0
        frame_s = 0.0 if st.last_t_s is None else st.last_t_s - st.last_t0_s + 1.0 / st.fs_hz
        silent = now_s - stats.last_seen > max(self.config.slot_silent_s, SLOT_SILENT_FRAMES * frame_s)
        over = self.registry.by_source[source_of(st.name)] > share
        if silent:
            return 1 if over else 2
        return 3 if over else None

    def _scan_slots(self, now_s: float):
        """List the streams that could give their slot up, best first (one pass over the slots)."""
        share = self._fair_share("")
        victims = []
        for name, st in self.registry.streams.items():
            tier = self._slot_tier(st, now_s, share)
            if tier is not None:
                victims.append((tier, st.stats.last_seen, name, st))
        victims.sort(key=lambda v: v[:2])
        self._slot_victims, self._slot_scan_s = victims, time.monotonic()

    def _make_room(self, name: str, why: str) -> str:
        """A new stream ``name`` refused for ``why`` (``too_many_streams``, ``source_quota``): evict
        the stream that gives its slot up most readily, if one may (module constants, docs/protocol.md);
        '' when ``name`` may now take a slot, else ``why``. No client can starve another: a flood of
        invented names holds its slots only while each name keeps sending, and a source over its fair
        share gives its slots to a source under it; a live stream of a source within its share (every
        bed of an honest ward) is never evicted. The candidates come from a pass over the slots made
        at most every SLOT_SCAN_EVERY_S, so a flood of refused names costs the loop no pass each."""
        reg, now_s, mono = self.registry, time.time(), time.monotonic()
        src = source_of(name)
        if mono - self._slot_scan_s > SLOT_SCAN_MAX_AGE_S:
            self._scan_slots(now_s)
        for attempt in (0, 1):
            share = self._fair_share(src)
            under = reg.by_source[src] < share
            for i, v in enumerate(self._slot_victims):
                if v is None:
                    continue
                _, seen, victim, st = v
                if reg.streams.get(victim) is not st:   # gone (expired, evicted, a new session)
                    self._slot_victims[i] = None
                    continue
                tier = self._slot_tier(st, now_s, share) if st.stats.last_seen != seen or v[0] == 3 else v[0]
                if tier is None:
                    self._slot_victims[i] = None
                    continue
                vsrc = source_of(victim)
                if why == "source_quota":   # the source's own slots only
                    ok = vsrc == src and tier < 3
                else:
                    ok = vsrc not in reg.reserved and (tier <= 1 or vsrc == src and tier < 3 or under and
                                                       (tier == 2 or vsrc != src))
                if ok:
                    self._slot_victims[i] = None
                    self._evict(victim, st, ("never_valid", "silent", "silent", "over_share")[tier], name)
                    return reg.admit(name)
            if attempt or mono - self._slot_scan_s < SLOT_SCAN_EVERY_S:
                return why
            self._scan_slots(now_s)
        return why

    def _forget_forecaster(self, name: str):
        """Forget the forecaster of stream ``name`` (a stream that lost its slot: expired or evicted),
        if its source's forecaster is that stream's."""
        sf = self.forecasters.get(source_of(name))
        if sf is not None and sf.stream == name:
            self.forecast_worker.forget(source_of(name))

    def _evict(self, name: str, st: InputStream, reason: str, newcomer: str):
        """Free ``name``'s slot for ``newcomer`` as :meth:`StreamRegistry.expire` would (its session and
        last sequence number remembered, its forecaster forgotten); counted by reason and logged."""
        self.registry.release(name)
        self._forget_forecaster(name)
        self.slot_evictions[reason] += 1
        mono = time.monotonic()
        if mono - self._evict_told_s >= EVICT_WARN_EVERY_S:
            self._evict_told_s = mono
            log.warning("no free stream slot: %s (%s, %d frame(s)) evicted for the new stream %s; %d eviction(s) "
                        "so far (status slots.evicted)", name, reason.replace("_", " "), st.stats.frames, newcomer,
                        sum(self.slot_evictions.values()))
