"""Option checks of ``biosig forecast evaluate`` (``biosig.cli.forecast_commands``).

A user mistake raises :class:`realtime.errors.ForecastError` with one line (what is wrong, what to
give instead), which the CLI prints with exit code 2; an option that would be ignored in part is
said on stderr (a warning), never dropped silently. Heavy packages are imported inside the functions.
"""
from __future__ import annotations

import logging

from biosig.cpus import usable_cpus

log = logging.getLogger(__name__)

DEFAULT_SELECT_SEEDS = 3


def check_evaluate_options(args) -> list[str]:
    """Validate the numeric options of ``forecast evaluate``; sets ``args.select_seeds`` and
    ``args.workers`` to the values the run will use (the report records those, not the asked ones).
    Returns the warnings on options ignored in part, for :func:`warn_options` to say once the
    sessions are read (said before, they came on top of the one line of a refused input)."""
    import numpy as np

    from realtime.errors import ForecastError

    notes: list[str] = []
    if args.rate_hz <= 0 or not np.isfinite(args.rate_hz):
        raise ForecastError(f"--rate-hz must be a positive number, got {args.rate_hz}")
    if args.workers is not None and args.workers < 1:
        raise ForecastError(f"--workers must be >= 1 (leave it out to use all cores), got {args.workers}")
    for name in ("norm_s", "select_start_s", "test_start_s", "max_frozen_s"):
        v = getattr(args, name)
        if v is not None and (not np.isfinite(v) or v < 0):
            raise ForecastError(f"--{name.replace('_', '-')} must be a number >= 0, got {v}")
    if not (args.norm_s > 0 and args.select_start_s < args.test_start_s):
        raise ForecastError(f"need --norm-s > 0 and --select-start-s < --test-start-s, got {args.norm_s:g}, "
                            f"{args.select_start_s:g}, {args.test_start_s:g}")
    # the learners hold until the z-score is fitted: a --norm-s past --select-start-s shortens the
    # selection window, one reaching the test start leaves it no forecast (hyperparameters not chosen
    # on data), holds the first test steps and fits the z-score on test data; both ran without a word
    # (a session whose warm-up leaves no forecast at all is refused by realtime.protocol.check_inputs)
    if args.norm_s >= args.test_start_s:
        notes.append(f"--norm-s {args.norm_s:g} reaches the test start (--test-start-s {args.test_start_s:g}): the "
                     "selection window holds no forecast (hyperparameters not chosen on data), the z-score is fitted "
                     f"on test data and the test steps before {args.norm_s:g} s are held; give --norm-s up to "
                     f"--select-start-s ({args.select_start_s:g}) for the protocol")
    elif args.norm_s > args.select_start_s:
        notes.append(f"--norm-s {args.norm_s:g} is longer than --select-start-s {args.select_start_s:g}: the learners "
                     "hold until the z-score is fitted, so hyperparameters are chosen on "
                     f"{args.norm_s:g}-{args.test_start_s:g} s only")
    for name, v in (("--seeds", args.seeds), ("--select-seeds", args.select_seeds)):
        if v is not None and v < 1:   # the option given, not both ("got 0 and None")
            raise ForecastError(f"{name} must be >= 1, got {v}")
    # the selection uses at most --seeds seeds: a larger --select-seeds was cut down silently and
    # report.json recorded the asked number
    if args.select_seeds is None:
        args.select_seeds = min(DEFAULT_SELECT_SEEDS, args.seeds)
    elif args.select_seeds > args.seeds:
        notes.append(f"--select-seeds {args.select_seeds} is more than --seeds {args.seeds}: the selection uses "
                     f"{args.seeds} seed(s); give --seeds {args.select_seeds} for {args.select_seeds}")
        args.select_seeds = args.seeds
    # more processes than CPUs only add start-up time (64 on 2 cores: 8 s instead of 1) and CPU
    # contention in the wall-clock timing columns
    cpus = usable_cpus()
    if args.workers is not None and args.workers > cpus:
        notes.append(f"--workers {args.workers} is more than the {cpus} CPU(s) this process may use: using {cpus}")
        args.workers = cpus
    return notes


def warn_options(notes: list[str], sessions, scaling: str) -> None:
    """Say the ``notes`` of :func:`check_evaluate_options`, and that ``--scaling global`` (one std
    for all coordinates) is the same as ``coord`` on a session with one coordinate (a 1-D surrogate),
    naming the sessions: options ignored in part are said, not passed over."""
    for note in notes:
        log.warning("%s", note)
    one = [s.name for s in sessions if len(s.channels) == 1] if scaling == "global" else []
    if one:
        log.warning("--scaling global has no effect on session(s) with one coordinate (%s%s): their z-score "
                    "is the same as with --scaling coord", ", ".join(one[:4]), " ..." if len(one) > 4 else "")


def skip_reasons(skipped, methods, horizons, protocol) -> dict[str, str]:
    """Session name -> why the protocol cannot run on it, for the sessions ``usable_sessions`` left out
    (its warning said so on stderr only: report.json listed the sessions kept and the summary line
    their number, so a run given 2 recordings read as a run on 1). Written as ``skipped`` in
    report.json and named in the summary line."""
    from realtime.errors import ForecastError
    from realtime.evaluation import check_inputs

    out = {}
    for s in skipped:
        try:
            check_inputs([s], methods, horizons, protocol)
        except ForecastError as exc:
            out[s.name] = str(exc)
    return out


def warn_unselected(report: dict) -> None:
    """Say the methods and horizons whose hyperparameters were not chosen on data: no configuration
    forecast 2 steps of the selection window (a horizon reaching across it, a session whose window
    is mostly gaps), so the first configuration of the grid ran on the test (report.json's
    ``selection_nrmse`` null), where before nothing said so."""
    import math

    bad: dict[str, list[str]] = {}
    for session, methods in report.get("results", {}).items():
        for method, by_h in methods.items():
            hs = [str(h) for h, r in by_h.items()
                  if isinstance(r.get("selection_duty"), float) and math.isfinite(r["selection_duty"])
                  and not math.isfinite(float(r.get("selection_nrmse", math.nan)))]
            if hs:
                bad.setdefault(f"{method} h {','.join(hs)}", []).append(session)
    for what, sessions in bad.items():
        p = report.get("protocol", {})
        log.warning("%s: no forecast in the selection window (%s-%s s) of %s to choose hyperparameters on: the first "
                    "configuration of the grid was used (selection_nrmse null in report.json); give horizons "
                    "shorter than the window, or a longer window", what, p.get("select_start_s", "?"),
                    p.get("test_start_s", "?"), ", ".join(sessions[:4]) + (" ..." if len(sessions) > 4 else ""))
