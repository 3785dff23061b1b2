"""Where the files of a WFDB record are when its header is not a plain ``NAME.hea`` beside them.

wfdb (and :mod:`.wfdb_native`) look for ``NAME.hea`` and for the signal files named in it beside
that header. Two real-world layouts break this:

- a symlinked header (``site A/link100.hea -> ../site B/100.hea``): the signal files lie beside
  the link's target. :func:`readable_base` then reads the record at the target.
- an upper-case header (``REC.HEA``, as FAT file systems and some archives write it): wfdb asks for
  ``REC.hea``. :func:`readable_base` then reads the record through lower-case links in a temporary
  folder, one per file the header names, found by name regardless of case beside it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import tempfile

log = logging.getLogger(__name__)

#: Annotation extensions linked along with an upper-case header (those :mod:`.wfdb_format` reads).
_ANNOTATION_EXTENSIONS = ("atr", "qrs", "sqrs", "ecg", "ann")


def _lines(text: str) -> list[str]:
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    return [ln for ln in lines if ln]


def header_lines(hea: pathlib.Path) -> list[str]:
    """The lines of a header file, without comments and blank lines ([] when unreadable)."""
    return _lines(_read_text(hea))


def named_files(text: str) -> list[str]:
    """The files a header's text names: its signal files, or its segments' headers (``SEG.hea``)."""
    lines = _lines(text)
    if not lines:
        return []
    first = lines[0].split()
    if "/" in first[0]:   # multi-segment: "name/n_seg ..." then "segment length" lines
        return list(dict.fromkeys(f"{ln.split()[0]}.hea" for ln in lines[1:] if ln.split()[0] != "~"))
    return list(dict.fromkeys(ln.split()[0] for ln in lines[1:] if ln.split()[0] != "~"))


def _read_text(path: pathlib.Path) -> str:
    try:
        return path.read_text(encoding="latin-1")
    except OSError:
        return ""   # the reader reports an unreadable header itself


def match_case(folder: pathlib.Path, name: str) -> pathlib.Path | None:
    """``folder / name`` when it exists, else the one entry of ``folder`` spelt like ``name`` in
    another case; None when there is none or more than one."""
    exact = folder / name
    if os.path.lexists(exact):
        return exact
    try:
        found = [e for e in os.listdir(folder) if e.lower() == name.lower()]
    except OSError:
        return None
    return folder / found[0] if len(found) == 1 else None


def find_header(base: pathlib.Path) -> pathlib.Path | None:
    """The header of the record ``base`` (a path without extension): ``base.hea`` or its
    upper-case spelling (``REC.HEA``); None when there is none."""
    return match_case(base.parent, f"{base.name}.hea")


def _files_missing(folder: pathlib.Path, names: list[str]) -> bool:
    return any(not (folder / n).exists() for n in names)


@contextlib.contextmanager
def readable_base(base: pathlib.Path):
    """The record name to give wfdb for the record ``base``: ``base`` itself in the usual case, the
    link's target for a symlinked header whose signal files are not beside the link, a lower-case
    spelling in a temporary folder for an upper-case header (removed on exit)."""
    hea = base.with_name(base.name + ".hea")
    if hea.exists():
        if hea.is_symlink():
            target = pathlib.Path(os.path.realpath(hea))
            names = named_files(_read_text(target))
            if target.suffix.lower() == ".hea" and _files_missing(hea.parent, names) \
                    and not _files_missing(target.parent, names):
                log.debug("%s: a link to %s; its signal files are read there", hea, target)
                yield target.with_suffix("")
                return
        yield base
        return
    other = find_header(base)
    if other is None:
        yield base   # the reader says that the header does not exist
        return
    with tempfile.TemporaryDirectory(prefix="biosig-wfdb-") as tmp:
        tmp_p = pathlib.Path(tmp)
        _link(other, tmp_p / hea.name)
        for name in named_files(_read_text(other)):
            _link_case(base.parent, name, tmp_p)
            if name.lower().endswith(".hea"):   # a segment header: its own signal files too
                seg = match_case(base.parent, name)
                for seg_file in named_files(_read_text(seg)) if seg else ():
                    _link_case(base.parent, seg_file, tmp_p)
        for ext in _ANNOTATION_EXTENSIONS:
            found = match_case(base.parent, f"{base.name}.{ext}")
            if found is not None:
                _link(found, tmp_p / f"{base.name}.{ext}")
        log.info("%s: header not named .hea (wfdb asks for %s); read through lower-case links", other, hea.name)
        yield tmp_p / base.name


def as_named(exc, at: pathlib.Path, named: pathlib.Path):
    """``exc`` (a :class:`biosig.errors.ReadError` about the record read at ``at``) naming the
    caller's header ``named`` and its folder instead of :func:`readable_base`'s links."""
    fix = {str(at.with_name(at.name + ".hea")): str(named), str(at.parent): str(named.parent)}
    where, problem = exc.path, exc.problem
    for old, new in fix.items():
        where, problem = where.replace(old, new), problem.replace(old, new)
    return type(exc)(where, problem)


def _link_case(folder: pathlib.Path, name: str, tmp: pathlib.Path) -> None:
    if "/" in name or "\\" in name or name in (".", ".."):
        return   # WFDB files lie beside their header
    found = match_case(folder, name)
    if found is not None and not os.path.lexists(tmp / name):
        _link(found, tmp / name)


def _link(src: pathlib.Path, dst: pathlib.Path) -> None:
    """``dst`` -> ``src`` as a symlink; a copy where links cannot be made."""
    try:
        os.symlink(os.path.abspath(src), dst)
    except OSError:
        import shutil
        shutil.copyfile(src, dst)
