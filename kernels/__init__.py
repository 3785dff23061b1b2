"""Hot loops below the signal layer: NumPy + Numba only.

:mod:`kernels.rnn` holds the per-step online-RNN kernels (RTRL, SnAp-1, UORO, DNI, LMS),
:mod:`kernels.linalg` their allocation-free building blocks, and :mod:`kernels.twins` a plain
NumPy twin of every kernel (the test oracle).  Every kernel is compiled with
``@njit(cache=True, fastmath=False)``.
"""
from kernels.errors import KernelError

__all__ = ["KernelError"]
