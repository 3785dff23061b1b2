"""The Ray engine: the same per-record scoring on a pool of Ray actors.

``workers`` actors (one CPU each, on any node of the cluster) each load the model once (in their
constructor) and score the records they are handed, at most two at a time per actor; outcomes come
back to the driver, which writes the part files exactly as the local engine does. Because records
are read by the actors, the record paths must be visible to every node (a shared file system) when
``--ray-address`` points at a cluster; the output folder only needs to exist on the driver.

An actor that dies (the kernel's OOM killer, kill -9) loses the records handed to it: as with the
local engine (:func:`encoders.scoring.local.score_rescuing`) they are scored again one at a time by
a fresh actor of their own, a record whose actor dies while it is alone is recorded as failed (stage
``worker``) and the run goes on, and three such records in a row stop the job. Actors are never
restarted by Ray and no task is retried by it: Ray Data's actor pool did both without end, so one
such record kept the job running (and restarting actors) for good, and Ctrl-C did not stop it.

Ray is imported only when this engine runs (``pip install 'biosig[distributed]'``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
from typing import Any, Callable, Iterable

import polars as pl

from biosig.errors import BiosigError
from encoders.scoring.errors import ScoreError
from encoders.scoring.local import score_rescuing
from encoders.scoring.model import ModelSpec, load_model
from encoders.scoring.scorer import Scorer

log = logging.getLogger(__name__)

WAIT_S = 1.0   # the driver waits for outcomes this long at a time (Ctrl-C is seen between waits)


class RecordScorer:
    """One Ray actor: the model loaded once in ``__init__``; :meth:`score` scores one record."""

    def __init__(self, spec: ModelSpec, batch_size: int):
        self.error: BiosigError | None = None
        try:
            self.scorer = Scorer(load_model(spec), batch_size=batch_size)
        except BiosigError as exc:   # handed to the driver by the first record, as one clear line
            self.scorer, self.error = None, exc

    def score(self, path: str) -> bytes:
        """The outcome of ``path`` (or the error the model load raised), pickled: outcomes hold
        polars frames."""
        return pickle.dumps(self.error if self.error is not None else self.scorer.score(path), protocol=5)


def as_given(outcome: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """``outcome`` of a record an actor read by its absolute path, with the path spelled as the
    caller gave it in ``record`` (as the local engine writes it); its key is the same either way."""
    path = given.get(outcome["record"])
    if path is None or path == outcome["record"]:
        return outcome
    out = dict(outcome, record=path)
    for name in ("windows", "record_row", "error"):
        if out.get(name) is not None:
            out[name] = out[name].with_columns(pl.lit(path, dtype=pl.String).alias("record"))
    return out


def import_ray():
    """Ray core (actors and tasks): Ray Data, the ``ray[data]`` extra, is not needed."""
    try:
        import ray
    except ImportError as exc:
        raise ScoreError(f"--engine ray needs Ray ({exc.name} is missing): "
                         "pip install 'biosig[distributed]'") from None
    return ray


def check_ray(address: str | None) -> None:
    """What a job checks before its model loads and its output folder takes the job's fingerprint:
    Ray is installed and ``address`` (``HOST:PORT``) answers (:func:`check_reachable`)."""
    import_ray()
    if address:
        check_reachable(address)


REACH_TIMEOUT_S = 5.0   # how long a --ray-address HOST:PORT may take to accept a TCP connection


def check_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Raise :class:`ScoreError` unless ``HOST:PORT`` (or ``ray://HOST:PORT``) accepts a TCP
    connection within ``timeout_s``. ``ray.init`` itself retries an unreachable GCS for minutes,
    logging C++ warnings, before it gives up; ``auto``/``local`` and addresses without a port are
    left to Ray."""
    import socket

    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc) or type(exc).__name__)
        raise ScoreError(f"cannot join Ray at {address}: nothing answers on {host}:{port} ({why} within "
                         f"{timeout_s:g} s); start the cluster there (`ray start --head`) or leave out "
                         "--ray-address for a local instance") from None


def _init_ray(ray, address: str | None, workers: int) -> None:
    if address:
        check_reachable(address)
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    else:   # "local": always a new instance of our own, never a cluster someone started here
        ray.init(address="local", num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)


@contextlib.contextmanager
def _sigterm_handler_kept():
    """The SIGTERM and SIGHUP handlers in force before ``ray.init``, put back after it: Ray sets its own SIGTERM one
    (``sys.exit``), which made a SIGTERM (a batch scheduler's stop) end a Ray run with a ``SystemExit`` and no tables,
    where the command's handler stops it as Ctrl-C does
    (:func:`biosig.cli._common.stopped_by_sigterm_as_ctrl_c`); SIGHUP (an ssh session dropped) is the
    command's too, kept the same way whatever a Ray version sets (2.60 leaves it)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    before = {sig: signal.getsignal(sig) for sig in kept}
    try:
        yield
    finally:
        for sig, handler in before.items():
            if handler is not None:   # None: set outside Python, cannot be put back
                signal.signal(sig, handler)


def run_ray(paths: Iterable[str], spec: ModelSpec, *, workers: int = 1, batch_size: int = 64,
            address: str | None = None, on_outcome: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Score ``paths`` on Ray and hand each outcome to ``on_outcome`` (in this process).

    Parameters
    ----------
    paths : record paths (readable from every Ray node).
    spec : how actors load the model; each actor's backend uses one thread (one CPU per actor).
    workers : actors in the pool.
    batch_size : windows per backend call.
    address : ``ray.init`` address of a running cluster (``"auto"``, ``"ray://host:10001"``);
        None uses the Ray instance this process already runs, else starts a new local one with
        ``workers`` CPUs (``address="local"``: never a cluster started by someone else on this
        machine, nor ``RAY_ADDRESS``) and shuts it down afterwards.

    Returns
    -------
    ``{"ray_version", "address", "started_local"}`` for the manifest.
    """
    # actors get absolute paths: an actor of a cluster started elsewhere (`ray start --head` in
    # another folder, --ray-address auto) runs in that folder, where "data/x.hea" is no file or
    # another one, and its outcome was keyed by another absolute path (record_key), so the driver
    # never assembled it: exit 0 with "0 records, 0 errors" for 3 records that failed
    given = {os.path.abspath(str(p)): str(p) for p in paths}
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        try:
            with _sigterm_handler_kept():
                _init_ray(ray, address, workers)
            started = not address
        except (ConnectionError, ValueError, RuntimeError) as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if address and "Could not find any running Ray instance" in problem:   # Ray's words name its own flags
                problem = ("no Ray cluster is running there; start one (`ray start --head`) or leave out "
                           "--ray-address for a local instance")
            raise ScoreError(f"cannot start or join Ray at {address or 'a new local instance'}: {problem}") from exc
    info = {"ray_version": ray.__version__, "address": address, "started_local": started}
    try:
        if given:
            actor_spec = dataclasses.replace(spec, threads=1)
            # max_restarts=0 and no task retries: a dead actor's records come back to us as lost
            actor_class = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(RecordScorer)

            def pool_pass(todo, n, in_flight, hand):
                return _actor_pass(ray, lambda: actor_class.remote(actor_spec, batch_size), todo, n, in_flight,
                                   lambda outcome: hand(as_given(outcome, given)))
            score_rescuing(list(given.values()), _actors(ray, workers), pool_pass, on_outcome)
    finally:
        if started:
            ray.shutdown()
    return info


def _last_line(exc: BaseException) -> str:
    """The last line of Ray's message of an error raised in an actor: the error itself."""
    return next((ln.strip() for ln in reversed(str(exc).splitlines()) if ln.strip()), type(exc).__name__)


def _actors(ray, workers: int) -> int:
    """``workers``, or the CPUs of the cluster where it has fewer: an actor that finds no CPU waits
    for one, and the records handed to it waited with it, for good."""
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if 0 < cpus < workers:
        log.warning("--workers %d: the Ray cluster has %d CPU(s); scoring with %d actor(s)", workers, cpus, cpus)
        return cpus
    return max(1, workers)


def _actor_pass(ray, new_actor: Callable[[], Any], paths: list[str], workers: int, in_flight: int,
                hand: Callable[[dict[str, Any]], None]) -> tuple[list[str], list[str]]:
    """Score ``paths`` (as given) on ``workers`` fresh actors with at most ``in_flight`` records
    handed out at a time, as :func:`encoders.scoring.local._pool_pass` does with processes.

    Returns
    -------
    ``([], [])`` when every record's outcome was handed over; after an actor died, the records it
    held then (one of them killed it, or something outside did) and those not yet handed out.
    Nothing more is handed out once an actor died; the other actors' records are finished.
    """
    died = (ray.exceptions.ActorDiedError, ray.exceptions.ActorUnavailableError,
            ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError)
    actors = [new_actor() for _ in range(max(1, min(workers, len(paths))))]
    per_actor = max(1, -(-in_flight // len(actors)))
    load = [0] * len(actors)
    pending: dict[Any, tuple[int, str]] = {}   # ObjectRef -> (actor, record as given)
    queue, submitted, lost = list(paths), 0, []
    try:
        while True:
            for i, actor in enumerate(actors):
                while not lost and load[i] < per_actor and submitted < len(queue):
                    pending[actor.score.remote(os.path.abspath(queue[submitted]))] = (i, queue[submitted])
                    load[i] += 1
                    submitted += 1
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                i, path = pending.pop(ref)
                load[i] -= 1
                try:
                    got = pickle.loads(ray.get(ref))
                except died as exc:
                    if getattr(exc, "actor_init_failed", False):   # an error raised, not a death
                        raise ScoreError(f"a Ray actor could not start: {_last_line(exc)}") from None
                    lost.append(path)
                    continue
                if isinstance(got, BaseException):   # the actor could not load the model
                    raise got
                hand(got)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
    return sorted(lost), queue[submitted:]
