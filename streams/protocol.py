"""The biosig wire protocol, version 1 (specified for clients in ``docs/protocol.md``).

Every message is a ZeroMQ multipart message ``[topic, header, payload...]``:

* ``topic``: UTF-8 bytes. Input streams use ``<source>/<stream>`` (``bed07/ecg``); outputs use
  ``emb/<source>/<stream>``, ``fcst/<source>``, ``hold/<source>``, ``hb/runtime`` and ``status``.
* ``header``: a msgpack map checked against :data:`SCHEMAS` (never pickle).
* ``payload``: zero or one part of raw little-endian array bytes in C order, shaped
  ``header["shape"]`` with dtype ``header["dtype"]``.

:func:`encode` builds the parts; :func:`decode` checks frame count, header schema, payload size
and finiteness, raising :class:`~streams.errors.ProtocolError` with a ``reason`` code from
:data:`REJECT_REASONS` that the runtime counts per stream.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

from biosig.modality import MODALITIES
from streams.errors import ProtocolError

VERSION = 1
KINDS = ("signal", "embedding", "forecast", "hold", "heartbeat", "status", "score")
DTYPES = ("<f4", "<f8", "<i2", "<i4")
HOLD_REASONS = ("warm_up", "stale_input", "gap", "frozen_input", "diverged", "unavailable",
                "rate_pending", "rate_mismatch")   # the last two as score frames' ``missing`` (streams.device_rate)
REJECT_REASONS = ("frames", "topic", "header", "version", "schema", "rate", "shape",
                  "payload_size", "nonfinite", "inconsistent", "duplicate", "late", "unsupported",
                  "session_conflict", "over_rate")

MIN_FS_HZ = 0.1          # slower than one sample per 10 s is not a stream we window
MAX_FS_HZ = 200_000.0    # above ultrasound-audio rates: a unit mistake, not a signal
# plausible sample rates per modality (Hz); outside them a rate is a unit mistake, not a signal
MODALITY_FS_HZ = {"ecg": (50.0, 20_000.0), "ppg": (10.0, 20_000.0), "resp": (1.0, 2_000.0),
                  "audio": (1_000.0, MAX_FS_HZ), "spiro": (10.0, 2_000.0), "motion": (1.0, 1_000.0),
                  "other": (MIN_FS_HZ, MAX_FS_HZ)}
MAX_CHANNELS = 256
MAX_FRAME_SAMPLES = 1 << 20
#: the largest message a runtime's ingest socket takes (its ZMQ_MAXMSGSIZE, streams.runtime): ZeroMQ closes the
#: connection of a peer that sends more, so such a frame and the frames queued behind it were lost while the
#: publisher said they were sent (streams.publisher refuses them)
INGEST_MAX_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 4 * 1024 * 1024  # status headers of 1024 streams are ~0.4 MiB
ZERO_COPY_BYTES = 64 * 1024  # payloads at least this large are sent without copying

TOPIC_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}/[A-Za-z0-9_.\-]{1,64}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

_num = (int, float)
# kind -> {key: (accepted types, required)}; "v", "kind", "stream", "seq" are common to all.
_COMMON = {"v": (int, True), "kind": (str, True), "stream": (str, True), "seq": (int, True),
           "epoch": (int, False)}   # outputs: the runtime session (a new one on every start)
SCHEMAS: dict[str, dict[str, tuple]] = {
    "signal": {"session": (int, True), "t0_s": (_num, True), "fs_hz": (_num, True),
               "channels": (list, True), "units": (list, True), "dtype": (str, True),
               "shape": (list, True), "modality": (str, True), "sent_s": (_num, False)},
    "embedding": {"model_id": (str, True), "window_start_s": (_num, True),
                  "window_end_s": (_num, True), "quality": (_num, True), "dtype": (str, True),
                  "shape": (list, True), "latency_ms": (dict, True), "t_out_s": (_num, True),
                  "modality": (str, False), "channels": (list, False), "rate_mismatch": (str, False)},
    "forecast": {"t_s": (_num, True), "target_s": (_num, True), "horizon_steps": (int, True),
                 "horizon_s": (_num, True), "method": (str, True), "valid": (bool, True),
                 "channels": (list, True), "dtype": (str, True), "shape": (list, True),
                 "latency_ms": (dict, True), "t_out_s": (_num, True)},
    "hold": {"t_s": (_num, True), "reason": (str, True), "t_out_s": (_num, True), "detail": (str, False)},
    "heartbeat": {"t_s": (_num, True), "last_seq": (dict, False)},
    "status": {"t_s": (_num, True), "body": (dict, True)},
    # per-window measures and head outputs (streams/scores.py, docs/protocol.md "score/")
    "score": {"window_start_s": (_num, True), "window_end_s": (_num, True), "quality": (_num, True),
              "min_quality": (_num, True), "ok": (bool, True), "missing": (str, False),
              "measures": (dict, True), "units": (dict, True), "heads": (dict, True),
              "modality": (str, True), "t_out_s": (_num, True)},
}
_HAS_PAYLOAD = {"signal", "embedding", "forecast"}


@dataclass(frozen=True, eq=False)
class Frame:
    """A decoded message.

    Attributes
    ----------
    topic : str.
    header : dict, schema-checked.
    array : ndarray shaped ``header["shape"]`` (read-only view of the received bytes, native
        little-endian dtype) for kinds with a payload, else ``None``.
    """

    topic: str
    header: dict
    array: np.ndarray | None

    @property
    def kind(self) -> str:
        return self.header["kind"]


def _reject(reason: str, message: str, stream: str = ""):
    raise ProtocolError(reason, message, stream)


def _pack(header: dict) -> bytes:
    return msgpack.packb(header, use_bin_type=True)


def encode(topic: str, header: dict, array: np.ndarray | None = None) -> list:
    """The parts of one message. ``header`` gets ``v``; ``dtype``/``shape`` are filled from
    ``array``. Large arrays are returned as memoryviews so ``send_multipart(copy=False)`` sends
    them without copying."""
    header = dict(header)
    header["v"] = VERSION
    parts: list = [topic.encode("utf-8")]
    if array is not None:
        a = np.ascontiguousarray(array)
        if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and not np.little_endian):
            a = a.astype(a.dtype.newbyteorder("<"))
        header["dtype"] = a.dtype.str
        header["shape"] = [int(s) for s in a.shape]
        parts.append(_pack(header))
        parts.append(a.data if a.nbytes >= ZERO_COPY_BYTES else a.tobytes())
    else:
        parts.append(_pack(header))
    return parts


_DTYPE_OF = {name: np.dtype(name) for name in DTYPES}
SMALL_FRAME_VALUES = 64   # payloads of at most this many values are checked for finiteness in plain Python
_TOPICS_OK: dict = {}     # topic -> TOPIC_RE matched (a memo of the topics seen, at most 4096)


def _topic_ok(topic: str) -> bool:
    """``TOPIC_RE.match(topic)``, remembered for topics short enough to be valid (the regex once per
    stream, not once per frame)."""
    if len(topic) > 130:   # longer than <64>/<64> and the newline "$" lets through: never valid, never kept
        return False
    ok = _TOPICS_OK.get(topic)
    if ok is None:
        ok = TOPIC_RE.match(topic) is not None
        if len(_TOPICS_OK) >= 4096:
            _TOPICS_OK.clear()
        _TOPICS_OK[topic] = ok
    return ok


def _bytes(part) -> bytes | memoryview:
    return part.buffer if hasattr(part, "buffer") else part


_MERGED = {kind: {**_COMMON, **schema} for kind, schema in SCHEMAS.items()}   # built once, not per frame
# kind -> ((key, types, required, exact types accepted at once), ...): msgpack gives plain int, float,
# str, list, dict and bool, so ``type(value) in exact`` decides most values without the isinstance rules
# (bool is no int here); any other type takes those rules, as before
_EXACT = {int: (int,), _num: (int, float), bool: (bool,)}
_FIELDS = {kind: tuple((key, types, required, frozenset(_EXACT.get(types, (types,))))
                       for key, (types, required) in schema.items()) for kind, schema in _MERGED.items()}


def _check_types(header: dict, kind: str, stream: str):
    seen = 0   # schema keys present: fewer than the header's keys means unknown ones
    for key, types, required, exact in _FIELDS[kind]:
        if key not in header:
            if required:
                _reject("schema", f"{kind} header lacks {key!r}", stream)
            continue
        seen += 1
        value = header[key]
        t = type(value)
        if t not in exact:
            ok = isinstance(value, types) and not (isinstance(value, bool) and types in (int, _num))
            if types is bool:
                ok = isinstance(value, bool)
            if not ok:
                _reject("schema", f"{kind} header field {key!r} = {value!r:.60} has the wrong type", stream)
            if isinstance(value, float) and not math.isfinite(value):
                _reject("schema", f"{kind} header field {key!r} is not finite", stream)
        elif t is float and not math.isfinite(value):
            _reject("schema", f"{kind} header field {key!r} is not finite", stream)
    if seen != len(header):
        unknown = header.keys() - _MERGED[kind].keys()
        _reject("schema", f"{kind} header has unknown fields {sorted(unknown)}", stream)
    if header["seq"] < 0 or header["seq"] >= 1 << 63:
        _reject("schema", f"seq {header['seq']} outside [0, 2**63)", stream)


def _ints(shape) -> bool:
    """Every dimension a plain int (no bool), as a loop: ``all()`` over a generator cost more than the check."""
    for s in shape:
        if not isinstance(s, int) or isinstance(s, bool):
            return False
    return True


def _names_ok(names, c: int) -> bool:
    if len(names) != c:
        return False
    for n in names:
        if not isinstance(n, str) or len(n) > 64:
            return False
    return True


def _check_signal(h: dict, stream: str):
    fs = float(h["fs_hz"])
    if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        _reject("rate", f"fs_hz {fs} outside [{MIN_FS_HZ}, {MAX_FS_HZ}]", stream)
    if h["modality"] not in MODALITIES:
        _reject("schema", f"modality {h['modality']!r} not one of {', '.join(MODALITIES)}", stream)
    lo, hi = MODALITY_FS_HZ.get(h["modality"], (MIN_FS_HZ, MAX_FS_HZ))
    if not lo <= fs <= hi:
        _reject("rate", f"fs_hz {fs} outside [{lo}, {hi}] for {h['modality']}", stream)
    shape = h["shape"]
    if len(shape) != 2 or not _ints(shape):
        _reject("shape", f"signal shape must be [channels, samples], got {shape!r:.60}", stream)
    c, t = shape
    if not 1 <= c <= MAX_CHANNELS or not 1 <= t <= MAX_FRAME_SAMPLES:
        _reject("shape", f"shape {shape} outside [1..{MAX_CHANNELS}, 1..{MAX_FRAME_SAMPLES}]", stream)
    for key in ("channels", "units"):
        names = h[key]
        if not _names_ok(names, c):
            _reject("shape", f"{key} must list {c} strings, got {names!r:.80}", stream)
    if h["session"] < 0 or h["session"] >= 1 << 63:
        _reject("schema", f"session {h['session']} outside [0, 2**63)", stream)


def decode(parts: list, *, check_finite: bool = True) -> Frame:
    """Decode and validate one received message (``recv_multipart`` parts, bytes or Frames).

    Raises
    ------
    ProtocolError
        with ``reason`` one of :data:`REJECT_REASONS` and ``stream`` set when the topic was valid.
    """
    if len(parts) not in (2, 3):
        _reject("frames", f"expected 2 or 3 parts [topic, header, payload?], got {len(parts)}")
    try:
        topic = bytes(_bytes(parts[0])).decode("utf-8")
    except UnicodeDecodeError:
        _reject("topic", "topic is not UTF-8")
    stream = topic if _topic_ok(topic) else ""
    raw = _bytes(parts[1])
    if len(raw) > MAX_HEADER_BYTES:
        _reject("header", f"header of {len(raw)} bytes exceeds {MAX_HEADER_BYTES}", stream)
    try:
        header = msgpack.unpackb(raw, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises many types on garbage
        _reject("header", f"header is not msgpack ({type(exc).__name__})", stream)
    if not isinstance(header, dict):
        _reject("header", f"header is a {type(header).__name__}, expected a map", stream)
    if header.get("v") != VERSION:
        _reject("version", f"protocol version {header.get('v')!r} not supported; expected {VERSION}", stream)
    kind = header.get("kind")
    if kind not in KINDS:
        _reject("schema", f"kind {kind!r} not one of {', '.join(KINDS)}", stream)
    _check_types(header, kind, stream)
    if kind == "signal":
        if topic.startswith("sig/") and _topic_ok(topic[4:]):  # the runtime's tap (output side)
            stream = topic[4:]
        if not stream:
            _reject("topic", f"topic {topic!r:.80} is not <source>/<stream>")
        if header["stream"] != stream:
            _reject("topic", f"header stream {header['stream']!r:.80} differs from topic {topic!r}", stream)
        _check_signal(header, stream)
    array = None
    if kind in _HAS_PAYLOAD:
        if len(parts) != 3:
            _reject("frames", f"{kind} message needs 3 parts, got {len(parts)}", stream)
        if header["dtype"] not in DTYPES:
            _reject("schema", f"dtype {header['dtype']!r} not one of {', '.join(DTYPES)}", stream)
        shape = header["shape"]
        if len(shape) > 3 or not _ints(shape) or not all(0 <= s <= MAX_FRAME_SAMPLES for s in shape):
            _reject("shape", f"bad shape {shape!r:.60}", stream)
        dtype = _DTYPE_OF[header["dtype"]]
        payload = _bytes(parts[2])
        n = dtype.itemsize
        for dim in shape:   # (np.prod here was 20 % of decoding a small frame)
            n *= dim
        if len(payload) != n:
            _reject("payload_size", f"payload has {len(payload)} bytes, shape {shape} x "
                                    f"{dtype.itemsize} needs {n}", stream)
        flat = np.frombuffer(payload, dtype=dtype)
        array = flat.reshape(shape)
        # a finite float64 sum means every sample is finite (NaN and inf propagate; float32
        # samples cannot overflow it); only an infinite sum needs the element-wise check. A small
        # frame is summed as Python floats (a numpy reduction on 25 values cost more than the sum)
        if check_finite and dtype.kind == "f" and not math.isfinite(
                sum(flat.tolist()) if flat.size <= SMALL_FRAME_VALUES else flat.sum(dtype=np.float64)) \
                and not np.isfinite(array).all():
            _reject("nonfinite", "payload holds NaN or inf samples", stream)
    elif len(parts) != 2:
        _reject("frames", f"{kind} message takes no payload, got {len(parts)} parts", stream)
    return Frame(topic, header, array)


def signal_header(stream: str, seq: int, session: int, t0_s: float, fs_hz: float,
                  channels, units, modality: str, sent_s: float | None = None) -> dict[str, Any]:
    """A signal header (``dtype``/``shape`` are added by :func:`encode`)."""
    h = {"kind": "signal", "stream": stream, "seq": int(seq), "session": int(session),
         "t0_s": float(t0_s), "fs_hz": float(fs_hz), "channels": list(channels),
         "units": list(units), "modality": modality}
    if sent_s is not None:
        h["sent_s"] = float(sent_s)
    return h


def check_name(name: str, what: str = "source") -> str:
    """Validate a source or stream name (letters, digits, ``_.-``, at most 64)."""
    if not NAME_RE.match(name or ""):
        raise ProtocolError("topic", f"{what} name {name!r} must be 1-64 of letters, digits, '_', '.', '-'")
    return name


def source_of(stream: str) -> str:
    """The source of a ``<source>/<stream>`` topic name (``bed01`` of ``bed01/ppg``; a name without ``/`` is its own
    source): the unit of slot quotas, forecasters and checkpoints."""
    return stream.split("/", 1)[0]


def bed_of(stream: str) -> str | None:
    """The source of ``stream`` where the name has one (``bed01`` of ``bed01/ppg``), None for a name without a source
    part and a stream part (``ppg``, ``/ppg``, ``bed01/``): no bed whose other streams it could be compared with."""
    source, sep, rest = stream.partition("/")
    return source if sep and source and rest else None
