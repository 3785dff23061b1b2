"""Hyperparameter grids of the evaluation protocol and the CLI's integer-list parser."""
from __future__ import annotations

import itertools
import logging
from collections import Counter

from realtime.errors import ForecastError

log = logging.getLogger(__name__)

# Grids: per method, lists of lookback (s), hidden units and learning rates (full product), and
# optionally a dict of further options (UORO: averaged estimates, 4 in the default grid, 16 in full); an option
# given as a list is one more axis of the product (RLS: forgetting factor x initial regularisation).
# The default grid keeps one middle configuration per RNN (no selection for them: they are run with
# the protocol's seeds only) so that the whole default run over the 4 shared sessions fits in about
# 3 minutes on 2 cores; ``full`` is the grid every RNN was selected from before (about 30 minutes).
GRIDS = {
    "default": {
        "rtrl": ([1.2], [10], [0.02]),
        "uoro": ([1.2], [30], [0.01], {"estimates": 4}),
        "snap1": ([1.2], [30], [0.01]),
        "dni": ([1.2], [30], [0.01]),
        "lms": ([1.2, 2.4, 3.6], [1], [0.002, 0.005, 0.01, 0.02]),
        "rls": ([0.6, 1.2], [1], [0.0], {"forget": [0.99, 0.995, 0.998, 0.999], "init_reg": [0.1, 10.0]}),
        "mix": ([1.2], [1], [0.0]),  # self-tuning: its experts cover forgetting factors and window lengths
        "linreg": ([1.2, 2.4, 3.6, 6.0], [1], [0.0]),
        "last": ([0.1], [1], [0.0]),
    },
    "full": {
        "rtrl": ([1.2, 2.4], [10, 20], [0.01, 0.02, 0.05]),
        "uoro": ([1.2, 2.4], [30, 90], [0.005, 0.01, 0.02, 0.05], {"estimates": 16}),
        "snap1": ([1.2, 2.4], [30, 90], [0.005, 0.01, 0.02, 0.05]),
        "dni": ([1.2, 2.4], [30, 90], [0.005, 0.01, 0.02, 0.05]),
        "lms": ([1.2, 2.4, 3.6], [1], [0.002, 0.005, 0.01, 0.02]),
        "rls": ([0.6, 1.2], [1], [0.0], {"forget": [0.99, 0.995, 0.998, 0.999], "init_reg": [0.1, 10.0]}),
        "mix": ([1.2], [1], [0.0]),  # self-tuning: its experts cover forgetting factors and window lengths
        "linreg": ([1.2, 2.4, 3.6, 6.0], [1], [0.0]),
        "last": ([0.1], [1], [0.0]),
    },
    "paper": {
        "rtrl": ([1.2, 2.4, 3.6, 4.8, 6.0], [10, 20, 30, 40], [0.005, 0.01, 0.02]),
        "uoro": ([1.2, 2.4, 3.6, 4.8, 6.0], [30, 60, 90, 120, 150, 180], [0.005, 0.01, 0.02]),
        "snap1": ([1.2, 2.4, 3.6, 4.8, 6.0], [30, 60, 90, 120, 150, 180], [0.005, 0.01, 0.02]),
        "dni": ([1.2, 2.4, 3.6, 4.8, 6.0], [30, 60, 90, 120, 150, 180], [0.005, 0.01, 0.02]),
        "lms": ([1.2, 2.4, 3.6, 4.8, 6.0], [1], [0.001, 0.002, 0.005, 0.01, 0.02]),
        "rls": ([0.6, 1.2, 2.4], [1], [0.0], {"forget": [0.99, 0.995, 0.998, 0.999], "init_reg": [0.1, 10.0]}),
        "mix": ([1.2], [1], [0.0]),
        "linreg": ([1.2, 2.4, 3.6, 4.8, 6.0], [1], [0.0]),
        "last": ([0.1], [1], [0.0]),
    },
}


def parse_int_list(text: str, what: str = "horizons") -> list[int]:
    """``"1-21"``, ``"1,5,10"`` or ``"1-5,10"`` -> sorted unique positive ints; a value listed twice
    (``1,1,2``, ``1-5,3``) is kept once, with a warning naming it."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                out += range(a, b + 1)
            elif part:
                out.append(int(part))
        except ValueError:
            raise ForecastError(f"bad {what} {text!r}: use ranges and comma lists such as 1-21 or 1,5,10") from None
    if not out or min(out) < 1:
        raise ForecastError(f"bad {what} {text!r}: positive integers needed, e.g. 1-21 or 1,5,10")
    return _unique(out, what, text)


def _unique(values: list[int], what: str, text: str, unit: str = "") -> list[int]:
    """Sorted unique ``values``; a warning names those listed more than once (each is run once)."""
    twice = sorted(v for v, n in Counter(values).items() if n > 1)
    if twice:
        log.warning("%s %s lists %s more than once; each is evaluated once", what, text,
                    ", ".join(f"{v}{unit}" for v in twice))
    return sorted(set(values))


def format_int_list(values) -> str:
    """Sorted ints as ranges and a comma list: [1, 2, 3, 5] -> ``"1-3,5"`` (what parse_int_list reads)."""
    values, parts, i = sorted(set(values)), [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if j == i else f"{values[i]}{',' if j == i + 1 else '-'}{values[j]}")
        i = j + 1
    return ",".join(parts)


def horizon_steps(text: str, rate_hz: float, what: str = "--horizons-s") -> list[int]:
    """``"0.1,0.5,1"`` seconds -> sorted unique horizons in steps at ``rate_hz``; each must be a whole
    number of steps (within 1 % of a step), at least one."""
    import math

    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            seconds = float(part)
        except ValueError:
            raise ForecastError(f"bad {what} {text!r}: a comma list of seconds such as 0.1,0.5,1") from None
        steps = seconds * rate_hz
        if not math.isfinite(steps) or steps < 0.99:
            raise ForecastError(f"bad {what} {part!r}: at least one step ({1 / rate_hz:g} s at {rate_hz:g} Hz)")
        if abs(steps - round(steps)) > 0.01:
            raise ForecastError(f"{what} {part} s is {steps:.3g} steps at {rate_hz:g} Hz; give whole steps "
                                f"(multiples of {1 / rate_hz:g} s, e.g. {round(steps) / rate_hz:g})")
        out.append(int(round(steps)))
    if not out:
        raise ForecastError(f"bad {what} {text!r}: a comma list of seconds such as 0.1,0.5,1")
    return _unique(out, what, text, unit=" step(s)")


def grid_configs(grid: str, method: str, rate_hz: float) -> list[dict]:
    """The hyperparameter combinations of ``grid`` for ``method`` (lookback in steps)."""
    if grid not in GRIDS:
        raise ForecastError(f"unknown grid {grid!r}; known: {', '.join(GRIDS)}")
    looks, hiddens, lrs, *extra = GRIDS[grid][method]
    fixed = extra[0] if extra else {}
    names = list(fixed)
    axes = [v if isinstance(v, (list, tuple)) else [v] for v in fixed.values()]
    return [{"lookback": max(1, int(round(L * rate_hz))), "hidden": q, "lr": lr, **dict(zip(names, combo))}
            for L in looks for q in hiddens for lr in lrs for combo in itertools.product(*axes)]
