"""Lab Streaming Layer bridges, both ways (needs the optional ``pylsl``, whose wheel ships liblsl).

* :func:`bridge_lsl_in` (``biosig bridge lsl``): every LSL outlet found (or every one whose property
  ``prop`` equals ``value``) is published into the runtime as ``<source_id or name>/<type>``. A stream that
  cannot be bridged (string or irregular-rate streams: the wire protocol carries regularly sampled numbers;
  no channels or more than the protocol's; a rate the runtime refuses for its modality) is said on a line
  of its own and listed under ``"skipped"``. An outlet that goes away is bridged again when it comes back
  if it has a ``source_id`` (liblsl recovers it, in about a second: said, counted under ``"reconnected"``, its
  clock correction measured again); without one it is lost for good, said, listed under ``"lost"``.
* :func:`bridge_lsl_out` (``biosig bridge lsl-out``, :mod:`streams.lsl_out`): runtime outputs become LSL
  outlets, one per topic.

Clock mapping. LSL time is ``pylsl.local_clock()`` (seconds on a monotonic clock with an
arbitrary origin); biosig device time is Unix seconds. :class:`LslClock` measures
``offset_s = time.time() - local_clock()`` at start (the reading with the shortest
``time.time()`` round trip of a few tries) and again every :data:`streams.lsl_clock.REFRESH_EVERY_S`
between pulls: a step of the wall clock (NTP, a clock set by hand) is said with its size, applied at
once when ahead and slewed in when back, so that device time never goes back (:class:`LslClock`), then

* into the runtime: ``device_s = lsl_stamp + time_correction + offset_s``, where
  ``time_correction`` is the inlet's estimate of the outlet host's clock minus ours (0 on the
  same host; read again every :data:`CORRECTION_EVERY_S`); a frame of T samples is stamped so that its
  *last* sample carries the device time of the last LSL stamp (``t0_s = device(stamps[-1]) - (T - 1) / fs``);
* out of the runtime (:mod:`streams.lsl_out`): ``lsl_stamp = device_s - offset_s`` by the same clock run backwards
  (a step ahead at once, back slewed; an outlet's stamps never go back), with ``device_s`` the window end
  (``window_end_s``) for embeddings, the forecast's target time (``target_s`` = input time +
  horizon) for forecasts, and the input time (``t_s``, else ``t_out_s``) for holds. An LSL
  consumer on another host applies its own ``time_correction`` as usual.
"""
from __future__ import annotations

import logging
import re
import threading
import time

import numpy as np

from streams.config import DEFAULT_INGEST
from streams.errors import StreamError
from streams.lsl_clock import LslClock, _pylsl  # noqa: F401  (LslClock: part of this module's API)
from streams.lsl_out import OUT_TOPICS, bridge_lsl_out  # noqa: F401  (the other way, re-exported)

log = logging.getLogger(__name__)


def _name(text: str, default: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", text or "")[:64] or default


def _channels(info, n: int):
    """Channel labels and units from the stream's ``desc/channels`` (``chN`` / ``""`` if absent; cut to the
    protocol's 64 characters: a longer label made the whole stream unbridgeable)."""
    labels, units = [], []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(labels) < n:
        labels.append((ch.child_value("label") or f"ch{len(labels) + 1}")[:64])
        units.append((ch.child_value("unit") or "")[:64])
        ch = ch.next_sibling()
    if len(labels) != n:
        labels, units = [f"ch{i + 1}" for i in range(n)], [""] * n
    return labels, units


#: LSL content types (the XDF meta-data conventions) that name a biosig modality other than their own.
_LSL_TYPE_MODALITY = {"mocap": "motion"}


def lsl_modality(kind: str, labels) -> str:
    """The modality of an LSL stream: its type when that names one (``ECG``, ``Audio``; ``MoCap`` is
    ``motion``, so a tracked marker is forecast), else the guess from its channel labels."""
    from biosig.modality import MODALITIES, infer_modality
    kind = (kind or "").lower()
    if kind in MODALITIES:
        return kind
    return _LSL_TYPE_MODALITY.get(kind) or infer_modality(labels)


# The fields of an LSL stream's info (liblsl's stream_info XML): resolve_byprop matches one of them, or an
# element under desc/ (e.g. desc/manufacturer); any other name matches no stream, ever.
LSL_PROPERTIES = ("name", "type", "channel_count", "channel_format", "source_id", "nominal_srate", "version",
                  "created_at", "uid", "session_id", "hostname", "v4address", "v4data_port", "v4service_port",
                  "v6address", "v6data_port", "v6service_port")


def check_lsl_property(prop: str) -> None:
    """Refuse a ``--prop`` no LSL stream can have (``typ`` for ``type``): without this the bridge looked for
    ``--resolve-s`` seconds and said only that no stream was found."""
    if prop in LSL_PROPERTIES or (prop.startswith("desc/") and len(prop) > len("desc/")):
        return
    import difflib
    near = difflib.get_close_matches(prop, LSL_PROPERTIES, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise StreamError(f"--prop {prop!r} is no LSL stream property: {hint}LSL streams have "
                      f"{', '.join(LSL_PROPERTIES[:5])}, ... or desc/<element> of their description")


#: after the first stream matching ``--prop`` is found, look this much longer for the others
SETTLE_S = 0.5
#: an open stream from which nothing came for this long is said to be silent (once; its return is said too)
SILENT_S = 5.0
#: how often the inlets' clock corrections are read again (liblsl keeps estimating them in the background)
CORRECTION_EVERY_S = 5.0
OPEN_S = 2.0   # the longest wait to open one stream, and for the clock corrections of all of them


def _resolver(pylsl, prop, value):
    """A background resolver of every stream, or of those whose ``prop`` is ``value``. liblsl quotes the value
    with ``'`` in its XPath query: a value holding one (``--value "it's"``) ended in a traceback."""
    if not prop:
        return pylsl.ContinuousResolver()
    quote = "'" if "'" not in value else '"'
    if quote in value:
        raise StreamError(f"--value {value!r} holds both ' and \": LSL cannot look for such a value")
    try:
        return pylsl.ContinuousResolver(pred=f"{prop}={quote}{value}{quote}")
    except RuntimeError as exc:   # liblsl refused the query
        raise StreamError(f"LSL cannot look for --prop {prop} --value {value!r}: {exc}") from None


def _resolve(pylsl, prop, value, resolve_s: float, stop: threading.Event) -> list:
    """The LSL streams found within ``resolve_s`` (those whose ``prop`` is ``value``), each once.

    ``resolve_byprop(minimum=1)`` returned as soon as one stream matched: of two ECG devices one, at random, and
    the other was neither bridged nor named. A background resolver is read until ``resolve_s`` (without
    ``prop``), or :data:`SETTLE_S` after the first match; ``stop`` (Ctrl-C) ends the search at once."""
    resolver = _resolver(pylsl, prop, value)
    found: dict[str, object] = {}
    deadline = time.monotonic() + resolve_s
    try:
        while not stop.is_set():
            for info in resolver.results():
                found.setdefault(info.uid(), info)
            if prop and found:
                deadline = min(deadline, time.monotonic() + SETTLE_S)
                prop = None   # settle once
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
    finally:
        del resolver
    return list(found.values())


def _why_not(pylsl, info) -> str | None:
    """Why a stream cannot be bridged before any inlet is opened (None: it can be tried)."""
    from streams.protocol import MAX_CHANNELS
    if info.channel_format() == pylsl.cf_string:
        return "string stream"
    if info.nominal_srate() <= 0:
        return "irregular rate"
    n = info.channel_count()
    if n < 1:
        return "no channels"
    if n > MAX_CHANNELS:
        return f"{n} channels, more than the {MAX_CHANNELS} a runtime stream holds"
    return None


class _Link:
    """An open LSL inlet and the runtime stream it feeds."""

    def __init__(self, name: str, inlet, out, correction_s: float):
        self.name, self.inlet, self.out, self.correction_s = name, inlet, out, correction_s
        self.max_samples = int(min(1 << 20, max(1024, out.fs_hz)))   # a second's worth: never behind for good
        self.heard_at = time.monotonic()
        self.quiet_said = False
        self.reconnects = 0
        self.correction_until = None   # re-connected: its samples wait (until then) for the new outlet's correction

    def pull(self, clock) -> int:
        """Send what the inlet holds as one frame; the number of samples. A stream that cannot be
        recovered (no source_id) raises ``LostError``."""
        now = time.monotonic()
        if self.inlet.was_clock_reset():   # liblsl re-connected the inlet: a new outlet of the same source_id
            self._came_back(now)
        if self.correction_until is not None and not self._new_correction(now):
            return 0
        x, stamps = self.inlet.pull_chunk(timeout=0.0, max_samples=self.max_samples, as_numpy=True)
        n = len(stamps)
        if not n:
            if not self.quiet_said and now - self.heard_at >= SILENT_S:
                self.quiet_said = True
                log.warning("LSL stream %s: no samples for %.0f s (its outlet paused or is gone; bridged again "
                            "when it comes back)", self.name, now - self.heard_at)
            return 0
        if self.quiet_said:
            log.warning("LSL stream %s: samples again after %.0f s", self.name, now - self.heard_at)
        self.heard_at, self.quiet_said = now, False
        t_last = clock.to_device(float(stamps[-1]), self.correction_s)
        self.out.send(np.ascontiguousarray(np.asarray(x).T, np.float32), t0_s=t_last - (n - 1) / self.out.fs_hz)
        return n

    def _came_back(self, now: float):
        """Said (nothing was, unless the outlet was away for :data:`SILENT_S`); the new outlet may run on another
        host, whose clock correction liblsl measures again: the samples wait for it (in the inlet's buffer)."""
        self.reconnects += 1
        self.correction_until = now + OPEN_S
        log.warning("LSL stream %s: re-connected to a new outlet of the same source_id (%.1f s after its last "
                    "samples)", self.name, now - self.heard_at)

    def _new_correction(self, now: float) -> bool:
        """Whether the samples can go: the new outlet's clock correction is known, or :data:`OPEN_S` passed
        (the last one kept, and said)."""
        try:
            self.correction_s = self.inlet.time_correction(timeout=0.0)
        except RuntimeError:   # not measured yet
            if now < self.correction_until:
                return False
            log.warning("no clock correction from the new outlet of LSL stream %s within %g s: the last one is "
                        "kept", self.name, OPEN_S)
        self.correction_until = None
        return True

    def correct(self):
        """The inlet's latest clock correction (liblsl re-estimates it: clocks of two hosts drift apart)."""
        try:
            self.correction_s = self.inlet.time_correction(timeout=0.0)
        except RuntimeError:   # pylsl's TimeoutError/LostError: keep the last one
            pass


def _label(info, found) -> str:
    """The stream's name, with what tells it from other streams found of the same name: its source_id, else its
    host, else its host and the start of its uid (two outlets of one name without source_id on one host read alike,
    ``EEG [lab-pc]`` twice)."""
    name = info.name()
    same = [f for f in found if f.name() == name]
    if len(same) < 2:
        return name
    sid, host = info.source_id(), info.hostname()
    if sid and sum(f.source_id() == sid for f in same) == 1:
        return f"{name} [{sid}]"
    if sum(f.hostname() == host for f in same) == 1:
        return f"{name} [{host}]"
    return f"{name} [{host} {sid + ' ' if sid else ''}uid {info.uid()[:8]}]"


def _open(pylsl, found, stop, skipped) -> list:
    """Inlets opened at once (samples pushed from now on are kept; the first pull opened them, and what came
    before it was lost), with their full info: ``(label, inlet, info)``. A stream that cannot be bridged, or
    is gone before it opens, goes to ``skipped``."""
    opened = []
    for info in found:
        label = _label(info, found)
        why = _why_not(pylsl, info)
        if why is None and not stop.is_set():
            try:
                inlet = pylsl.StreamInlet(info, max_buflen=60)
                inlet.open_stream(timeout=OPEN_S)
                opened.append((label, inlet, inlet.info(timeout=OPEN_S)))
                continue
            except RuntimeError as exc:   # pylsl's TimeoutError, LostError, ...: this stream only
                why = f"gone before it opened: {exc}"
        if why:
            skipped.append(f"{label} ({why})")
    return opened


def _corrections(opened) -> list[float]:
    """Each inlet's clock correction (the outlet host's LSL clock minus ours; 0 on one host), asked of all
    inlets at once so that they are estimated in parallel (0.6 s each, one after the other, before)."""
    for _, inlet, _ in opened:
        try:
            inlet.time_correction(timeout=0.0)   # starts its estimate
        except RuntimeError:
            pass
    deadline, out = time.monotonic() + OPEN_S, []
    for label, inlet, _ in opened:
        try:
            out.append(inlet.time_correction(timeout=max(0.05, deadline - time.monotonic())))
        except RuntimeError:   # no estimate: its stamps are taken as ours, and so said
            out.append(0.0)
            log.warning("no clock correction from LSL stream %s: its stamps are taken as this host's", label)
    return out


def _stream_name(pub, kind: str) -> str:
    """``kind`` as a stream name of ``pub`` not taken yet (two outlets of one source with the same type)."""
    base = _name(kind, "data")
    name, k = base, 1
    while name in pub.streams:
        k += 1
        name = f"{base[:60]}_{k}"
    return name


def bridge_lsl_in(*, endpoint: str = DEFAULT_INGEST, key_dir=None, insecure: bool = False,
                  seconds: float | None = None, resolve_s: float = 2.0, prop: str | None = None,
                  value: str | None = None, stop: threading.Event | None = None, clock: LslClock | None = None,
                  links: list | None = None) -> dict:
    """Publish LSL outlets into the runtime until ``seconds`` passed, ``stop`` is set or every stream is lost.

    Returns ``{topic: frames sent}``, plus ``"skipped": [names]`` (streams that cannot be bridged, each also
    logged on its own line), ``"lost": [names]`` (outlets gone for good), ``"reconnected": {topic: times}``
    (a new outlet of the same source_id took over, each time said), ``"dropped": {topic: frames}``
    (frames no runtime took), ``"nonfinite": {topic: frames}`` (frames holding NaN or inf, an LSL device's missing
    samples: not sent, a gap each; they were counted under ``"dropped"``, and an outlet with one dead channel sent
    nothing while the bridge said the runtime took no frames) and ``"undelivered"`` (a line saying why) when there
    are any. ``{}`` when
    ``stop`` was set before any stream was bridged. ``clock``: the clock mapping (a new :class:`LslClock`);
    ``links``: a list that gets each bridged stream (its ``out``: the publisher's stream, as a replay source's) as it
    opens, for a :class:`biosig.cli.replay_checks.DeliveryCheck` made before the run.
    """
    if prop:
        check_lsl_property(prop)
    from streams._client import check_connection
    check_connection(endpoint, key_dir, "client", insecure)   # not after --resolve-s of looking for outlets
    if key_dir:
        import zmq

        from streams.security import secure_client
        with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as probe:   # the keys read, nothing connected
            secure_client(probe, key_dir)
    pylsl = _pylsl()
    from streams.publisher import Publisher, delivery_warning
    stop = stop or threading.Event()
    found = _resolve(pylsl, prop, value, resolve_s, stop)
    if stop.is_set():
        return {}
    if not found:
        which = f" with {prop} = {value!r}" if prop else ""
        raise StreamError(f"no LSL streams{which} found within {resolve_s:g} s")
    skipped: list[str] = []
    opened = _open(pylsl, found, stop, skipped)
    clock = clock or LslClock()
    pubs: dict[str, object] = {}
    links = [] if links is None else links
    lost: list[str] = []
    try:
        for (label, inlet, full), correction in zip(opened, _corrections(opened)):
            src = _name(full.source_id() or full.name(), "lsl")
            labels, units = _channels(full, full.channel_count())
            kind = (full.type() or "").lower()
            if src not in pubs:
                pubs[src] = Publisher(src, endpoint, key_dir=key_dir, insecure=insecure)
            try:
                out = pubs[src].stream(_stream_name(pubs[src], kind), full.nominal_srate(), labels, units,
                                       modality=lsl_modality(kind, labels))
            except StreamError as exc:   # e.g. a rate the runtime refuses for its modality: not this one
                skipped.append(f"{label} ({exc})")
                inlet.close_stream()
                continue
            links.append(_Link(label, inlet, out, correction))
            log.info("bridging LSL %s (%s, %d ch, %g Hz) to %s", label, full.type(), full.channel_count(),
                     full.nominal_srate(), out.topic)
        if stop.is_set():
            return {}
        if not links:
            raise StreamError(f"none of the LSL streams found can be bridged: {', '.join(skipped)}")
        for line in skipped:   # a line each (one line listing them all was missed among the others)
            log.warning("LSL stream not bridged: %s", line)
        _pump(clock, links, lost, seconds, stop)
    finally:
        for pub in pubs.values():
            pub.close(linger_s=0.5)
    result: dict = {link.out.topic: link.out.sent for link in links}
    dropped = {link.out.topic: link.out.dropped - link.out.nonfinite for link in links
               if link.out.dropped > link.out.nonfinite}
    nonfinite = {link.out.topic: link.out.nonfinite for link in links if link.out.nonfinite}
    reconnected = {link.out.topic: link.reconnects for link in links if link.reconnects}
    for key, value in (("skipped", skipped), ("lost", lost), ("dropped", dropped), ("nonfinite", nonfinite),
                       ("reconnected", reconnected),
                       ("undelivered", delivery_warning(pubs.values()))):
        if value:
            result[key] = value
    return result


def _pump(clock, links, lost, seconds, stop):
    """Move samples from the inlets to the runtime; ``lost`` gets the streams gone for good."""
    from pylsl.util import LostError
    live = list(links)
    end = None if seconds is None else time.monotonic() + seconds
    next_correction = time.monotonic() + CORRECTION_EVERY_S
    next_clock = time.monotonic() + clock.every_s   # the wall clock's steps (off the sample path)
    while live and not stop.is_set() and (end is None or time.monotonic() < end):
        busy = False
        for link in list(live):
            try:
                busy |= link.pull(clock) == link.max_samples
            except LostError:
                live.remove(link)
                lost.append(link.name)
                log.warning("LSL stream %s is gone and cannot come back (its outlet has no source_id): "
                            "%d frame(s) bridged from it", link.name, link.out.sent)
        if time.monotonic() >= next_correction:
            next_correction += CORRECTION_EVERY_S
            for link in live:
                link.correct()
        if time.monotonic() >= next_clock:
            next_clock = time.monotonic() + clock.every_s
            clock.refresh()
        if not busy:
            time.sleep(0.01)
    if not live:
        log.warning("every LSL stream bridged is gone: the bridge stops")
