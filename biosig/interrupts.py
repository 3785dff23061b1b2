"""Ctrl-C held back while a step runs that must not be cut in two.

A SIGINT becomes a ``KeyboardInterrupt`` at whatever line the main thread runs. Most work is fine
with that, but some steps are not:

- a scoring job's steps that must be written whole (:mod:`encoders.scoring.job`): a record's parts
  and the run's count of them, the run.json that retires the earlier tables and their removal, and
  the tables and run.json written at the end or after an interrupt (a second Ctrl-C there left no
  tables and a run.json that said the run was still going);
- importing an extension module (:func:`import_whole`): pybind11 turns a ``KeyboardInterrupt`` raised while
  its module initialises into ``ImportError: initialization failed``, read as "not installed";
- every Polars read or write (:func:`polars_io`). A Ctrl-C inside one either raised in a Python
  callback that Polars' Rust code unwraps, a Rust panic (``PanicException``, not a
  ``KeyboardInterrupt``: ``biosig score`` ended with exit 1 and a page of Rust backtrace, fresh
  CI at 0f2f301), or came back as two ``KeyboardInterrupt`` for the one signal, the second landing
  in the handler of the first (24 of 25 Ctrl-C during ``pl.read_csv`` loops killed the process
  from inside an ``except KeyboardInterrupt``).

:func:`interrupts_deferred` holds a Ctrl-C that comes during such a step and raises it once the
step is done; :func:`is_interrupt` also knows the panic of one that still got through.
"""
from __future__ import annotations

import functools
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


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
    finally:   # where the block failed, a Ctrl-C that came meanwhile still stops the caller (its __context__)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if held and reraise:
            raise KeyboardInterrupt


def polars_io(call: Callable[..., T], *args, **kwargs) -> T:
    """``call(*args, **kwargs)`` (a Polars read or write) with Ctrl-C held until it returns: one
    ``KeyboardInterrupt`` after it, never a Rust panic or a second interrupt (module doc)."""
    with interrupts_deferred():
        return call(*args, **kwargs)


def polars_reader(read: Callable[..., T]) -> Callable[..., T]:
    """A reader that works on Polars frames, with Ctrl-C held through all of it (module doc): the read
    and every step on its frame after it, each of which may call back into Python from Rust. Fresh CI
    at 453ad88: one of ten Ctrl-C in a loop of CSV reads ended with exit 1 and a traceback, not a
    ``KeyboardInterrupt``, while only the ``pl.read_csv`` call itself was held."""
    @functools.wraps(read)
    def held(*args, **kwargs):
        with interrupts_deferred():
            return read(*args, **kwargs)
    return held


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C: a ``KeyboardInterrupt``, or the Rust panic (PyO3's
    ``PanicException``) of a library that unwrapped one raised in its Python callback."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    return type(exc).__name__ == "PanicException" and "KeyboardInterrupt" in str(exc)


def forget_handled_interrupts() -> None:
    """Clear CPython's note of an unhandled ``KeyboardInterrupt`` once the caller has handled every one.

    CPython 3.11 sets ``_Py_UnhandledKeyboardInterrupt`` whenever code run through
    ``PyRun_String`` ends in a ``KeyboardInterrupt``, and ``Py_RunMain`` then ends the process by
    SIGINT whatever exit code it was given. Polars (PyO3) runs such code, and a Ctrl-C that lands
    there sets the note although Polars hands the interrupt on and the command handles it: 2 of
    150 interrupted read loops printed their handler's line and then died by SIGINT (returncode -2,
    not ``biosig``'s 130). The CLI calls this when it returns its exit code. A no-op where the
    interpreter has no such symbol (other versions keep it elsewhere).
    """
    import ctypes
    try:
        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
    except (ValueError, AttributeError, OSError):
        pass


def import_whole(name: str):
    """``importlib.import_module(name)`` with Ctrl-C held until the import is done (module doc): a Ctrl-C during
    ``import onnxruntime`` came back as ``ImportError``, so ``biosig score`` took its cached export for unusable,
    scored with torch and ended 0 (2 of 50 Ctrl-C in a run's first half second), and a backend said "pip install
    onnxruntime". ImportError (not installed) is the caller's."""
    import importlib
    with interrupts_deferred():
        return importlib.import_module(name)
