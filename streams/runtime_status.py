"""The runtime's ``status`` body: one of the modules :class:`streams.runtime.Runtime` is made of.

:class:`StatusMixin` builds the dict every ``status`` frame carries (the periodic one on the output
socket, the answer of the status socket, :meth:`Runtime.status` in-process): streams and their
totals, rejected frames, slots, the encoder queue, overload, forecasters, models and recorder.
While the runtime starts it is the short ``{"state": "starting", ...}`` body.
"""
from __future__ import annotations

import time


def _lane_queue(lane: str) -> str:
    return "encoder" if lane == "main" else f"encoder/{lane}"


#: The per-stream counters ``status`` sums in ``totals`` (with ``invalid``, the frames refused before a stream).
TOTAL_KEYS = ("frames", "samples", "gaps", "missing", "duplicates", "late", "windows", "outputs", "forecasts",
              "holds", "dropped", "rejected_total", "restarts")


class StatusMixin:
    """Status side of :class:`streams.runtime.Runtime` (reads the state the other halves keep)."""

    def _queue_lengths(self) -> dict:
        """Items waiting in every queue that can grow, by the name the overload signal gives it
        (:mod:`streams.status_overload`): ``encoder`` (the main lane), ``encoder/<modality>``, ``scores``."""
        out = {_lane_queue(ln.name): len(ln) for ln in self.lanes.values()}
        if self.score_worker is not None:
            out["scores"] = self.score_worker.pending
        return out

    def _drops(self) -> dict:
        """Windows dropped so far for a full queue, by the same names (a score queue's: score frames)."""
        out = {_lane_queue(ln.name): ln.dropped for ln in self.lanes.values()}
        if self.score_worker is not None:
            out["scores"] = self.score_worker.dropped
        return out

    def status(self) -> dict:
        now = time.time()
        base = {"state": self.state, "epoch": self.epoch, "uptime_s": now - self.started_s}
        if self.state == "starting":
            return {**base, "streams": {}, "totals": {}, "invalid": {}, "auth_failures": 0, "forecasters": {},
                    "models": {}, "queue": {"pending_windows": 0, "max": self.config.embed_queue, "batches": 0}}
        streams = {name: s.snapshot(now) for name, s in sorted(list(self.stats.items()))}
        # every counter from 0, also before the first stream: a runtime that received nothing said
        # {"invalid": 0}, and a client reading totals["frames"] met a KeyError
        totals = dict.fromkeys(TOTAL_KEYS, 0)
        for s in streams.values():
            for key in TOTAL_KEYS:
                totals[key] += s[key]
        totals["invalid"] = sum(self.invalid.values())
        lanes = list(self.lanes.values())
        reg = self.registry
        return {
            **base, "ready_after_s": self.ready_after_s, "warm_up": self.warm,
            "endpoints": dict(zip(("ingest", "output", "status"), self.bound.all())) if self.bound else {},
            "streams": streams, "totals": dict(totals),
            "invalid": dict(self.invalid), "invalid_last": self.invalid_last, "auth_failures": sum(self.auth_failures.values()),
            "auth_failures_by_socket": dict(self.auth_failures),
            "slots": {"general": reg.general, "max": reg.max_streams, "per_source_max": reg.per_source,
                      "reserved_sources": sorted(reg.reserved), "expired": reg.expired,
                      "idle_expire_s": reg.idle_expire_s, "evicted": dict(self.slot_evictions)},
            "queue": {"pending_windows": sum(len(ln) for ln in lanes), "max": self.config.embed_queue,
                      "encoder_busy": any(ln.worker.busy for ln in lanes),
                      "score_pending": self.score_worker.pending if self.score_worker else 0,
                      "batches": sum(ln.worker.batches for ln in lanes),
                      "batch_size": self.batch_sizes.summary(),
                      "lanes": {ln.name: {"pending_windows": len(ln), "batches": ln.worker.batches,
                                          "windows": ln.worker.windows} for ln in lanes}},
            "overload": self.overload.state(),
            "forecasters": self.forecast_worker.describe() if self.forecast_worker else {},
            "forecast_path_priority": self.priority,
            "cpu_wakeup_latency": self.wakeup.state if self.wakeup is not None else "not requested yet",
            "models": self.models.describe() if self.models else {},
            "windows": {m: list(w) for m, w in sorted(self.windows.items())},
            "audio_fmax_hz": self.config.audio_fmax_hz,   # serve --audio-fmax-hz: audio model input band
            "recorder": ({"dir": str(self.recorder.dir), **self.recorder.rows_written}
                         if self.recorder is not None else None),
        }

    def _status_header(self) -> dict:
        return {"kind": "status", "stream": "runtime", "seq": 0, "t_s": time.time(), "epoch": self.epoch,
                "body": self.status()}
