"""The Ray engine: the same per-record scoring mapped with Ray Data over an actor pool.

``ray.data.from_items(paths).map_batches(RecordScorer, compute=ActorPoolStrategy(size=N))`` starts
N actors, each of which loads the model once (in its constructor) and scores the records of the
batches it receives;
outcomes stream back to the driver, which writes the part files exactly as the local engine does.
Because records are read by the actors, the record paths must be visible to every node (a shared
file system) when ``--ray-address`` points at a cluster; the output folder only needs to exist on
the driver.

Ray is imported only when this engine runs (``pip install 'biosig[distributed]'``).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import pickle
from typing import Any, Callable, Iterable

import numpy as np
import polars as pl

from encoders.scoring.errors import ScoreError
from encoders.scoring.model import ModelSpec, load_model
from encoders.scoring.scorer import Scorer

log = logging.getLogger(__name__)

MAX_BLOCKS = 4096  # one record per block up to this many, so actors share the work evenly


class RecordScorer:
    """Ray Data callable class: one instance per actor, model loaded once in ``__init__``."""

    def __init__(self, spec: ModelSpec, batch_size: int):
        self.scorer = Scorer(load_model(spec), batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outcomes = [self.scorer.score(str(p)) for p in batch["path"]]
        # Outcomes hold polars frames; they travel to the driver as opaque bytes.
        return {"key": np.array([o["key"] for o in outcomes], dtype=object),
                "outcome": np.array([pickle.dumps(o, protocol=5) for o in outcomes], dtype=object)}


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
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is a separate extra
    except ImportError as exc:
        raise ScoreError(f"--engine ray needs Ray Data ({exc.name} is missing): "
                         "pip install 'biosig[distributed]'") from None
    return ray


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


def _quiet(ray) -> None:
    """Ray Data prints progress bars and execution plans; a library must not (the CLI has its own)."""
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False


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
            if address:
                check_reachable(address)
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            else:
                # "local": always a new instance of our own, never a cluster someone started here
                ray.init(address="local", num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
                started = True
        except (ConnectionError, ValueError, RuntimeError) as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if address and "Could not find any running Ray instance" in problem:   # Ray's words name its own flags
                problem = ("no Ray cluster is running there; start one (`ray start --head`) or leave out "
                           "--ray-address for a local instance")
            raise ScoreError(f"cannot start or join Ray at {address or 'a new local instance'}: {problem}") from exc
    info = {"ray_version": ray.__version__, "address": address, "started_local": started}
    _quiet(ray)
    try:
        if given:
            actor_spec = dataclasses.replace(spec, threads=1)
            ds = ray.data.from_items([{"path": p} for p in given],
                                     override_num_blocks=min(len(given), MAX_BLOCKS))
            pool = ray.data.ActorPoolStrategy(size=max(1, workers))
            out = ds.map_batches(RecordScorer, fn_constructor_args=(actor_spec, batch_size), batch_size=1,
                                 batch_format="numpy", compute=pool, num_cpus=1)
            for batch in out.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=0):
                for blob in batch["outcome"]:
                    on_outcome(as_given(pickle.loads(blob), given))
    finally:
        if started:
            ray.shutdown()
    return info
