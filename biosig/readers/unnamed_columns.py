"""Header cells that are not channels, in a CSV's header line: what a table reader leaves out or
tidies before the columns become channels (:mod:`.tables`, :mod:`.untimed`).

* blanks around a name: ``t_s, ecg, ppg`` (a comma and a space between the fields, as people type
  them and some exports write them) named the channels ``" ecg"`` and ``" ppg"``: no PPG modality
  for ``" ppg"`` and ``channels=["ppg"]`` refused ("no channel 'ppg'");
* a row index without a name, first: pandas' ``DataFrame.to_csv`` (``,ecg,ppg`` then ``0,...``,
  ``1,...``; a slice's from where it began) and R's ``write.csv`` (``"","ecg"`` then ``"1",...``) write
  one unless told not to; it was read as a channel named ``""`` holding 0, 1, 2, ... beside the signals;
* an unnamed column empty throughout (a delimiter opening or ending every line): a channel ``""``
  of NaN only.
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def _blank_throughout(column) -> bool:
    import polars as pl
    return bool((column.is_null() | (column.cast(pl.String).str.strip_chars() == "")).all())


def _row_index(column) -> bool:
    """Whether ``column`` counts the rows: whole numbers rising by 1 a row (text or numbers), from 0,
    from 1 (R) or from where a slice of a frame began (``df.iloc[1000:].to_csv()``)."""
    import polars as pl
    if column.null_count() or len(column) < 2:
        return False
    try:
        values = column.cast(pl.String).str.strip_chars().str.strip_chars('"').cast(pl.Int64).to_numpy()
    except Exception:   # text that is no whole number: not an index
        return False
    return bool(np.all(np.diff(values) == 1))


def tidy_header(path, df, header: bool = True):
    """``df`` (a table as polars read it) without the cells of its header that are not channels
    (module docstring): names stripped of blanks where no two become one, an unnamed first column
    counting the rows dropped, an unnamed column empty throughout dropped (the last one too in a
    table ``header=False``: a delimiter ending every line). One log line says what was left out."""
    if header:
        stripped = {c: c.strip() for c in df.columns}
        if len(set(stripped.values())) == len(stripped):
            df = df.rename({c: s for c, s in stripped.items() if c != s})
    dropped = []
    if df.width > 1 and header and not df.columns[0] and _row_index(df[df.columns[0]]):
        dropped.append("an unnamed first column counting the rows (a row index, as pandas' to_csv writes)")
        df = df.drop(df.columns[0])
    empty = [c for i, c in enumerate(df.columns)
             if (not c if header else i == df.width - 1) and _blank_throughout(df[c])]
    if empty and len(empty) < df.width:
        dropped.append(f"{len(empty)} unnamed column(s) empty throughout (a delimiter opening or ending each line)")
        df = df.drop(empty)
    if dropped:
        log.info("%s: left out %s", path, "; ".join(dropped))
    return df
