"""What a ``biosig pretrain`` run was trained on and with (split from :mod:`encoders.pretrain`).

- The data manifest (``data_manifest.json`` beside the checkpoint): every recording trained on, as
  given, with the SHA-256 of each of its files (a WFDB record: its header and the files the header
  names) and the number of training windows it gave; meta.json keeps a summary and the manifest's
  own SHA-256.
- The software versions (biosig, torch, numpy, python, platform).
- The records of the project's evaluation sets (:mod:`encoders.pretrain_evaluation_sets`) found in
  the data, by content: never pretrain on records you evaluate on. The run is warned and meta.json
  lists them (``evaluation_overlap``).
- The resumes of the run (``resumes``: at which step, and which of the settings a resume may change
  did): a run resumed with another ``--steps`` is not the run that ``--steps`` gives from scratch
  (the learning-rate schedule is stretched from the resume step on).
"""
from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import pathlib
import platform

from biosig.outputs import file_sha256

log = logging.getLogger("encoders.pretrain")

MANIFEST_FILE = "data_manifest.json"
_SYNTHETIC = "synthetic:"


def record_files(source: str) -> list[pathlib.Path]:
    """The files of the recording ``source`` (a path from :func:`biosig.readers.discover`): the file
    itself; for a WFDB header also the signal files it names (a multi-segment header: its segments'
    headers and their signal files), found beside the header (a symlinked header: beside its target)."""
    from biosig.readers.wfdb_paths import match_case, named_files
    path = pathlib.Path(source)
    files, todo = [], [path]
    while todo:
        p = todo.pop(0)
        if p in files or not p.is_file():
            continue
        files.append(p)
        if p.suffix.lower() == ".hea":
            folder = p.resolve().parent if p.is_symlink() else p.parent
            try:
                text = p.read_text(encoding="latin-1")
            except OSError:
                continue
            todo.extend(f for f in (match_case(folder, name) for name in named_files(text)) if f is not None)
    return files


def data_manifest(sources) -> dict:
    """The manifest of the training windows' ``sources`` (one name per window, in data order):
    ``records`` (record as given, its windows, ``files``: path -> SHA-256), the windows of synthetic
    records, the working folder (relative paths are from it) and ``sha256`` of the records list."""
    records, synthetic = [], 0
    for source, n in collections.Counter(sources).items():
        if str(source).startswith(_SYNTHETIC) and not os.path.exists(source):
            synthetic += n
            continue
        records.append({"record": str(source), "n_windows": n,
                        "files": {str(f): file_sha256(f) for f in record_files(source)}})
    digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
    return {"records": records, "synthetic_windows": synthetic, "cwd": os.getcwd(), "sha256": digest}


def evaluation_overlap(manifest: dict) -> dict[str, list[str]]:
    """Evaluation set name -> the records of the manifest that hold one of its files (by content)."""
    from encoders.pretrain_evaluation_sets import SET_OF_DIGEST
    found: dict[str, list[str]] = {}
    for rec in manifest["records"]:
        sets = {SET_OF_DIGEST[d[:16]] for d in rec["files"].values() if d[:16] in SET_OF_DIGEST}
        for name in sorted(sets):
            found.setdefault(name, []).append(rec["record"])
    return found


def overlap_warning(found: dict[str, list[str]]) -> str:
    """One line naming each evaluation set in the training data, its count and a first record."""
    from encoders.pretrain_evaluation_sets import EVALUATION_SETS, SYNTHETIC_SEEDS
    parts = [f"{len(recs)} record(s) of {EVALUATION_SETS[name][0]}, e.g. {recs[0]}" for name, recs in found.items()]
    fix = [*(["leave them out of --data"] if set(found) - set(SYNTHETIC_SEEDS) else []),
           *(["pretrain the synthetic records on another --seed"] if set(found) & set(SYNTHETIC_SEEDS) else [])]
    return (f"the training data hold {'; '.join(parts)}: never pretrain on records you evaluate on "
            f"({'; '.join(fix)}); meta.json lists them under evaluation_overlap")


def versions() -> dict:
    import numpy
    import torch

    import biosig
    return {"biosig": biosig.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def provenance(manifest: dict, data_sha: str, resumes: list) -> dict:
    """The meta.json entries of a run: the data summary, the evaluation overlap, versions, resumes."""
    return {"data": {"manifest": MANIFEST_FILE, "manifest_sha256": manifest["sha256"],
                     "n_records": len(manifest["records"]),
                     "n_files": sum(len(r["files"]) for r in manifest["records"]),
                     "synthetic_windows": manifest["synthetic_windows"], "windows_fingerprint": data_sha},
            "evaluation_overlap": evaluation_overlap(manifest), "versions": versions(), "resumes": resumes}


def write_manifest(out: pathlib.Path, manifest: dict) -> None:
    tmp = out / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / MANIFEST_FILE)


def resume_entry(st: dict, cfg, start: int, may_change, lr_factor) -> dict:
    """What this resume (at step ``start``) changed of the settings a resume may change, as
    ``{name: [saved, given]}``; warns when ``--steps`` changed (the schedule, ``lr_factor(step, warmup,
    total)``, is stretched)."""
    saved = st["train_config"]
    changed = {k: [saved.get(k), getattr(cfg, k)] for k in sorted(may_change)
               if k not in ("resume", "out_dir", "progress") and k in saved and saved.get(k) != getattr(cfg, k)}
    if "steps" in changed and start < cfg.steps:
        old = int(saved["steps"])
        log.warning("--steps %d (the checkpoint was trained toward --steps %d): the learning rate now follows a "
                    "schedule to step %d from step %d on (lr %.3g at step %d, %.3g at step %d), so the result is not "
                    "the run --steps %d gives from scratch; meta.json records the change (resumes)", cfg.steps, old,
                    cfg.steps, start + 1, cfg.lr * lr_factor(start - 1, cfg.warmup_steps, old), start,
                    cfg.lr * lr_factor(start, cfg.warmup_steps, cfg.steps), start + 1, cfg.steps)
    return {"at_step": start, "changed": changed}
