"""Errors of the kernel layer.

``kernels`` sits below ``biosig`` and imports only NumPy and Numba, so its errors derive from
:class:`ValueError` (the CLI still reports them as one line because ``realtime`` converts them).
"""
from __future__ import annotations


class KernelError(ValueError):
    """Arrays handed to a kernel have the wrong shape or dtype."""
