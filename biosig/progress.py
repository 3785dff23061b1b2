"""How often long jobs report progress (stdlib only: the CLI imports it early).

One place reads ``BIOSIG_PROGRESS_S``: the CLI's per-record progress lines
(:class:`biosig.cli._common.ProgressLog`) and the progress log of a long synthetic ECG
(:mod:`biosig.synthetic`) both use :func:`progress_interval_s`, and so do the stage lines of ``biosig export``
and of the start of ``biosig pretrain`` (:class:`Stages`).
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


class Stages:
    """Says each stage of a long job on stderr as it starts (``"exporting ecg-tiny: tracing ..."``) and, while one
    stage lasts longer than the progress interval (:func:`progress_interval_s`), a line each interval saying it goes
    on (``"exporting ecg-tiny: tracing still running, 12 s so far"``): an export or the start of a pretraining run
    spent 5-17 s in tracing, graph passes or torch's imports with nothing on the screen, like embed's and score's
    heartbeats within one long recording. The lines are printed on a terminal too: a stage has no count for a bar.

    Use as a context manager (the heartbeat thread stops on leaving it) or call :meth:`close`. The thread is a
    daemon and reads only host clocks: it never holds up the exit or a Ctrl-C, nor synchronises a device.
    ``enabled=False`` says nothing (``--no-progress``, a rank other than 0)."""

    def __init__(self, prefix: str, enabled: bool = True, every_s: float | None = None):
        import threading
        import time

        self.prefix, self.enabled = prefix, bool(enabled)
        self.every_s = max(progress_interval_s() if every_s is None else float(every_s), 0.05)
        self.text, self.started = "", time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if self.enabled:
            self._thread = threading.Thread(target=self._beat, name="stage-heartbeat", daemon=True)
            self._thread.start()

    def start(self, text: str, say: bool = True) -> None:
        """Stage ``text`` begins now: said at once (``say=False``: only once it lasts an interval, e.g. a load
        that may fail with a one-line error, which stays the only line); the one before it is over."""
        import time
        if not self.enabled:
            return
        with self._lock:
            self.text, self.started = text, time.monotonic()
        if say:
            self._say(f"{text} ...")

    def end(self) -> None:
        """The current stage is over and no other follows yet (no more heartbeat lines for it)."""
        with self._lock:
            self.text = ""

    def close(self) -> None:
        self.end()
        self._stop.set()

    def __enter__(self) -> "Stages":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _say(self, text: str) -> None:
        import sys
        print(f"{self.prefix}: {text}", file=sys.stderr, flush=True)

    def _beat(self) -> None:
        import time
        while not self._stop.wait(self.every_s):
            with self._lock:
                text, started = self.text, self.started
                running = time.monotonic() - started
                if text and running >= self.every_s:   # a stage shorter than the interval says only its start
                    self._say(f"{text} still running, {running:.0f} s so far" if running >= 10 else
                              f"{text} still running, {running:.1f} s so far")
