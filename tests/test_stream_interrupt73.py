"""A Ctrl-C that Python delivers inside a weakref callback (importlib's module-lock callback while a replay's
readers import, seen in a docs walk: "Exception ignored in: <function _get_module_lock.<locals>.cb> ... _Interrupted:
2" on stderr, and the replay ran on until it next looked at its stop event) is raised again in the main thread by
``biosig.cli._stream_checks.interruptible``, with nothing printed."""
import gc
import signal
import sys
import threading
import time
import weakref

from biosig.cli._stream_checks import interruptible


class _Thing:
    pass


def _recording_hook(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_type))
    return seen


def test_a_signal_dropped_in_a_callback_still_ends_the_block_and_prints_nothing(capsys, monkeypatch):
    stop, reached, seen = threading.Event(), [], _recording_hook(monkeypatch)
    hook_before = sys.unraisablehook
    old = signal.getsignal(signal.SIGINT)
    try:
        with interruptible(stop):
            handler = signal.getsignal(signal.SIGINT)
            obj = _Thing()
            ref = weakref.ref(obj, lambda r: handler(signal.SIGINT, None))   # the handler runs inside the callback
            del obj
            gc.collect()
            assert ref() is None and stop.is_set()   # the callback ran: its _Interrupted was dropped by CPython
            t_end = time.monotonic() + 3.0
            while time.monotonic() < t_end:   # a send loop that would go on: the exception comes again
                time.sleep(0.005)
            reached.append("ran on")
        assert not reached, "the with-block ran to its end: the dropped Ctrl-C was not raised again"
    finally:
        signal.signal(signal.SIGINT, old)
    err = capsys.readouterr().err
    assert "Exception ignored" not in err and "Traceback" not in err and seen == [], (err, seen)
    assert sys.unraisablehook is hook_before   # put back


def test_other_unraisable_exceptions_still_reach_the_hook_before(monkeypatch):
    stop, seen = threading.Event(), _recording_hook(monkeypatch)
    old = signal.getsignal(signal.SIGINT)
    try:
        with interruptible(stop):
            obj = _Thing()
            ref = weakref.ref(obj, lambda r: 1 / 0)
            del obj
            gc.collect()
            assert ref() is None
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen == [ZeroDivisionError] and not stop.is_set()
