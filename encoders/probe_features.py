"""Probe feature sets computed over several worker processes (``biosig probe --jobs N``,
``benchmarks/eval_probe.py --jobs N``).

Every feature of a record depends on that record alone (the record-mean embedding of a model, of a
seeded random-weight copy of it, or a handcrafted baseline of :mod:`encoders.baselines`), so the
records are cut into chunks, a worker computes every feature set of its chunk (each record read
once for all of them), and each set is put back together in record order. Records may be given as
:class:`biosig.record.Record` objects or as :class:`RecordFile` (a path and read options): those are
read where they are used, in the worker, one at a time, so a set of thousands of recordings is
never held in memory at once. Each worker runs torch on one thread, and so does ``jobs=1`` in this
process (torch's own setting put back after), so the numbers do not depend on the number of
processes: tests/test_probe_features.py and tests/test_probe_data.py compare them bit for bit.
One thread, not ``embed``'s free cores: ``jobs`` is 1 where the cores are busy (``biosig probe``
picks it from the free ones, which then number 1) or the set is small, and torch's default thread
count on a busy box ran a random-weight row at 3 records/s instead of 35-38 (3 random rows of
ppg-tiny on 10 s PPG, load 3.3 on 2 cores: 0.8-1.5 records/s on torch's 2 threads, 19 on one; with
a core free, 2 threads gained nothing: 20.5-20.7 vs 20.7-21.1).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from encoders.errors import EncoderError

#: What a :class:`FeatureSpec` can compute: a model's embeddings, its random-weight twin, or a
#: handcrafted baseline.
EMBEDDING_KINDS = ("model", "random")


@dataclass(frozen=True)
class FeatureSpec:
    """One feature set. ``kind``: "model" (the encoder ``model`` as it is), "random" (its
    architecture with weights from ``seed``) or a handcrafted baseline of encoders.baselines
    (``hrv``, ``ibi``, ``mfcc``, ``spirometry``; ``modality`` tells ``ibi`` which detector).
    ``window_s`` (None: the model's training window) and ``min_quality`` (windows below it are
    left out of the record mean) apply to the two embedding kinds, as ``embed`` / ``probe`` use them;
    ``fmax_hz`` to ``mfcc``: the filter bank's top (None: 8 kHz, :func:`encoders.baselines.mfcc_features`),
    and to the embedding kinds of an audio model: each record low-passed to 0-``fmax_hz`` at the
    model's rate before it (:func:`biosig.audio_band.band_limit`, as ``embed --audio-fmax-hz``; None:
    the whole band)."""
    kind: str
    model: str | None = None
    seed: int = 0
    modality: str | None = None
    window_s: float | None = None
    min_quality: float = 0.0
    fmax_hz: float | None = None

    def __post_init__(self):
        from encoders.baselines import BASELINES
        kinds = EMBEDDING_KINDS + tuple(b for b in BASELINES if b != "random")
        if self.kind not in kinds:
            raise EncoderError(f"feature kind {self.kind!r}: expected one of {', '.join(kinds)}")
        if self.kind in EMBEDDING_KINDS and not self.model:
            raise EncoderError(f"feature kind {self.kind!r} needs a model (name, checkpoint dir or exported file)")


@dataclass(frozen=True)
class RecordFile:
    """A recording read where it is used: ``biosig.readers.read(path, **options)``."""
    path: str
    options: dict = field(default_factory=dict)

    def load(self):
        from biosig.readers import read
        return read(self.path, **self.options)


_ENCODERS: dict = {}   # per process: spec without its data options -> Encoder


def _encoder(spec: FeatureSpec):
    import encoders
    from encoders.baselines import random_encoder
    key = (spec.kind, spec.model, spec.seed, spec.window_s)
    if key not in _ENCODERS:
        if spec.kind == "model":
            enc = encoders.load(spec.model)
            enc.window_s_override = spec.window_s
        else:
            enc = random_encoder(spec.model, spec.seed, spec.window_s)
        _ENCODERS[key] = enc
    return _ENCODERS[key]


def _records(items):
    """Each item as a Record, read when it is reached (a :class:`RecordFile`) or as given."""
    for item in items:
        yield item.load() if isinstance(item, RecordFile) else item


def _banded(spec: FeatureSpec, enc, records, cache: dict | None = None):
    """``(band, rec)`` for each of ``records`` (Records): ``rec`` low-passed to ``spec.fmax_hz`` at
    ``enc``'s rate, and ``rec`` as recorded (its quality: the clipping the band smears); ``cache`` (one
    record's: ``{(fmax_hz, fs_hz): Record}``) keeps the band of a record for the other specs of its chunk."""
    from biosig.audio_band import band_limit, check_audio_model
    check_audio_model(spec.fmax_hz, enc.config.modality, enc.model_id, "the audio band")
    fs_hz = float(enc.config.input_fs_hz)
    for rec in records:
        if cache is None:
            yield band_limit(rec, spec.fmax_hz, fs_hz), rec
            continue
        key = (float(spec.fmax_hz), fs_hz)
        if key not in cache:
            cache[key] = band_limit(rec, spec.fmax_hz, fs_hz)
        yield cache[key], rec


def features(spec: FeatureSpec, records, progress=None, _band_cache: dict | None = None) -> np.ndarray:
    """(len(records), F) features of ``spec``; ``progress`` is called once per record."""
    from encoders.baselines import baseline_features, embedding_features
    if spec.kind in EMBEDDING_KINDS:
        enc = _encoder(spec)
        recs = _records(records) if spec.fmax_hz is None else _banded(spec, enc, _records(records), _band_cache)
        return embedding_features(enc, recs, progress, spec.min_quality)
    return baseline_features(spec.kind, _records(records), modality=spec.modality, progress=progress,
                             mfcc_fmax_hz=spec.fmax_hz)


def _worker_init():
    os.environ["OMP_NUM_THREADS"] = "1"
    import logging

    import torch
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)


def _chunk_features(specs: dict, records, progress=None) -> dict:
    """``{name: (len(records), F)}`` for every spec, each record read once for all of them: a chunk
    per spec read every file once per spec (the CSV parse was a fifth of a random-weight row's time on
    10 s PPG segments, and ``--random-seed 0 1 2`` with ``--baseline ibi`` read each file four times).
    ``progress``: an object with ``update(n=...)``, advanced by ``len(specs)`` after each record."""
    rows: dict = {name: [] for name in specs}
    for rec in _records(records):
        band_cache: dict = {}   # the record's band, computed once for every random seed on it
        for name, spec in specs.items():
            rows[name].append(features(spec, [rec], _band_cache=band_cache)[0])
        if progress is not None:
            progress.update(n=len(specs))
    return {name: np.stack(r) for name, r in rows.items()}


@contextmanager
def _one_torch_thread(specs: dict):
    """torch on one thread while an embedding kind of ``specs`` is computed in this process, as in
    a worker (:func:`_worker_init`); torch's setting as it was afterwards."""
    if not any(spec.kind in EMBEDDING_KINDS for spec in specs.values()):
        yield
        return
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


MAX_DEFAULT_JOBS = 8   # each worker holds torch and a model (~0.3-0.5 GB) and takes seconds to start


def default_jobs() -> int:
    """The CPUs this process may use, at most :data:`MAX_DEFAULT_JOBS` (at least 1)."""
    from biosig.cpus import usable_cpus
    return max(1, min(usable_cpus(), MAX_DEFAULT_JOBS))


def all_features(specs: dict, records, jobs: int, progress_for) -> dict:
    """``{name: (n_records, F) array}`` for every ``{name: FeatureSpec}`` of ``specs``.

    ``progress_for(what, total)`` returns an object with ``update(n=1)`` and ``close()``: one for
    all feature sets (``what`` names the set when there is one), advanced by every set of a record
    in this process (``jobs`` 1: each record read once for all sets, on one torch thread), else by
    whole chunks as they come back from the workers (one bar, one log line every few seconds). A worker's error
    (a :class:`biosig.errors.BiosigError` such as an unreadable record) is raised here as it was
    raised there; the pool is shut down without waiting for the chunks not yet started."""
    from biosig.arguments import whole_number
    jobs = whole_number(jobs, "jobs", minimum=1, error=EncoderError)
    records = list(records)
    if jobs <= 1 or len(records) < 2:
        what = next(iter(specs)) if len(specs) == 1 else f"{len(specs)} feature sets in this process"
        progress = progress_for(what, len(specs) * len(records))
        try:
            with _one_torch_thread(specs):
                return _chunk_features(specs, records, progress)
        finally:
            progress.close()
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    size = max(1, -(-len(records) // (jobs * 4 * max(1, len(specs)))))   # as many tasks as a chunk per set gave
    bounds = [(i, min(i + size, len(records))) for i in range(0, len(records), size)]
    parts: dict = {name: [None] * len(bounds) for name in specs}
    progress = progress_for(f"{len(specs)} feature sets on {jobs} processes", len(specs) * len(records))
    pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init)
    try:
        todo = {pool.submit(_chunk_features, specs, records[a:b]): (k, b - a) for k, (a, b) in enumerate(bounds)}
        for fut in as_completed(todo):
            k, n = todo[fut]
            for name, chunk in fut.result().items():
                parts[name][k] = chunk
            progress.update(n=n * len(specs))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
    return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}
