"""biosig streams: the ZeroMQ wire protocol, publisher/subscriber SDKs and the runtime.

Data flow (DESIGN.md section 1)::

    monitor (Publisher) -> ingest (PULL) -> validate + sequence check -> per-stream windows
        -> preprocessing -> dynamic batcher -> encoder backend -> ``emb/...`` frames (PUB)
    marker streams -> per-source online forecaster -> ``fcst/...`` or ``hold/...`` frames (PUB)

The wire format is specified in ``docs/protocol.md``; :mod:`streams.protocol` implements it.
Names are loaded lazily so that ``import streams`` stays cheap.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "Publisher": "streams.publisher",
    "Subscriber": "streams.subscriber",
    "Runtime": "streams.runtime",
    "RuntimeConfig": "streams.config",
    "Endpoints": "streams.config",
    "StreamError": "streams.errors",
    "ProtocolError": "streams.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'streams' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
