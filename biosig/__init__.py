"""biosig: the signal layer of the biosig runtime.

Public names are loaded on first use so that ``import biosig`` stays cheap::

    import biosig
    rec = biosig.read("../shared/data/wfdb/100")
    clean = biosig.default_pipeline(rec.modality).apply(rec)
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Record": "biosig.record",
    "Annotations": "biosig.record",
    "BiosigError": "biosig.errors",
    "read": "biosig.readers",
    "write": "biosig.writers",
    "Pipeline": "biosig.pipeline",
    "default_pipeline": "biosig.pipeline",
    "simulate": "biosig.synthetic",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biosig' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
