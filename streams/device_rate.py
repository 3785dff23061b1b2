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

Before the first verdict (``rate_pending``): from :data:`PROVISIONAL_SPAN_S` of device time on, a
run whose samples already disagree with the declared rate by the same test is *suspect*, and the
runtime withholds its measures as ``rate_pending`` until the verdict at :data:`MIN_SPAN_S`. A 2x
error is plain after 1.05 s (1 s of slack), so the first 10 s window of a monitor declaring 250 Hz
and sending 500 (it is complete at 5 s of device time) is never published as ok (before: its first
eleven windows were, at half the heart rate). An honest monitor is never suspect, so its first
measure comes as soon as its first window, as before (withholding every window until a verdict
would cost it the first window or more, and a client sending a recording at once with the SDK's
default stamps, which never gives a verdict, every measure).

A run is one rate or it is not measured as one: when its whole span disagrees with the declared
rate but its recent half (at least ``span / 2`` of device time) disagrees with the rate of the whole
span, the older part is let go and the measurement goes on from the recent half. A backlog sent at
once with the SDK's default stamps (60 s of samples within milliseconds of device time) and then
live frames condemned the live part for 120 s; now the live part is measured alone.

A device whose declared rate is more than its real one, sending frames of more than ~2 s, leaves a
device-time hole after every frame (each frame's samples span half the time to the next): every
frame restarted the measurement and it was never flagged. Frames that each follow a device-time
hole with consecutive sequence numbers are measured as one run of their own, from the frame before
the first hole, while each frame's step of device time agrees with the run's rate (a misdeclared rate
stretches every frame alike; pauses of different lengths do not, and restart it): it gives a verdict from :data:`MIN_HOLE_FRAMES` such frames on (a device that paused,
lead off, resumes without holes and never gives one) and makes the stream suspect from the first (a
pause's suspicion ends when the run after it spans :data:`PROVISIONAL_SPAN_S`). Only the windows of
the first frame of such a device can be published: no device time says anything before a second.
A hole back (a clock set back) restarts the measurement, and a run of holes never starts from a
frame after one: a recorder that stamped one sample ~0 s and went on (shared marker session
201205101534, three times) read "1 sample in 13 s" across the glitch and held an honest stream.

A long frame is evidence on its own (``stretched``): with the next sequence number, the device time
from a frame of two or more samples to the next one is the time its samples took, and a frame that
took at least :data:`STRETCH_RATIO` times what they take at the declared rate, and more than
:data:`STRETCH_SLACK_S` beyond it (timestamp jitter), makes the stream doubted at once (``pending``:
a marker stream's forecasts are held, ``rate_pending``), until a frame takes its declared time again
(the next one, after a clock stepped ahead once). A device declaring 10 Hz and sending 5 in frames of
2 s (SDK stamps: each step ~1 s past the frame's end, on either side of the hole threshold) had 5
of its first 6 frames forecast, 0.3 s "ahead" for 0.6 s; frames of 2.5 s at a third of 30 Hz had
2. Nothing in device time tells a first frame's rate, so a marker stream's first frame of a
session (``confirm_first``; two or more samples) is doubted too (``first_frame``: held as
``rate_pending``, a hold, never a number) until a second frame with the next sequence number judges
it by its step: the cost is one frame per (re)connect (before, that first frame was forecast under
the SDK's default stamps, e.g. 10 Hz declared, 5 Hz sent in frames of 2 s). Single-sample frames
carry no span of their own (a recorder's lost samples, with the next sequence number, are not a
rate), so a single-sample first frame is not held: no second frame could judge it either.

Every reason short of a verdict is one :class:`Doubt` record (kind, span, samples), read by
:attr:`DeviceRate.doubt`: the hold's detail is made from it alone.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass

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
#: The shortest span of device time over which a disagreement makes a stream without a verdict
#: suspect (its measures withheld as ``rate_pending``): twice the slack, still far above the
#: milliseconds a backlog with default stamps spans.
PROVISIONAL_SPAN_S = 2.0
#: The same for marker streams, whose forecasts name an instant (``target_s``): a device several
#: times faster than it declares is told from a quarter second on (the disagreement must still
#: exceed :data:`TIME_SLACK_S`: 5x from 0.25 s, 3x from 0.5 s, 2x from 1.05 s), before the
#: forecaster's warm-up ends at the rate it declares (5x: 39 forecasts before 2 s otherwise).
MARKER_PROVISIONAL_SPAN_S = 0.25
#: Frames each after a device-time hole (consecutive sequence numbers) that are measured as a run.
MIN_HOLE_FRAMES = 3
#: A frame (two or more samples) whose step of device time to the next frame (the next sequence
#: number) is this many times what its samples take at the declared rate ...
STRETCH_RATIO = 1.5
#: ... and more than this beyond it (seconds: timestamp jitter) makes the stream doubted at once.
STRETCH_SLACK_S = 0.5


@dataclass(frozen=True)
class Doubt:
    """Why a stream's rate is doubted short of a verdict (``pending``): ``kind`` ``suspect`` (its run
    so far disagrees), ``stretched`` (its previous frame took far longer than declared) or
    ``first_frame`` (a marker stream's first frame of a session: nothing in device time has judged
    it yet); ``k`` samples over ``span_s`` seconds of device time (``first_frame``: at the declared rate)."""
    kind: str
    span_s: float
    k: int


def disagrees(k: int, span_s: float, fs_hz: float) -> bool:
    """True when ``k`` samples at ``fs_hz`` and the ``span_s`` of device time they took differ by
    more than the tolerance and the slack."""
    return abs(k / fs_hz - span_s) > RATE_TOLERANCE * span_s + TIME_SLACK_S


class _Run:
    """Reference points ``(t0_s of a frame, samples before it)`` of one run of frames."""

    def __init__(self, t0_s: float, n: int):
        self.points: collections.deque = collections.deque([(float(t0_s), 0)])
        self.t_last = float(t0_s)   # first sample of the newest frame
        self.count = 0              # samples of the run, up to the newest frame's first
        self.last_n = int(n)        # samples of the newest frame
        self.frames = 1
        self.after_back = False     # the run starts at a frame whose device time went back (a hole back)

    def extend(self, t0_s: float, n: int):
        t0_s = float(t0_s)
        self.count += self.last_n
        self.last_n, self.t_last = int(n), t0_s
        self.frames += 1
        if t0_s - self.points[-1][0] >= POINT_EVERY_S:
            self.points.append((t0_s, self.count))
        while len(self.points) > 2 and t0_s - self.points[1][0] >= RATE_SPAN_S:
            self.points.popleft()

    def span(self) -> tuple[float, int]:
        """(device time, samples) from the oldest reference point to the newest frame's first sample."""
        t_ref, k_ref = self.points[0]
        return self.t_last - t_ref, self.count - k_ref

    def steps_agree(self) -> bool:
        """True when every step between reference points took the device time its samples take at
        the rate of the whole span (within the tolerance and the slack): a misdeclared rate stretches
        every frame alike, pauses of a device do not."""
        span_s, k = self.span()
        pts = list(self.points)
        return all(abs((k1 - k0) * span_s - k * (t1 - t0)) <= k * (RATE_TOLERANCE * (t1 - t0) + TIME_SLACK_S)
                   for (t0, k0), (t1, k1) in zip(pts, pts[1:]))

    def one_rate(self) -> bool:
        """False when the recent half of the span disagrees with the rate of the whole span (the
        older part is then let go: a backlog with default stamps, a clock step); True otherwise."""
        span_s, k = self.span()
        recent = [p for p in self.points if self.t_last - p[0] >= span_s / 2]
        if len(recent) < 2:   # the recent half starts at the oldest point: nothing to compare
            return True
        t_p, k_p = recent[-1]
        s2, k2 = self.t_last - t_p, self.count - k_p
        # k2 samples at the whole span's rate k / span_s take k2 * span_s / k of device time
        if abs(k2 * span_s - k * s2) <= k * (RATE_TOLERANCE * s2 + TIME_SLACK_S):
            return True
        while self.points[0][0] < t_p:
            self.points.popleft()
        return False


class DeviceRate:
    """Samples per second of device time of one stream session, against its declared ``fs_hz``."""

    def __init__(self, fs_hz: float, holes_to_doubt: int = 1, provisional_span_s: float = PROVISIONAL_SPAN_S,
                 confirm_first: bool = False):
        self.fs_hz = float(fs_hz)
        # marker streams: the session's first frame (two or more samples) is doubted until a second
        # frame, with the next sequence number, lets its step of device time judge it (module doc)
        self.confirm_first = bool(confirm_first)
        self.provisional_span_s = float(provisional_span_s)   # the shortest span that makes a stream suspect
        # device-time holes before a run of them can make the stream suspect: 1 for windowed streams
        # (their windows restart at a hole anyway); 2 for marker streams, whose forecasts a single
        # hole (as much a clock stepped ahead, then back) would hold for 2 s after the clock is right
        self.holes_to_doubt = int(holes_to_doubt)
        self.run: _Run | None = None     # frames since the last gap
        self.holes: _Run | None = None   # frames each after a device-time hole (see the module's doc)
        self.measured_hz: float | None = None
        self.span_s = 0.0
        self.mismatch = False
        # what doubts the rate short of a verdict, each a Doubt or None: the run so far (kept until
        # the next judgement), the newest frame step (each frame), a marker session's first frame
        self._suspect: Doubt | None = None
        self._stretched: Doubt | None = None
        self._first: Doubt | None = None

    @property
    def doubt(self) -> Doubt | None:
        """The reason the rate is doubted short of a verdict (the run's before a frame's), or None."""
        return None if self.mismatch else (self._suspect or self._stretched or self._first)

    @property
    def pending(self) -> bool:
        """True while the stream's measures wait for a verdict its run so far already doubts."""
        return self.doubt is not None

    def _stretch(self, t0_s: float, n: int):
        """``stretched`` from the step to this frame (first sample at ``t0_s``) from the previous one
        of the run (the next sequence number; see the module's doc)."""
        prev = self.run
        self._stretched = self._first = None   # a second frame: the first is judged by its step here
        if prev is None or prev.last_n < 2:   # a single sample spans no time of its own
            return
        took, k = float(t0_s) - prev.t_last, prev.last_n
        declared = k / self.fs_hz
        if took >= STRETCH_RATIO * declared and took - declared > STRETCH_SLACK_S:
            self._stretched = Doubt("stretched", took, k)

    def restart(self, t0_s: float, n: int):
        """A gap before this frame: measure afresh from its first sample. The verdict stands until
        a new span says otherwise (a gap does not clear a misdeclared rate)."""
        if self.run is None and self.confirm_first and n >= 2:   # the session's first frame
            self._first = Doubt("first_frame", n / self.fs_hz, int(n))
        self.run, self.holes = _Run(t0_s, n), None
        self._stretched = None   # the frames lost in the gap are unknown: no step to judge

    def hole(self, t0_s: float, n: int) -> bool:
        """A frame after a device-time hole, with the next sequence number: the run restarts from it,
        and it extends the run of such frames (from the frame before the first hole); the verdict."""
        if self.run is not None and t0_s < self.run.t_last:   # a clock set back: a new time base, no rate
            self.restart(t0_s, n)
            self.run.after_back = True
            return self.mismatch
        self._stretch(t0_s, n)
        if self.holes is None:   # (never from a frame stamped after a clock set back: the glitch of a
            # recorder that stamps one sample ~0 s and goes on, 201205101534, was "1 sample in 13 s")
            self.holes = (_Run(self.run.t_last, self.run.last_n) if self.run is not None and not self.run.after_back
                          else _Run(t0_s, n))
        if self.run is not None:
            t_prev, n_prev = self.holes.t_last, self.holes.last_n
            self.holes.extend(t0_s, n)
            if not self.holes.steps_agree():   # pauses, not a rate: measured from the latest hole on
                self.holes = _Run(t_prev, n_prev)
                self.holes.extend(t0_s, n)
        self.run = _Run(t0_s, n)
        if self.holes.frames > self.holes_to_doubt:   # (marker streams: two holes alike; one alone is
            # as much a clock stepped ahead)
            self._judge(self.holes, verdict=self.holes.frames > MIN_HOLE_FRAMES)
        return self.mismatch

    def add(self, t0_s: float, n: int) -> bool:
        """The next frame of the run (first sample at device time ``t0_s``, ``n`` samples); returns
        the verdict: True while the measured rate disagrees with the declared one."""
        if self.run is None:
            self.restart(t0_s, n)
            return self.mismatch
        self.holes = None   # a frame without a hole: the device paused, if anything
        self._stretch(t0_s, n)
        self.run.extend(t0_s, n)
        self._judge(self.run)
        return self.mismatch

    def _judge(self, run: _Run, verdict: bool = True):
        """Update the verdict (``verdict`` False: at most the suspicion) from ``run``."""
        span_s, k = run.span()
        if span_s < self.provisional_span_s:
            return
        wrong = disagrees(k, span_s, self.fs_hz)
        if wrong and not run.one_rate():
            span_s, k = run.span()
            wrong = disagrees(k, span_s, self.fs_hz)
        if span_s >= MIN_SPAN_S and verdict:
            self.span_s, self.measured_hz = span_s, k / span_s
            self.mismatch, self._suspect = wrong, None
        else:
            self._suspect = Doubt("suspect", span_s, k) if wrong else None

    def text(self, withheld: str = "measures") -> str:
        """What is wrong, for ``status`` and the log ("" when nothing is); ``withheld``: what the
        runtime withholds meanwhile (a marker stream's forecasts, a windowed stream's measures)."""
        if not self.mismatch:
            return ""
        return (f"declared {self.fs_hz:g} Hz but {self.measured_hz:.1f} samples per second of device time over "
                f"{self.span_s:.0f} s: {withheld} withheld (fix the device's declared rate or its timestamps)")

    def forecast_hold(self) -> tuple[str, str] | None:
        """``(hold reason, detail)`` while a marker stream's forecasts cannot be trusted: its samples
        are not ``fs_hz`` apart, so a forecast ``horizon_steps`` ahead is not ``horizon_s`` ahead
        (``target_s`` names the wrong instant). ``rate_mismatch`` after a verdict, ``rate_pending``
        while the run so far doubts the rate; None when neither."""
        if self.mismatch:
            return "rate_mismatch", (f"declared {self.fs_hz:g} Hz but {self.measured_hz:.1f} samples per second of "
                                     f"device time over {self.span_s:.0f} s: target_s would name the wrong instant; "
                                     "fix the device's declared rate or its timestamps")
        d = self.doubt
        if d is None:
            return None
        if d.kind == "suspect":
            return "rate_pending", (f"{d.k} samples in {d.span_s:.1f} s of device time, not {d.span_s * self.fs_hz:.0f} "
                                    f"at the declared {self.fs_hz:g} Hz: held until the verdict at {MIN_SPAN_S:g} s "
                                    "of device time")
        if d.kind == "stretched":   # the previous frame alone says so
            return "rate_pending", (f"the last frame's {d.k} samples took {d.span_s:.2f} s of device time, not "
                                    f"{d.k / self.fs_hz:.2f} at the declared {self.fs_hz:g} Hz: held until a frame "
                                    f"takes its declared time or the verdict at {MIN_SPAN_S:g} s")
        return "rate_pending", (f"the first frame of the session ({d.k} samples, {d.span_s:.2f} s at the declared "
                                f"{self.fs_hz:g} Hz): no device time tells its rate before a second frame; held "
                                "until one confirms it")
