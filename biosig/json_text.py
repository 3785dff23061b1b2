"""Strict JSON text for everything biosig prints or writes as JSON (stdlib only).

Python's ``json.dumps`` writes ``NaN`` and ``Infinity`` for non-finite floats, which no strict
JSON parser (``jq``, a browser's ``JSON.parse``, most languages' libraries) accepts. A latency
percentile with no samples yet, an undefined confidence interval or a hold without a value is
written here as ``null`` instead; NumPy scalars and arrays become plain numbers and lists.
"""
from __future__ import annotations

import json
import math


def finite(obj):
    """``obj`` with every NaN / +-inf float replaced by None, tuples as lists and NumPy scalars
    and arrays as Python numbers and lists (recursively through dicts and lists)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if hasattr(obj, "tolist") and type(obj).__module__ == "numpy":   # numpy scalar or array
        return finite(obj.tolist())
    return obj


def dumps(obj, **kwargs) -> str:
    """``json.dumps`` of :func:`finite` ``(obj)``, refusing anything that would not be strict JSON."""
    return json.dumps(finite(obj), allow_nan=False, **kwargs)
