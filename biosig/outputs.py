"""Checks on output paths, done before any work starts (stdlib and biosig.interrupts only: the CLI imports it early).

A wrong ``--out`` (a folder where a file is expected, a file where a folder is expected, a folder
that cannot be created) is reported as one :class:`biosig.errors.WriteError` line instead of a
traceback after minutes of training or embedding.
"""
from __future__ import annotations

import os
import pathlib

from biosig.errors import WriteError


def _make_folder(folder: pathlib.Path, flag: str, path) -> None:
    """Create ``folder`` (and its parents) or raise one line saying why it cannot be."""
    for parent in (folder, *folder.parents):   # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise WriteError(f"{flag} {path}", f"{parent} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{flag} {path}", f"cannot create the folder {folder} ({_os_words(exc)})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(f"{flag} {path}", f"cannot write in the folder {folder} ({_why_not_writable(folder)})")
    _try_write(folder, flag, path)


def _why_not_writable(folder: pathlib.Path) -> str:
    """Why ``os.access`` said no: a read-only mount (a read-only NFS export, a container's ``:ro`` volume, a CD)
    is "read-only file system", as the OS says it (EROFS), not "permission denied" (EACCES): the user's fix is
    another folder, not a ``chmod``. ``os.access`` gives no errno; the mount's ``ST_RDONLY`` flag tells them apart."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except (OSError, AttributeError):   # no statvfs (Windows): the old words
        pass
    return "permission denied"


def _os_words(exc: OSError) -> str:
    """The OS's reason, in the lower case of this module's own ("read-only file system", "permission denied")."""
    return exc.strerror[:1].lower() + exc.strerror[1:] if exc.strerror else str(exc)


def _try_write(folder: pathlib.Path, flag: str, path) -> None:
    """Create and remove one empty file in ``folder``: ``os.access`` says yes to root everywhere,
    also in /proc, /sys and read-only mounts, where the real write failed after all the work. Ctrl-C is
    held until the file is gone (one between its creation and removal left a ``.biosig-write-check-*``
    file beside the output: test_interrupted_export_keeps_the_file_it_would_replace, no-shared run 68)."""
    import tempfile

    from biosig.interrupts import interrupts_deferred
    with interrupts_deferred():
        try:
            fd, probe = tempfile.mkstemp(prefix=".biosig-write-check-", dir=folder)
        except OSError as exc:
            raise WriteError(f"{flag} {path}", f"cannot write in the folder {folder} ({_os_words(exc)})") from None
        os.close(fd)
        os.unlink(probe)


def check_output_file(path, flag: str = "--out", suffixes: tuple[str, ...] = (), *,
                      replace: bool = True, companions: tuple[str, ...] = ()) -> pathlib.Path:
    """An output file: ends in one of ``suffixes`` (when given), is not a folder, and its folder
    exists or can be created (it is created). Returns ``path`` as a :class:`pathlib.Path`.

    With ``replace=False`` an existing file (or an existing companion: the same name with each of
    ``companions`` as its extension, e.g. the ``.dat`` of a WFDB ``.hea``) is refused, naming
    ``--force``: an embedding run or a recording is not replaced by a slip of the shell history."""
    p = pathlib.Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise WriteError(f"{flag} {p}", f"expected a file name ending in {' or '.join(suffixes)}")
    if p.is_dir():
        example = p / ("out" + (suffixes[0] if suffixes else ""))
        raise WriteError(f"{flag} {p}", f"is a folder; give a file name, e.g. {example}")
    if not replace:
        existing = [q for q in dict.fromkeys((p, *(p.with_suffix(c) for c in companions)))
                    if q.exists() or q.is_symlink()]   # (x.dat given, .dat a companion: named once)
        if existing:
            raise WriteError(f"{flag} {p}", f"{' and '.join(map(str, existing))} "
                                            f"{'already exists' if len(existing) == 1 else 'already exist'}; "
                                            f"give --force to replace {'it' if len(existing) == 1 else 'them'}, "
                                            "or another name")
    _make_folder(p.parent, flag, p)
    return p


def check_output_dir(path, flag: str = "--out") -> pathlib.Path:
    """An output folder: created when missing; a file of that name or a folder that cannot be
    created or written to is refused. Returns ``path`` as a :class:`pathlib.Path`."""
    p = pathlib.Path(path)
    if p.exists() and not p.is_dir():
        raise WriteError(f"{flag} {p}", "is a file, not a folder; give a folder name")
    _make_folder(p, flag, p)
    return p


def file_sha256(path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
