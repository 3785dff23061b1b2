"""The rate a stream's device timestamps say it sends at, against the rate it declares.

A monitor that declares 250 Hz but sends 500 samples per second of its own clock has every window
cut, filtered and measured at the wrong rate: its heart rate reads half (95 /min published as 47).
Frames carry device time (``t0_s`` of each frame's first sample, docs/protocol.md): over a run of
frames without a gap, the samples sent divided by the device time they took is the real rate.

Only device time is read, never the wall clock of arrival: frames batched or sent in bursts
(``replay --speed N`` sends N times faster than real time, its device time runs at the recording's
rate) measure the same. A verdict needs :data:`MIN_SPAN_S` of device time without a gap; timestamp
jitter is allowed for by :data:`TIME_SLACK_S` on top of :data:`RATE_TOLERANCE`: a mismatch is called
when the samples' duration at the declared rate and the device time they spanned differ by more
than ``RATE_TOLERANCE * span + TIME_SLACK_S``, so a 2x error is seen after 10 s of device time, 10 %
after 20 s, 6 % after 100 s, and jitter of a fraction of a second never is. A gap (a sequence jump,
a device-time hole, a restart) starts the measurement afresh (the samples lost in it are unknown;
the last verdict stands until the new run gives one); a duplicate or late frame is not measured.
The measurement spans at most :data:`RATE_SPAN_S` of device time, so one clock step ages out.
"""
from __future__ import annotations

import collections

#: Relative disagreement between the declared and the measured rate allowed ("a few percent").
RATE_TOLERANCE = 0.05
#: Seconds of timestamp error allowed over a measured span (jitter at both of its ends, coarse clocks).
TIME_SLACK_S = 1.0
#: The longest span of device time measured (older reference points are let go).
RATE_SPAN_S = 120.0
#: Reference points are kept at most this often (seconds of device time), so memory stays bounded.
POINT_EVERY_S = 1.0
#: The shortest span of device time that gives a verdict (either way): a shorter run after a gap
#: cannot tell a few percent, and a backlog sent at once with the SDK's default stamps (each frame
#: "ends now") spans a few milliseconds of device time, which says nothing of the device's rate.
MIN_SPAN_S = 10.0


class DeviceRate:
    """Samples per second of device time of one stream session, against its declared ``fs_hz``."""

    def __init__(self, fs_hz: float):
        self.fs_hz = float(fs_hz)
        self.points: collections.deque = collections.deque()   # (t0_s of a frame, samples before it)
        self.count = 0            # samples of the current run, up to the newest frame's first
        self.last_n = 0           # samples of the newest frame
        self.measured_hz: float | None = None
        self.span_s = 0.0
        self.mismatch = False

    def restart(self, t0_s: float, n: int):
        """A gap before this frame: measure afresh from its first sample. The verdict stands until
        a new span says otherwise (a gap does not clear a misdeclared rate)."""
        self.points.clear()
        self.points.append((float(t0_s), 0))
        self.count, self.last_n = 0, int(n)

    def add(self, t0_s: float, n: int) -> bool:
        """The next frame of the run (first sample at device time ``t0_s``, ``n`` samples); returns
        the verdict: True while the measured rate disagrees with the declared one."""
        if not self.points:
            self.restart(t0_s, n)
            return self.mismatch
        t0_s = float(t0_s)
        self.count += self.last_n
        self.last_n = int(n)
        if t0_s - self.points[-1][0] >= POINT_EVERY_S:
            self.points.append((t0_s, self.count))
        while len(self.points) > 2 and t0_s - self.points[1][0] >= RATE_SPAN_S:
            self.points.popleft()
        t_ref, k_ref = self.points[0]
        span_s, k = t0_s - t_ref, self.count - k_ref
        if span_s >= MIN_SPAN_S:
            self.span_s, self.measured_hz = span_s, k / span_s
            self.mismatch = abs(k / self.fs_hz - span_s) > RATE_TOLERANCE * span_s + TIME_SLACK_S
        return self.mismatch

    def text(self) -> str:
        """What is wrong, for ``status`` and the log ("" when nothing is)."""
        if not self.mismatch:
            return ""
        return (f"declared {self.fs_hz:g} Hz but {self.measured_hz:.1f} samples per second of device time over "
                f"{self.span_s:.0f} s: measures withheld (fix the device's declared rate or its timestamps)")
