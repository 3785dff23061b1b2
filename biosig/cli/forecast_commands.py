"""``biosig forecast evaluate | plot``: the respiratory-motion forecasting protocol (issue 3).

Heavy imports (numba kernels, polars, matplotlib) happen inside the handlers.
"""
from __future__ import annotations

import logging
import pathlib
import sys

from biosig import json_text
from biosig.interrupts import polars_io

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0  # without a terminal, a progress line at most this often (and at the end)
DEFAULT_METHODS = "mix,rls,lms,linreg,rtrl,uoro,snap1,dni,last"
PLOT_SUFFIXES = (".png", ".pdf", ".svg")  # formats of `forecast plot --out`


def _retire_earlier_forecasts(out: pathlib.Path, sessions: list[str], methods: list[str]) -> None:
    """Remove the forecasts an earlier run wrote into ``out`` that this run will not overwrite.

    A second run into one --out with other methods or sessions left the first run's
    ``predictions/<session>/<method>.parquet`` beside the new report: `forecast plot` ignores them,
    but a user reading the folder took them for this run's. Only files this command writes are
    removed (``truth.parquet`` and one per known method), and the count is said on stderr; anything
    else in the folder stays.
    """
    from realtime import KNOWN_METHODS
    pdir = out / "predictions"
    if not pdir.is_dir():
        return
    ours = {"truth", *KNOWN_METHODS}
    keep = {(s, m) for s in sessions for m in ("truth", *methods)}
    stale = [f for f in sorted(pdir.glob("*/*.parquet"))
             if f.stem in ours and (f.parent.name, f.stem) not in keep]
    for f in stale:
        _write(f, lambda f=f: f.unlink(missing_ok=True))
    for d in {f.parent for f in stale}:
        if not any(d.iterdir()):
            d.rmdir()
    if stale:
        print(f"forecast evaluate: removed {len(stale)} forecast file(s) of an earlier run from {pdir} "
              f"(not this run's methods or sessions: {', '.join(sorted({f.parent.name + '/' + f.stem for f in stale})[:6])}"
              f"{', ...' if len(stale) > 6 else ''})", file=sys.stderr)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "forecast", help="online respiratory-motion forecasters: evaluate, plot",
        description="Online forecasting of external-marker motion (Pohl et al. 2022/2025 protocol).")
    sub = p.add_subparsers(dest="forecast_command", metavar="SUBCOMMAND")

    e = sub.add_parser(
        "evaluate", help="run the evaluation protocol on marker, surrogate (.vxp, CSV), generic CSV or "
                         "recorded respiration (WFDB, EDF, ...) sessions",
        description="Choose hyperparameters per method and horizon on the 30-60 s window, test on every "
                    "forecast after 60 s while learning online on everything; writes DIR/report.json and "
                    "DIR/predictions/<session>/<method>.parquet (a held step: hold true, positions null) "
                    "and prints the summary table. Marker CSVs "
                    "sharing the prefix before the first '-' form one session (one row = one step; frames lost "
                    "where the timestamps jump are missing steps); a CSV with "
                    "'t_s' plus coordinate columns is one session (resampled to --rate-hz if off its grid); so is a "
                    "1-D respiratory surrogate: a Varian RPM .vxp export or a CSV with a time column in s or ms "
                    "and amplitude columns named with their unit (amp_mm, chest (cm)) plus an optional 'valid' "
                    "column; invalid samples become gaps. Any other recording biosig reads (WFDB, EDF, Parquet, a "
                    "table with another time column) is one session too: its respiration and motion channels "
                    "(or --channel), resampled to --rate-hz with an anti-aliasing filter. Sessions too short for "
                    "the protocol or unreadable are skipped with a warning. Steps the runtime holds (warm-up, gaps, "
                    "divergence, one position repeated for --max-frozen-s) are held here too and not scored "
                    "(duty: the share forecast). Columns 'med us' and 'p99 us': the median and 99th percentile "
                    "of the CPU microseconds of one learn + forecast step on the test steps (the wall clock's, "
                    "which also count waits for a core on a loaded machine: us_wall_median, us_wall_p99 in "
                    "report.json).")
    e.add_argument("files", nargs="+", metavar="PATH",
                   help="marker CSVs (grouped into sessions by name), .vxp or surrogate CSVs, CSVs with a t_s column, "
                        "or any recording biosig reads (WFDB, EDF, Parquet, tables with another time column): "
                        "one session each; a folder stands for the recordings in it (those without a respiration "
                        "or motion channel skipped with a warning)")
    e.add_argument("--channel", action="append", default=None, metavar="NAME",
                   help="a coordinate to forecast (repeat for more; default: every column of a table, the "
                        "respiration and motion channels of a WFDB or EDF record, every coordinate of a marker session "
                        "or surrogate trace): a column name (x_mm), a surrogate's channel name (x) or a marker "
                        "coordinate (LAC_x); a file named on the command line without it is an error")
    e.add_argument("--rate-hz", type=float, default=10.0, help="nominal sampling rate (default 10)")
    ahead = e.add_mutually_exclusive_group()
    ahead.add_argument("--horizons", default="1-21",
                       help="horizons in steps: ranges and comma lists (default 1-21, i.e. 0.1-2.1 s at 10 Hz)")
    ahead.add_argument("--horizons-s", default=None, metavar="S,...",
                       help="horizons in seconds instead, each a whole number of steps at --rate-hz "
                            "(e.g. 0.1,0.5,1)")
    e.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma list (default {DEFAULT_METHODS})")
    e.add_argument("--seeds", type=int, default=3,
                   help="seeds per RNN test run, metrics averaged (default 3; the full protocol: --grid full "
                        "--seeds 10); the other methods are deterministic (one run)")
    e.add_argument("--select-seeds", type=int, default=None,
                   help="seeds for hyperparameter selection, at most --seeds (default 3, or --seeds if fewer)")
    e.add_argument("--grid", default="default", choices=("default", "full", "paper"),
                   help="hyperparameter grid: default (one configuration per RNN, about 3 min on the 4 shared "
                        "sessions), full (the RNNs selected from 12-16 configurations each, about 30 min), "
                        "paper (the published grid)")
    e.add_argument("--scaling", default="coord", choices=("coord", "global"),
                   help="z-score per coordinate (default) or one std for all coordinates")
    e.add_argument("--supervision", default="causal", choices=("causal", "paper"),
                   help="causal (default): a forecast uses only samples before it, as deployed. paper: "
                        "NOT causal, reproduces the published MATLAB code, which updates the weights with "
                        "y(t+h) in the iteration that predicts it (later forecasts use targets h-1 steps "
                        "early); only for comparison with the published table")
    e.add_argument("--norm-s", type=float, default=30.0,
                   help="seconds at the start used for the z-score (default 30)")
    e.add_argument("--select-start-s", type=float, default=30.0,
                   help="start of the hyperparameter-selection window in seconds (default 30)")
    e.add_argument("--test-start-s", type=float, default=60.0,
                   help="end of the selection window and start of the test, seconds (default 60)")
    e.add_argument("--max-frozen-s", type=float, default=None, metavar="S",
                   help="one position repeated in every coordinate for this long is a frozen input (a tracker "
                        "repeating itself): held and not scored, as `serve` holds it (default: the runtime's "
                        "max_frozen_s, 2; 0: off)")
    e.add_argument("--workers", type=int, default=None, help="processes, >= 1 (default: all cores)")
    e.add_argument("--out", required=True, metavar="DIR", help="output folder")
    e.set_defaults(handler=_evaluate)

    pl = sub.add_parser("plot", help="truth vs forecast and error over time from an evaluate folder",
                        description="Plot one session/method/horizon of a `biosig forecast evaluate` run.")
    pl.add_argument("dir", metavar="DIR", help="folder written by `biosig forecast evaluate --out`")
    pl.add_argument("--session", required=True,
                    help="session name (a folder under DIR/predictions, e.g. 201205111055)")
    pl.add_argument("--method", required=True, help="forecasting method evaluated in DIR (e.g. mix, snap1)")
    pl.add_argument("--horizon", type=int, required=True, help="horizon in steps")
    pl.add_argument("--seed", type=int, default=0, help="seed of the RNN test run to plot (default 0)")
    pl.add_argument("--out", required=True, metavar="FILE.png", help="plot file (.png, .pdf or .svg)")
    pl.set_defaults(handler=_plot)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _evaluate(args) -> int:
    import numpy as np
    import polars as pl

    from realtime.config import MAX_FROZEN_S
    from realtime.errors import ForecastError
    from realtime.evaluation import Protocol, evaluate, format_table, parse_int_list, usable_sessions
    from realtime.grids import format_int_list
    from realtime.sessions import load_sessions

    from biosig.cli.forecast_checks import check_evaluate_options, skip_reasons, warn_options, warn_unselected
    from biosig.record import names_text

    notes = check_evaluate_options(args)   # said once the sessions are read (a refused input: one line)
    from biosig.outputs import check_output_dir
    if args.horizons_s is not None:
        from realtime.grids import horizon_steps
        horizons = horizon_steps(args.horizons_s, args.rate_hz)
        args.horizons = ",".join(map(str, horizons))
    else:
        horizons = parse_int_list(args.horizons, "--horizons")
    methods = [m.strip().lower() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise ForecastError("--methods is empty")
    protocol = Protocol(rate_hz=args.rate_hz, seeds=args.seeds, select_seeds=args.select_seeds, scaling=args.scaling,
                        supervision=args.supervision, norm_s=args.norm_s, select_start_s=args.select_start_s,
                        test_start_s=args.test_start_s,
                        max_frozen_s=MAX_FROZEN_S if args.max_frozen_s is None else args.max_frozen_s)
    out = check_output_dir(args.out)   # before the sessions are read: a bad --out fails at once
    loaded = load_sessions(args.files, args.rate_hz, args.channel, skipped=(unread := {}))   # unreadable: said
    sessions = usable_sessions(loaded, methods, horizons, protocol)
    warn_options(notes, sessions, args.scaling)
    skipped = {**unread, **skip_reasons([s for s in loaded if s not in sessions], methods, horizons, protocol)}
    # A report describes the predictions written beside it: an earlier run's report into this
    # folder goes before this run writes any (not before: a refused command leaves the folder as it
    # was), so a run stopped half-way (Ctrl-C) leaves none and `forecast plot` refuses the folder,
    # instead of plotting this run's forecasts under the earlier run's report.
    _write(out / "report.json", lambda: (out / "report.json").unlink(missing_ok=True))
    _retire_earlier_forecasts(out, [s.name for s in sessions], methods)
    n_test = protocol.steps(protocol.test_start_s)
    for s in sessions:  # the truth of the test steps, for plots and re-scoring
        d = out / "predictions" / s.name
        cols = {"step": np.arange(n_test, s.n_steps, dtype=np.int32), "t_s": s.t_s[n_test:]}
        cols.update({c: s.X[n_test:, i] for i, c in enumerate(s.channels)})
        _write(d / "truth.parquet", lambda d=d, cols=cols: (d.mkdir(parents=True, exist_ok=True),
                                                             polars_io(pl.DataFrame(cols).write_parquet,
                                                                       d / "truth.parquet")))

    pending: dict = {}

    def on_predictions(session, method, h, seeds, preds, holds):
        parts = pending.setdefault((session.name, method), [])
        steps = np.arange(n_test, session.n_steps, dtype=np.int32)
        for k, seed in enumerate(seeds):
            cols = {"horizon": np.full(steps.size, h, np.int16), "seed": np.full(steps.size, seed, np.int16),
                    "step": steps, "t_s": session.t_s[n_test:]}
            held = np.asarray(holds[k], bool)   # no forecast published at this step: no number either
            # (the learner's fallback value there is not a forecast): null, never a position
            cols.update({c: pl.Series(c, preds[k, :, i], pl.Float64).scatter(np.flatnonzero(held), None)
                         for i, c in enumerate(session.channels)})
            cols["hold"] = held
            parts.append(pl.DataFrame(cols))
        if len(parts) == len(horizons) * len(seeds):
            df = pl.concat(parts).sort(["horizon", "seed", "step"])
            target = out / "predictions" / session.name / f"{method}.parquet"
            _write(target, lambda: polars_io(df.write_parquet, target))
            del pending[(session.name, method)]

    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=1, desc="forecast evaluate", unit="job", file=sys.stderr)

    import time
    t0 = time.perf_counter()
    shown = [t0]

    def progress(done, total):
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()
        elif time.perf_counter() - shown[0] >= PROGRESS_EVERY_S or done == total:  # no terminal: by time
            shown[0] = time.perf_counter()
            print(f"forecast evaluate: {done}/{total} jobs, {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)

    try:
        report = evaluate(sessions, methods, horizons, protocol, grid=args.grid, workers=args.workers,
                          progress=progress, on_predictions=on_predictions, check=False)
    finally:
        if bar is not None:
            bar.close()
    report["skipped"] = skipped
    warn_unselected(report)
    text = json_text.dumps(report, indent=1, default=float)
    _write(out / "report.json", lambda: (out / "report.json").write_text(text))
    gone = f" ({len(skipped)} skipped: {names_text(skipped, most=3)})" if skipped else ""
    print(f"{len(sessions)} session(s){gone}, horizons {format_int_list(horizons)} ({len(horizons)}) steps at "
          f"{args.rate_hz:g} Hz "
          f"({horizons[0] / args.rate_hz:g}-{horizons[-1] / args.rate_hz:g} s), "
          f"{args.seeds} seed(s), grid {args.grid}, {report['wall_s']:.0f} s on {report['workers']} process(es)")
    print(format_table(report))
    print(f"report: {out / 'report.json'}; forecasts: {out / 'predictions'}")
    return 0


def _write(path: pathlib.Path, write) -> None:
    """Run ``write()``, which writes ``path``: an OS error (no permission, a full disk) is one line
    naming the file (:class:`~biosig.errors.WriteError`), not a traceback."""
    from biosig.errors import WriteError
    try:
        write()
    except OSError as exc:
        reason = exc.strerror or str(exc).splitlines()[0].replace(f": {path}", "")   # polars: "... : <path>"
        raise WriteError(str(path), f"cannot write ({reason})") from None


def _read_report(root: pathlib.Path) -> dict:
    """``root/report.json`` as a dict; one that cannot be read or parsed is one line naming it."""
    import json

    from realtime.errors import ForecastError
    try:
        report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ForecastError(f"{root / 'report.json'}: cannot read ({str(exc).splitlines()[0]})") from None
    if not isinstance(report, dict):
        raise ForecastError(f"{root / 'report.json'}: not an evaluate report")
    return report


def _plot(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import polars as pl

    from realtime.errors import ForecastError
    from realtime.grids import format_int_list
    from realtime.metrics import marker_groups

    from biosig.filters import valid_runs
    from biosig.outputs import check_output_file
    root = pathlib.Path(args.dir)
    out = check_output_file(args.out, "--out", PLOT_SUFFIXES)
    if not root.is_dir():
        raise ForecastError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}; give the --out "
                            "folder of a finished `biosig forecast evaluate`")
    if not (root / "report.json").is_file():
        raise ForecastError(f"{root}: no report.json (not an evaluate folder, or its run was stopped before "
                            "the end); give the --out folder of a finished `biosig forecast evaluate`")
    report = _read_report(root)
    pdir = root / "predictions"
    # what the report lists, not what lies in the folder: files of an earlier or stopped run into
    # the same --out (other methods, horizons, sessions) are not this report's forecasts
    results = report.get("results", {}) if isinstance(report.get("results"), dict) else {}
    sessions = sorted(results)
    if args.session not in sessions:
        raise ForecastError(f"no session {args.session!r} in {root / 'report.json'}; sessions: "
                            f"{', '.join(sessions) or 'none'}")
    methods = sorted(results[args.session])
    if args.method not in methods:
        raise ForecastError(f"no method {args.method!r} for session {args.session} in {root / 'report.json'}; "
                            f"methods: {', '.join(methods) or 'none'}")

    def read(name):   # a forecasts file deleted or damaged after the run: one line naming it
        try:
            return polars_io(pl.read_parquet, pdir / args.session / name)
        except (OSError, pl.exceptions.PolarsError) as exc:
            why = str(exc).splitlines()[0] if (pdir / args.session / name).is_file() else "missing"
            raise ForecastError(f"{pdir / args.session / name}: cannot read ({why}): this run's forecasts are "
                                "incomplete; run `biosig forecast evaluate` again") from None
    pred = read(f"{args.method}.parquet")
    horizons = sorted(int(h) for h in results[args.session][args.method])
    if set(horizons) != set(pred["horizon"].to_list()):
        raise ForecastError(f"{pdir / args.session / (args.method + '.parquet')} holds horizons "
                            f"{format_int_list(sorted(set(pred['horizon'].to_list())))}, report.json "
                            f"{format_int_list(horizons)}: the file is not from the run the report describes; "
                            "run `biosig forecast evaluate` again")
    if args.horizon not in horizons:
        raise ForecastError(f"no horizon {args.horizon} for {args.method}; horizons: "
                            f"{', '.join(map(str, horizons))}")
    pred = pred.filter((pl.col("horizon") == args.horizon))
    seeds = sorted(set(pred["seed"].to_list()))
    if args.seed not in seeds:
        raise ForecastError(f"no seed {args.seed}; seeds: {', '.join(map(str, seeds))}")
    pred = pred.filter(pl.col("seed") == args.seed).sort("step")
    truth = read("truth.parquet").sort("step")
    chans = [c for c in truth.columns if c not in ("step", "t_s")]
    t = truth["t_s"].to_numpy()
    Y = truth.select(chans).to_numpy()
    P = np.array(pred.select(chans).to_numpy(), float)   # null (a held step) -> NaN
    # a held step publishes no forecast: no line there, a shaded span instead (its position is
    # null; outputs of biosig before 2026-12-06 kept the fallback value there, older ones no hold)
    hold = pred["hold"].to_numpy() if "hold" in pred.columns else np.zeros(len(P), bool)
    P[hold] = np.nan
    groups = marker_groups(chans)
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    for k, g in enumerate(groups):
        i = g[int(np.nanargmax(np.nanstd(Y[:, g], axis=0)))]  # each marker's main axis
        mean = np.nanmean(Y[:, i])  # markers sit far apart: show each around its own mean
        line, = ax0.plot(t, Y[:, i] - mean, lw=1.0, label=f"{chans[i]} truth")
        ax0.plot(t, P[:, i] - mean, lw=1.0, ls="--", color=line.get_color(), label=f"{chans[i]} forecast")
        ax1.plot(t, np.sqrt(np.sum((P[:, g] - Y[:, g]) ** 2, axis=1)), lw=0.8, color=line.get_color(),
                 label=chans[i].rpartition("_")[0] or "/".join(chans[j] for j in g))
    for k, (a, b) in enumerate(valid_runs(hold)):   # from the first held step to the next forecast
        for ax in (ax0, ax1):
            ax.axvspan(t[a], t[min(b, len(t) - 1)], color="0.85", lw=0, zorder=0,
                       label="hold (no forecast)" if k == 0 and ax is ax0 else None)
    from realtime.report import error_unit
    try:
        unit = error_unit({args.session: report["sessions"][args.session]})
        unit = "input units" if unit == "u" else unit   # a t_s table states no unit
    except (OSError, ValueError, KeyError, TypeError):   # a report of an older biosig: no units
        unit = "input units"
    ax0.set_ylabel(f"position - mean ({unit})")
    ax0.legend(fontsize=7, ncol=2)
    ax0.set_title(f"{args.session}: {args.method}, horizon {args.horizon} steps, seed {args.seed}")
    ax1.set_ylabel(f"{'3-D error' if all(len(g) == 3 for g in groups) else 'absolute error'} ({unit})")
    ax1.set_xlabel("time (s)")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")
    return 0
