"""A streaming command run in-process (``biosig.cli.main([...])``) hands back the SIGINT and SIGTERM
handlers it found: a Ctrl-C after it raises ``KeyboardInterrupt`` again.

The streaming commands install their own (the first signal stops them; later ones only set their
stop event, so the clean-up is not cut). Those stayed installed after ``main`` returned: in a CI
run, a later test in the same process that interrupted an embed run (tests/test_embed_resume.py)
saw its Ctrl-C set an event nobody read, and the run finished with exit 0 instead of 130.
"""
import os
import signal
import time

import pytest

from biosig.cli import main
from test_streams_helpers import config, free_port, running


def _handlers():
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _ctrl_c_raises():
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2.0)   # the handler runs in this (the main) thread at once: never this long


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler while the test runs, whatever was there before it."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_listen_puts_back_the_handlers_it_found(default_sigint, capsys):
    before = _handlers()
    code = main(["listen", "--seconds", "0.3", "--insecure", "--output", f"tcp://127.0.0.1:{free_port()}"])
    capsys.readouterr()
    assert code == 0
    assert _handlers() == before
    _ctrl_c_raises()


def test_monitor_puts_back_the_handlers_it_found(default_sigint, capsys):
    """monitor stops on the first signal even inside a blocking send (``interruptible``); after its
    block only ``stop`` is set. Both are gone once it returns."""
    before = _handlers()
    with running(config()) as rt:
        code = main(["monitor", "--simulate", "2", "--streams", "resp", "--frame-s", "0.5", "--seconds", "1",
                     "--couches", "0", "--insecure", "--ingest", rt.bound.ingest])
    err = capsys.readouterr().err
    assert code == 0, err
    assert _handlers() == before
    _ctrl_c_raises()


def test_a_refused_command_puts_them_back_too(default_sigint, capsys):
    """A user's mistake found after the handlers were set (monitor's too-short run is refused
    inside its interruptible block) leaves no handler behind either."""
    before = _handlers()
    code = main(["monitor", "--frame-s", "10", "--seconds", "2", "--couches", "0",
                 "--ingest", f"tcp://127.0.0.1:{free_port()}"])
    assert code == 2, capsys.readouterr().err
    assert _handlers() == before
    _ctrl_c_raises()
