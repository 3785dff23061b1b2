"""Lab Streaming Layer bridges, both ways (needs the optional ``pylsl``, whose wheel ships liblsl).

* :func:`bridge_lsl_in` (``biosig bridge lsl``): every LSL outlet found (or those whose property
  ``prop`` equals ``value``) is published into the runtime as ``<source_id or name>/<type>``.
* :func:`bridge_lsl_out` (``biosig bridge lsl-out``): runtime outputs become LSL outlets, one per
  topic, created when the topic's first frame arrives: ``emb/<source>/<stream>`` (type
  ``Embedding``, one channel per dimension), ``fcst/<source>`` (type ``Forecast``, the marker
  channels) and ``hold/<source>`` (type ``Markers``, one string channel: the hold reason). Source
  ids are ``<prefix>:<topic>``. Empty embeddings (modalities without a model) are not bridged.

Clock mapping. LSL time is ``pylsl.local_clock()`` (seconds on a monotonic clock with an
arbitrary origin); biosig device time is Unix seconds. :class:`LslClock` measures
``offset_s = time.time() - local_clock()`` once at start (the reading with the shortest
``time.time()`` round trip of a few tries), then

* into the runtime: ``device_s = lsl_stamp + time_correction + offset_s``, where
  ``time_correction`` is the inlet's estimate of the outlet host's clock minus ours (0 on the
  same host); a frame of T samples is stamped so that its *last* sample carries the device time
  of the last LSL stamp (``t0_s = device(stamps[-1]) - (T - 1) / fs``);
* out of the runtime: ``lsl_stamp = device_s - offset_s``, with ``device_s`` the window end
  (``window_end_s``) for embeddings, the forecast's target time (``target_s`` = input time +
  horizon) for forecasts, and the input time (``t_s``, else ``t_out_s``) for holds. An LSL
  consumer on another host applies its own ``time_correction`` as usual.

Irregular-rate LSL streams and string streams are not bridged into the runtime (the wire protocol
carries regularly sampled numbers); they are listed in the log and in the result.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time

import numpy as np

from streams.config import DEFAULT_INGEST, DEFAULT_OUTPUT
from streams.errors import StreamError

log = logging.getLogger(__name__)

OUT_TOPICS = ("emb/", "fcst/", "hold/")
_KIND_TYPE = {"embedding": "Embedding", "forecast": "Forecast", "hold": "Markers"}


_configured = False


def _pylsl():
    """pylsl, with liblsl's own log cut to errors (it prints INFO lines on stderr otherwise)
    unless the user points ``LSLAPICFG`` at a configuration file of their own."""
    global _configured
    try:
        import pylsl
    except ImportError:
        raise StreamError("the LSL bridge needs pylsl, an optional extra: pip install 'biosig[lsl]'") from None
    except Exception as exc:  # the wheel is there but liblsl cannot be loaded
        raise StreamError(f"pylsl is installed but liblsl cannot be loaded: {exc}") from None
    if not _configured:
        _configured = True
        if not os.environ.get("LSLAPICFG"):
            try:
                pylsl.set_config_content("[log]\nlevel = -2\n")
            except Exception:  # older liblsl without it: its INFO lines stay, nothing else changes
                pass
    return pylsl


def _name(text: str, default: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", text or "")[:64] or default


class LslClock:
    """Maps LSL time to biosig device time (Unix seconds) and back (see the module docstring)."""

    def __init__(self, tries: int = 7):
        pylsl = _pylsl()
        best = None
        for _ in range(tries):
            a = time.time()
            lsl = pylsl.local_clock()
            b = time.time()
            if best is None or b - a < best[0]:
                best = (b - a, (a + b) / 2 - lsl)
        self.offset_s = best[1]

    def to_device(self, lsl_s: float, correction_s: float = 0.0) -> float:
        return lsl_s + correction_s + self.offset_s

    def to_lsl(self, device_s: float) -> float:
        return device_s - self.offset_s


def _channels(info, n: int):
    """Channel labels and units from the stream's ``desc/channels`` (``chN`` / ``""`` if absent)."""
    labels, units = [], []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(labels) < n:
        labels.append(ch.child_value("label") or f"ch{len(labels) + 1}")
        units.append(ch.child_value("unit") or "")
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


def bridge_lsl_in(*, endpoint: str = DEFAULT_INGEST, key_dir=None, insecure: bool = False,
                  seconds: float | None = None, resolve_s: float = 2.0, prop: str | None = None,
                  value: str | None = None, stop: threading.Event | None = None) -> dict:
    """Publish LSL outlets into the runtime until ``seconds`` passed or ``stop`` is set.

    Returns ``{topic: frames sent}`` plus ``"skipped": [names]`` for streams that cannot be bridged.
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
    from streams.publisher import Publisher
    stop = stop or threading.Event()
    if prop:
        found = pylsl.resolve_byprop(prop, value, minimum=1, timeout=resolve_s)
    else:
        found = pylsl.resolve_streams(resolve_s)
    if not found:
        which = f" with {prop} = {value!r}" if prop else ""
        raise StreamError(f"no LSL streams{which} found within {resolve_s} s")
    clock = LslClock()
    pubs: dict[str, object] = {}
    links, skipped = [], []
    try:
        for info in found:
            if info.nominal_srate() <= 0 or info.channel_format() == pylsl.cf_string:
                why = "string stream" if info.channel_format() == pylsl.cf_string else "irregular rate"
                skipped.append(f"{info.name()} ({why})")
                continue
            inlet = pylsl.StreamInlet(info, max_buflen=60)
            full = inlet.info(timeout=resolve_s + 1.0)
            try:
                correction = inlet.time_correction(timeout=resolve_s + 1.0)
            except Exception:  # pylsl.TimeoutError: keep going on our clock, say so
                correction = 0.0
                log.warning("no time correction from LSL stream %s: its stamps are used as ours", info.name())
            src = _name(full.source_id() or full.name(), "lsl")
            kind = (full.type() or "").lower()
            labels, units = _channels(full, full.channel_count())
            modality = lsl_modality(kind, labels)
            if src not in pubs:
                pubs[src] = Publisher(src, endpoint, key_dir=key_dir, insecure=insecure)
            pub, stream = pubs[src], _name(kind, "data")
            while stream in pub.streams:       # two outlets of one source with the same type
                stream = _name(f"{stream}_", "data")
            try:
                out = pub.stream(stream, full.nominal_srate(), labels, units, modality=modality)
            except StreamError as exc:   # e.g. a rate the runtime refuses for its modality: not this one
                skipped.append(f"{info.name()} ({exc})")
                inlet.close_stream()
                continue
            links.append((inlet, out, correction))
            log.info("bridging LSL %s (%s, %d ch, %g Hz) to %s", full.name(), full.type(),
                     full.channel_count(), full.nominal_srate(), out.topic)
        if not links:
            raise StreamError(f"none of the LSL streams found can be bridged: {', '.join(skipped)}")
        if skipped:
            log.warning("LSL streams not bridged: %s", ", ".join(skipped))
        end = None if seconds is None else time.monotonic() + seconds
        while not stop.is_set() and (end is None or time.monotonic() < end):
            for inlet, out, correction in links:
                chunk, stamps = inlet.pull_chunk(timeout=0.0)
                if stamps:
                    x = np.asarray(chunk, np.float32).T
                    t_last = clock.to_device(stamps[-1], correction)
                    out.send(x, t0_s=t_last - (x.shape[1] - 1) / out.fs_hz)
            time.sleep(0.01)
    finally:
        for pub in pubs.values():
            pub.close(linger_s=0.5)
    result = {out.topic: out.sent for _, out, _ in links}
    if skipped:
        result["skipped"] = skipped
    return result


class _Outlets:
    """One LSL outlet per runtime output topic, made from the topic's first frame."""

    def __init__(self, pylsl, prefix: str):
        self.pylsl, self.prefix = pylsl, prefix
        self.outlets: dict[str, tuple[object, int]] = {}
        self.pushed: dict[str, int] = {}

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


def _device_time(h: dict) -> float:
    kind = h["kind"]
    if kind == "embedding":
        return float(h["window_end_s"])
    if kind == "forecast":
        return float(h["target_s"])
    return float(h.get("t_s") or h["t_out_s"])


def bridge_lsl_out(*, endpoint: str = DEFAULT_OUTPUT, topics=OUT_TOPICS, key_dir=None, insecure: bool = False,
                   seconds: float | None = None, prefix: str = "biosig",
                   stop: threading.Event | None = None) -> dict:
    """Republish runtime outputs as LSL outlets until ``seconds`` passed or ``stop`` is set.

    Returns ``{topic: samples pushed}``.
    """
    from streams.subscriber import unknown_topic_prefixes
    if wrong := unknown_topic_prefixes(topics, OUT_TOPICS):
        raise StreamError(f"--topics {' '.join(wrong)}: only outputs whose topic starts with {', '.join(OUT_TOPICS)} "
                          "become LSL outlets (others were subscribed to and dropped)")
    pylsl = _pylsl()
    from streams.subscriber import Subscriber
    stop = stop or threading.Event()
    clock = LslClock()
    outlets = _Outlets(pylsl, prefix)
    end = None if seconds is None else time.monotonic() + seconds
    with Subscriber(list(topics), endpoint, key_dir=key_dir, insecure=insecure) as sub:
        while not stop.is_set() and (end is None or time.monotonic() < end):
            frame = sub.recv(0.1)
            if frame is None or frame.header.get("kind") not in _KIND_TYPE:
                continue
            h = frame.header
            if h["kind"] != "hold" and (frame.array is None or frame.array.size == 0):
                continue
            outlet, n = outlets.get(frame)
            stamp = clock.to_lsl(_device_time(h))
            if h["kind"] == "hold":
                outlet.push_sample([str(h.get("reason", ""))], stamp)
            elif frame.array.size != n:
                log.warning("%s: %d values, its LSL outlet has %d channels; frame not bridged",
                            frame.topic, frame.array.size, n)
                continue
            else:
                outlet.push_sample(np.asarray(frame.array, np.float32).ravel().tolist(), stamp)
            outlets.pushed[frame.topic] += 1
    return dict(outlets.pushed)
