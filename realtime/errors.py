"""Errors of the online forecasters; all are :class:`biosig.errors.BiosigError` (CLI: one line, exit 2)."""
from __future__ import annotations

from biosig.errors import BiosigError


class ForecastError(BiosigError):
    """Bad forecaster configuration, input sample, saved state or evaluation request."""
