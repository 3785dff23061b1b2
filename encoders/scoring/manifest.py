"""run.json of a scoring run (:data:`biosig.readers.discover.SCORE_MANIFEST`): the model, the
versions, whether the tables are current and their row counts, and every run (this one last).

A run first says it is running and that no table is current (``tables_current`` false, ``counts``
null) and removes the earlier run's tables (:func:`retire_tables`); the tables and the counts are back
once it assembles its own (finished, or interrupted with Ctrl-C). A run stopped before that (a full
disk, a kill) leaves no table to be taken for its own: its parts hold every record finished, and the
next run assembles them.
"""
from __future__ import annotations

import json
import logging
import os
import platform
from importlib import metadata
from typing import Any

import biosig
from biosig.readers.discover import SCORE_TOOL
from encoders.scoring.errors import OutputWriteError
from encoders.scoring.outputs import TABLE_FILES, read_manifest, write_manifest

log = logging.getLogger("encoders.scoring.job")


def versions() -> dict[str, str]:
    """The versions of biosig, Python and the libraries the tables depend on (those installed)."""
    out = {"biosig": biosig.__version__, "python": platform.python_version()}
    for dist in ("numpy", "polars", "pyarrow", "scipy", "neurokit2", "onnxruntime", "torch", "ray"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def run_options(config) -> dict[str, Any]:
    """The options of a run (a :class:`encoders.scoring.ScoreConfig`) as given (run.json's ``runs[].options``): with the model's entry they say
    how the tables were made (``read_options``: ``--modality`` / ``--channel`` / ``--sample-rate-hz``)."""
    return {"window_s": config.window_s, "af_prevalence": config.af_prevalence, "batch_size": config.batch_size,
            "device": config.device, "precision": config.precision, "threads": config.threads,
            "retry_errors": config.retry_errors, "ray_address": config.ray_address,
            "audio_fmax_hz": config.audio_fmax_hz,
            "read_options": json.loads(json.dumps(config.read_options, sort_keys=True, default=str))}


def write_run_manifest(config, loaded, counts: dict[str, int] | None, this_run: dict[str, Any], *,
                       exit_code: int | None, earlier: list[dict[str, Any]]) -> dict[str, Any]:
    """Write run.json: the model, versions, the tables' row counts and every run so far (``earlier``,
    then this one). ``counts`` None: the tables are not current (removed; ``tables_current`` false)."""
    manifest = {
        "tool": SCORE_TOOL, "versions": versions(), "model": loaded.describe(),
        "out_dir": os.path.abspath(config.out_dir), "tables_current": counts is not None, "counts": counts,
        "exit_code": exit_code, "runs": [*earlier, this_run],
    }
    write_manifest(config.out_dir, manifest)
    return manifest


def retire_tables(config, loaded, store, begun: dict[str, Any]) -> list[dict[str, Any]]:
    """Before this run changes any part: run.json says this run is running and the tables are not
    current (``tables_current`` false, ``counts`` null), then the earlier run's tables are removed, so
    a run stopped before it assembles its own (a full disk, a kill) never leaves the earlier tables to
    be read as this run's (the parts hold every record: the next run assembles them again). Returns the
    earlier runs of run.json. A run.json that cannot be written stops the run with nothing changed."""
    earlier = list((read_manifest(config.out_dir) or {}).get("runs", []))
    write_run_manifest(config, loaded, None, {**begun, "running": True}, exit_code=None, earlier=earlier)
    for name in TABLE_FILES:
        (store.out_dir / name).unlink(missing_ok=True)
    return earlier


def say_stopped(config, loaded, this_run: dict[str, Any], earlier: list[dict[str, Any]]) -> None:
    """run.json of a run stopped by an output it could not write: this run's entry says why (the
    tables stay removed). Best effort: on a full disk this write may fail too, and run.json then still
    says the run is running with no current tables."""
    try:
        write_run_manifest(config, loaded, None, this_run, exit_code=2, earlier=earlier)
    except OutputWriteError as exc:
        log.info("run.json not updated: %s", exc)
