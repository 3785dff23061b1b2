"""One warning for a file whose signals share a label (two EDF signals, or two WFDB signals, named ``ECG``).

The names are kept as the file gives them (as pyedflib and wfdb read them), but a name then picks the
first of them (:meth:`biosig.record.Record.select`), and a table of the channels keyed by name keeps
one: the warning says which signals share a label and to select them by index.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def warn_duplicate_names(path, names) -> None:
    """Warn once when ``names`` (after the reader stripped their padding) holds a name more than once."""
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i + 1)
    shared = {name: idx for name, idx in seen.items() if len(idx) > 1}
    if shared:
        said = "; ".join(f"{name!r} by signals {', '.join(map(str, idx))}" for name, idx in shared.items())
        log.warning("%s: labels shared by several signals (%s): a name selects the first of them, select "
                    "the others by index", path, said)
