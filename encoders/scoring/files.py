"""Files of a scoring run: written whole or not at all, and the stamps of the records they hold.

Every output file is written to a temporary name in its folder and then renamed with
:func:`os.replace`, which is atomic on POSIX, so a run killed at any moment (even by SIGKILL) leaves
only complete files behind; a write that fails (a full disk) raises
:class:`encoders.scoring.errors.OutputWriteError` and leaves the file as it was. The stamps (size
and modification time of a record's files) tell a rerun which records changed since they were scored.
"""
from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Iterable

import polars as pl

from biosig.interrupts import polars_io
from encoders.scoring.errors import OutputWriteError, ScoreError
from encoders.scoring.schema import record_key


def _honour_umask(fd_or_path) -> None:
    """mkstemp creates files 0600; published outputs get the mode a plain open() would give."""
    mask = os.umask(0)
    os.umask(mask)
    if isinstance(fd_or_path, int):
        os.fchmod(fd_or_path, 0o666 & ~mask)
    else:
        os.chmod(fd_or_path, 0o666 & ~mask)


def atomic_write_bytes(path: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Raises
    ------
    OutputWriteError
        The file could not be written (a full disk, a folder made read-only); ``path`` is as before.
    """
    path = pathlib.Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        _honour_umask(fd)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            pathlib.Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputWriteError(path, f"not written: {_why_unwritten(path, exc)}") from exc
        raise


def check_output_folder(out_dir) -> None:
    """A :class:`ScoreError` (one line) where ``out_dir`` cannot be created or written, found before the
    model loads (seconds) rather than after. Nothing is created: the nearest folder that exists (``out_dir``
    or one above it) must be a folder this process can create a file in, which a probe file made and
    removed at once shows (``os.access`` says yes to root on a read-only file system)."""
    out = pathlib.Path(os.path.abspath(out_dir))
    here = out
    while not os.path.lexists(here) and here != here.parent:
        here = here.parent
    if here.exists() and not here.is_dir():
        what = "is a file" if here == out else f"cannot be created: {here} is a file, not a folder"
        raise ScoreError(f"output folder {out} {what}; give a folder for --out")
    try:
        fd, probe = tempfile.mkstemp(prefix=".biosig-score-probe.", suffix=".tmp", dir=here)
    except OSError as exc:
        where = "" if here == out else f" (in {here}, where it would be created)"
        raise ScoreError(f"output folder {out} is not writable{where}: {exc.strerror}; give another --out") from None
    os.close(fd)
    os.unlink(probe)


def atomic_write_parquet(df: pl.DataFrame, path: pathlib.Path, metadata: dict[str, str] | None = None) -> None:
    """``df.write_parquet`` through a temporary file and an atomic rename; ``metadata`` goes into
    the file's key-value metadata (key -> string value; ``pl.read_parquet_metadata`` reads it).

    Raises
    ------
    OutputWriteError
        As :func:`atomic_write_bytes` (polars reports a full disk as a ``ComputeError``).
    """
    path = pathlib.Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        polars_io(df.write_parquet, tmp, metadata=metadata)
        _honour_umask(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            pathlib.Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, (OSError, pl.exceptions.ComputeError)):
            raise OutputWriteError(path, f"not written: {_why_unwritten(path, exc)}") from exc
        raise


def _why_unwritten(path: pathlib.Path, exc: BaseException) -> str:
    """Why a write failed, in words: the OS error (polars gives ``os error 28`` inside its own
    message, or only ``Invalid thrift: transport error`` when the disk filled up mid-file)."""
    import errno
    import re
    import shutil
    number = getattr(exc, "errno", None)
    if number is None and (found := re.search(r"os error (\d+)", str(exc))):
        number = int(found.group(1))
    if number is None:
        try:
            if shutil.disk_usage(path.parent).free < FULL_DISK_BYTES:
                number = errno.ENOSPC
        except OSError:
            pass
    if number is not None:
        return os.strerror(number)
    return (str(exc).splitlines() or [type(exc).__name__])[0]


FULL_DISK_BYTES = 1 << 20   # a write that failed with less free space than this failed for want of it


def source_stamps(paths: Iterable[str]) -> dict[str, dict[str, list[int]]]:
    """``{record_key(path): {file name: [size, mtime_ns]}}`` of each record's files: the file
    itself, or for a WFDB header the files of its record (``<name>.*``: signals, annotations) and of
    its segments. A file that cannot be stat'ed is left out (reading it will say why)."""
    listings: dict[pathlib.Path, dict[str, list[str]]] = {}
    out = {}
    for path in paths:
        p = pathlib.Path(path)
        names = [p.name]
        if p.suffix.lower() == ".hea":
            listing = listings.get(p.parent)
            if listing is None:
                listing = listings[p.parent] = _names_by_stem(p.parent)
            segments = _segment_names(p)
            names = [n for stem in (p.stem, *segments) for n in listing.get(stem, [])] or names
            # signal files the headers name, whatever their stem (``rec.hea`` reading ``sig_rec.dat``): a
            # change to one of them was not seen, and a rerun kept the rows of the old samples
            names += [n for hea in (p, *(p.parent / f"{s}.hea" for s in segments)) for n in _signal_files(hea)]
        stamp = {}
        for name in sorted(set(names)):
            try:
                st = (p.parent / name).stat()
            except OSError:
                continue
            stamp[name] = [int(st.st_size), int(st.st_mtime_ns)]
        out[record_key(path)] = stamp
    return out


def _names_by_stem(folder: pathlib.Path) -> dict[str, list[str]]:
    by_stem: dict[str, list[str]] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return by_stem
    for entry in entries:
        by_stem.setdefault(entry.name.rsplit(".", 1)[0], []).append(entry.name)
    return by_stem


def _signal_files(hea: pathlib.Path) -> list[str]:
    """The signal files a single-segment WFDB header names (first field of each signal line), those in its
    folder only (a name with a folder in it is left out)."""
    lines = _header_lines(hea)
    if not lines or "/" in lines[0][0] or len(lines[0]) < 2 or not lines[0][1].isdigit():
        return []
    names = {ln[0] for ln in lines[1:1 + int(lines[0][1])] if ln}
    return sorted(n for n in names if n != "~" and os.path.basename(n) == n)


def _header_lines(hea: pathlib.Path) -> list[list[str]]:
    try:
        return [ln.split() for ln in hea.read_text(errors="replace").splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError:
        return []


def _segment_names(hea: pathlib.Path) -> list[str]:
    """The segment records of a multi-segment WFDB header (record line ``name/segments ...``)."""
    lines = _header_lines(hea)
    if not lines or "/" not in lines[0][0]:
        return []
    return [ln[0] for ln in lines[1:] if ln[0] != "~"]


class FolderLock:
    """An exclusive ``flock`` on a file in an output folder for one run (released by :meth:`close`
    or when the process dies, even by SIGKILL), so two runs never write into one folder at once:
    ``score``'s parts and ``embed``'s (encoders.embed_resume) take theirs through it."""
    _lock_fd: int | None = None

    def _take_lock(self, path: pathlib.Path, busy: Exception) -> None:
        """Lock ``path`` (created if need be), or raise ``busy`` while another run holds it."""
        import fcntl
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise busy from None
        self._lock_fd = fd

    def close(self) -> None:
        """Release the folder lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
