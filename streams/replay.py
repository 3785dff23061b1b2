"""Replay recordings into a runtime, and the optional LSL bridge.

:func:`replay_sources` turns any file the signal layer reads into simulated sources: one stream
per modality present in the record (``<stem>/<modality>``), sent at ``speed`` times real time.
Frames are stamped with the time their last sample is sent (so at ``speed`` 4 a 10 s stretch
carries 2.5 s of device time; ``fs_hz`` stays the recording's rate).
Irregularly sampled records (marker CSVs) are sent at their mean rate.
"""
from __future__ import annotations

import logging
import pathlib
import re
import time

import numpy as np

from streams.config import DEFAULT_INGEST
from streams.errors import StreamError

log = logging.getLogger(__name__)


def _source_name(path) -> str:
    stem = pathlib.Path(str(path)).name.split(".")[0] or "replay"
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", stem)[:64]


def replay_sources(paths, *, speed: float = 1.0, endpoint: str = DEFAULT_INGEST, key_dir=None,
                   frame_s: float = 0.1, ctx=None):
    """Publishers and :class:`streams.simulate.SimSource` objects for the given recordings."""
    from biosig.modality import channel_modality
    from biosig.readers import read
    from streams.publisher import Publisher
    from streams.simulate import SimSource
    if not speed > 0:
        raise StreamError(f"--speed must be > 0, got {speed}")
    pubs, sources = [], []
    for path in paths:
        rec = read(path)
        pub = Publisher(_source_name(path), endpoint, key_dir=key_dir, ctx=ctx)
        pubs.append(pub)
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(rec.channels):
            m = channel_modality(name)
            groups.setdefault(rec.modality if m == "other" else m, []).append(i)
        for modality, idx in groups.items():
            x = rec.samples[idx]
            x = np.where(np.isfinite(x), x, 0.0).astype(np.float32)  # gaps: sent as zeros, flagged by quality
            out = pub.stream(modality, rec.fs_hz, [rec.channels[i] for i in idx],
                             [rec.units[i] for i in idx], modality=modality)
            sources.append(SimSource(out, x, rec.fs_hz, max(1, int(round(frame_s * rec.fs_hz * speed))),
                                     speed=speed))
            log.info("replaying %s as %s (%d ch, %.1f s at %gx)", path, out.topic, len(idx), rec.duration_s, speed)
    return pubs, sources


def replay_duration_s(sources) -> float:
    return max((s.samples.shape[1] / (s.fs_hz * s.speed) for s in sources), default=0.0)


def bridge_lsl(*, endpoint: str = DEFAULT_INGEST, key_dir=None, seconds: float | None = None,
               resolve_s: float = 2.0, prop: str | None = None, value: str | None = None) -> dict:
    """Publish every LSL outlet found (or those with ``prop == value``) into the runtime.

    Each LSL stream becomes ``<lsl source id or name>/<type>``; chunks are pulled and sent with
    their LSL timestamps converted to Unix time. Returns frames sent per topic.
    """
    try:
        import pylsl
    except ImportError:
        raise StreamError("the LSL bridge needs pylsl, an optional extra: pip install 'biosig[lsl]'") from None
    from biosig.modality import MODALITIES, channel_modality
    from streams.publisher import Publisher
    found = pylsl.resolve_byprop(prop, value, timeout=resolve_s) if prop else pylsl.resolve_streams(resolve_s)
    if not found:
        raise StreamError(f"no LSL streams found within {resolve_s} s")
    offset = time.time() - pylsl.local_clock()
    links = []
    for info in found:
        inlet = pylsl.StreamInlet(info)
        src = re.sub(r"[^A-Za-z0-9_.\-]", "_", info.source_id() or info.name())[:64] or "lsl"
        kind = (info.type() or "other").lower()
        modality = kind if kind in MODALITIES else channel_modality(info.name())
        pub = Publisher(src, endpoint, key_dir=key_dir)
        names = [f"ch{i + 1}" for i in range(info.channel_count())]
        out = pub.stream(re.sub(r"[^A-Za-z0-9_.\-]", "_", kind)[:64] or "data", info.nominal_srate() or 1.0,
                         names, modality=modality)
        links.append((inlet, pub, out))
    end = None if seconds is None else time.monotonic() + seconds
    try:
        while end is None or time.monotonic() < end:
            for inlet, _, out in links:
                chunk, stamps = inlet.pull_chunk(timeout=0.0)
                if stamps:
                    out.send(np.asarray(chunk, np.float32).T, t0_s=stamps[0] + offset)
            time.sleep(0.01)
    finally:
        for _, pub, _ in links:
            pub.close()
    return {out.topic: out.sent for _, _, out in links}
