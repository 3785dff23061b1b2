"""Feature sets of eval_probe computed over several worker processes (``--jobs N``).

Every feature of a record depends on that record alone (the record-mean embedding of a model, of
a seeded random-weight copy of it, or a handcrafted baseline), so the records are cut into chunks,
the chunks of every feature set of a task go to one pool, and each set is put back together in
record order. Each worker runs torch on one thread, as eval_probe does in-process, so the numbers
equal those of ``--jobs 1``: tests/test_probe_data.py compares the two.

A feature set is named by a :class:`FeatureSpec`; a worker builds (and keeps) the encoder it needs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureSpec:
    """One feature set: ``kind`` is "model" (the encoder ``model`` as it is), "random" (its
    architecture with weights from ``seed``) or a handcrafted baseline of encoders.baselines."""
    kind: str
    model: str
    seed: int = 0
    modality: str | None = None


_ENCODERS: dict = {}   # per process: (kind, model, seed) -> Encoder


def _encoder(spec: FeatureSpec):
    import encoders
    from encoders.baselines import random_encoder
    key = (spec.kind, spec.model, spec.seed)
    if key not in _ENCODERS:
        _ENCODERS[key] = encoders.load(spec.model) if spec.kind == "model" else random_encoder(spec.model, spec.seed)
    return _ENCODERS[key]


def features(spec: FeatureSpec, records, progress=None) -> np.ndarray:
    """(len(records), F) features of ``spec``; ``progress`` is called once per record."""
    from encoders.baselines import baseline_features, embedding_features
    if spec.kind in ("model", "random"):
        return embedding_features(_encoder(spec), records, progress)
    return baseline_features(spec.kind, records, modality=spec.modality, progress=progress)


def _worker_init():
    os.environ["OMP_NUM_THREADS"] = "1"
    import logging

    import torch
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)


def _chunk_features(spec: FeatureSpec, records) -> np.ndarray:
    return features(spec, records)


def default_jobs() -> int:
    """The CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def all_features(specs: dict, records, jobs: int, progress_for) -> dict:
    """``{name: (n_records, F) array}`` for every ``{name: FeatureSpec}`` of ``specs``.

    ``progress_for(what, total)`` returns an object with ``update(n=1)`` and ``close()``: one per
    feature set in this process (``jobs`` 1), else one for all of them, advanced in this process by
    whole chunks as they come back (one bar, one log line every few seconds)."""
    if jobs <= 1 or len(records) < 2:
        out = {}
        for name, spec in specs.items():
            p = progress_for(name, len(records))
            try:
                out[name] = features(spec, records, p.update)
            finally:
                p.close()
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    size = max(1, -(-len(records) // (jobs * 4)))
    bounds = [(i, min(i + size, len(records))) for i in range(0, len(records), size)]
    parts: dict = {name: [None] * len(bounds) for name in specs}
    progress = progress_for(f"{len(specs)} feature sets on {jobs} processes", len(specs) * len(records))
    try:
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init) as pool:
            todo = {pool.submit(_chunk_features, spec, records[a:b]): (name, k, b - a)
                    for name, spec in specs.items() for k, (a, b) in enumerate(bounds)}
            for fut in as_completed(todo):
                name, k, n = todo[fut]
                parts[name][k] = fut.result()
                progress.update(n=n)
    finally:
        progress.close()
    return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}
