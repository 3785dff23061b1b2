"""Per-stream counters and latency percentiles, as reported by ``biosig status``."""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

import numpy as np

PERCENTILES = (50.0, 99.0, 99.9)


class Latency:
    """The last ``size`` latencies in milliseconds and their percentiles."""

    def __init__(self, size: int = 20000):
        self._buf = np.empty(max(1, int(size)), np.float64)   # a ring: no per-value Python objects
        self._n = 0          # values held (<= size)
        self._i = 0          # next slot
        self.count = 0
        self.max_ms = float("-inf")   # all negative (a device clock ahead): max is the largest of them, not 0
        self.min_ms = float("inf")
        self.ahead = 0       # negative latencies: the device clock runs ahead of the runtime's

    @property
    def values(self) -> np.ndarray:
        """The held latencies, oldest first."""
        if self._n < len(self._buf):
            return self._buf[:self._n].copy()
        return np.concatenate([self._buf[self._i:], self._buf[:self._i]])

    def add(self, ms: float):
        self._buf[self._i] = ms
        self._i = (self._i + 1) % len(self._buf)
        self._n = min(self._n + 1, len(self._buf))
        self.count += 1
        if ms > self.max_ms:
            self.max_ms = ms
        if ms < self.min_ms:
            self.min_ms = ms
        if ms < 0:
            self.ahead += 1

    def summary(self) -> dict:
        """``{"n", "p50", "p99", "p99.9", "max", "min", "ahead"}`` in ms (percentiles over the
        recent window, ``max`` / ``min`` over the whole run; NaN when empty); ``ahead`` counts the
        negative latencies: a device clock ahead of the runtime's, so these numbers measure clock
        offset as much as delay."""
        if not self._n:
            return {"n": 0, "p50": float("nan"), "p99": float("nan"), "p99.9": float("nan"),
                    "max": float("nan"), "min": float("nan"), "ahead": 0}
        p = np.percentile(self._buf[:self._n], PERCENTILES)   # order does not matter
        return {"n": self.count, "p50": float(p[0]), "p99": float(p[1]), "p99.9": float(p[2]),
                "max": float(self.max_ms), "min": float(self.min_ms), "ahead": int(self.ahead)}


#: What a client does about each reject reason (``status`` and the runtime's log say it beside the
#: count; protocol: docs/protocol.md).
REJECT_ADVICE = {
    "frames": "send [topic, header, payload] (payload only for signal frames)",
    "topic": "topic and header 'stream' must both be <source>/<stream> (1-64 of A-Z a-z 0-9 _ . -)",
    "header": "the header must be a msgpack map",
    "version": "set header v = 1",
    "schema": "header keys and types as in docs/protocol.md (no unknown keys; modality and dtype from its lists)",
    "rate": "fs_hz must lie in the modality's plausible range (docs/protocol.md): a unit mistake?",
    "shape": "shape [C, T] with 1-256 channels, 1-1048576 samples, one channel name and unit per row",
    "payload_size": "the payload must hold prod(shape) x itemsize bytes of dtype, little-endian",
    "nonfinite": "do not send NaN or inf: skip the frame (its seq number makes it a gap)",
    "inconsistent": "fs_hz, channels, modality and dtype are fixed within a session: new parameters need a "
                    "new session id (a publisher restart)",
    "unsupported": "the stream's preprocessing cannot take these frames (the runtime's log says why)",
    "session_conflict": "two publishers send this stream: give each device its own source name",
    "over_rate": "the stream sends its samples faster than real time (beyond ingest_speed_max and a backlog of "
                 "ingest_backlog_s): send at the device's pace, or raise them for a fast replay",
    "too_many_streams": "the runtime holds max_streams streams: raise it or free idle ones",
    "source_quota": "this source holds max_streams_per_source streams: use fewer stream names per source",
    "encoder": "the encoder failed on these windows (the runtime's log says why)",
    "score": "no score for these windows (the runtime's log says why)",
    "score_backlog": "the score thread fell behind (a backlog sent at once): windows got no score frame",
}


def reject_advice(reason: str) -> str:
    """What to do about frames rejected for ``reason`` ("" when there is nothing to say)."""
    return REJECT_ADVICE.get(reason, "")


@dataclass
class StreamStats:
    """Counters of one input stream. ``rejected`` maps a reject reason to a count."""

    name: str
    modality: str = ""
    frames: int = 0           # accepted frames
    samples: int = 0          # accepted samples (per channel)
    gaps: int = 0             # sequence gaps opened
    missing: int = 0          # frames missing inside those gaps
    duplicates: int = 0
    late: int = 0             # out-of-order frames (seq below the last accepted)
    restarts: int = 0         # publisher sessions after the first
    windows: int = 0
    outputs: int = 0          # embedding frames published
    forecasts: int = 0
    holds: int = 0
    dropped: int = 0          # windows dropped from the full encoder queue (oldest first)
    rejected: dict = field(default_factory=lambda: collections.Counter())
    first_seen: float = field(default_factory=time.time)
    last_seen: float = 0.0
    ingest_ms: Latency = field(default_factory=Latency)   # device timestamp -> accepted
    output_ms: Latency = field(default_factory=Latency)   # device timestamp -> published
    last_rejected: float = 0.0
    last_rejected_detail: str = ""     # "<reason>: <what was wrong>" of the newest rejected frame
    device_rate_hz: float | None = None   # samples per second of device time (streams.device_rate)
    rate_mismatch: str = ""            # what is wrong with the declared rate ("" when nothing)
    rate_pending: bool = False         # no verdict yet, and the run so far doubts the rate (streams.device_rate)
    rate_window_s: float = 10.0
    recent: collections.deque = field(default_factory=collections.deque)   # (recv_s, samples)

    def accept(self, recv_s: float, n_samples: int):
        """Count one accepted frame of ``n_samples`` received at ``recv_s``."""
        self.frames += 1
        self.samples += n_samples
        self.last_seen = recv_s
        self.recent.append((recv_s, n_samples))
        while self.recent and recv_s - self.recent[0][0] > self.rate_window_s:
            self.recent.popleft()

    def recent_rates(self, now: float) -> tuple[float, float]:
        """(samples/s, frames/s) over the last ``rate_window_s`` seconds (0 for a dead stream)."""
        recent = [n for t, n in list(self.recent) if now - t <= self.rate_window_s]  # list(): atomic copy
        span = min(self.rate_window_s, max(now - self.first_seen, 1e-3))
        return sum(recent) / span, len(recent) / span

    def snapshot(self, now: float) -> dict:
        span = max(now - self.first_seen, 1e-9)
        rate, frame_rate = self.recent_rates(now)
        return {
            "modality": self.modality, "frames": self.frames, "samples": self.samples,
            "rate_hz": rate, "frame_rate_hz": frame_rate, "rate_window_s": self.rate_window_s,
            "lifetime_rate_hz": self.samples / span,
            "gaps": self.gaps, "missing": self.missing, "duplicates": self.duplicates,
            "late": self.late, "restarts": self.restarts, "windows": self.windows,
            "outputs": self.outputs, "forecasts": self.forecasts, "holds": self.holds,
            "dropped": self.dropped, "rejected": dict(self.rejected),
            "rejected_total": int(sum(self.rejected.values())),
            "last_rejected": self.last_rejected_detail,
            "device_rate_hz": self.device_rate_hz, "rate_mismatch": self.rate_mismatch,
            "rate_pending": self.rate_pending,
            "age_s": (now - self.last_seen) if self.last_seen else float("nan"),
            "latency_ingest_ms": self.ingest_ms.summary(),
            "latency_ms": self.output_ms.summary(),
        }
