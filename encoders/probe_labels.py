"""Records and labels of a linear probe: the record key of an embedding source, record-mean
features of an embeddings table, and labels joined to them (label text compared as a number where
it reads as one). Split from :mod:`encoders.probe` (the cross-validated fits and metrics)."""
from __future__ import annotations

import logging
import pathlib

import numpy as np

from encoders.errors import EncoderError

log = logging.getLogger(__name__)


def record_key(value) -> str:
    """Join key of a source path or label id: the file name without extension (a Windows path's
    too: ``C:\\data\\A00001.mat`` -> ``A00001``); ``""`` for no value (an empty cell, a blank line)."""
    if value is None or not str(value):
        return ""
    return pathlib.PurePosixPath(str(value).replace("\\", "/")).stem


def label_key(value, record_keys=()) -> str:
    """Join key of a label id: the id's file name as written when it is the key of a record of
    ``record_keys`` (the id ``rec.1`` of the recording ``rec.1.csv``: its stem ``rec`` would join
    ``rec.1`` and ``rec.2`` into one record), else :func:`record_key` (``A00001.hea`` -> ``A00001``)."""
    if value is None or not str(value):
        return ""
    name = str(value).replace("\\", "/").rsplit("/", 1)[-1]
    return name if name in record_keys else record_key(name)


def _loose(key: str) -> str:
    """``key`` without what a spreadsheet or another tool changes in ids: spaces around it, letter
    case, leading zeros (``"00123"`` -> ``"123"``, ``" A00001 "`` -> ``"a1"`` per digit run)."""
    import re
    return re.sub(r"(?<!\d)0+(?=\d)", "", key.strip().casefold())


def id_hint(label_keys, record_keys) -> str:
    """A hint for labelled ids that match no record (``label_keys``, after :func:`record_key`) when
    they would match one of ``record_keys`` once spaces, letter case and leading zeros are ignored
    (a spreadsheet turned ``00123`` into ``123``); "" when none would. Never used to match: the
    user fixes the ids."""
    by_loose: dict[str, list[str]] = {}
    for k in record_keys:
        by_loose.setdefault(_loose(k), []).append(k)
    pairs = [(k, by_loose[_loose(k)][0]) for k in label_keys if _loose(k) in by_loose]
    if not pairs:
        return ""
    kinds = []
    for what, same in (("leading zeros", lambda a, b: a.lstrip("0") == b.lstrip("0")),
                       ("letter case", lambda a, b: a.casefold() == b.casefold()),
                       ("spaces", lambda a, b: a.strip() == b.strip())):
        if any(a != b and same(a, b) for a, b in pairs):
            kinds.append(what)
    a, b = pairs[0]
    why = ": a spreadsheet drops leading zeros" if "leading zeros" in kinds else ""
    return (f"; {len(pairs)} of them would match an embedded record if {' and '.join(kinds or ['leading zeros'])} "
            f"were ignored (e.g. label id {a!r}, record {b!r}{why}); fix the ids in the labels file, they are "
            "not matched that way")


def record_features(emb_df, min_quality: float = 0.0):
    """Record-level mean of window embeddings: (keys list, X (n_records, D) float64)."""
    import polars as pl
    df = emb_df
    if min_quality > 0 and "quality" in df.columns:
        df = df.filter(pl.col("quality") >= min_quality)
    if len(df) == 0 and len(emb_df):   # the file holds windows: the threshold left none
        best = emb_df["quality"].max()
        best = "none: the column is empty" if best is None else f"{best:.3g}"
        raise EncoderError(f"no window has a quality of --min-quality {min_quality:g} or more (the highest of the "
                           f"{len(emb_df)} is {best}); give a lower --min-quality, or leave it out")
    if len(df) == 0:
        raise EncoderError("no embeddings left (empty file or all below --min-quality)")
    sources = df["source"].to_list()
    if None in sources or "" in sources:
        n = sum(1 for s in sources if s is None or s == "")
        raise EncoderError(f"{n} of {len(sources)} window(s) have no source (the recording they belong to, which "
                           "labels are joined on): not a file of biosig embed; embed the recordings again")
    vectors = df["embedding"].to_list()
    _check_vectors(vectors, df.schema["embedding"])
    _check_unique_windows(df)
    keys = [record_key(s) for s in sources]
    first: dict[str, str] = {}
    for src, k in zip(sources, keys):
        if first.setdefault(k, src) != src:   # two recordings would be averaged into one record
            raise EncoderError(f"sources {first[k]!r} and {src!r} share the record key {k!r} (the file name "
                               "without extension, which labels are joined on): rename one, or embed and "
                               "probe them separately")
    emb = np.asarray(vectors, dtype=np.float64)
    order = sorted(set(keys))
    pos = {k: i for i, k in enumerate(order)}
    idx = np.array([pos[k] for k in keys])
    X = np.zeros((len(order), emb.shape[1]))
    np.add.at(X, idx, emb)
    X /= np.bincount(idx)[:, None]
    return order, X


def _check_unique_windows(df) -> None:
    """An :class:`EncoderError` when one window (source, channels, t0_s, t1_s) has two rows: two files of
    ``biosig embed`` joined into one (two models' embeddings of the same records, or one run twice) were
    averaged into one record, silently, with two models' vectors of one length mixed."""
    cols = [c for c in ("source", "channels", "t0_s", "t1_s") if c in df.columns]
    if not {"t0_s", "t1_s"} <= set(cols):   # a file without window times: nothing to compare
        return
    twice = df.filter(df.select(cols).is_duplicated())
    if len(twice):
        first = twice.row(0, named=True)
        n_rec = twice["source"].n_unique()
        raise EncoderError(f"{len(twice)} rows of the embeddings are windows that appear more than once ({n_rec} "
                           f"record(s), e.g. {record_key(first['source'])} {first['t0_s']:g}-{first['t1_s']:g} s): "
                           "two files of biosig embed joined into one (two models, or one run twice)? their "
                           "embeddings would be averaged into one record; probe each file on its own")


def check_finite(keys, X, kept) -> None:
    """An :class:`EncoderError` naming the probed records (``kept``) whose record-mean embedding holds
    a missing (null reads as NaN), NaN or infinite value."""
    bad = [keys[i] for i in kept if not np.isfinite(X[i]).all()]
    if bad:
        raise EncoderError(f"{len(bad)} of {len(kept)} labelled record(s) have a missing, NaN or infinite value in "
                           f"their embeddings: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; embed them again")


def _check_vectors(vectors: list, dtype) -> None:
    """An :class:`EncoderError` unless every window's embedding is a vector of numbers of one length
    (text, a missing vector or vectors of two lengths: another file than biosig embed's, or files
    of two models joined)."""
    import polars as pl
    inner = getattr(dtype, "inner", None)
    if not isinstance(dtype, (pl.List, pl.Array)) or inner is None or not inner.is_numeric():
        raise EncoderError(f"column 'embedding' holds {dtype}, not vectors of numbers: not a file of biosig embed")
    n_missing = sum(1 for v in vectors if v is None)
    if n_missing:
        raise EncoderError(f"{n_missing} of {len(vectors)} window(s) have no embedding (a missing value): "
                           "embed the recordings again")
    lengths = {}
    for v in vectors:
        lengths[len(v)] = lengths.get(len(v), 0) + 1
    if len(lengths) > 1:
        said = ", ".join(f"{n} of length {d}" for d, n in sorted(lengths.items(), key=lambda kv: -kv[1]))
        raise EncoderError(f"the windows' embeddings have {len(lengths)} lengths ({said}): embeddings of two "
                           "models in one file? probe each model's embeddings on their own")


def label_value(value):
    """A label (or group id) as the probe compares it: text that reads as a finite number in its
    canonical form (``"1.0"``, ``" 1"``, ``"1e0"`` -> ``"1"``; ``"0.50"`` -> ``"0.5"``), so that a
    file mixing ``1`` and ``1.0`` has one class 1; other text without the spaces around it (``"A "``
    and ``" A"``, as in ``A00001, A``, are the label ``A``, not classes of their own); any other value
    unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "_" in text:   # float() reads 1_0 as 10: not a spelling of a number here
        return text or value
    try:
        return str(int(text))            # exact, also beyond float precision
    except ValueError:
        pass
    try:
        f = float(text)
    except ValueError:
        return text or value
    if not np.isfinite(f):
        return text
    return str(int(f)) if f.is_integer() else repr(f)


#: Cell text that means "no value" (pandas' default ``na_values``: what pandas, R and NumPy write for
#: a missing label, e.g. ``NaN`` from ``to_csv`` of a float column, ``NA`` from R's ``write.csv``).
MISSING_TEXT = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                          "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})


def is_missing(value) -> bool:
    """True for a cell without a value: null, or text of :data:`MISSING_TEXT` (spaces around it ignored)."""
    return value is None or (isinstance(value, str) and value.strip() in MISSING_TEXT)


def join_labels(keys, labels_df, label_column: str, key_column: str | None = None, as_number: bool = True,
                say_no_id: bool = True):
    """Labels for ``keys`` from a table; returns (kept keys, y). Keys without a label are dropped,
    and so are keys whose label is missing-value text (:data:`MISSING_TEXT`: ``NaN``, ``NA``, ...;
    logged with its count), never a class of its own (with ``--positive`` it was counted as a
    negative). Label text is compared as :func:`label_value` reads it (``1`` and ``1.0`` are one value);
    ``as_number=False`` keeps the text as written but for the spaces around it (group ids: patients
    ``007`` and ``7`` are two; ``p7`` with a space before it is ``p7``: a patient is never in two folds).
    ``say_no_id=False``: rows without a record id are not warned about (a second join of the same rows,
    the group ids': the label join said them once)."""
    if label_column not in labels_df.columns:
        raise EncoderError(f"no column {label_column!r} in the labels; columns: {', '.join(labels_df.columns)}")
    key_column = key_column or labels_df.columns[0]
    if key_column not in labels_df.columns:
        raise EncoderError(f"no column {key_column!r} in the labels; columns: {', '.join(labels_df.columns)}")
    if labels_df.height == 0:
        raise EncoderError(f"the labels hold no data rows (only the header line: {', '.join(labels_df.columns)})")
    lab: dict = {}
    spellings: dict = {}
    missing_text: dict = {}
    no_id = 0
    known = set(keys)
    for row, (k, v) in enumerate(zip(labels_df[key_column].to_list(), labels_df[label_column].to_list())):
        key = label_key(k, known)
        if key == "":   # a blank line, or a row without its record id: matches no record
            no_id += v is not None and not is_missing(v)
            continue
        if v is not None and is_missing(v):
            missing_text[v.strip()] = missing_text.get(v.strip(), 0) + 1
            v = None
        text, v = v, (label_value(v) if as_number else v.strip() if isinstance(v, str) else v)
        if as_number and v is not None and text != v:
            spellings.setdefault(v, set()).add(text)
        if key in lab and lab[key] != v:
            raise EncoderError(f"record {key!r} has two {label_column!r} values in the labels ({lab[key]!r}, then "
                               f"{v!r} on data row {row + 1}); give each record one")
        lab[key] = v
    if missing_text:
        log.warning("%r values %s are read as missing", label_column,
                    ", ".join(f"{t!r} ({n} row{'s' if n > 1 else ''})" for t, n in missing_text.items()))
    for v, texts in spellings.items():
        log.info("%r values %s are read as the number %s", label_column, ", ".join(map(repr, sorted(texts))), v)
    if no_id and say_no_id:
        log.warning("%d row(s) of the labels have a %r but no %r (record id) and are left out", no_id,
                    label_column, key_column)
    kept = [i for i, k in enumerate(keys) if k in lab and lab[k] is not None]
    if as_number:
        _warn_case_only(label_column, [lab[keys[i]] for i in kept])
    if not kept and any(k in lab for k in keys):
        raise EncoderError(f"every record that matches a {key_column!r} value has a missing {label_column!r} "
                           f"(empty or {', '.join(sorted(missing_text)) or 'null'})")
    if not kept:
        n_ids = sum(1 for k in lab if k)
        raise EncoderError(f"no embedding source matches a {key_column!r} value in the labels: none of the {n_ids} "
                           f"labelled id(s) is one of the {len(keys)} embedded record(s) (e.g. source key "
                           f"{keys[0]!r}, label key {next(iter(lab), '')!r}){id_hint([k for k in lab if k], keys)}")
    return kept, np.array([lab[keys[i]] for i in kept])


def _warn_case_only(label_column: str, values) -> None:
    """Warn when label values differ only in letter case or spaces inside (``AF`` and ``af``, ``A F``):
    they are classes of their own (never merged: the user says which is meant), and with --positive
    the other spelling is counted as a negative."""
    from collections import Counter
    counts = Counter(v for v in values if isinstance(v, str))
    alike: dict = {}
    for v in counts:
        alike.setdefault("".join(v.casefold().split()), []).append(v)
    sets = [sorted(group) for group in alike.values() if len(group) > 1]
    if sets:
        log.warning("%r values that differ only in letter case or spaces are classes of their own: %s; if they are "
                    "one class, write it one way in the labels file", label_column,
                    ", ".join(" / ".join(f"{v!r} ({counts[v]})" for v in group) for group in sorted(sets)))
