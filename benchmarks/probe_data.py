"""The real labelled sets of ``eval_probe.py``, read so that a larger, messier copy with the same layout
(the owners re-run the probe on held-out sets) gives numbers or a clear message, never a traceback
halfway through or a silently wrong label.

* CinC 2017 (``DIR/cinc2017``): ``REFERENCE.csv`` with rows ``record,label`` (label N, A, O or ~),
  with our header line or without one (PhysioNet's own file has none), and one WFDB record per row.
* covid19-cough (``DIR/cough``): ``metadata.json``, a list of objects with ``filename`` (under
  ``raw/``), ``covid19`` (true / false) and ``source``.

A row whose record cannot be read, is missing, or has no usable label (none, an unknown one, or
two different labels for one record) is left out of EVERY feature
set of the task (the rows stay paired) and listed in :attr:`LabelledSet.skipped`, which eval_probe
prints under the task's table. Only when nothing is left does loading fail, with
:class:`ProbeDataError`.
"""
from __future__ import annotations

import csv
import json
import pathlib
from dataclasses import dataclass, field

import numpy as np

CINC_LABELS = ("N", "A", "O", "~")   # normal, AF, other rhythm, too noisy


class ProbeDataError(Exception):
    """A labelled set is absent or unusable as a whole (one line, for the user)."""


@dataclass(frozen=True)
class LabelledSet:
    records: list
    y: np.ndarray
    names: list
    groups: np.ndarray | None = None
    skipped: list = field(default_factory=list)   # [(name, reason)]
    subgroups: list | None = None   # per record, the kind it is (CinC: its label N / A / O / ~; cough: source)

    def skipped_text(self, first: int = 5) -> str:
        """One line: how many rows were left out and why (the first ``first`` of them)."""
        if not self.skipped:
            return ""
        total = len(self.skipped) + len(self.names)
        shown = "; ".join(f"{n}: {why}" for n, why in self.skipped[:first])
        more = f"; and {len(self.skipped) - first} more" if len(self.skipped) > first else ""
        return f"left out {len(self.skipped)} of {total} labelled rows: {shown}{more}"


def _read_all(what: str, items, progress_factory=None) -> tuple[list, list, list, list]:
    """``items`` = [(name, path, label)] -> (records, labels, names) of the readable ones, and
    [(name, reason)] of the others; ``progress_factory(what, total)`` reports progress if given."""
    from biosig.errors import BiosigError
    from biosig.readers import read
    progress = progress_factory(what, len(items)) if progress_factory else None
    records, labels, names, skipped = [], [], [], []
    for name, path, label in items:
        try:
            records.append(read(path))
            labels.append(label)
            names.append(name)
        except (BiosigError, OSError, ValueError, EOFError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            skipped.append((name, f"unreadable ({reason})"))
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    return records, labels, names, skipped


def read_reference(path: pathlib.Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """CinC ``REFERENCE.csv`` -> ([(record, label)], [(row, reason)] of unusable rows)."""
    rows, bad = [], []
    with open(path, newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            row = [c.strip() for c in row]
            if not any(row):
                continue
            if i == 0 and [c.lower() for c in row[:2]] == ["record", "label"]:
                continue
            if len(row) < 2 or not row[0]:
                bad.append((f"REFERENCE.csv line {i + 1}", f"expected 'record,label', got {','.join(row)!r}"))
            elif row[1] not in CINC_LABELS:
                bad.append((row[0], f"label {row[1]!r} is none of {', '.join(CINC_LABELS)}"))
            else:
                rows.append((row[0], row[1]))
    return rows, bad


SET_FILES = {"ecg": ("CinC 2017", "cinc2017", "REFERENCE.csv"), "audio": ("cough", "cough", "metadata.json")}


def check_sets(tasks, data_dir: pathlib.Path) -> None:
    """:class:`ProbeDataError` naming every set of ``tasks`` (``ecg``, ``audio``) absent from ``data_dir``,
    said before any task runs: a held-out folder without cough/ failed only after the CinC task's work,
    and that task's results were not written."""
    absent = [t for t in tasks if t in SET_FILES
              and not (pathlib.Path(data_dir) / SET_FILES[t][1] / SET_FILES[t][2]).is_file()]
    if absent:
        what = "; ".join(f"no {SET_FILES[t][0]} set at {pathlib.Path(data_dir) / SET_FILES[t][1]} ({SET_FILES[t][2]} "
                         "not found)" for t in absent)
        rest = " ".join(t for t in tasks if t not in absent)
        raise ProbeDataError(f"{what}; pass --data DIR, the folder that holds "
                             f"{' and '.join(SET_FILES[t][1] + '/' for t in absent)}, or leave out "
                             f"{' '.join(absent)} (--tasks {rest or '...'})")


def load_cinc2017(data_dir: pathlib.Path, progress_factory=None) -> LabelledSet:
    """AF (label A) vs the rest, records sorted by name."""
    d = pathlib.Path(data_dir) / "cinc2017"
    ref = d / "REFERENCE.csv"
    if not ref.is_file():
        raise ProbeDataError(f"no CinC 2017 set at {d} (REFERENCE.csv not found); pass --data DIR, the folder "
                             "that holds cinc2017/")
    rows, skipped = read_reference(ref)
    labels, conflicts = _unique_labels(rows)
    skipped += [(n, f"listed with different labels {', '.join(ls)} in REFERENCE.csv") for n, ls in conflicts]
    items = [(name, d / name, int(label == "A")) for name, label in sorted(labels.items())]
    records, labels_read, names, unread = _read_all("read cinc2017", items, progress_factory)
    return _finish(records, labels_read, names, skipped + unread, None, d, [labels[n] for n in names])


def load_cough(data_dir: pathlib.Path, call_center_only: bool = False, progress_factory=None) -> LabelledSet:
    """COVID-19 positive vs negative; groups = the file (one recording per participant)."""
    d = pathlib.Path(data_dir) / "cough"
    meta_path = d / "metadata.json"
    if not meta_path.is_file():
        raise ProbeDataError(f"no cough set at {d} (metadata.json not found); pass --data DIR, the folder that "
                             "holds cough/")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProbeDataError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, list):
        raise ProbeDataError(f"{meta_path}: expected a list of objects with filename / covid19 / source")
    skipped, rows, source = [], [], {}
    for i, m in enumerate(meta):
        name = m.get("filename") if isinstance(m, dict) else None
        if not name:
            skipped.append((f"metadata entry {i}", "no filename"))
            continue
        if call_center_only and m.get("source") != "call-center":
            continue
        if not isinstance(m.get("covid19"), bool):   # None or text: never guess a label
            skipped.append((name, f"covid19 is {m.get('covid19')!r}, not true/false"))
            continue
        rows.append((name, int(m["covid19"])))
        source.setdefault(name, str(m.get("source") or "unknown source"))
    labels, conflicts = _unique_labels(rows)
    skipped += [(n, "listed with different covid19 values in metadata.json") for n, _ in conflicts]
    items = [(name, d / "raw" / name, label) for name, label in labels.items()]
    records, labels, names, unread = _read_all("read cough", items, progress_factory)
    return _finish(records, labels, names, skipped + unread, np.array(names), d, [source[n] for n in names])


def _unique_labels(rows) -> tuple[dict, list]:
    """[(name, label)] in file order -> ({name: label} of names with one label, first-seen order;
    [(name, [labels])] of names listed with different labels, which are left out: never guess)."""
    seen: dict = {}
    for name, label in rows:
        seen.setdefault(name, []).append(label)
    labels = {n: ls[0] for n, ls in seen.items() if len(set(ls)) == 1}
    conflicts = [(n, [str(x) for x in dict.fromkeys(ls)]) for n, ls in seen.items() if len(set(ls)) > 1]
    return labels, conflicts


def _finish(records, labels, names, skipped, groups, d, subgroups=None) -> LabelledSet:
    y = np.asarray(labels, dtype=int)
    if len(y) == 0:
        why = f" ({skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise ProbeDataError(f"{d}: no usable labelled record{why}")
    if len(np.unique(y)) < 2:
        raise ProbeDataError(f"{d}: every usable record has label {int(y[0])}; a probe needs both classes")
    return LabelledSet(records=records, y=y, names=list(names), groups=groups, skipped=list(skipped),
                       subgroups=subgroups)


def fold_count(y, requested: int, groups=None) -> tuple[int, str]:
    """The folds a task can have: ``requested``, or fewer where the rarest class (or, with ``groups``,
    the number of groups) is smaller, with a note that says so (a held-out set with 3 AF records still
    gets its table, on 3 folds, and says it). Fewer than 2 is :class:`ProbeDataError`."""
    values, counts = np.unique(np.asarray(y), return_counts=True)
    rare, n_rare = values[int(np.argmin(counts))], int(counts.min())
    n_groups = len(np.unique(np.asarray(groups).astype(str))) if groups is not None else n_rare
    n = min(requested, n_rare, n_groups)
    name = {0: "the negatives", 1: "the positives"}.get(int(rare)) if values.max() <= 1 else f"class {rare}"
    why = (f"the rarest class ({name}) has {n_rare} record(s)" if n_rare <= n_groups else
           f"the records form {n_groups} group(s)")
    if n < 2:
        raise ProbeDataError(f"{why}: a cross-validated probe needs 2 at least (one to train on, one to test on)")
    return n, (f"folds lowered from {requested} to {n}: {why}" if n < requested else "")
