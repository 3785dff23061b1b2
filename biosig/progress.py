"""How often long jobs report progress (stdlib only: the CLI imports it early).

One place reads ``BIOSIG_PROGRESS_S``: the CLI's per-record progress lines
(:class:`biosig.cli._common.ProgressLog`) and the progress log of a long synthetic ECG
(:mod:`biosig.synthetic`) both use :func:`progress_interval_s`.
"""
from __future__ import annotations

import os

DEFAULT_PROGRESS_S = 10.0


def progress_interval_s() -> float:
    """Seconds between progress lines: the environment variable ``BIOSIG_PROGRESS_S``, or
    :data:`DEFAULT_PROGRESS_S` when it is unset or not a number."""
    try:
        return float(os.environ.get("BIOSIG_PROGRESS_S", str(DEFAULT_PROGRESS_S)))
    except ValueError:
        return DEFAULT_PROGRESS_S
