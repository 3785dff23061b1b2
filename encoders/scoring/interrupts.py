"""Ctrl-C held back while a scoring job writes what must be written whole.

A SIGINT becomes a ``KeyboardInterrupt`` at whatever line the main thread runs. Most of a job is
fine with that (every file is written atomically, and :func:`encoders.scoring.job.run_score` writes
the tables of the records done when it is interrupted), but a few steps must not be cut in two: a
record's parts and this run's count of them, the run.json that retires the earlier tables and their
removal, and the tables and run.json written at the end or after an interrupt (a second Ctrl-C there
left no tables and a run.json that said the run was still going). :func:`interrupts_deferred` holds
a Ctrl-C that comes during such a step and raises it once the step is done.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def interrupts_deferred(*, reraise: bool = True) -> Iterator[None]:
    """Hold SIGINT while the block runs; then raise ``KeyboardInterrupt`` if one came (``reraise``
    False: drop it, for the block that already handles an interrupt).

    Only in the main thread (the one Python runs signal handlers in) and only where SIGINT has
    Python's default handler: nested, the outer block holds it; where a library installed its own
    handler, that handler is left alone.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held and reraise:
        raise KeyboardInterrupt
