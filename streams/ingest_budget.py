"""Per-stream ingest budget: device seconds accepted per wall-clock second.

Every accepted frame costs the event loop the same work whatever the wall clock says (decode,
sequence, rate measurement, recording, windows, embeddings, scores). A client sending a stream at
500 times real time (5,000 frames of 0.1 s a second) took the loop from every other bed: a bed at
real time beside it had its embeddings 0.9-3.6 s late. So each stream may send at most
``speed`` seconds of samples (a frame's ``T / fs_hz``, whatever its stamps say) per second of wall
clock, beyond an allowance of ``backlog_s`` seconds of samples (a device replaying its backlog after
an outage, a client sending a recording at once). Defaults (streams.config): 20 x real time (``replay
--speed`` up to 20, a monitor misdeclaring its rate, whose frames the runtime must see to say so)
and an hour of samples. The allowance
refills as the wall clock runs. A frame beyond the budget is rejected as ``over_rate`` (counted per
stream, the last reason in ``status``); its sequence number is then a gap of the frames after it,
so no window spans the frames left out. A single frame longer than the whole allowance passes when
the allowance is full (and empties it): one frame is one event-loop turn, whatever it holds.

The source has a budget too (its streams' sum): one source may hold ``max_streams_per_source``
(64) streams, and with a budget per stream only, a client spreading its frames over N stream names
had N backlogs (8 names: 240 s of samples taken at once under a backlog of 30 s). A source's streams
share one backlog of ``backlog_s``, refilled at ``speed`` x the streams it holds: a bed sending ECG,
PPG and RESP at real time, or replaying them at 20 x, stays within it; a frame must pass both.

The same rule, with its own numbers, bounds the forecast path's learning (streams.forecast,
``LEARN_RATE``/``LEARN_BURST_S``).

Within the allowance a stream may still send faster than its budget refills (a client at 500 x
spends the hour's allowance in 7 s, and a real-time bed beside it had its embeddings 0.55-0.62 s
late, p50 of its windows in the flood's first 5 s, ``benchmarks/bench_flood.py`` on 2 shared
cores). Such a stream is *catching up* (:meth:`IngestBudget.spending`: more than
:data:`CATCHUP_SLACK_S` of its allowance, or of its source's, spent): its frames are still taken
whole, but its windows are cut after those of the streams at their real-time rate in each drain
of the ingest socket (streams.runtime_ingest; the flag is ``InputStream.catching_up``). A bed
sending at real time, ``replay --speed`` up to 20 (refilled as fast as it is spent) and an outage's
backlog under a minute never are. Most of that bed's delay is the encoder's, not the loop's: its
window waited in the lane behind the flood's batches (0.18-0.47 s, p50) and took 0.09-0.34 s in
the model on the loaded cores.
"""
from __future__ import annotations

#: A stream (or source) that has spent more than this many seconds of samples of its allowance
#: (at most half the allowance) is catching up: sending faster than its budget refills.
CATCHUP_SLACK_S = 60.0


class IngestBudget:
    """Token bucket of device seconds for one stream (carried across its publisher sessions)."""

    __slots__ = ("speed", "backlog_s", "tokens_s", "last_wall_s")

    def __init__(self, speed: float, backlog_s: float, now_s: float):
        self.speed = float(speed)
        self.backlog_s = float(backlog_s)
        self.tokens_s = self.backlog_s          # a new stream may start with its backlog
        self.last_wall_s = float(now_s)

    def admit(self, frame_s: float, now_s: float) -> bool:
        """Whether a frame of ``frame_s`` seconds of samples, received at wall time ``now_s``, is
        within the budget (and charge it if so)."""
        if self.would_admit(frame_s, now_s):
            self.charge(frame_s)
            return True
        return False

    def would_admit(self, frame_s: float, now_s: float) -> bool:
        """:meth:`admit` without the charge (the refill up to ``now_s`` is done)."""
        dt = now_s - self.last_wall_s
        if dt > 0:   # a wall clock set back refills nothing
            self.tokens_s = min(self.backlog_s, self.tokens_s + dt * self.speed)
        self.last_wall_s = now_s
        return frame_s <= self.tokens_s or self.tokens_s >= self.backlog_s

    def spending(self) -> bool:
        """Whether more than :data:`CATCHUP_SLACK_S` (at most half the backlog) of the allowance is
        spent, as of the last :meth:`would_admit` (catching up: faster than the refill)."""
        return self.tokens_s < self.backlog_s - min(CATCHUP_SLACK_S, self.backlog_s / 2)

    def charge(self, frame_s: float) -> None:
        self.tokens_s = max(0.0, self.tokens_s - frame_s)

    def detail(self, frame_s: float) -> str:
        return (f"{frame_s:.3g} s of samples with {self.tokens_s:.3g} s of budget left: the stream sends faster "
                f"than {self.speed:g} x real time beyond a backlog of {self.backlog_s:g} s (ingest_speed_max, "
                "ingest_backlog_s)")

    def source_detail(self, source: str, n_streams: int, frame_s: float) -> str:
        return (f"{frame_s:.3g} s of samples with {self.tokens_s:.3g} s of the source {source}'s budget left: its "
                f"{n_streams} stream(s) send faster than {self.speed:g} x real time together beyond a shared "
                f"backlog of {self.backlog_s:g} s (ingest_speed_max per stream, ingest_backlog_s)")
