"""Rows written twice: the one rule of sameness for the readers that drop them (markers, surrogates).

Two rows hold the same values when every value is equal, NaN counting as equal to NaN: a sample
missing in both rows is the same gap, so a row written again with an empty or NaN value in it is
a repeat (dropped, nothing lost), while a row with the same time but another value (a number
where the other has a gap, or another number) is not the same row (said in the readers' warning).
"""
from __future__ import annotations

import numpy as np


def _rows(values) -> np.ndarray:
    """float64 (T, K): one row per sample (a 1-D array is one value per sample)."""
    v = np.asarray(values, np.float64)
    return v[:, None] if v.ndim == 1 else v.reshape(v.shape[0], int(np.prod(v.shape[1:], dtype=np.int64)))


def same_rows(a, b) -> np.ndarray:
    """bool (T,): row i of ``a`` holds the same values as row i of ``b``, NaN equal to NaN."""
    a, b = _rows(a), _rows(b)
    return np.all((a == b) | (np.isnan(a) & np.isnan(b)), axis=1)


def repeats_previous(values) -> np.ndarray:
    """bool (T,): row i holds the same values as row i - 1 (``same_rows``); row 0 never does."""
    v = _rows(values)
    return np.concatenate([[False], same_rows(v[1:], v[:-1])])[:len(v)]


def dropped_with_other_values(values, keep) -> int:
    """How many of the rows not kept (``keep`` bool (T,), row 0 kept) hold other values than the
    kept row before them, the row each one repeats."""
    keep = np.asarray(keep, bool)
    dropped, kept = np.flatnonzero(~keep), np.flatnonzero(keep)
    if not dropped.size:
        return 0
    v = _rows(values)
    first = kept[np.searchsorted(kept, dropped) - 1]
    return int((~same_rows(v[dropped], v[first])).sum())
