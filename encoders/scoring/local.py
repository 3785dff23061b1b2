"""The local engine: records scored in this process or in a pool of worker processes.

With ``workers == 1`` records are scored in the calling process with the model the driver already
loaded. With more workers a :class:`concurrent.futures.ProcessPoolExecutor` with the *spawn* start
method (fork is unsafe once torch or ONNX Runtime have started threads) runs one model per worker,
loaded once by the pool initializer; each worker's backend uses one intra-op thread so that N
workers use N cores instead of fighting over them. Workers return each record's outcome to the
driver, which alone writes files, so a killed worker can never leave a half-written part.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import multiprocessing
import os
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
    if driver_pid is not None:
        _exit_with_driver(driver_pid)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s[%(process)d]: %(message)s")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(spec.threads or 1)
    try:
        _WORKER_SCORER = Scorer(load_model(spec), batch_size=batch_size, read_options=read_options)
    except BiosigError as exc:  # reported by the first task, so the driver gets the message
        _WORKER_ERROR = exc


def _score_in_worker(path: str) -> dict[str, Any]:
    if _WORKER_ERROR is not None:
        raise _WORKER_ERROR
    assert _WORKER_SCORER is not None, "worker used before its initializer ran"
    return _WORKER_SCORER.score(path)


def run_local(paths: Iterable[str], spec: ModelSpec, *, workers: int = 1, batch_size: int = 64,
              loaded: LoadedModel | None = None, read_options: dict | None = None,
              on_outcome: Callable[[dict[str, Any]], None]) -> None:
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
    """
    paths = list(paths)
    if not paths:
        return
    if workers <= 1:
        scorer = Scorer(loaded if loaded is not None else load_model(spec), batch_size=batch_size,
                        read_options=read_options)
        for path in paths:
            on_outcome(scorer.score(path))
        return
    worker_spec = dataclasses.replace(spec, threads=1)
    ctx = multiprocessing.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                initargs=(worker_spec, batch_size, level, read_options, os.getpid())) as pool:
        pending: set[cf.Future] = set()
        path_of: dict[cf.Future, str] = {}
        queue = iter(paths)
        in_flight = 2 * workers  # bounded, so outcomes do not pile up in memory
        try:
            for path in queue:
                fut = pool.submit(_score_in_worker, path)
                pending.add(fut)
                path_of[fut] = path
                if len(pending) >= in_flight:
                    done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        on_outcome(fut.result())
                        del path_of[fut]
            for fut in cf.as_completed(pending):
                on_outcome(fut.result())
                del path_of[fut]
        except cf.process.BrokenProcessPool as exc:
            # name the records in flight: a record that kills its worker (out of memory) kills it
            # again on every rerun, and the user has to find it to leave it out
            suspects = sorted(path_of.values())   # submitted, no outcome handed over
            raise ScoreError(f"a worker process died while scoring one of {names_text(suspects)} (killed: out "
                             "of memory?); the records finished so far are kept: rerun the same command to "
                             "resume, leaving out that record if it happens again") from exc
        except BaseException:
            for fut in pending:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
