"""Subscriber SDK for consumers of runtime outputs, and the status request.

    sub = Subscriber(topics=["emb/bed07", "fcst/"])            # prefixes; [""] for everything
    frame = sub.recv(timeout_s=1.0)                           # streams.protocol.Frame or None
    sub.stats["emb/bed07/ecg"]                                # frames, gaps, missing, duplicates

Every output topic has its own sequence numbers; the subscriber counts gaps (frames the PUB
socket dropped for a slow consumer or that were lost in a reconnect), duplicates and late
frames. Every output header carries the runtime's ``epoch`` (a new one on every runtime start):
a new epoch resets the sequence state of every topic (counted under ``restarts``), so nothing
after a restart is dropped as late. The SDK always listens to ``hb/runtime`` (returned only when
subscribed to): its ``last_seq`` per topic reveals frames lost at the end of a topic, counted as
a gap even when no later frame of that topic ever comes. When nothing at all arrived for
``stale_s`` (the runtime sends ``hb/runtime`` every second) the socket is rebuilt and the
reconnect counted. Gaps found at a topic's first sight after a restart (what the new runtime sent
before the subscriber reconnected) are counted as any gap and again in ``restart_gaps``, so that
``summary_text()`` can tell them from frames lost while a runtime ran. ``latest()`` drains the queue and keeps only the newest frame per topic, for
consumers that must never act on a stale forecast.

A caller's mistake is a :class:`~streams.errors.StreamError` naming the argument and its value;
``topics="emb/"`` (one str) is one prefix.
"""
from __future__ import annotations

import collections
import logging
import math
import time

from streams import protocol
from streams._client import (ClientSocket, check_connection, check_count, check_seconds, handshake_events,
                             handshake_refusal, no_reply_kind, no_reply_reason, open_socket, watch_handshake)
from streams.config import DEFAULT_OUTPUT, DEFAULT_STATUS
from streams.errors import ProtocolError, StreamError
from streams.priority import tagged_zmq_context


log = logging.getLogger(__name__)

MAX_STATUS_TIMEOUT_S = 3600.0   # as ``biosig status --timeout-s``
# a silence is logged after ``stale_s``, then once it lasted this many ``stale_s``, then every so many
# (the default 5 s: at 5 s, 30 s, then every 5 min)
SILENCE_SECOND, SILENCE_REPEAT = 6, 60


def duration_text(seconds: float) -> str:
    """``7 s``, ``2 min 5 s``, ``3 h 20 min``: how long a silence lasted, for a person."""
    s = int(round(seconds)) if seconds >= 1 else None
    if s is None:
        return f"{seconds:.1f} s"
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")


def next_silence_report_s(said_at_s: float, stale_s: float) -> float:
    """Seconds of silence at which the next line is due, after one said at ``said_at_s``."""
    if said_at_s < SILENCE_SECOND * stale_s:
        return SILENCE_SECOND * stale_s
    return (said_at_s // (SILENCE_REPEAT * stale_s) + 1) * SILENCE_REPEAT * stale_s


class _Absent(StreamError):
    """No runtime answered a status request (nothing in time, or not a status frame); ``nobody``: nothing
    at all took the connection (else the message says what did)."""

    def __init__(self, message: str, nobody: bool = False):
        super().__init__(message)
        self.nobody = nobody


def _topics(topics) -> list[str]:
    """Topic prefixes as a list of str (one str: one prefix; none: everything)."""
    try:
        out = [topics] if isinstance(topics, str) else list(topics)
    except TypeError:   # not iterable
        out = None
    if out is None or not all(isinstance(t, str) for t in out):
        raise StreamError(f"topics={topics!r:.200} must be a list of str topic prefixes (or one str; [''] for all)")
    return out or [""]


# the first part of every topic the runtime publishes on its output (docs/protocol.md)
OUTPUT_TOPIC_KINDS = ("emb/", "score/", "fcst/", "hold/", "sig/", "hb/", "status")


def unknown_topic_prefixes(topics, kinds=OUTPUT_TOPIC_KINDS) -> list[str]:
    """The prefixes of ``topics`` no topic of ``kinds`` can start with (a typo such as ``scroe/``): a
    subscription to them would wait for ever in silence (``bridge lsl-out``: or be dropped, ``kinds`` its own)."""
    return [t for t in _topics(topics) if not any(k.startswith(t) or t.startswith(k) for k in kinds)]


def _n(count: int, noun: str) -> str:
    """``1 topic``, ``2 topics``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _topic_stats():
    return {"frames": 0, "gaps": 0, "missing": 0, "duplicates": 0, "late": 0, "restarts": 0}


class Subscriber(ClientSocket):
    """SUB socket on the runtime's output endpoint with gap/duplicate accounting.

    Parameters
    ----------
    topics : topic prefixes to subscribe to (``[""]``: all; one str: one prefix).
    endpoint : the runtime's output endpoint.
    key_dir, client : CURVE keys.
    insecure : allow plain TCP to a host other than this one.
    stale_s : rebuild the socket when nothing arrived for this long (``inf``: never).
    hwm : frames queued before the PUB socket drops for this subscriber (0: no limit).
    """

    def __init__(self, topics=("",), endpoint: str = DEFAULT_OUTPUT, *, key_dir=None, client="client",
                 insecure: bool = False, stale_s: float = 5.0, hwm: int = 100_000, ctx=None):
        self.topics = _topics(topics)
        self.stale_s = check_seconds(stale_s, "stale_s", lo_open=True)
        self.hwm = check_count(hwm, "hwm")
        check_connection(endpoint, key_dir, client, insecure)
        self.endpoint, self.key_dir, self.client = endpoint, key_dir, client
        self._own_ctx = ctx is None
        self.ctx = ctx or tagged_zmq_context()
        self.stats: dict[str, dict] = collections.defaultdict(_topic_stats)
        self.invalid = collections.Counter()
        self.reconnects = 0
        self.epoch: int | None = None
        self.epochs_seen = 0
        self._last_seq: dict[str, int] = {}
        # gaps (of ``stats``) found at a topic's first sight after a runtime restart: what the new runtime sent
        # before this subscriber reconnected; the wall-clock times the restarts were seen
        self.restart_gaps = collections.Counter()
        self.restarts_seen_at: list[float] = []
        self._after_restart: set[str] = set()   # topics not seen since the last restart
        self.sock = None
        self._heard = False   # any frame at all yet
        #: what the silence before any frame means where the caller knows (``listen``: the runtime answered that it
        #: is starting); None: the runtime may not run, or this may not be its output endpoint
        self.silence_hint: str | None = None
        self.reset_silence()
        try:
            self._connect()
        except BaseException:
            if self._own_ctx:
                self.ctx.term()
            raise

    def _connect(self):
        import zmq
        if self.sock is not None:
            self.sock.close(linger=0)
        options = [(zmq.RCVHWM, self.hwm)] + \
            [(zmq.SUBSCRIBE, t.encode()) for t in self.topics]
        if not self._wanted("hb/runtime"):   # heartbeats carry the epoch and the last seqs
            options.append((zmq.SUBSCRIBE, b"hb/runtime"))
        self.sock = open_socket(self.ctx, zmq.SUB, self.endpoint, self.key_dir, self.client, options)
        self.last_rx = time.monotonic()

    def reset_silence(self) -> None:
        """Count the silence from now (a caller that had not read for a while on purpose)."""
        self.last_rx = self._quiet_since = time.monotonic()
        self._silence_said_s = None   # seconds of silence at the last line said about it

    def _say_silence(self):
        """Log the silence at ``stale_s``, 6 and then every 60 ``stale_s`` (the socket is rebuilt every ``stale_s``)."""
        quiet_s = time.monotonic() - self._quiet_since
        said = self._silence_said_s
        due = self.stale_s if said is None else next_silence_report_s(said, self.stale_s)
        if quiet_s < due:
            return
        self._silence_said_s = quiet_s
        hint = "the runtime stopped?" if self._heard else self.silence_hint or \
            "not even a heartbeat yet: is the runtime running, and is this its output endpoint?"
        log.warning("no frames from %s for %s (%s); reconnecting every %s (said again at %s)", self.endpoint,
                    duration_text(quiet_s), hint, duration_text(self.stale_s),
                    duration_text(next_silence_report_s(quiet_s, self.stale_s)))

    def _wanted(self, topic: str) -> bool:
        return any(topic.startswith(t) for t in self.topics)

    @property
    def stale(self) -> bool:
        return time.monotonic() - self.last_rx > self.stale_s

    def recv(self, timeout_s: float | None = None):
        """The next valid frame, or None after ``timeout_s`` (None or inf: wait forever)."""
        import zmq
        if timeout_s is not None:
            timeout_s = check_seconds(timeout_s, "timeout_s")
        deadline = None if timeout_s is None or timeout_s == math.inf else time.monotonic() + timeout_s
        while True:
            wait = 100 if deadline is None else max(0, min(100, int((deadline - time.monotonic()) * 1000)))
            if self.sock.poll(wait, zmq.POLLIN):
                frame = self._accept(self.sock.recv_multipart(copy=False))
                if frame is not None:
                    return frame
                continue
            if self.stale:
                self.reconnects += 1
                self._say_silence()
                self._connect()
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def _accept(self, parts):
        self.last_rx = time.monotonic()
        if self._silence_said_s is not None:   # the silence was said: so is its end
            log.warning("frames from %s %s after %s of silence", self.endpoint,
                        "again" if self._heard else "at last", duration_text(self.last_rx - self._quiet_since))
        self._quiet_since, self._silence_said_s, self._heard = self.last_rx, None, True
        try:
            frame = protocol.decode(parts, check_finite=False)
        except ProtocolError as exc:
            self.invalid[exc.reason] += 1
            return None
        h = frame.header
        epoch = h.get("epoch")
        if epoch is not None and epoch != self.epoch:
            if self.epoch is not None:   # the runtime restarted: every topic starts afresh at 0
                for t in self._last_seq:
                    if t in self.stats:
                        self.stats[t]["restarts"] += 1
                    self._last_seq[t] = -1
                self._after_restart = set(self._last_seq)
                self.restarts_seen_at.append(time.time())
                log.warning("the runtime at %s restarted (epoch %d -> %d): every topic's sequence starts afresh",
                            self.endpoint, self.epoch, epoch)
            self.epoch = epoch
            self.epochs_seen += 1
        if frame.kind == "heartbeat" and isinstance(h.get("last_seq"), dict):
            self._trailing(h["last_seq"])
        if not self._wanted(frame.topic):
            return None
        s = self.stats[frame.topic]
        seq, last = h["seq"], self._last_seq.get(frame.topic)
        after_restart = frame.topic in self._after_restart
        self._after_restart.discard(frame.topic)
        if last is not None:
            if seq == last:
                s["duplicates"] += 1
                return None
            if seq < last:
                if seq == 0:
                    s["restarts"] += 1
                else:
                    s["late"] += 1
                    return None
            elif seq > last + 1:
                s["gaps"] += 1
                s["missing"] += seq - last - 1
                self.restart_gaps[frame.topic] += after_restart
        self._last_seq[frame.topic] = seq
        s["frames"] += 1
        return frame

    def _trailing(self, last_seq: dict):
        """Frames published up to ``last_seq[topic]`` that never arrived are lost: count them now
        (a topic first heard of here starts counting from its current last seq)."""
        for topic, last in last_seq.items():
            if not isinstance(last, int) or not self._wanted(topic):
                continue
            mine = self._last_seq.get(topic)
            if mine is None:
                self._last_seq[topic] = last
            elif last > mine:
                s = self.stats[topic]
                s["gaps"] += 1
                s["missing"] += last - mine
                self._last_seq[topic] = last
                self.restart_gaps[topic] += topic in self._after_restart
            self._after_restart.discard(topic)

    def summary_text(self) -> str:
        """One line of what came (``listen`` ends with it): frames, topics, and the topics with gaps, duplicates
        or late frames with their ``stats`` as JSON. Gaps found only across a runtime restart (frames the new
        runtime sent before this subscriber reconnected, mostly heartbeats) are said to be so, and counted per
        topic as ``across_restart``: they read like frames lost by a running runtime."""
        from biosig import json_text
        frames = sum(s["frames"] for s in self.stats.values())
        bad = {t: dict(s, **({"across_restart": self.restart_gaps[t]} if self.restart_gaps[t] else {}))
               for t, s in self.stats.items() if s["gaps"] or s["duplicates"] or s["late"]}
        only = [t for t, s in bad.items() if s.get("across_restart") == s["gaps"] and not s["duplicates"] + s["late"]]
        text = f"{frames} frames on {_n(len(self.stats), 'topic')}, gaps on {_n(len(bad), 'topic')}"
        if only:
            at = ", ".join(time.strftime("%H:%M:%S", time.localtime(t)) for t in self.restarts_seen_at)
            which = "all" if len(only) == len(bad) else f"{len(only)} of them only"
            text += (f" ({which} across the runtime restart{'s' * (len(self.restarts_seen_at) > 1)} at {at}: what "
                     "the new runtime sent before this listener reconnected, not frames lost while it ran)")
        return text + (f" {json_text.dumps(bad)}" if bad else "")

    def latest(self, timeout_s: float = 0.0) -> dict:
        """Drain everything queued (waiting up to ``timeout_s`` for the first frame); the newest
        frame per topic (None or inf: wait for the first frame forever)."""
        out = {}
        frame = self.recv(timeout_s)
        while frame is not None:
            out[frame.topic] = frame
            frame = self.recv(0)
        return out


def request_status(endpoint: str = DEFAULT_STATUS, *, key_dir=None, client="client",
                   insecure: bool = False, timeout_s: float = 2.0) -> dict:
    """Ask a runtime for its status (REQ/REP); raises StreamError when none answers within
    ``timeout_s`` (0 to 3600)."""
    import zmq
    timeout_s = check_seconds(timeout_s, "timeout_s", hi=MAX_STATUS_TIMEOUT_S)
    check_connection(endpoint, key_dir, client, insecure)
    ctx = zmq.Context()
    try:
        watch = []
        sock = open_socket(ctx, zmq.REQ, endpoint, key_dir, client,
                           before_connect=lambda s: watch.append(watch_handshake(s)))
        try:
            wait_ms = int(timeout_s * 1000)
            sock.setsockopt(zmq.SNDTIMEO, wait_ms)   # a REQ whose only pipe a refused handshake closed (a REQ at a PUB
            t0 = time.monotonic()                     # endpoint) blocked in send forever: 1 run in ~10 under load
            try:
                sock.send_multipart([b"status"])
                sent = True
            except zmq.Again:
                sent = False
            wait_ms = max(0, wait_ms - int((time.monotonic() - t0) * 1000))
            if not sent or not sock.poll(wait_ms, zmq.POLLIN):
                events = handshake_events(watch[0]) if watch else []
                refused = handshake_refusal(events, endpoint, key_dir)
                if refused:   # something is there and said no: the keys (or the endpoint) are the user's to fix
                    raise StreamError(refused)
                raise _Absent(no_reply_reason(events, endpoint, timeout_s), no_reply_kind(events) == "nobody")
            frame = protocol.decode(sock.recv_multipart(), check_finite=False)
            if frame.kind != "status":
                raise _Absent(f"{endpoint} answered a {frame.kind} frame, not status")
            return frame.header["body"]
        finally:
            sock.close(linger=0)
            for mon in watch:
                mon.close(linger=0)
    finally:
        ctx.term()


def runtime_state(endpoint: str = DEFAULT_STATUS, *, key_dir=None, client="client", insecure: bool = False,
                  timeout_s: float = 1.0) -> str:
    """``starting`` (loading models / compiling kernels), ``serving``, or ``absent`` when no
    runtime answers on ``endpoint`` within ``timeout_s``. A caller's mistake (a bad endpoint,
    timeout or key directory) raises StreamError: it is not an absent runtime."""
    return state_of(runtime_status(endpoint, key_dir=key_dir, client=client, insecure=insecure, timeout_s=timeout_s))


def state_of(body: dict | None) -> str:
    """:func:`runtime_state`'s answer from a :func:`runtime_status` body (None: ``absent``)."""
    return "absent" if body is None else body.get("state", "serving")


def runtime_status(endpoint: str = DEFAULT_STATUS, *, key_dir=None, client="client", insecure: bool = False,
                   timeout_s: float = 1.0) -> dict | None:
    """The status body of the runtime answering on ``endpoint``, None when none answers within
    ``timeout_s`` (a caller's mistake raises StreamError, as :func:`runtime_state`)."""
    return status_or_reason(endpoint, key_dir=key_dir, client=client, insecure=insecure, timeout_s=timeout_s)[0]


def status_or_reason(endpoint: str = DEFAULT_STATUS, *, key_dir=None, client="client", insecure: bool = False,
                     timeout_s: float = 1.0) -> tuple[dict | None, str | None]:
    """:func:`runtime_status`'s body, and when there is none, why: ``None`` when nothing at all took the
    connection (no runtime there: the caller knows best what to suggest), else what did, in words (something
    that took it and closed it, e.g. the runtime's output or ingest endpoint; a runtime that did not answer
    in time; an answer that is no status frame). ``listen`` said "no runtime answered" for all of them."""
    try:
        return request_status(endpoint, key_dir=key_dir, client=client, insecure=insecure, timeout_s=timeout_s), None
    except _Absent as exc:
        return None, None if exc.nobody else str(exc)
    except ProtocolError as exc:
        return None, f"{endpoint} answered a frame that is no status frame ({exc})"
