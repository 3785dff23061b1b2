"""A path that a file library (Polars, pyarrow, pyedflib, soundfile) opens as exactly the file named.

Python keeps a file name with bytes that are not UTF-8 (``x\\xff.csv``, common on old Latin-1 disks) as text with
lone surrogates (``x\\udcff.csv``); open() takes it, but the libraries encode the name as UTF-8 and fail (Polars:
"Object does not have a .read() method", pyedflib and soundfile: a UnicodeEncodeError traceback). Polars also reads
some valid names as something else: ``br[1].csv`` and ``st*r.csv`` as glob patterns (the first: "expanded paths
were empty"; the second silently joined with ``stAr.csv`` beside it), ``file:x.csv`` as a URL.

:func:`library_path` gives such a name another path to the same file: ``/proc/self/fd/N`` of a descriptor held open
for the call (Linux), else a symbolic link in a private temporary folder. Either is a path, so the library maps or
streams the file as it does any other (a file object would make Polars read it whole into memory); other names are
passed through unchanged.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from typing import Iterator

#: Characters that Polars reads as a glob pattern or a URL scheme / home folder in a path it is given.
#: (Not ':' on Windows, where every absolute path has one after its drive letter.)
_SPECIAL = frozenset("*?[]{}~" if os.name == "nt" else "*?[]{}:~")
_PROC_FD = pathlib.Path("/proc/self/fd")


def plain_name(path) -> bool:
    """Whether a library given ``path`` as text opens that very file: UTF-8 text free of glob/URL characters."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not _SPECIAL.intersection(text)


@contextlib.contextmanager
def library_path(path) -> Iterator[str]:
    """``path`` as text that Polars, pyarrow, pyedflib and soundfile open as that file (module doc); the stand-in,
    if one is needed, lasts until the block ends. A missing file is passed through, so the library says so."""
    text = os.fspath(path)
    if plain_name(text) or not os.path.isfile(text):
        yield text
        return
    if _PROC_FD.is_dir():
        fd = os.open(text, os.O_RDONLY)
        try:
            yield str(_PROC_FD / str(fd))
        finally:
            os.close(fd)
        return
    suffix = pathlib.Path(text).suffix
    with tempfile.TemporaryDirectory(prefix="biosig-path-") as folder:   # no /proc (macOS, BSD): a link
        link = os.path.join(folder, "file" + (suffix if suffix.isascii() and plain_name(suffix) else ""))
        try:
            os.symlink(os.fsencode(os.path.abspath(text)), os.fsencode(link))
        except OSError:   # no links here (Windows without the right): the name as it is, the library says why
            link = text
        yield link


def sound_path(path) -> str | bytes:
    """``path`` for soundfile: its bytes where the name is not UTF-8 (soundfile passes bytes through to libsndfile
    as they are, but encodes text as UTF-8); text otherwise, as on Windows, where soundfile opens wide names."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text) if os.name != "nt" else text


def shown(text: str) -> str:
    """``text`` with the undecodable bytes of a file name in it (lone surrogates) as U+FFFD, as ``ls`` shows them:
    printed as they were, they stopped ``biosig info`` with a UnicodeEncodeError on a strict UTF-8 terminal."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:   # a surrogate no file name decodes to (not U+DC80..U+DCFF)
        return text.encode("utf-8", "replace").decode("utf-8")
