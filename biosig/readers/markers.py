"""External respiratory-marker CSVs (Krilavicius et al. 2013; Pohl et al. 2022).

Format: ``"Frame";"Timestamp";"x";"y";"z"`` header, ``;`` separator, decimal comma, timestamps in
ms from the start of the session, positions in mm, and in some files a ``0;0;0;0;0`` footer row.
File names are ``<session>-<marker>-1-<breathing tag>-<seconds>-6.csv``: files that share the
session prefix (text before the first ``-``) are the markers of one session.

Timestamps are irregular (about 100 ms +- jitter); they are kept as ``Record.times_s`` and the
record's ``fs_hz`` is the nominal rate (1 / median step).  ``Frame`` is the camera's frame counter
(about 60 Hz, so it steps by 6 or 7 between rows in the published files; a hand-made file may count
rows 0..N): it only serves to repair corrupt timestamps.  A row written twice (the previous row's
timestamp again, or its frame number and x, y, z again) is dropped and counted in one warning.
"""
from __future__ import annotations

import logging
import os
import pathlib
import re
from collections import defaultdict

import numpy as np

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.readers.repeated_rows import dropped_with_other_values, repeats_previous
from biosig.record import Record

log = logging.getLogger(__name__)

HEADER_RE = re.compile(r'^"?Frame"?;"?Timestamp"?;"?x"?;"?y"?;"?z"?\s*$', re.IGNORECASE)


def is_marker_csv(path) -> bool:
    """True when the file's first line is the marker-CSV header."""
    try:
        with open(file_path(path), "r", encoding="utf-8-sig", errors="replace") as fh:   # -sig: a BOM
            return bool(HEADER_RE.match(fh.readline()))
    except (OSError, ReadError):   # ReadError: not a path (an int would open a file descriptor)
        return False


def session_and_marker(path) -> tuple[str, str]:
    """``("201205101519", "LAC")`` for ``201205101519-LAC-1-T-222-6.csv``."""
    parts = file_path(path).stem.split("-")
    return parts[0], (parts[1] if len(parts) > 1 else parts[0])


def _parse(path) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Return (times_ms float64 (T,), xyz float64 (T, 3), repaired count, dropped repeated rows);
    footer rows removed."""
    path = file_path(path)
    try:
        # utf-8-sig: an export saved by a Windows editor starts with a byte-order mark; read as
        # utf-8 the header did not match and the file went to the generic table reader, which
        # refused it over the corrupt timestamps the frame counter repairs here
        lines = path.read_text(encoding="utf-8-sig", errors="strict").splitlines()
    except FileNotFoundError:
        raise ReadError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(path, f"cannot read as text ({exc})") from None
    if not lines or not HEADER_RE.match(lines[0]):
        raise ReadError(path, 'not a marker CSV: expected header "Frame";"Timestamp";"x";"y";"z"')
    rows, line_nos = [], []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        line_nos.append(lineno)
        fields = line.strip().split(";")
        if len(fields) != 5:
            raise ReadError(path, f"line {lineno}: expected 5 fields, got {len(fields)}")
        try:   # an empty x, y or z (the tracker lost the marker) is a gap, as NaN is
            rows.append([float(f.replace(",", ".")) if (k < 2 or f.strip()) else np.nan
                         for k, f in enumerate(fields)])
        except ValueError:
            raise ReadError(path, f"line {lineno}: not a number in {line.strip()!r}") from None
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    clockless = np.flatnonzero(~np.isfinite(data[:, :2]).all(axis=1))   # x, y, z may be gaps; the clock may not
    if clockless.size:   # "nan" parses as a number: it ended in "sampling rate ... got nan"
        i = int(clockless[0])
        raise ReadError(path, f"line {line_nos[i]}: the frame and the timestamp must be finite numbers, got "
                              f"{lines[line_nos[i] - 1].strip()!r}")
    # Footer: trailing all-zero rows after the first row (the first row legitimately has t = 0).
    n = len(data)
    while n > 1 and not data[n - 1].any():
        n -= 1
    keep = _repeated_rows(path, data[:n], np.asarray(line_nos[:n]))
    data, line_nos = data[:n][keep], np.asarray(line_nos[:n])[keep]
    n = len(data)
    if n < 2:   # a lone 0;0;0;0;0 is the footer (kept above as a possible first row at t = 0)
        only_footer = n == 1 and not data.any()
        raise ReadError(path, "no samples, only the 0;0;0;0;0 footer row: a marker trajectory needs at least 2"
                        if only_footer else f"{n} sample(s): a marker trajectory needs at least 2")
    t, n_repaired = _repair_timestamps(path, data[:, 0], data[:, 1], line_nos)
    return t, data[:, 2:5], n_repaired, int((~keep).sum())


def _repeated_rows(path, data: np.ndarray, line_nos: np.ndarray) -> np.ndarray:
    """Rows kept (bool (T,)): a row with the previous row's timestamp, or with its frame number and
    x, y, z (NaN the same as NaN: the same gap, ``repeated_rows``), is the same row written twice;
    it is dropped (the first kept) and counted in one warning that says how many of them had other
    x, y, z than the row kept."""
    same_t = np.concatenate([[False], np.diff(data[:, 1]) == 0])[:len(data)]
    keep = ~(same_t | repeats_previous(data[:, [0, 2, 3, 4]]))   # frame, x, y, z: NaN the same gap
    dropped = np.flatnonzero(~keep)
    if dropped.size:
        differ = dropped_with_other_values(data[:, 2:5], keep)
        i = int(dropped[0])
        log.warning("%s: %d repeated row(s) dropped (the previous row's timestamp, or its frame and x, y, z, "
                    "again; first at line %d: frame %g, %g ms)%s", path, dropped.size, int(line_nos[i]),
                    data[i, 0], data[i, 1], f"; {differ} of them with other x, y, z than the row kept" if differ else "")
    return keep


def _repair_timestamps(path, frame: np.ndarray, t_ms: np.ndarray, line_nos: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace corrupt timestamps by the time implied by the camera frame counter.

    Some published files hold a few mangled timestamps (``25,6`` where ``12800`` belongs) while
    the frame counter stays consistent.  The clock is fitted as ``t = a + b * frame``, ``b`` the
    median ms per frame and ``a`` the median of ``t - b * frame``, and rows more than 50 ms off the
    fit are given the fitted time.  Their count is logged and
    kept in the record metadata.
    """
    if np.all(np.diff(t_ms) > 0):
        return t_ms, 0
    if np.any(np.diff(frame) <= 0):   # both lines: the frame counter's fault is what to look at
        i = int(np.flatnonzero(np.diff(t_ms) <= 0)[0])
        j = int(np.flatnonzero(np.diff(frame) <= 0)[0])
        raise ReadError(path, f"timestamps not strictly increasing (first at line {int(line_nos[i + 1])}) and the "
                              f"frame counter cannot repair them: it goes back at line {int(line_nos[j + 1])} "
                              f"(frame {frame[j + 1]:g} after {frame[j]:g}; rows out of order?)")
    b = np.median(np.diff(t_ms) / np.diff(frame))
    a = np.median(t_ms - b * frame)
    fitted = a + b * frame
    bad = np.abs(t_ms - fitted) > 50.0
    repaired = np.where(bad, np.round(fitted), t_ms)
    if np.any(np.diff(repaired) <= 0):
        raise ReadError(path, "timestamps not strictly increasing and not repairable from the frame counter")
    log.warning("%s: %d corrupt timestamp(s) replaced from the frame counter", path, int(bad.sum()))
    return repaired, int(bad.sum())


def read_marker_csv(path) -> Record:
    """One marker: channels ``x, y, z`` in mm, irregular times kept in ``times_s``."""
    t_ms, xyz, n_repaired, n_dropped = _parse(path)
    session, marker = session_and_marker(path)
    t_s = (t_ms - t_ms[0]) / 1000.0
    fs = 1.0 / float(np.median(np.diff(t_s)))
    return Record(samples=xyz.T, fs_hz=fs, channels=("x", "y", "z"), units=("mm",) * 3,
                  modality="motion", times_s=t_s,
                  metadata={"source": str(path), "session": session, "marker": marker,
                            "t0_ms": float(t_ms[0]), "repaired_timestamps": n_repaired,
                            "dropped_repeated_rows": n_dropped})


def _path_list(paths) -> list:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    if paths is None or isinstance(paths, (bytes, int, float)) or not hasattr(paths, "__iter__"):
        raise ReadError(repr(paths), "give a list of marker CSV paths")
    return list(paths)


def read_marker_session(paths) -> Record:
    """The markers of one session as one record, channels ``<marker>_<axis>`` (e.g. ``LAC_x``).

    All files must have the same timestamps (they do in the published data); the session's
    times are those of the first file.
    """
    paths = sorted(file_path(p) for p in _path_list(paths))
    if not paths:
        raise ReadError("<session>", "no marker files given")
    # one marker named twice (one file spelled two ways, or a copy in another folder) gave its
    # channels twice: its errors counted twice in every metric, without a word
    by_marker: dict = {}
    for p in paths:
        by_marker.setdefault(session_and_marker(p), []).append(p)
    twice = next((v for v in by_marker.values() if len(v) > 1), None)
    if twice:
        session, marker = session_and_marker(twice[0])
        raise ReadError(twice[1], f"marker {marker} of session {session} is given twice (also {twice[0]}); "
                                  "give each marker file once")
    recs = [read_marker_csv(p) for p in paths]
    sessions = {r.metadata["session"] for r in recs}
    if len(sessions) != 1:
        raise ReadError(paths[0], f"files from different sessions: {', '.join(sorted(sessions))}")
    ref = recs[0]
    for p, r in zip(paths[1:], recs[1:]):
        if r.n_samples != ref.n_samples or not np.allclose(r.times_s, ref.times_s):
            raise ReadError(p, f"{r.n_samples} rows at {r.fs_hz:.3g} Hz, {paths[0].name} {ref.n_samples} at "
                               f"{ref.fs_hz:.3g} Hz: the markers of one session (files named "
                               f"{ref.metadata['session']}-<marker>-...) must share their timestamps; give files "
                               "of one recording, or rename one to make it a session of its own")
    markers = [r.metadata["marker"] for r in recs]
    channels = tuple(f"{m}_{a}" for m in markers for a in "xyz")
    return Record(samples=np.concatenate([r.samples for r in recs]), fs_hz=ref.fs_hz, channels=channels,
                  units=("mm",) * len(channels), modality="motion", times_s=ref.times_s,
                  metadata={"source": [str(p) for p in paths], "session": ref.metadata["session"],
                            "markers": markers})


def group_sessions(paths) -> dict[str, list[pathlib.Path]]:
    """Group marker CSV paths by session prefix, sorted."""
    groups: dict[str, list[pathlib.Path]] = defaultdict(list)
    for p in _path_list(paths):
        groups[session_and_marker(p)[0]].append(file_path(p))
    return {k: sorted(v) for k, v in sorted(groups.items())}
