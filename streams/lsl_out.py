"""``biosig bridge lsl-out``: runtime outputs as Lab Streaming Layer outlets (:mod:`streams.lsl` describes the clock
mapping, :mod:`streams.lsl_clock`, and has the other way, ``biosig bridge lsl``).

One outlet per topic, made when the topic's first frame arrives: ``emb/<source>/<stream>`` (type
``Embedding``, one channel per dimension), ``fcst/<source>`` (type ``Forecast``, the marker channels) and
``hold/<source>`` (type ``Markers``, one string channel: the hold reason), all of irregular rate. Source ids are
``<prefix>:<topic>``. Each sample is stamped with the LSL time of its device time: embeddings at their window end,
forecasts at their target time, holds at their input time. Empty embeddings (modalities without a model) are not
bridged.

Clock. The mapping is ``bridge lsl``'s :class:`~streams.lsl_clock.LslClock`, inverted (``device_s - offset_s``):
the offset is measured again every :data:`~streams.lsl_clock.REFRESH_EVERY_S` between frames (never on the send
path), a step of the wall clock is said once with its size, ahead applied at once, back slewed in as ``bridge lsl``
does. An outlet's stamps never go back (LSL consumers take them as increasing): a frame whose stamp is before the
last one pushed on its outlet (the step, not yet measured or just applied; a publisher's clock set back) is pushed
with that last stamp, counted under ``"held"`` and said once per topic with how far back it was.

Nothing is lost in silence: a frame whose size differs from its outlet's channel count (an embedding model
changed its dimension) is not pushed, said once per topic and counted under ``"not_pushed"``; frames the
subscription missed (the runtime's sequence numbers) are counted under ``"missed"``.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from streams.config import DEFAULT_OUTPUT
from streams.errors import StreamError
from streams.lsl_clock import LslClock, _pylsl

log = logging.getLogger(__name__)

OUT_TOPICS = ("emb/", "fcst/", "hold/")
_KIND_TYPE = {"embedding": "Embedding", "forecast": "Forecast", "hold": "Markers"}
#: what a step of the wall clock does to the outlets' stamps (:class:`LslClock`'s ``said``)
SAID_OUT = ("the LSL stamps of later frames are as much earlier (an outlet's stamps never go back: held at its last "
            "until they pass it)",
            "the LSL stamps of later frames take it in at {slew:.0%}, as `bridge lsl` does (over {over_s:.0f} s)")


def out_clock(**kw) -> LslClock:
    """The clock of ``bridge lsl-out``: :class:`LslClock` (``kw``: its arguments) saying a step as :data:`SAID_OUT`."""
    return LslClock(said=SAID_OUT, **kw)


class _Outlets:
    """One LSL outlet per runtime output topic, made from the topic's first frame."""

    def __init__(self, pylsl, prefix: str):
        self.pylsl, self.prefix = pylsl, prefix
        self.outlets: dict[str, tuple[object, int]] = {}
        self.pushed: dict[str, int] = {}
        self.not_pushed: dict[str, int] = {}
        self.last_s: dict[str, float] = {}   # the last stamp pushed on each outlet (LSL time)
        self.held: dict[str, int] = {}

    def stamp(self, topic: str, lsl_s: float) -> float:
        """``lsl_s``, or the outlet's last stamp where it is before it (an outlet's stamps never go back)."""
        last = self.last_s.get(topic, lsl_s)
        if lsl_s < last:
            if topic not in self.held:
                log.warning("%s: a frame stamped %.1f ms before the last one pushed on its LSL outlet (the wall "
                            "clock stepping, or its publisher's clock set back): pushed with the last stamp, as are "
                            "later ones until they pass it (counted under held)", topic, (last - lsl_s) * 1e3)
            self.held[topic] = self.held.get(topic, 0) + 1
            lsl_s = last
        self.last_s[topic] = lsl_s
        return lsl_s

    def get(self, frame):
        pylsl, h, topic = self.pylsl, frame.header, frame.topic
        if topic in self.outlets:
            return self.outlets[topic]
        kind = h["kind"]
        if kind == "hold":
            n, fmt = 1, pylsl.cf_string
        else:
            n, fmt = int(frame.array.size), pylsl.cf_float32
        info = pylsl.StreamInfo(topic, _KIND_TYPE[kind], n, pylsl.IRREGULAR_RATE, fmt, f"{self.prefix}:{topic}")
        desc = info.desc()
        desc.append_child_value("biosig_stream", str(h.get("stream", "")))
        for key in ("model_id", "method", "horizon_steps", "horizon_s"):
            if key in h:
                desc.append_child_value(key, str(h[key]))
        chans = desc.append_child("channels")
        names = h.get("channels") if kind == "forecast" else None
        for i in range(n):
            c = chans.append_child("channel")
            c.append_child_value("label", str(names[i]) if names and i < len(names) else
                                 ("reason" if kind == "hold" else f"d{i}"))
        self.outlets[topic] = (pylsl.StreamOutlet(info), n)
        self.pushed[topic] = 0
        log.info("LSL outlet %s (%s, %d ch)", topic, _KIND_TYPE[kind], n)
        return self.outlets[topic]

    def refuse(self, topic: str, got: int, n: int):
        """A frame of ``got`` values for an outlet of ``n`` channels: counted, said once per topic."""
        if topic not in self.not_pushed:
            log.warning("%s: %d values, its LSL outlet has %d channels (the size changed): such frames are not "
                        "pushed (counted under not_pushed; restart the bridge for a new outlet)", topic, got, n)
        self.not_pushed[topic] = self.not_pushed.get(topic, 0) + 1


def _device_time(h: dict) -> float:
    kind = h["kind"]
    if kind == "embedding":
        return float(h["window_end_s"])
    if kind == "forecast":
        return float(h["target_s"])
    return float(h.get("t_s") or h["t_out_s"])


def bridge_lsl_out(*, endpoint: str = DEFAULT_OUTPUT, topics=OUT_TOPICS, key_dir=None, insecure: bool = False,
                   seconds: float | None = None, prefix: str = "biosig",
                   stop: threading.Event | None = None, clock: LslClock | None = None) -> dict:
    """Republish runtime outputs as LSL outlets until ``seconds`` passed or ``stop`` is set.

    Returns ``{topic: samples pushed}``, plus ``"not_pushed": {topic: frames}`` (a size that is not the
    outlet's), ``"missed": {topic: frames}`` (sequence gaps seen on the subscription) and ``"held": {topic:
    frames}`` (pushed with their outlet's last stamp, theirs being before it) when there are any. ``clock``: the
    clock mapping (a new :func:`out_clock`; a test passes one whose wall clock steps).
    """
    from streams.subscriber import Subscriber, unknown_topic_prefixes
    if wrong := unknown_topic_prefixes(topics, OUT_TOPICS):
        raise StreamError(f"--topics {' '.join(wrong)}: only outputs whose topic starts with {', '.join(OUT_TOPICS)} "
                          "become LSL outlets (others were subscribed to and dropped)")
    pylsl = _pylsl()
    stop = stop or threading.Event()
    clock = clock or out_clock()
    outlets = _Outlets(pylsl, prefix)
    end = None if seconds is None else time.monotonic() + seconds
    next_clock = time.monotonic() + clock.every_s
    with Subscriber(list(topics), endpoint, key_dir=key_dir, insecure=insecure) as sub:
        while not stop.is_set() and (end is None or time.monotonic() < end):
            if time.monotonic() >= next_clock:   # the wall clock's steps, measured between frames
                next_clock = time.monotonic() + clock.every_s
                clock.refresh()
            frame = sub.recv(0.1)
            if frame is None or frame.header.get("kind") not in _KIND_TYPE:
                continue
            h = frame.header
            if h["kind"] != "hold" and (frame.array is None or frame.array.size == 0):
                continue
            outlet, n = outlets.get(frame)
            if h["kind"] != "hold" and frame.array.size != n:
                outlets.refuse(frame.topic, frame.array.size, n)
                continue
            stamp = outlets.stamp(frame.topic, clock.to_lsl(_device_time(h)))
            if h["kind"] == "hold":
                outlet.push_sample([str(h.get("reason", ""))], stamp)
            else:
                outlet.push_sample(np.asarray(frame.array, np.float32).ravel().tolist(), stamp)
            outlets.pushed[frame.topic] += 1
        missed = {t: s["missing"] for t, s in sub.stats.items() if s.get("missing") and t in outlets.pushed}
    result: dict = dict(outlets.pushed)
    if outlets.not_pushed:
        result["not_pushed"] = dict(outlets.not_pushed)
    if missed:
        result["missed"] = missed
    if outlets.held:
        result["held"] = dict(outlets.held)
    return result
