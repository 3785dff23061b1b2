"""The local engine: records scored in this process or in a pool of worker processes.

With ``workers == 1`` records are scored in the calling process with the model the driver already
loaded. With more workers a :class:`concurrent.futures.ProcessPoolExecutor` with the *spawn* start
method (fork is unsafe once torch or ONNX Runtime have started threads) runs one model per worker,
loaded once by the pool initializer; each worker's backend uses one intra-op thread so that N
workers use N cores instead of fighting over them. Workers return each record's outcome to the
driver, which alone writes files, so a killed worker can never leave a half-written part.

A worker that dies (the kernel's OOM killer, kill -9) breaks the pool: the records then in flight
are scored again one at a time in a fresh pool of one, so a record that kills its worker alone is
found, recorded as failed (stage ``worker``) and the run goes on with the others; the records that
were only beside it are scored as usual. Three such records in a row stop the job (the workers die
whatever they score: the model does not fit, say).

Ctrl-C, SIGTERM and SIGHUP reach the driver alone: workers start with them blocked (:func:`_sigint_held`, as
``multiprocessing``'s resource tracker does) and ignore them (:func:`_ignore_stop_signals`), so that one sent to
the process group (a terminal's Ctrl-C or hang-up, ``timeout``, ``kill -- -PGID``) while they import torch no longer
prints their ``KeyboardInterrupt`` tracebacks, and one while they score no longer kills them: the driver saw dead
workers, warned "out of memory?" and scored their records again one at a time before it stopped. The driver stops
them (:func:`_stop_workers`, the pool's own ``terminate``: a SIGTERM from the driver still ends a worker) and their
records in flight, never written, are scored by the next run.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable

from biosig.errors import BiosigError
from biosig.record import names_text
from encoders.scoring.errors import ScoreError
from encoders.scoring.model import LoadedModel, ModelSpec, load_model
from encoders.scoring.scorer import Scorer

log = logging.getLogger(__name__)

_WORKER_SCORER: Scorer | None = None
_WORKER_ERROR: Exception | None = None


def _exit_with_driver(driver_pid: int, every_s: float = 1.0) -> None:
    """End this worker once the driver is gone: a driver killed by SIGKILL never shuts its pool down,
    and its workers waited on their task pipe for good, each holding a model in memory."""
    import threading
    import time

    def watch():
        while True:
            time.sleep(every_s)
            if os.getppid() != driver_pid:
                os._exit(1)
    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()


def _init_worker(spec: ModelSpec, batch_size: int, log_level: int, read_options: dict | None = None,
                 driver_pid: int | None = None) -> None:
    """Pool initializer: load the model once per worker process."""
    global _WORKER_SCORER, _WORKER_ERROR
    _ignore_stop_signals(driver_pid if driver_pid is not None else os.getppid())
    if driver_pid is not None:
        _exit_with_driver(driver_pid)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s[%(process)d]: %(message)s")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(spec.threads or 1)
    try:
        _WORKER_SCORER = Scorer(load_model(spec), batch_size=batch_size, read_options=read_options)
    except BiosigError as exc:  # reported by the first task, so the driver gets the message
        _WORKER_ERROR = exc


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _ignore_stop_signals(driver_pid: int) -> None:
    """In a worker: Ctrl-C, SIGHUP and a SIGTERM that is not the driver's are ignored (the driver decides and
    stops us; one pending from the start is dropped). A SIGTERM from the driver (:func:`_stop_workers`, or the pool's
    own ``terminate`` once another worker died) still ends this worker: SIGTERM stays blocked in every thread and a
    thread takes each one with ``sigwaitinfo``, which names its sender. Where there is no ``sigwaitinfo`` (macOS),
    SIGTERM keeps its default: a group-wide one kills the workers there."""
    watch_term = hasattr(signal, "sigwaitinfo") and hasattr(signal, "pthread_sigmask")
    ignored = [sig for sig in STOP_SIGNALS if sig != signal.SIGTERM or not watch_term]
    for sig in ignored:
        signal.signal(sig, signal.SIG_IGN)
    if not hasattr(signal, "pthread_sigmask"):
        return
    if watch_term:   # blocked before any other thread starts: they all inherit it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        threading.Thread(target=_end_on_drivers_sigterm, args=(driver_pid,), name="driver-sigterm",
                         daemon=True).start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(ignored))


def _end_on_drivers_sigterm(driver_pid: int) -> None:
    """Take every SIGTERM sent to this worker; end it (by that SIGTERM, as its default does) when the driver sent it,
    drop any other (a group-wide one: the driver got it too and stops us itself)."""
    while True:
        info = signal.sigwaitinfo({signal.SIGTERM})
        if info.si_pid == driver_pid:   # SIGTERM's action is the default one (a worker never sets it)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            os.kill(os.getpid(), signal.SIGTERM)
            os._exit(128 + signal.SIGTERM)   # not reached: the default action ends the process


def _score_in_worker(path: str) -> dict[str, Any]:
    if _WORKER_ERROR is not None:
        raise _WORKER_ERROR
    assert _WORKER_SCORER is not None, "worker used before its initializer ran"
    return _WORKER_SCORER.score(path)


def run_local(paths: Iterable[str], spec: ModelSpec, *, workers: int = 1, batch_size: int = 64,
              loaded: LoadedModel | None = None, read_options: dict | None = None,
              on_outcome: Callable[[dict[str, Any]], None],
              on_begin: Callable[[str], None] | None = None) -> None:
    """Score ``paths`` and hand each outcome to ``on_outcome`` as soon as it is ready.

    Parameters
    ----------
    paths : record paths.
    spec : how workers load the model (its ``threads`` is forced to 1 when ``workers > 1``).
    workers : processes; 1 scores in this process.
    batch_size : windows per backend call.
    loaded : the model already loaded by the driver (used when ``workers == 1``).
    on_outcome : called in this process, in completion order, with each record's outcome.
    read_options : ``biosig.read`` keyword arguments (``--modality`` / ``--channel``).
    on_begin : called with each record's path before it is scored in this process (``workers``
        1): a record that kills this process is found by the next run (:meth:`PartStore.begin`).
    """
    paths = list(paths)
    if not paths:
        return
    if workers <= 1:
        scorer = Scorer(loaded if loaded is not None else load_model(spec), batch_size=batch_size,
                        read_options=read_options)
        for path in paths:
            if on_begin is not None:
                on_begin(path)
            on_outcome(scorer.score(path))
        return
    worker_spec = dataclasses.replace(spec, threads=1)
    _tracker_started_deaf_to_sighup()
    initargs = (worker_spec, batch_size, logging.getLogger().getEffectiveLevel(), read_options, os.getpid())
    score_rescuing(paths, workers, lambda todo, n, in_flight, hand: _pool_pass(todo, n, in_flight, initargs, hand),
                   on_outcome)


def _tracker_started_deaf_to_sighup() -> None:
    """Start ``multiprocessing``'s resource tracker (the pool's queues need it) with SIGHUP blocked, which it keeps
    for good: it ignores SIGINT and SIGTERM but not SIGHUP, and a terminal's hang-up (or ``kill -HUP -- -PGID``)
    killed it, so the driver's next lock said "UserWarning: resource_tracker: process died unexpectedly" on stderr
    as the run stopped. A no-op where it already runs."""
    if not (hasattr(signal, "SIGHUP") and hasattr(signal, "pthread_sigmask")):
        return
    from multiprocessing import resource_tracker
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        resource_tracker.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


PoolPass = Callable[[list[str], int, int, Callable[[dict[str, Any]], None]], tuple[list[str], list[str]]]


def score_rescuing(paths: list[str], workers: int, pool_pass: PoolPass,
                   on_outcome: Callable[[dict[str, Any]], None]) -> None:
    """Score ``paths`` with ``pool_pass(paths, workers, in_flight, on_outcome) -> (lost, rest)`` (one
    pool of worker processes, as :func:`_pool_pass`; the Ray engine passes its actor pool), the
    records lost with a dead worker scored again one at a time in a pool of one: a record whose
    worker dies while it is alone is handed over as :func:`worker_died_outcome`, and
    :data:`DEATHS_IN_A_ROW` of those in a row stop the job."""
    remaining, suspects, died_alone = paths, [], []

    def hand(outcome):   # a record scored: the deaths before it were not "in a row"
        died_alone.clear()
        on_outcome(outcome)
    while remaining or suspects:
        if suspects:   # one at a time in a pool of one: a death now names its record
            lost, suspects = pool_pass(suspects, 1, 1, hand)
            if not lost:
                continue
            died_alone.append(lost[0])
            on_outcome(worker_died_outcome(lost[0]))
            if len(died_alone) >= DEATHS_IN_A_ROW:   # the workers die, whatever they score
                raise ScoreError(f"worker processes died on {len(died_alone)} records in a row, each scored alone "
                                 f"({names_text(died_alone)}; recorded as failed: --retry-errors scores them "
                                 "again): out of memory loading the model? the records finished so far are kept")
            continue
        lost, remaining = pool_pass(remaining, workers, 2 * workers, hand)
        if lost:
            log.warning("a worker process died while scoring one of %s (killed: out of memory?); scoring "
                        "them again one at a time: a record that kills its worker alone is recorded as failed "
                        "and the run goes on", names_text(lost))
            suspects = lost


DEATHS_IN_A_ROW = 3   # records whose worker died while each was scored alone, in a row: stop the job
WORKER_DIED = "its worker process died while scoring it alone (killed: out of memory?); --retry-errors scores it again"


def worker_died_outcome(path: str, message: str = WORKER_DIED) -> dict[str, Any]:
    """The failed outcome of a record whose worker process died while it was the only record in
    flight (stage ``worker``), as :meth:`Scorer.score` gives for a record that raised."""
    import polars as pl

    from encoders.scoring.schema import ERROR_SCHEMA, record_key
    key = record_key(path)
    error = pl.DataFrame([{"record": path, "key": key, "stage": "worker", "error_type": "WorkerDied",
                           "message": message}], schema=ERROR_SCHEMA)
    return {"key": key, "record": path, "ok": False, "n_windows": 0, "error": error, "seconds": 0.0,
            "worker_died": True}


def _pool_pass(paths: list[str], workers: int, in_flight: int, initargs: tuple,
               on_outcome: Callable[[dict[str, Any]], None]) -> tuple[list[str], list[str]]:
    """Score ``paths`` in one spawn pool with at most ``in_flight`` records submitted at a time
    (bounded, so outcomes do not pile up in memory).

    Returns
    -------
    ``([], [])`` when every record's outcome was handed over; after a worker process died, the
    records in flight then (submitted, no outcome: one of them killed it, or something outside
    did) and those not yet submitted.
    """
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                initargs=initargs) as pool:
        pending: set[cf.Future] = set()
        path_of: dict[cf.Future, str] = {}
        queue = list(paths)
        submitted = 0
        try:
            while submitted < len(queue) or pending:
                while submitted < len(queue) and len(pending) < in_flight:
                    try:
                        with _sigint_held():   # submit starts a worker process when none is idle
                            fut = pool.submit(_score_in_worker, queue[submitted])
                    except (cf.BrokenExecutor, RuntimeError, ValueError, OSError):
                        if not _broke(pool):
                            raise
                        cf.wait(pending)   # a worker died since the last outcome: the pool is broken
                        _hand_over(pending, path_of, on_outcome)
                        return sorted(path_of.values()), queue[submitted:]
                    pending.add(fut)
                    path_of[fut] = queue[submitted]
                    submitted += 1
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                broken = _hand_over(done, path_of, on_outcome)
                if broken:
                    cf.wait(pending)   # the broken pool fails them all at once
                    _hand_over(pending, path_of, on_outcome)
                    return sorted(path_of.values()), queue[submitted:]
        except BaseException:
            # No fut.cancel() here: the pool cancels them itself (cancel_futures), and one cancelled here
            # made the pool's own thread fail with InvalidStateError once _stop_workers broke the pool
            processes = list((getattr(pool, "_processes", None) or {}).values())   # shutdown forgets them
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_workers(processes)
            raise
    return [], []


@contextmanager
def _sigint_held():
    """SIGINT, SIGTERM and SIGHUP blocked in this thread while worker processes start: they inherit the mask (a
    handler is not inherited through exec, a mask is), so one sent to the process group while they import torch
    never reaches them (:func:`_init_worker` then ignores it). In the main thread a Ctrl-C meanwhile (or a SIGTERM or
    SIGHUP, which the command hands to the SIGINT handler) is held and raised once ``submit`` is done, never halfway
    through starting a worker (one started but not yet known to the pool, or not yet sent its task); also when
    ``submit`` failed meanwhile (the interrupt wins: the run stops, its failure the ``__context__``)."""
    held: list[int] = []
    swap = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if swap:
        signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS)) if hasattr(signal, "pthread_sigmask") else None
    try:
        yield
    finally:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)   # one pending for this thread is handled now
        if swap:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if held:
            raise KeyboardInterrupt


def _stop_workers(processes: list) -> None:
    """Stop a pool's worker processes now (the driver stops: Ctrl-C, an error): they ignore SIGINT,
    and leaving the pool would wait for each record in flight (or a model still loading), whose
    outcome nobody takes any more; such records have no part written, so the next run scores them."""
    for process in processes:
        try:
            process.terminate()
        except (OSError, ValueError, AttributeError):   # gone already, or closed
            pass


def _broke(pool, wait_s: float = 5.0) -> bool:
    """Whether ``pool`` is broken (a worker process died), given its manager thread up to ``wait_s``
    to notice. ``submit`` to a pool whose worker was just killed raised what its state then gave:
    BrokenProcessPool once the pool knew, and on Python 3.11 "ValueError: bad value(s) in
    fds_to_keep" while it was closing the dead worker's pipes as ``submit`` started the replacement
    (CPython gh-109047; a fresh-clone CI run of test_score_worker_death, 2026-12-06): a traceback, and the
    run lost. Either is a dead worker, whose records in flight are scored again."""
    import time
    end = time.monotonic() + wait_s
    while not getattr(pool, "_broken", False):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def _hand_over(done: Iterable[cf.Future], path_of: dict[cf.Future, str],
               on_outcome: Callable[[dict[str, Any]], None]) -> bool:
    """Hand the outcomes of ``done`` to ``on_outcome`` (and drop them from ``path_of``); whether
    one of them failed because its worker process died (the others' outcomes are kept)."""
    broken = False
    for fut in done:
        exc = fut.exception()
        if isinstance(exc, cf.process.BrokenProcessPool):
            broken = True
            continue
        if exc is not None:
            raise exc
        on_outcome(fut.result())
        del path_of[fut]
    return broken
