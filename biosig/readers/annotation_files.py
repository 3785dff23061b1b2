"""Annotations of a record written as a CSV or Parquet table, and read back.

A table has one row per sample and no place for events, so the writers put them beside it:

- CSV: a sidecar ``NAME.annotations.csv`` beside ``NAME.csv``, one row per event with the header
  :data:`SIDECAR_COLUMNS` (``sample`` is the sample index at the record's rate, authoritative;
  ``onset_s`` the time of that sample, for people and other tools; ``aux`` free text, ``source``
  where the events came from, e.g. ``atr``). It has no time column, so it is never taken for a
  record (:mod:`.discover` skips it beside its table; :func:`biosig.read` names the table to read);
- Parquet: an ``annotations`` entry (:func:`annotations_json`) in the ``biosig`` JSON of the schema
  metadata.

The readers of both restore :class:`biosig.record.Annotations`; events outside the record are
dropped with a warning (never silently).
"""
from __future__ import annotations

import csv
import logging
import pathlib

import numpy as np

from biosig.errors import ReadError
from biosig.record import Annotations

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".annotations.csv"
SIDECAR_COLUMNS = ("sample", "onset_s", "symbol", "aux", "source")


def sidecar_path(table) -> pathlib.Path:
    """``NAME.annotations.csv`` for the table ``NAME.csv``."""
    table = pathlib.Path(table)
    return table.with_name(table.stem + SIDECAR_SUFFIX)


def sidecar_table(path) -> pathlib.Path | None:
    """The table ``NAME.csv`` whose sidecar ``path`` (``NAME.annotations.csv``) is, when it exists beside it."""
    path = pathlib.Path(path)
    if not path.name.lower().endswith(SIDECAR_SUFFIX) or len(path.name) == len(SIDECAR_SUFFIX):
        return None
    table = path.with_name(path.name[:-len(SIDECAR_SUFFIX)] + ".csv")
    return table if table.is_file() else None


def is_sidecar(path) -> bool:
    """Whether ``path``'s first line is the sidecar header (:data:`SIDECAR_COLUMNS`)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return tuple(next(csv.reader(fh), [])) == SIDECAR_COLUMNS
    except (OSError, UnicodeDecodeError):
        return False


def check_sidecar(path) -> None:
    """:class:`biosig.errors.WriteError` where the sidecar's name beside the table ``path`` is taken by
    a file that is not one (it is never overwritten nor removed); called before the table is written."""
    from biosig.errors import WriteError

    side = sidecar_path(path)
    if side.exists() and not is_sidecar(side):
        raise WriteError(path, f"{side.name} exists beside it and is not a biosig annotations file (the "
                               "record's annotations are written under that name); move it, or write another name")


def write_sidecar(path, ann: Annotations | None, t_s: np.ndarray) -> pathlib.Path | None:
    """Write ``ann`` beside the table ``path`` (times of the samples: ``t_s``); with no annotations,
    remove a sidecar an earlier write left there (it would be read back with the new table).
    Returns the sidecar written, or None."""
    check_sidecar(path)
    side = sidecar_path(path)
    if ann is None or not len(ann):
        if side.exists():
            side.unlink()
            log.info("%s: removed %s, the annotations of the table written there before", path, side.name)
        return None
    sample = np.asarray(ann.sample, dtype=np.int64)
    inside = (sample >= 0) & (sample < len(t_s))
    onset = np.full(len(sample), np.nan)
    onset[inside] = np.asarray(t_s, dtype=np.float64)[sample[inside]]
    aux = ann.aux if ann.aux else ("",) * len(sample)
    with open(side, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(SIDECAR_COLUMNS)
        for s, t, sym, a in zip(sample, onset, ann.symbol, aux):
            out.writerow([int(s), "" if np.isnan(t) else repr(float(t)), sym, a, ann.source])
    return side


def read_sidecar(path, n_samples: int) -> Annotations | None:
    """The annotations beside the table ``path`` (None without a sidecar)."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        with open(side, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(side, f"annotations of {pathlib.Path(path).name} cannot be read ({exc})") from None
    if not rows or tuple(rows[0]) != SIDECAR_COLUMNS:
        log.warning("%s: beside %s but its header is not %s; not read as its annotations", side,
                    pathlib.Path(path).name, ",".join(SIDECAR_COLUMNS))
        return None
    body = [r for r in rows[1:] if r]
    bad = [i for i, r in enumerate(body) if len(r) != len(SIDECAR_COLUMNS) or not r[0].strip().lstrip("-").isdigit()]
    if bad:
        raise ReadError(side, f"line {bad[0] + 2} is not sample,onset_s,symbol,aux,source with a whole sample index")
    return _annotations(side, [int(r[0]) for r in body], [r[2] for r in body], [r[3] for r in body],
                        body[0][4] if body else "", n_samples)


def annotations_json(ann: Annotations | None) -> dict | None:
    """``ann`` as JSON-ready lists (Parquet schema metadata), or None."""
    if ann is None or not len(ann):
        return None
    return {"sample": [int(s) for s in ann.sample], "symbol": [str(s) for s in ann.symbol],
            "aux": [str(a) for a in ann.aux] if ann.aux else [], "source": ann.source}


def annotations_from_json(path, info, n_samples: int) -> Annotations | None:
    """The :class:`Annotations` of :func:`annotations_json`'s dict ``info`` (None for None)."""
    if info is None:
        return None
    try:
        sample = [int(s) for s in info["sample"]]
        symbol, aux = [str(s) for s in info["symbol"]], [str(a) for a in info.get("aux") or []]
        source = str(info.get("source", ""))
    except (KeyError, TypeError, ValueError):
        raise ReadError(path, "corrupt annotations in the biosig metadata of the Parquet schema") from None
    if len(symbol) != len(sample) or (aux and len(aux) != len(sample)):
        raise ReadError(path, f"corrupt annotations in the Parquet schema: {len(sample)} samples, "
                              f"{len(symbol)} symbols, {len(aux)} aux texts")
    return _annotations(path, sample, symbol, aux, source, n_samples)


def _annotations(path, sample, symbol, aux, source: str, n_samples: int) -> Annotations:
    sample = np.asarray(sample, dtype=np.int64)
    keep = np.flatnonzero((sample >= 0) & (sample < n_samples))
    if len(keep) < len(sample):
        log.warning("%s: %d annotation(s) outside the record's %d samples dropped", path,
                    len(sample) - len(keep), n_samples)
    aux = tuple(aux[i] for i in keep) if any(aux) else ()
    return Annotations(sample=sample[keep], symbol=tuple(symbol[i] for i in keep), aux=aux, source=source)
