"""Publisher SDK for bedside monitors and other devices.

    pub = Publisher("bed07")                                  # loopback runtime, no keys
    ecg = pub.stream("ecg", fs_hz=250.0, channels=["II", "V"], units=["mV", "mV"])
    ecg.send(samples)                                         # float (C, T), t0 = now - (T-1)/fs
    pub.close()

Each stream carries its own sequence numbers from 0 and the publisher's random ``session``, so
the runtime tells a restarted publisher from a gap. Back-pressure is explicit: with
``policy="block"`` a send waits up to ``block_s`` for room in the queue (``hwm`` messages) and
then drops; with ``policy="drop"`` it drops at once. A dropped frame still consumes its
sequence number, so the runtime counts it as missing: nothing is lost silently. So does a frame
holding NaN or inf (the protocol carries finite samples only; a missing sample is a gap): it is
not sent, ``send`` returns False and counts it in ``nonfinite``.

Sent means taken by a runtime's connection. Frames are queued only on a connection whose handshake
completed (``ZMQ_IMMEDIATE``): with nobody listening at the endpoint, or a runtime that refuses the
CURVE keys (another runtime's server key, no keys for a CURVE runtime), there is no room for
them, so they are dropped and counted, never queued for a runtime that may come later (a
backlog would reach it late, in a burst). Under ``block`` a send waits up to ``block_s`` for a
connection (a publisher made just before its first send waits the few ms of the handshake);
after one such wait in vain the next sends do not wait, until a frame gets through again, so a
device without a runtime never falls behind its clock by more than one wait. Refusals lasting
:data:`WARN_AFTER_S` are logged once (at most every :data:`WARN_EVERY_S` per endpoint).

A caller's mistake is a :class:`~streams.errors.StreamError` naming the argument and its value.
A single str is one name: ``channels="II"`` is one channel, and ``units="mV"`` is the unit of
every channel. Declaring a stream again returns the same :class:`OutStream` when the declaration
matches (``units``/``modality`` left out take the first declaration's) and is refused otherwise.
"""
from __future__ import annotations

import logging
import math
import numbers
import secrets
import time

import numpy as np

from biosig.arguments import whole_number
from biosig.modality import MODALITIES, infer_modality
from streams import protocol
from streams._client import ClientSocket, check_connection, check_count, check_seconds, open_socket
from streams.config import DEFAULT_INGEST
from streams.errors import StreamError
from streams.priority import tagged_zmq_context

log = logging.getLogger(__name__)

POLICIES = ("block", "drop")
MAX_SESSION = 2**63 - 1   # the protocol's range of ``session``
WARN_AFTER_S = 3.0        # no frame through for this long: warn that no runtime takes them
WARN_EVERY_S = 60.0       # at most one such warning per endpoint this often (all publishers together)
INGEST_MAX_BYTES = protocol.INGEST_MAX_BYTES   # the runtime's ingest message limit (streams.protocol)
#: the most sample bytes (float32) one frame may hold: :data:`INGEST_MAX_BYTES` less room for the header
MAX_FRAME_BYTES = INGEST_MAX_BYTES - (1 << 20)
_last_warned: dict[str, float] = {}   # endpoint -> time.monotonic() of its last warning


def max_frame_n(n_channels: int) -> int:
    """The most samples a frame of ``n_channels`` may hold (:data:`protocol.MAX_FRAME_SAMPLES`, and
    :data:`MAX_FRAME_BYTES` as float32)."""
    return max(1, min(protocol.MAX_FRAME_SAMPLES, MAX_FRAME_BYTES // (4 * max(1, int(n_channels)))))


def _finite(value) -> bool:
    """True for a real number (not a bool) that is finite."""
    try:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:   # an int beyond float
        return False


def _name(value, what: str) -> str:
    if not isinstance(value, str) or not protocol.NAME_RE.match(value):
        raise StreamError(f"{what} name {value!r} must be 1-64 of letters, digits, '_', '.', '-'")
    return value


def _names(value, what: str, *, empty_ok: bool) -> list[str]:
    """1 to :data:`protocol.MAX_CHANNELS` str of at most 64 characters (one str: one name)."""
    try:   # a set has no order: its names would be matched to the wrong rows
        names = [value] if isinstance(value, str) else None if isinstance(value, (set, frozenset)) else list(value)
    except TypeError:   # not iterable
        names = None
    if names is None or not 1 <= len(names) <= protocol.MAX_CHANNELS or not all(
            isinstance(n, str) and (empty_ok or n) and len(n) <= 64 for n in names):
        raise StreamError(f"{what}={value!r:.200} must be 1-{protocol.MAX_CHANNELS} str of at most 64 "
                          f"characters{'' if empty_ok else ', none empty'}, in a list (or one str)")
    return [str(n) for n in names]


def _session(value) -> int:
    return whole_number(value, "session", 0, MAX_SESSION, error=StreamError)   # the protocol's range


def _rate(fs_hz, modality: str, topic: str) -> float:
    """``fs_hz`` as a float within the rates the runtime accepts for ``modality``."""
    lo, hi = protocol.MODALITY_FS_HZ.get(modality, (protocol.MIN_FS_HZ, protocol.MAX_FS_HZ))
    if not (_finite(fs_hz) and lo <= fs_hz <= hi):
        raise StreamError(f"{topic}: fs_hz={fs_hz!r} must be a sampling rate in {lo:g}..{hi:g} Hz "
                          f"(the runtime's range for {modality})")
    return float(fs_hz)


def _modality(modality, channels) -> str:
    if modality is None or modality == "":
        return infer_modality(channels)
    if not isinstance(modality, str) or modality not in MODALITIES:
        raise StreamError(f"modality={modality!r} unknown; expected one of {', '.join(MODALITIES)} "
                          "(or None: inferred from the channel names)")
    return modality


def _array(samples, topic: str) -> np.ndarray:
    try:
        x = np.asarray(samples)
    except ValueError as exc:   # ragged nested lists
        raise StreamError(f"{topic}: samples are not an array shaped (channels, T): {exc}") from None
    if x.dtype.kind not in "biuf":
        raise StreamError(f"{topic}: samples hold {x.dtype} values (shape {x.shape}); expected real numbers")
    return x


class OutStream:
    """One stream of a :class:`Publisher`; make it with :meth:`Publisher.stream`."""

    def __init__(self, pub: "Publisher", name: str, fs_hz: float, channels, units, modality: str | None):
        self.pub = pub
        self.topic = f"{pub.source}/{_name(name, 'stream')}"
        self.channels = _names(channels, "channels", empty_ok=False)
        n = len(self.channels)
        units = [""] * n if units is None else [units] * n if isinstance(units, str) else units
        self.units = _names(units, "units", empty_ok=True)
        if len(self.units) != n:
            raise StreamError(f"{self.topic}: {len(self.units)} units {self.units!r:.200} for {n} channels "
                              f"{self.channels!r:.200}")
        self.modality = _modality(modality, self.channels)
        self.fs_hz = _rate(fs_hz, self.modality, self.topic)
        self.seq = 0
        self.sent = 0
        self.dropped = 0
        self.nonfinite = 0

    def send(self, samples, t0_s: float | None = None) -> bool:
        """Send samples shaped (C, T) (a 1-D array is one channel).

        ``t0_s`` is the device time of the first sample in Unix seconds; by default the samples
        are taken as just acquired: ``now - (T - 1) / fs_hz``. Returns False when dropped.
        """
        x = samples if isinstance(samples, np.ndarray) and samples.dtype.kind in "biuf" \
            else _array(samples, self.topic)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[0] != len(self.channels):
            raise StreamError(f"{self.topic}: samples shaped {x.shape}, expected ({len(self.channels)}, T)")
        if not 1 <= x.shape[1] <= protocol.MAX_FRAME_SAMPLES:
            raise StreamError(f"{self.topic}: {x.shape[1]} samples in a frame; "
                              f"send 1..{protocol.MAX_FRAME_SAMPLES} at a time")
        if 4 * x.size > MAX_FRAME_BYTES:   # the runtime would drop the connection, silently
            raise StreamError(f"{self.topic}: a frame of {x.shape[0]} channels x {x.shape[1]} samples is "
                              f"{4 * x.size / 2**20:.0f} MiB as float32, more than the {MAX_FRAME_BYTES >> 20} MiB "
                              f"a runtime takes in one message; send at most {max_frame_n(x.shape[0])} samples "
                              "a frame")
        now = time.time()
        if t0_s is None:
            t0_s = now - (x.shape[1] - 1) / self.fs_hz
        elif not _finite(t0_s):
            raise StreamError(f"{self.topic}: t0_s={t0_s!r:.60} must be a finite time in Unix seconds "
                              "(or None: just acquired)")
        if x.dtype != np.float32:
            x = x.astype(np.float32)   # beyond the float32 range: inf (NumPy warns), a gap like NaN
        if not math.isfinite(x.sum(dtype=np.float64)):   # NaN and inf propagate; float32 cannot overflow it
            return self._skip(x)
        header = protocol.signal_header(self.topic, self.seq, self.pub.session, t0_s, self.fs_hz,
                                        self.channels, self.units, self.modality, sent_s=now)
        self.seq += 1
        ok = self.pub._send(protocol.encode(self.topic, header, x))
        self.sent += ok
        self.dropped += not ok
        return ok

    def _skip(self, x) -> bool:
        """A frame holding NaN or inf is not sent; its sequence number makes it a gap."""
        if not self.nonfinite:
            log.warning("%s: frame %d holds %d NaN/inf samples: not sent (a gap)", self.topic, self.seq,
                        int(x.size - np.isfinite(x).sum()))
        self.seq += 1
        self.nonfinite += 1
        self.dropped += 1
        return False


class Publisher(ClientSocket):
    """A device that PUSHes signal frames to a runtime's ingest endpoint.

    Parameters
    ----------
    source : device name (letters, digits, ``_.-``), the first half of every topic.
    endpoint : the runtime's ingest endpoint.
    key_dir, client : CURVE keys (``biosig keys generate``) and which client certificate to use.
    insecure : allow plain TCP to a host other than this one.
    policy : ``block`` or ``drop`` when the send queue (``hwm`` messages; 0: no limit) is full.
    block_s : longest wait per send under ``block`` (``inf``: never drop).
    session : publisher session id, ``0 <= session < 2**63`` (random by default).
    """

    def __init__(self, source: str, endpoint: str = DEFAULT_INGEST, *, key_dir=None, client="client",
                 insecure: bool = False, policy: str = "block", hwm: int = 10000,
                 block_s: float = 1.0, session: int | None = None, ctx=None):
        import zmq
        if not isinstance(policy, str) or policy not in POLICIES:
            raise StreamError(f"policy {policy!r} unknown; expected one of {', '.join(POLICIES)}")
        self.source = _name(source, "source")
        self.session = secrets.randbits(62) if session is None else _session(session)
        self.policy, self.block_s = policy, check_seconds(block_s, "block_s")
        hwm = check_count(hwm, "hwm")
        check_connection(endpoint, key_dir, client, insecure)
        self._own_ctx = ctx is None
        self.ctx = ctx or tagged_zmq_context()
        try:   # IMMEDIATE: frames go only to connections whose (CURVE) handshake completed
            self.sock = open_socket(self.ctx, zmq.PUSH, endpoint, key_dir, client,
                                    [(zmq.SNDHWM, hwm), (zmq.IMMEDIATE, 1)])
        except BaseException:
            if self._own_ctx:
                self.ctx.term()
            raise
        self.endpoint = endpoint
        self.streams: dict[str, OutStream] = {}
        self.delivered = 0           # frames (heartbeats too) taken by a runtime's connection
        self.refused = 0             # frames no connection took (nobody there, refused keys, queue full)
        self._refused_since = None   # time.monotonic() of the first refusal since a frame got through
        self._gave_up = False        # a block wait failed since: the next sends do not wait

    def stream(self, name: str, fs_hz: float, channels, units=None, modality: str | None = None) -> OutStream:
        """Declare a stream ``<source>/<name>`` (modality inferred from channel names if absent).

        ``channels`` and ``units`` are lists of str (one str: one channel; a unit for every
        channel). The same declaration again returns the same stream; another one is refused."""
        old = self.streams.get(_name(name, "stream"))
        if old is None:
            self.streams[name] = OutStream(self, name, fs_hz, channels, units, modality)
            return self.streams[name]
        new = OutStream(self, name, fs_hz, channels, units, modality or old.modality)
        if (new.fs_hz, new.channels, new.modality) != (old.fs_hz, old.channels, old.modality) \
                or (units is not None and new.units != old.units):
            raise StreamError(f"{old.topic} is declared already as fs_hz={old.fs_hz:g}, channels={old.channels}, "
                              f"units={old.units}, modality={old.modality!r}; got fs_hz={new.fs_hz:g}, "
                              f"channels={new.channels}, units={new.units}, modality={new.modality!r}")
        return old

    def heartbeat(self):
        self._send(protocol.encode(f"{self.source}/_hb", {"kind": "heartbeat", "stream": self.source,
                                                          "seq": 0, "t_s": time.time()}))

    def _send(self, parts) -> bool:
        import zmq
        wait = self.policy == "block" and not self._gave_up
        t_try = time.monotonic()
        deadline = t_try + self.block_s
        while True:
            try:
                self.sock.send_multipart(parts, zmq.NOBLOCK, copy=False)
            except zmq.Again:
                if wait and time.monotonic() < deadline:
                    self.sock.poll(10, zmq.POLLOUT)
                    continue
                self._refuse(t_try, waited=wait)
                return False
            self.delivered += 1
            if self._refused_since is not None:
                self._refused_since, self._gave_up = None, False
            return True

    def _refuse(self, t_try: float, waited: bool):
        """Count a frame no connection took (tried from ``t_try``); warn once frames have been
        refused for :data:`WARN_AFTER_S`."""
        now = time.monotonic()
        self.refused += 1
        self._gave_up = self._gave_up or waited
        if self._refused_since is None:
            self._refused_since = t_try
        if now - self._refused_since >= WARN_AFTER_S and \
                now - _last_warned.get(self.endpoint, -math.inf) >= WARN_EVERY_S:
            _last_warned[self.endpoint] = now
            log.warning("%s", self._refusal_text(now - self._refused_since))

    def _refusal_text(self, for_s: float | None = None) -> str:
        """Why frames are not delivered, in one line (``for_s``: for how long)."""
        since = "" if for_s is None else f" for {for_s:.0f} s"
        if not self.delivered:
            return (f"{self.source}: no runtime accepted the connection at {self.endpoint}{since}; "
                    f"{self.refused} frame(s) dropped (is `biosig serve` running there? with --keys: "
                    "are they the runtime's keys?)")
        return (f"{self.source}: the runtime at {self.endpoint} takes no frames{since} (it stopped, or its "
                f"queue is full); {self.refused} frame(s) dropped")


def delivery_warning(pubs) -> str | None:
    """One line on frames that reached no runtime (``None`` when every frame got through)."""
    pubs = [p for p in pubs if p.refused]
    if not pubs:
        return None
    refused = sum(p.refused for p in pubs)
    endpoints = ", ".join(sorted({p.endpoint for p in pubs}))
    if not any(p.delivered for p in pubs):
        return (f"no runtime accepted the connection at {endpoints}: {refused} frame(s) dropped, none delivered "
                "(is `biosig serve` running there? with --keys: are they the runtime's keys?)")
    return (f"{refused} frame(s) dropped: the runtime at {endpoints} stopped or took no frames for a while "
            "(see biosig status)")

