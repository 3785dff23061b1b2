"""How many CPUs this process may run on: one answer for every default that sizes threads, workers or jobs.

``os.sched_getaffinity`` where the OS has it (a container or ``taskset`` limits it below ``os.cpu_count()``),
else ``os.cpu_count()``; at least 1. It was written out five times (the CLI's free cores and ``--threads``
bound, the forecast ``--workers`` bound, the probe's default jobs, the backends' core count).
"""
from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1
