"""The folders under a folder that :mod:`.discover` searches for records, each real folder once.

- hidden folders (``.git``, ``.cache``) are not searched;
- links to folders are followed after the real folders, each real folder once: a link to a folder
  found already is not searched again (its records are there), and links that lead back into the
  folders above them (a cycle) are skipped with one warning;
- output folders of ``biosig score`` (a ``run.json`` manifest saying ``"tool": "biosig score"``, or the
  ``parts/job.json`` of a run killed before its first manifest: :func:`is_score_output`) are not
  searched, with one warning; the caller's own output folder without one.

Its warnings are :mod:`.discover`'s (logger ``biosig.readers.discover``): they are part of a search.
"""
from __future__ import annotations

import logging
import os
import pathlib

log = logging.getLogger("biosig.readers.discover")

#: What ``biosig score`` writes into its output folder, named here (the signal layer does not import
#: encoders; ``encoders.scoring.outputs`` and ``job`` take them from here): the manifest, from the
#: first record on the job fingerprint, and the manifest's tool name.
SCORE_MANIFEST = "run.json"
SCORE_JOB_FILE = ("parts", "job.json")
SCORE_TOOL = "biosig score"


def is_score_output(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is an output folder of ``biosig score``: its ``run.json`` is a manifest of
    that tool, or (a first run killed before writing one) its ``parts/job.json`` is a job fingerprint."""
    import json

    folder = pathlib.Path(folder)
    for path, is_it in ((folder / SCORE_MANIFEST, lambda d: d.get("tool") == SCORE_TOOL),
                        (folder.joinpath(*SCORE_JOB_FILE), lambda d: "model_id" in d and "pipeline_hash" in d)):
        try:
            if not path.is_file() or path.stat().st_size > 1 << 24:
                continue
            data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and is_it(data):
            return True
    return False


def walk_folder(folder: pathlib.Path, onerror, own_out: frozenset = frozenset()):
    """(folder, file names) under ``folder``, hidden folders (``.git``) left out. Links to folders
    are followed after the real folders, each real folder searched once: a link to a folder found
    already is not searched again (its records are there), and links that lead back into the
    folders above them (a cycle) are skipped with one warning. Output folders of earlier ``biosig score``
    runs (:func:`is_score_output`) are not searched, with one warning; those in ``own_out`` (real
    paths: the caller's own output folder) without one."""
    visited: set[str] = set()
    links: list[pathlib.Path] = []
    cycles: list[pathlib.Path] = []
    outputs: list[pathlib.Path] = []   # folders of earlier `biosig score` runs: results, not recordings
    tops = [folder]
    while tops:
        top = tops.pop(0)
        real = os.path.realpath(top)
        if top != folder and _leads_back(top, real, folder):
            cycles.append(top)
            continue
        if real in visited:
            log.debug("%s: a link to %s, searched already", top, real)
            continue
        if top != folder and real in own_out:
            continue
        if top != folder and is_score_output(top):
            outputs.append(top)
            continue
        for root, dirs, files in os.walk(top, onerror=onerror):
            visited.add(os.path.realpath(root))
            root_p = pathlib.Path(root)
            kept = []
            for d in sorted(dirs):
                if d.startswith("."):  # skip .git, .cache, ...
                    continue
                if os.path.islink(root_p / d):
                    links.append(root_p / d)   # os.walk does not enter it: searched below
                elif os.path.realpath(root_p / d) in visited or os.path.realpath(root_p / d) in own_out:
                    continue
                elif is_score_output(root_p / d):
                    outputs.append(root_p / d)
                else:
                    kept.append(d)
            dirs[:] = kept
            yield root_p, files
        tops.extend(links)
        links.clear()
    if outputs:
        from biosig.record import names_text
        log.warning("%s: %d output folder(s) of earlier 'biosig score' runs skipped (their tables are results, "
                    "not recordings; name a file in one to read it): %s", folder, len(outputs),
                    names_text(str(o.relative_to(folder)) for o in outputs))
    if cycles:
        from biosig.record import names_text
        log.warning("%s: %d folder link(s) skipped: they lead back into a folder above them (a link cycle): %s",
                    folder, len(cycles), names_text(str(c.relative_to(folder)) for c in cycles))


def _leads_back(link: pathlib.Path, real: str, folder: pathlib.Path) -> bool:
    """Whether the folder link ``link`` (to ``real``) holds itself: its target holds the folder it
    lies in, or is a folder on its way down from ``folder`` (``a/l1 -> b``, ``b/l2 -> a``)."""
    here = os.path.realpath(link.parent)
    if here == real or here.startswith(real.rstrip(os.sep) + os.sep):
        return True
    up = link.parent
    while up != folder and up != up.parent:
        up = up.parent
        if os.path.realpath(up) == real:
            return True
    return False
