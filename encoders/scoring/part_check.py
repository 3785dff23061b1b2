"""Damaged parts of finished records, found before a resume skips them.

Parts are written whole (:func:`encoders.scoring.files.atomic_write_parquet`), but a folder copied
while a run wrote it, a disk that filled up under another program, or a file cut by hand can leave a
done marker beside a part that is not a Parquet file any more, or without its windows part. A resume
skipped such a record as done, and then every run stopped at the same traceback when it assembled the
tables (the earlier tables already removed). Such a record is scored again instead, with a warning
naming it; the check reads 8 bytes at each end of a part (Parquet files begin and end with ``PAR1``),
not the files, so a resume of a large archive does not pay for reading every part.
"""
from __future__ import annotations

import logging
import os
import pathlib
from typing import Iterable

from biosig.record import names_text

log = logging.getLogger("encoders.scoring.job")

MAGIC = b"PAR1"


def is_whole_parquet(path: pathlib.Path) -> bool:
    """Whether ``path`` begins and ends with the Parquet magic (a file cut short lacks the end's)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(0, os.SEEK_END)
            if fh.tell() < 12:
                return False
            fh.seek(-4, os.SEEK_END)
            return head == MAGIC and fh.read(4) == MAGIC
    except OSError:
        return False


def damaged_keys(parts: pathlib.Path, done: Iterable[str]) -> set[str]:
    """Keys of ``done`` records (scored or failed) whose parts in ``parts`` cannot be assembled: a scored
    record's ``record`` or ``windows`` part missing or not a whole Parquet file, or a failed one's
    ``error`` part not one."""
    bad = set()
    for key in done:
        record = parts / f"{key}.record.parquet"
        if record.exists():
            files = (record, parts / f"{key}.windows.parquet")
        else:
            files = (parts / f"{key}.error.parquet",)
        if not all(is_whole_parquet(f) for f in files):
            bad.add(key)
    return bad


def rescore_damaged(store, keys: dict[str, str]) -> set[str]:
    """Forget the parts of the records of ``keys`` (key -> path) whose parts are damaged, so this run
    scores them again; warns naming them. Returns their keys."""
    bad = damaged_keys(store.parts, store.done_keys() & set(keys))
    if bad:
        log.warning("%d record(s) done by an earlier run have damaged part files in %s (cut short or removed "
                    "since): scoring them again: %s", len(bad), store.parts, names_text(sorted(keys[k] for k in bad)))
        store.forget(bad)
    return bad
