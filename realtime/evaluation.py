"""The evaluation protocol of Pohl et al. (CMPB 2022, 2025), parallel over all cores.

Per session, method and horizon h (steps at ``rate_hz``):

1. every sample is learnt online from the first one (z-score fitted on the first ``norm_s``);
2. hyperparameters (lookback L, hidden q, learning rate) are chosen on the forecasts whose
   target lies in [``select_start_s``, ``test_start_s``) by the nRMSE averaged over
   ``select_seeds`` seeds, running the learner on the data before ``test_start_s`` only
   (linreg: fitted on the first ``select_start_s``); by successive halving: every grid point is
   run with the first seed, the best quarter per horizon (at least 2) with the other seeds.
   As in the test metrics, a step where the learner holds has no error, and a configuration
   whose duty in the window is more than ``DUTY_SLACK`` below the best one's is not chosen
   (:func:`selection_scores`: no configuration wins by holding);
3. with those, the learner runs over the whole session for ``seeds`` seeds (linreg fitted on the
   data before ``test_start_s``) and every forecast whose target is at or after
   ``test_start_s`` is scored; metrics are averaged over seeds (no ensembling).

The learners hold where the runtime would (``biosig serve``, :mod:`streams.forecast`): warm-up,
gaps, divergence, and a frozen input (one position repeated in every coordinate for
``max_frozen_s``, :func:`realtime.base.frozen_steps`, the runtime's rule); a held step is not scored.

Time per step is learn_one + predict_one on the test steps, in CPU time of the worker's thread
(``time.thread_time_ns``): the forecaster's own cost.  The wall clock (``us_wall_*`` in the
report) also counts the time the worker waited for a core: evaluate runs one worker per core, so
on a loaded machine a few steps per hundred wait a scheduler slice (2 cores, load 2-4: mix's
wall p99 1.5-16 ms for a median of 90 us, CPU p99 0.14-0.24 ms; no garbage collection ran in the
test runs).  Reported as the median and the 99th percentile (a mean is pulled up by one long wait:
``last`` showed a mean of 42 us over a p99 of 24 us).

Supervision.  ``causal`` (the default) scores what a deployed forecaster can do: the forecast
of sample ``t + h`` is made when sample ``t`` arrives, with weights that have learnt every target
up to ``t``.  ``paper`` reproduces the published MATLAB code (pohl-michel/time-series-forecasting-
with-UORO-RTRL-LMS-and-linear-regression, ``rnn_UORO.m``): each iteration predicts ``y(t + h)``
and at once updates with it, so the forecast of ``t + h`` uses weights that have already learnt
targets up to ``t + h - 1``.  That is ``h - 1`` samples of the future a real system does not have
(see :meth:`realtime.base.Forecaster.train_forecast`); it exists only to compare with the
published table and is labelled non-causal wherever it is reported.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np

from realtime import RNN_METHODS
from realtime.errors import ForecastError
from realtime.grids import GRIDS, grid_configs, parse_int_list  # noqa: F401  (re-exported)
from realtime.metrics import (HOLD_THRESHOLDS_MM, causal_error_level, forecast_metrics,  # noqa: F401
                              hold_tradeoff, marker_errors)
# the protocol's settings, input checks and one learner run (realtime.protocol), re-exported
from realtime.protocol import (DETERMINISTIC, PAPER_CLIP, PAPER_SG_LR, SUPERVISIONS, Protocol,  # noqa: F401
                               check_inputs, horizon_list, method_list, run_forecaster, usable_sessions)
from realtime.report import METRIC_KEYS, PUBLISHED, build_report, format_table, published_applies  # noqa: F401


log = logging.getLogger(__name__)
_SESSIONS: list = []
TICK_S = 2.0
HALVING = 4  # selection: the best 1/HALVING grid points of rung 1 get the remaining seeds  # progress is also reported this often while no job finishes


def _finished(futs, tick):
    """Yield futures as they complete; call ``tick()`` every TICK_S seconds without one."""
    pending = set(futs)
    while pending:
        done, pending = wait(pending, timeout=TICK_S, return_when=FIRST_COMPLETED)
        if not done:
            tick()
        yield from done


@contextlib.contextmanager
def _cancel_on_error(pool):
    """An error in the parent (``on_predictions`` could not write, Ctrl-C) ends the run: the jobs not
    started are cancelled, not run to the end before the error is shown."""
    try:
        yield
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):   # Ctrl-C: the run is over, its running jobs too.
            # A worker still starting (it ignores the Ctrl-C, _sigint_held) read its pipe after the
            # shutdown had released the pool's locks and printed FileNotFoundError's traceback;
            # SIGTERM ends it without a word. (ProcessPoolExecutor.terminate_workers is Python 3.14.)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)   # waits for the running jobs only
        raise


@contextlib.contextmanager
def _sigint_held():
    """Ctrl-C held while the pool's worker processes are started (at a submit), in two ways: SIGINT
    blocked in this thread, a mask the workers inherit, so the Ctrl-C at the terminal, which reaches
    the whole process group, cannot stop one inside its interpreter's start-up ('Fatal Python error
    ... init_import_site' and a traceback under the one 'interrupted' line, 3 runs in 4 with the
    Ctrl-C as the first forecasts were written); and Python's handler held (``interrupts_deferred``:
    another thread may take the signal), so the parent's KeyboardInterrupt comes after the worker is
    registered in the pool, where ``_cancel_on_error`` ends it, not half-way through handing it its
    start (it read a cut pipe: EOFError's or FileNotFoundError's traceback). CPython's resource
    tracker is started with SIGINT blocked the same way."""
    from biosig.interrupts import interrupts_deferred
    with interrupts_deferred():
        if not hasattr(signal, "pthread_sigmask"):   # Windows: no signal masks
            yield
            return
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _init_worker(sessions) -> None:
    global _SESSIONS
    _SESSIONS = sessions
    if hasattr(signal, "pthread_sigmask"):   # started with SIGINT blocked (_sigint_held): a Ctrl-C that
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # came meanwhile is discarded (POSIX: SIG_IGN drops
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})   # a pending signal), later ones
        signal.signal(signal.SIGINT, signal.default_int_handler)      # stop the job as before
    logging.getLogger("realtime").setLevel(logging.ERROR)


def _selection_job(si, method, ci, config, horizons, seeds, protocol):
    """Selection nRMSE and duty (H, S) of one configuration: the test metrics' rule, so the
    steps where it holds (warm-up, after a gap or a reset) have no error (their fallback value
    is not a forecast) and ``duty`` says what share of the window had a forecast."""
    s = _SESSIONS[si]
    n_sel0, n_test = protocol.steps(protocol.select_start_s), protocol.steps(protocol.test_start_s)
    X = s.X[:n_test]
    out = np.full((len(horizons), len(seeds)), np.inf)
    duty = np.zeros((len(horizons), len(seeds)))
    for hi, h in enumerate(horizons):
        for k, seed in enumerate(seeds):
            ready = np.zeros(n_test, bool)
            P, _, _ = run_forecaster(X, method, h, config, seed, n_test, protocol, fit_steps=n_sel0, ready_out=ready)
            try:
                m = forecast_metrics(X[n_sel0:], P[n_sel0:], s.groups, hold=~ready[n_sel0:])
            except ForecastError:
                continue
            duty[hi, k] = m["duty"]
            if np.isfinite(m["nrmse"]):   # NaN: fewer than 2 forecasts, nothing to choose it on
                out[hi, k] = m["nrmse"]
    return si, method, ci, horizons, out, duty


#: Selection: a configuration whose duty (share of the selection window with a forecast) is more
#: than this below the best configuration's is not chosen, whatever its error on the few steps it
#: forecast: it must not win by holding (a beam held off is a cost, not an accurate forecast).
DUTY_SLACK = 0.05


def selection_scores(nrmse, duty) -> np.ndarray:
    """The score each configuration is chosen by (lowest wins): its selection nRMSE over the steps
    it forecast (the test metrics' rule), or inf where that is not finite or where its duty is more
    than :data:`DUTY_SLACK` below the highest duty among the configurations."""
    nrmse, duty = np.asarray(nrmse, float), np.asarray(duty, float)
    score = np.where(np.isfinite(nrmse), nrmse, np.inf)
    ok = np.isfinite(score)
    if not ok.any():
        return score
    return np.where(duty >= duty[ok].max() - DUTY_SLACK, score, np.inf)


def _test_job(si, method, h, config, seeds, protocol):
    s = _SESSIONS[si]
    n_test = protocol.steps(protocol.test_start_s)
    per_seed, preds, holds, us_all, wall_all, resets, trade = [], [], [], [], [], 0, []
    ens_hold = np.zeros(s.n_steps - n_test, bool)  # the ensemble holds where any member holds
    for seed in seeds:
        ready, wall = np.zeros(s.n_steps, bool), np.zeros(s.n_steps)
        P, us, r = run_forecaster(s.X, method, h, config, seed, s.n_steps, protocol, fit_steps=n_test,
                                  ready_out=ready, wall_out=wall)
        per_seed.append(forecast_metrics(s.X[n_test:], P[n_test:], s.groups, hold=~ready[n_test:]))
        worst = np.max(marker_errors(s.X, P, s.groups), axis=1)
        risk = causal_error_level(worst, h)
        trade.append(hold_tradeoff(worst[n_test:], risk[n_test:], HOLD_THRESHOLDS_MM, hold=~ready[n_test:]))
        preds.append(P[n_test:])
        holds.append(~ready[n_test:])
        ens_hold |= ~ready[n_test:]
        us_all.append(us[n_test:])
        wall_all.append(wall[n_test:])
        resets += r
    us_all, wall_all = np.concatenate(us_all), np.concatenate(wall_all)
    keys = METRIC_KEYS
    res = {k: float(np.mean([m[k] for m in per_seed])) for k in keys}
    res["hold_tradeoff"] = [{k: float(np.mean([t[i][k] for t in trade])) for k in trade[0][i]}
                            for i in range(len(HOLD_THRESHOLDS_MM))]
    if len(seeds) > 1:  # the seed ensemble (mean forecast), reported apart from the comparable rows
        ens = forecast_metrics(s.X[n_test:], np.mean(preds, axis=0), s.groups, hold=ens_hold)
        res["ensemble"] = {k: ens[k] for k in keys}
    res.update({f"{k}_std": float(np.std([m[k] for m in per_seed])) for k in ("nrmse", "rmse")})
    # step time: CPU us (median, p99; the mean for totals) and the wall clock's (module docstring)
    res.update({"us_median": float(np.median(us_all)), "us_p99": float(np.percentile(us_all, 99)),
                "us_mean": float(us_all.mean()), "us_wall_median": float(np.median(wall_all)),
                "us_wall_p99": float(np.percentile(wall_all, 99)),
                "n_seeds": len(seeds), "n_steps": per_seed[0]["n_steps"], "resets": resets, **config})
    return si, method, h, res, np.stack(preds), np.stack(holds)


def _cost(method, config, n_steps):
    q, L = config["hidden"], config["lookback"]
    m = 9 * L + 1
    if method == "rtrl":
        return n_steps * q * q * q * (q + m) / 20
    if method in RNN_METHODS:
        return n_steps * (q * (q + m) * config.get("estimates", 1) + 3000)
    if method == "rls":
        return n_steps * (2 * m * m + 3000)
    if method == "mix":  # 16 RLS experts on <= 73 inputs and the analogue search
        return n_steps * (32 * 73 * 73 + 1024 * 73 + 3000)
    return n_steps * 3000


def evaluate(sessions, methods, horizons, protocol: Protocol, grid: str = "default", workers: int | None = None,
             progress=None, on_predictions=None, check: bool = True) -> dict:
    """Run the protocol; returns the report dict (see module docstring).

    ``progress(done, total)`` is called as jobs finish; ``on_predictions(session, method,
    horizon, seeds, preds (S, K, n), holds (S, K) bool)`` receives each test run's forecasts of
    the test steps and where it held (no forecast published: its value there is the fallback, not a
    forecast; ``biosig forecast evaluate`` writes it as null).
    """
    methods, horizons = method_list(methods), horizon_list(horizons)
    if check:  # unusable sessions are skipped with a warning (the CLI checks before writing the truth)
        sessions = usable_sessions(sessions, methods, horizons, protocol)
    workers = workers or os.cpu_count() or 1
    # Selection by successive halving: every grid point is scored on the selection window with the
    # first seed (rung 1); per session, method and horizon only the best 1/HALVING of the points
    # (at least 2) are run with the remaining selection seeds (rung 2), and the choice is made on
    # the mean over all selection seeds among those.  Deterministic methods have one seed: rung 1 only.
    sel_jobs, rung2 = [], []
    for si, s in enumerate(sessions):
        for method in methods:
            seeds = [0] if method in DETERMINISTIC else list(range(min(protocol.select_seeds, protocol.seeds)))
            configs = grid_configs(grid, method, protocol.rate_hz)
            if len(configs) == 1:
                continue
            if len(seeds) > 1:
                rung2.append((si, method, seeds[1:]))
            for ci, c in enumerate(configs):
                sel_jobs.append((_cost(method, c, len(horizons) * protocol.steps(protocol.test_start_s)),
                                 (si, method, ci, c, horizons, seeds[:1], protocol)))
    n_rung2 = sum(max(2, -(-len(grid_configs(grid, m, protocol.rate_hz)) // HALVING)) for _, m, _ in rung2)
    total = len(sel_jobs) + n_rung2 + len(sessions) * len(methods) * len(horizons)
    done = 0
    scores: dict = {}  # (si, method) -> ci -> h -> list of selection nRMSEs (one per seed)
    duties: dict = {}  # the same keys -> list of selection duties (share of the window forecast)

    def tick():
        if progress:
            progress(done, total)

    def collect(futs):
        nonlocal done
        for fut in _finished(futs, tick):
            si, method, ci, hs, out, duty = fut.result()
            per_h = scores.setdefault((si, method), {}).setdefault(ci, {})
            per_hd = duties.setdefault((si, method), {}).setdefault(ci, {})
            for hi, h in enumerate(hs):
                per_h.setdefault(h, []).extend(out[hi].tolist())
                per_hd.setdefault(h, []).extend(duty[hi].tolist())
            done += 1
            if progress:
                progress(done, total)

    t_start = time.perf_counter()
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import multiprocessing as mp
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker, initargs=(sessions,)) as pool, _cancel_on_error(pool):
            with _sigint_held():   # the workers start at the first submit
                first = [pool.submit(_selection_job, *args) for _, args in sorted(sel_jobs, key=lambda j: -j[0])]
            collect(first)
            jobs2 = []
            for si, method, seeds2 in rung2:
                configs = grid_configs(grid, method, protocol.rate_hz)
                keep = max(2, -(-len(configs) // HALVING))
                by_ci: dict = {}
                for h in horizons:
                    rung1 = selection_scores([scores[(si, method)][ci][h][0] for ci in range(len(configs))],
                                             [duties[(si, method)][ci][h][0] for ci in range(len(configs))])
                    for ci in np.argsort(rung1, kind="stable")[:keep]:
                        by_ci.setdefault(int(ci), []).append(h)
                for ci in range(len(configs)):
                    for h in horizons:
                        if ci not in by_ci or h not in by_ci[ci]:
                            scores[(si, method)][ci][h] = [np.inf]  # pruned after rung 1
                            duties[(si, method)][ci][h] = [0.0]
                for ci, hs in by_ci.items():
                    jobs2.append((_cost(method, configs[ci], len(hs) * len(seeds2) * protocol.steps(protocol.test_start_s)),
                                  (si, method, ci, configs[ci], hs, seeds2, protocol)))
            total += len(jobs2) - n_rung2
            with _sigint_held():   # (the workers start at the first submit, whichever it is)
                second = [pool.submit(_selection_job, *args) for _, args in sorted(jobs2, key=lambda j: -j[0])]
            collect(second)
            test_jobs = []
            chosen = {}
            for si, s in enumerate(sessions):
                for method in methods:
                    configs = grid_configs(grid, method, protocol.rate_hz)
                    seeds = [0] if method in DETERMINISTIC else list(range(protocol.seeds))
                    for hi, h in enumerate(horizons):
                        if len(configs) == 1:
                            best, sel, sel_duty = 0, float("nan"), float("nan")
                        else:
                            means = [float(np.mean(scores[(si, method)][ci][h])) for ci in range(len(configs))]
                            duty = [float(np.mean(duties[(si, method)][ci][h])) for ci in range(len(configs))]
                            score = selection_scores(means, duty)
                            best = int(np.argmin(score))   # every score inf: the first configuration
                            sel, sel_duty = means[best], duty[best]
                        chosen[(si, method, h)] = (configs[best], sel, sel_duty)
                        test_jobs.append((_cost(method, configs[best], s.n_steps * len(seeds)),
                                          (si, method, h, configs[best], seeds, protocol)))
            with _sigint_held():
                futs = [pool.submit(_test_job, *args) for _, args in sorted(test_jobs, key=lambda j: -j[0])]
            results: dict = {}
            for fut in _finished(futs, tick):
                si, method, h, res, preds, holds = fut.result()
                res["selection_nrmse"], res["selection_duty"] = chosen[(si, method, h)][1:]
                results.setdefault(sessions[si].name, {}).setdefault(method, {})[h] = res
                if on_predictions:
                    seeds = [0] if method in DETERMINISTIC else list(range(protocol.seeds))
                    on_predictions(sessions[si], method, h, seeds, preds, holds)
                done += 1
                if progress:
                    progress(done, total)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    _warn_undefined_nrmse(results)
    return build_report(sessions, methods, horizons, protocol, grid, results, time.perf_counter() - t_start, workers)


def _warn_undefined_nrmse(results: dict) -> None:
    """One warning per session naming its runs without an nRMSE (NaN): the truth did not move on the
    steps they forecast (a tracker frozen from the start of the test: the runtime holds it after
    ``max_frozen_s``, and the first steps, all one position, are all that is scored), or fewer than 2
    were forecast. Every average that includes such a run is NaN too; before 2026-12-06 the nRMSE of a
    frozen truth came out 5e11 (rounding in the spread) and swamped the averages without a word."""
    for name, per_method in results.items():
        runs = [f"{m} h{h}" for m, per_h in sorted(per_method.items()) for h, r in sorted(per_h.items())
                if not np.isfinite(r["nrmse"])]
        if runs:
            log.warning("session %s: no nRMSE for %d run(s) (%s%s): the truth did not move on the steps they "
                        "forecast (a frozen tracker, the rest held) or fewer than 2 were forecast; the averages "
                        "over sessions that include them are NaN", name, len(runs), ", ".join(runs[:6]),
                        ", ..." if len(runs) > 6 else "")
