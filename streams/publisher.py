"""Publisher SDK for bedside monitors and other devices.

    pub = Publisher("bed07")                                  # loopback runtime, no keys
    ecg = pub.stream("ecg", fs_hz=250.0, channels=["II", "V"], units=["mV", "mV"])
    ecg.send(samples)                                         # float (C, T), t0 = now - (T-1)/fs
    pub.close()

Each stream carries its own sequence numbers from 0 and the publisher's random ``session``, so
the runtime tells a restarted publisher from a gap. Back-pressure is explicit: with
``policy="block"`` a send waits up to ``block_s`` for room in the queue (``hwm`` messages) and
then drops; with ``policy="drop"`` it drops at once. A dropped frame still consumes its
sequence number, so the runtime counts it as missing: nothing is lost silently.
"""
from __future__ import annotations

import logging
import secrets
import time

import numpy as np

from biosig.modality import check_modality, infer_modality
from streams import protocol
from streams._client import ClientSocket
from streams.config import DEFAULT_INGEST
from streams.errors import StreamError
from streams.priority import tagged_zmq_context

log = logging.getLogger(__name__)

POLICIES = ("block", "drop")


class OutStream:
    """One stream of a :class:`Publisher`; make it with :meth:`Publisher.stream`."""

    def __init__(self, pub: "Publisher", name: str, fs_hz: float, channels, units, modality: str):
        self.pub = pub
        self.topic = f"{pub.source}/{protocol.check_name(name, 'stream')}"
        self.fs_hz = float(fs_hz)
        self.channels = [str(c) for c in channels]
        self.units = [str(u) for u in units] if units is not None else [""] * len(self.channels)
        if len(self.units) != len(self.channels):
            raise StreamError(f"{len(self.units)} units for {len(self.channels)} channels")
        self.modality = check_modality(modality or infer_modality(self.channels))
        self.seq = 0
        self.sent = 0
        self.dropped = 0

    def send(self, samples, t0_s: float | None = None) -> bool:
        """Send samples shaped (C, T) (a 1-D array is one channel).

        ``t0_s`` is the device time of the first sample in Unix seconds; by default the samples
        are taken as just acquired: ``now - (T - 1) / fs_hz``. Returns False when dropped.
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[0] != len(self.channels):
            raise StreamError(f"{self.topic}: samples shaped {x.shape}, expected ({len(self.channels)}, T)")
        now = time.time()
        if t0_s is None:
            t0_s = now - (x.shape[1] - 1) / self.fs_hz
        header = protocol.signal_header(self.topic, self.seq, self.pub.session, t0_s, self.fs_hz,
                                        self.channels, self.units, self.modality, sent_s=now)
        self.seq += 1
        ok = self.pub._send(protocol.encode(self.topic, header, x))
        self.sent += ok
        self.dropped += not ok
        return ok


class Publisher(ClientSocket):
    """A device that PUSHes signal frames to a runtime's ingest endpoint.

    Parameters
    ----------
    source : device name (letters, digits, ``_.-``), the first half of every topic.
    endpoint : the runtime's ingest endpoint.
    key_dir, client : CURVE keys (``biosig keys generate``) and which client certificate to use.
    policy : ``block`` or ``drop`` when the send queue (``hwm`` messages) is full.
    block_s : longest wait per send under ``block``.
    session : publisher session id (random by default).
    """

    def __init__(self, source: str, endpoint: str = DEFAULT_INGEST, *, key_dir=None, client="client",
                 insecure: bool = False, policy: str = "block", hwm: int = 10000,
                 block_s: float = 1.0, session: int | None = None, ctx=None):
        import zmq
        from streams.security import check_plain_allowed, secure_client
        if policy not in POLICIES:
            raise StreamError(f"policy {policy!r} unknown; expected one of {', '.join(POLICIES)}")
        self.source = protocol.check_name(source, "source")
        self.session = secrets.randbits(62) if session is None else int(session)
        self.policy, self.block_s = policy, block_s
        self._own_ctx = ctx is None
        self.ctx = ctx or tagged_zmq_context()
        self.sock = self.ctx.socket(zmq.PUSH)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, hwm)
        if key_dir:
            secure_client(self.sock, key_dir, client)
        else:
            check_plain_allowed([endpoint], insecure)
        self.sock.connect(endpoint)
        self.streams: dict[str, OutStream] = {}

    def stream(self, name: str, fs_hz: float, channels, units=None, modality: str | None = None) -> OutStream:
        """Declare a stream ``<source>/<name>`` (modality inferred from channel names if absent)."""
        if name not in self.streams:
            self.streams[name] = OutStream(self, name, fs_hz, channels, units, modality)
        return self.streams[name]

    def heartbeat(self):
        self._send(protocol.encode(f"{self.source}/_hb", {"kind": "heartbeat", "stream": self.source,
                                                          "seq": 0, "t_s": time.time()}))

    def _send(self, parts) -> bool:
        import zmq
        if self.policy == "drop":
            try:
                self.sock.send_multipart(parts, zmq.NOBLOCK, copy=False)
                return True
            except zmq.Again:
                return False
        deadline = time.monotonic() + self.block_s
        while True:
            try:
                self.sock.send_multipart(parts, zmq.NOBLOCK, copy=False)
                return True
            except zmq.Again:
                if time.monotonic() >= deadline:
                    return False
                self.sock.poll(10, zmq.POLLOUT)
