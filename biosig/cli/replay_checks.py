"""Checks of ``biosig replay`` (:func:`biosig.cli._device_commands._replay`) before a frame goes out.

:func:`record_paths` turns the RECORD arguments into record files: a folder is searched as ``info``,
``embed`` and ``score`` search theirs (:func:`biosig.readers.discover`); it was refused with a pointer to
that Python function. :func:`check_first_frames` refuses a ``--seconds`` that ends before any stream's first
frame: such a run sent nothing and exited 0 (``monitor`` refuses the same). Each raises
:class:`streams.errors.StreamError` with one line (exit code 2). :class:`ReplayProgress` says how far a long
replay got (a pass through a Holter record ran for hours without a word).
"""
from __future__ import annotations

import pathlib


def record_paths(records) -> list[str]:
    """The RECORD arguments with each folder replaced by the records found in it (recursively, in order). Files
    are kept as given (the reader says what is wrong with one; a file named twice is two sources, ``_2``, as
    before); a record found in a folder is left out when it is named too or found in another folder given."""
    from biosig.readers import discover
    from streams.errors import StreamError
    if any(not str(r).strip() for r in records):
        raise StreamError("RECORD '' is empty: give a recording (WFDB .hea, EDF, CSV, ...) or a folder of them")
    named = {pathlib.Path(r).resolve() for r in records if not pathlib.Path(r).is_dir()}
    out: list[str] = []
    seen: set = set()
    for given in records:
        if not pathlib.Path(given).is_dir():
            out.append(str(given))
            continue
        found = discover([given])
        if not found:
            raise StreamError(f"{given}: a folder with no recording the signal layer reads (WFDB, EDF, audio, "
                              "marker or spirometry CSV, CSV/Parquet with a time column); nothing to replay")
        for path in found:
            key = pathlib.Path(path).resolve()
            if key not in named and key not in seen:   # one publisher for it, not two of one stream name
                seen.add(key)
                out.append(path)
    return out


def check_first_frames(sources, seconds) -> None:
    """Refuse ``--seconds`` shorter than the first frame of every source: a frame goes out when its last sample
    happens (at the replay's speed), so such a run sent nothing and said "sent 0 frames" with exit code 0."""
    from streams.errors import StreamError
    if seconds is None or not sources:
        return
    first_s = min((s._frame_len() - 1) / (s.fs_hz * s.speed) for s in sources)
    if first_s > seconds:
        raise StreamError(f"--seconds {seconds:g} ends before the first frame of any stream ({first_s:.3g} s of "
                          "replay at this --speed): nothing would be sent; give a longer --seconds")


def gap_text(sources) -> str:
    """``, left out N frame(s) holding missing samples (a sequence gap each)`` for the summary line, or ``""``:
    a record's NaN stretches were left out without a word (``sent 17 frames`` of a record of 20)."""
    left_out = sum(getattr(s, "skipped", 0) for s in sources)
    return f", left out {left_out} frame(s) holding missing samples (a sequence gap each)" if left_out else ""


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class ReplayProgress:
    """``biosig replay: 0:20 of 30:05 replayed (200 frames sent, 0 dropped)`` on stderr every ``every_s`` seconds
    of the run (``BIOSIG_PROGRESS_S``, 10 s by default), called by :func:`streams.simulate.run_sources`; time is
    the wall clock of the run, ``total_s`` its length (``--seconds`` or one pass of the longest record); an
    interval of 0 or less: none (a line per round of sends would flood the terminal)."""

    def __init__(self, sources, total_s: float, every_s: float | None = None):
        from biosig.progress import progress_interval_s
        self.sources, self.total_s = sources, float(total_s)
        self.every_s = progress_interval_s() if every_s is None else float(every_s)
        self.t0 = self.next_s = None

    def __call__(self, now: float) -> None:
        import sys
        if self.t0 is None:
            self.t0 = min((s.t_start for s in self.sources), default=now)
            self.next_s = self.t0 + self.every_s
        if self.every_s <= 0 or now < self.next_s or now - self.t0 >= self.total_s:
            return
        self.next_s = now + self.every_s
        sent, dropped = (sum(getattr(s.out, k) for s in self.sources) for k in ("sent", "dropped"))
        print(f"biosig replay: {_clock(now - self.t0)} of {_clock(self.total_s)} replayed ({sent} frames sent, "
              f"{dropped} dropped)", file=sys.stderr, flush=True)
