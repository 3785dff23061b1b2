"""The time column of a table (:mod:`.tables`): which column it is, by its name, and in what unit.

- :data:`TIME_COLUMN_RE`: a name that carries its unit (``t_s``, ``time (s)``, ``t_ms``, ``Time [ms]``);
- :data:`BARE_TIME_RE`: a name without one (``time``, ``timestamp``, ``t``), whose unit its values
  say or it is refused (:func:`bare_time_unit`);
- :func:`exact_rate_hz`: the rate whose sample grid gives a table's times bit for bit (a CSV written
  by :mod:`biosig.writers` reads back at its written rate).

Split out of :mod:`.tables`, which re-exports every name; log records keep that module's logger name.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re

import numpy as np

from biosig.errors import ReadError
from biosig.record import names_text

log = logging.getLogger("biosig.readers.tables")

TIME_COLUMN = "t_s"
#: A time column whose name carries its unit (s or ms): ``t_s``, ``time_s``, ``time (s)``, ``t_ms``,
#: ``time_ms``, ``timestamp_ms``, ``Time [ms]``. A bare ``time`` is not one: seconds or milliseconds?
TIME_COLUMN_RE = re.compile(r"^\s*(t|time|timestamp)\s*(_|\(|\[)?\s*(s|ms)\s*[)\]]?\s*$", re.IGNORECASE)
TIME_COLUMN_HELP = "t_s, time_s, 'time (s)', t_ms, time_ms or 'time [ms]'"
#: A time column whose name carries no unit: ``time``, ``Time``, ``TIMESTAMP``, ``times``, ``time stamp``
#: and a lower-case ``t`` (an upper-case ``T`` is as often a temperature). Its unit is found from its
#: values (:func:`bare_time_unit`) or refused.
BARE_TIME_RE = re.compile(r"^\s*(?:(?i:time|times|timestamp|time[ _]stamp)|t)\s*$")
#: A bare time column's steps read as seconds up to this (100 Hz or more; as milliseconds that
#: would be 100 kHz or more, no physiological recording).
BARE_SECONDS_MAX_STEP = 0.01
#: First values of a bare time column read as Unix epoch milliseconds (1973 to 5138; in seconds they
#: would be years after 5138).
EPOCH_MS_RANGE = (1e11, 1e14)


def time_columns(columns) -> list[str]:
    """The columns that name a time in s or ms (:data:`TIME_COLUMN_RE`), in order."""
    return [c for c in columns if TIME_COLUMN_RE.match(c)]


def bare_time_columns(columns) -> list[str]:
    """The columns named as a time without a unit (:data:`BARE_TIME_RE`), in order."""
    return [c for c in columns if BARE_TIME_RE.match(c)]


def is_table(columns) -> bool:
    """A generic table: exactly one time column named with its unit, or, without one, exactly one
    named without a unit (its unit is found from its values when read)."""
    named = time_columns(columns)
    return len(named) == 1 or (not named and len(bare_time_columns(columns)) == 1)


def time_units_per_s(column: str) -> float:
    """Units per second of a time column (1 for s, 1000 for ms): divide by it for seconds."""
    return 1.0 if TIME_COLUMN_RE.match(column).group(3).lower() == "s" else 1000.0


def _time_unit(column: str, t: np.ndarray, sample_rate_hz: float | None = None) -> tuple[str, str, str]:
    """(unit ``"s"``/``"ms"``, why, what to log) of a time column without a unit, or ("", "", the
    problem) when its values ``t`` do not tell (:func:`bare_time_unit`)."""
    t = np.asarray(t, dtype=np.float64)
    if len(t) < 2:
        return "", "", (f"column {column!r} names no time unit and {len(t)} row(s) cannot tell seconds "
                        f"from milliseconds: name it with its unit ({TIME_COLUMN_HELP})")
    step = np.diff(t)
    bad = np.flatnonzero(~np.isfinite(t) | ~np.concatenate([[True], step > 0]))
    if len(bad):
        i = int(bad[0])
        after = f" after {t[i - 1]:g}" if i else ""
        return "", "", (f"column {column!r}, read as the time, must be finite and strictly increasing: "
                        f"row {i + 1} holds {t[i]:g}{after}")
    median, mean = float(np.median(step)), float((t[-1] - t[0]) / (len(t) - 1))
    rate_s, rate_ms = 1.0 / median, 1000.0 / median
    both = f"its median step {median:g} is {rate_s:.4g} Hz in seconds or {rate_ms:.4g} Hz in milliseconds"
    if sample_rate_hz is not None:
        fits = [unit for unit, per_s in (("s", 1.0), ("ms", 1000.0))
                if any(abs(per_s / d / sample_rate_hz - 1) <= 0.1 for d in (median, mean))]
        if len(fits) != 1:
            return "", "", (f"column {column!r} names no time unit and {both}: neither is the stated "
                             f"{sample_rate_hz:g} Hz; name it with its unit ({TIME_COLUMN_HELP})")
        return fits[0], "sample_rate_hz", (f"time column {column!r} read in "
                                           f"{'seconds' if fits[0] == 's' else 'milliseconds'} (the stated "
                                           f"{sample_rate_hz:g} Hz)")
    if EPOCH_MS_RANGE[0] <= t[0] < EPOCH_MS_RANGE[1]:
        return "ms", "epoch", (f"time column {column!r} names no unit: read as Unix epoch milliseconds "
                               f"({rate_ms:.4g} Hz; in seconds it would be after the year 5000); name it "
                               "time_ms to say so")
    if median <= BARE_SECONDS_MAX_STEP * (1 + 1e-6):
        return "s", "steps", (f"time column {column!r} names no unit: read as seconds (median step {median:g} s, "
                              f"{rate_s:.4g} Hz; in milliseconds it would be {rate_ms / 1000:.4g} kHz); name it "
                              "t_s to say so")
    return "", "", (f"column {column!r} names no time unit and {both}: name it with its unit "
                    f"({TIME_COLUMN_HELP}){stated_rate_hint('to pick the unit that gives it')}")


#: How a caller states the rate of a table (in the hints of errors about one without a time unit or a time column):
#: the CLI's option and the API's argument by default; None where the caller takes no rate (``biosig forecast``: the
#: hint named --sample-rate-hz, an option it does not have). Set with :func:`rate_option`.
_RATE_OPTION: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "biosig_rate_option", default="--sample-rate-hz HZ, or read(..., sample_rate_hz=HZ)")


@contextlib.contextmanager
def rate_option(text: str | None):
    """Within the block, errors of the readers say ``text`` as the way to state a table's rate (None: no way)."""
    token = _RATE_OPTION.set(text)
    try:
        yield
    finally:
        _RATE_OPTION.reset(token)


def stated_rate_hint(what: str) -> str:
    """``", or state the rate (OPTION) " + what`` where the caller takes a rate, else ``""``."""
    option = _RATE_OPTION.get()
    return f", or state the rate ({option}) {what}" if option else ""


def bare_time_unit(path, column: str, t: np.ndarray, sample_rate_hz: float | None = None) -> tuple[str, str]:
    """(``"s"`` or ``"ms"``, why) for the time column ``column`` whose name carries no unit, from its
    values ``t``; a :class:`ReadError` when they do not say it beyond doubt.

    In order: with a stated ``sample_rate_hz``, the unit in which the times' rate (by their median
    or mean step) is within 10 % of it (why ``"sample_rate_hz"``; neither is an error); a first value
    in :data:`EPOCH_MS_RANGE`: Unix epoch milliseconds (``"epoch"``); a median step of at most
    :data:`BARE_SECONDS_MAX_STEP`: seconds (``"steps"``). A guess without a stated rate is logged as
    a warning. Times that are not finite and strictly increasing are an error.
    """
    unit, why, said = _time_unit(column, t, sample_rate_hz)
    if not unit:
        raise ReadError(path, said)
    log.log(logging.INFO if why == "sample_rate_hz" else logging.WARNING, "%s: %s", path, said)
    return unit, why


def _time_column(path, columns) -> str:
    """The one time column among ``columns`` (:func:`time_columns`; without one, :func:`bare_time_columns`);
    none or several is an error."""
    found = time_columns(columns) or bare_time_columns(columns)
    if not found:
        raise ReadError(path, f"no time column (name it with its unit: {TIME_COLUMN_HELP}); columns are "
                              f"{names_text(columns) or '(none)'}")
    if len(found) > 1:
        raise ReadError(path, f"{len(found)} time columns ({', '.join(found)}); keep one")
    return found[0]


def exact_rate_hz(t_s: np.ndarray) -> float | None:
    """The rate whose grid ``arange(n) / fs_hz`` (as :attr:`Record.t_s` is) gives times ``t_s`` from the
    first bit for bit, the simplest such (fewest significant digits), or None where no rate near
    ``(n - 1) / span`` does. A CSV written by biosig holds those times: 1000/3 Hz read back as 333.333
    (the median step to 6 digits), now 333.3333333333333, the written rate."""
    n = len(t_s)
    rel = t_s - t_s[0]
    if n < 2 or not rel[-1] > 0:
        return None
    estimate = (n - 1) / rel[-1]
    near, up, down = [estimate], estimate, estimate   # its last bits are off by rounding: neighbours too
    for _ in range(8):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, 0.0)
        near += [up, down]
    few = np.unique([1, n // 3, n // 2, n - 1])   # a few times first: a long file is divided once or twice
    for fs_hz in [float(f"{estimate:.{d}g}") for d in range(1, 17)] + [float(v) for v in near]:
        if fs_hz > 0 and np.array_equal(few / fs_hz, rel[few]) \
                and np.array_equal(np.arange(n, dtype=np.float64) / fs_hz, rel):
            return fs_hz
    return None
