"""Expand files, folders and record lists into the records they hold, each once.

Rules
-----
- A WFDB record is its ``.hea`` file. The ``.dat``/``.mat`` signal files and annotation files
  (``.atr``, ``.qrs``, ...) beside a header are not records; neither are the segment headers
  (nor the layout header) of a multi-segment record, which is represented by its top header.
- The annotations ``NAME.annotations.csv`` beside a table ``NAME.csv`` (:mod:`.annotation_files`)
  are read with it, not as a record.
- Audio (``.wav``, ``.flac``, ``.mp3``, ...), EDF, Varian RPM ``.vxp`` exports and the
  CSVs :func:`biosig.read` accepts (marker, surrogate, spirometry, any table with one time column)
  are records; Parquet tables by the CSV rule (one time column whose times are read:
  :func:`biosig.readers.tables.times_readable`), the others skipped with the same warning. Other files found
  in folders (``REFERENCE.csv``, ``metadata.json``, ``LICENSE``) are skipped, and counted: one line names
  the files not read (a ``.docx``, a ``.jpg``, a free ``.txt``; not the signal and annotation files of a
  WFDB record, nor a list of records), at WARNING when the folder holds no record, else at INFO.
- A text file listing records (``RECORDS`` as on PhysioNet, or ``*.txt``/``*.lst``/``*.list``
  at least half of whose lines name existing files or records) is expanded line by line, paths
  relative to the list's folder; ``#`` starts a comment; a missing entry is kept for the reader
  to report.
- Folders are searched by :mod:`.folder_walk`: links to folders are followed (each real folder
  searched once; a link cycle is skipped with a warning). A record reached by several spellings (a symlinked header, a linked folder, named
  twice) is read once, under the spelling that is no link (its signal files lie beside it).
- A WFDB header may be upper-case (``REC.HEA``); :mod:`.wfdb_paths` reads it.
- Output folders of ``biosig score`` (a ``run.json`` manifest saying ``"tool": "biosig score"``, or
  the ``parts/job.json`` of a run killed before its first manifest) found inside a folder are not
  searched: their tables are results, not recordings (``biosig score DATA --out DATA/run2`` read
  ``DATA/run1``'s tables as records). One warning names them; a file in one named explicitly, or
  the folder itself given as the input, is still read.
- A path named explicitly is kept even when it does not exist or is not a signal, so that the
  caller's :func:`biosig.read` reports the problem for that path.
"""
from __future__ import annotations

import logging
import os
import pathlib
from typing import Iterable

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.readers.audio import AUDIO_EXTENSIONS
from biosig.readers.folder_walk import (SCORE_JOB_FILE, SCORE_MANIFEST, SCORE_TOOL,  # noqa: F401
                                         is_score_output, walk_folder)
from biosig.readers.markers import is_marker_csv
from biosig.readers.surrogates import VXP_SUFFIXES
from biosig.readers.tables import PARQUET_EXTENSIONS, is_table, table_columns, times_readable
from biosig.readers.wfdb_paths import find_header, header_lines, match_case

log = logging.getLogger(__name__)

WFDB_COMPANION_EXTENSIONS = (".dat", ".mat", ".atr", ".qrs", ".sqrs", ".ecg", ".ann", ".xyz")
EDF_EXTENSIONS = (".edf", ".bdf", ".rec")
LIST_EXTENSIONS = (".txt", ".lst", ".list")
#: Sound in containers biosig does not decode (libsndfile reads none of them): a folder of COUGHVID
#: ``.webm`` coughs or phone ``.m4a`` recordings was skipped without a word, as a README is.
UNREAD_MEDIA_EXTENSIONS = (".webm", ".m4a", ".mp4", ".aac", ".amr", ".3gp", ".wma")
def record_exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an existing file or folder, or a WFDB record named without its ``.hea``."""
    return os.path.exists(path) or find_header(pathlib.Path(path)) is not None


def segment_headers(folder: pathlib.Path) -> set[pathlib.Path]:
    """Headers in ``folder`` that are segments (or layouts) of a multi-segment record there."""
    out: set[pathlib.Path] = set()
    for hea in (p for p in folder.glob("*") if p.suffix.lower() == ".hea"):
        lines = header_lines(hea)
        first = lines[0].split()[0] if lines else ""
        if "/" not in first:
            continue
        n_txt = first.split("/", 1)[1]
        n_seg = int(n_txt) if n_txt.isdigit() else len(lines) - 1
        for seg in lines[1:1 + n_seg]:
            name = seg.split()[0]
            if name != "~":
                out.add(match_case(folder, f"{name}.hea") or folder / f"{name}.hea")
    return out


def _is_table_csv(path: pathlib.Path, rate_stated: bool = False) -> bool:
    """A marker, camera-PPG or time-column table whose times are read (a time column without a unit
    whose first values do not tell it, ISO date strings, ...: not, and reported as skipped)."""
    if not os.access(path, os.R_OK):
        return True  # kept, so that biosig.read reports "permission denied" rather than a silent skip
    from biosig.readers.camera_ppg import is_camera_ppg_csv
    return is_marker_csv(path) or is_camera_ppg_csv(path) or (is_table(table_columns(path))
                                                              and times_readable(path, rate_stated))


def _is_annotations_of_table(path: pathlib.Path) -> bool:
    """``NAME.annotations.csv`` beside the table ``NAME.csv``: its annotations
    (:mod:`.annotation_files`), read with it, not a record."""
    from biosig.readers.annotation_files import is_sidecar, sidecar_table
    return sidecar_table(path) is not None and is_sidecar(path)


def _is_record_file(path: pathlib.Path, segments: set[pathlib.Path], rate_stated: bool = False) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".hea":
        return path not in segments
    if suffix in AUDIO_EXTENSIONS + EDF_EXTENSIONS + VXP_SUFFIXES:
        return True
    if suffix in PARQUET_EXTENSIONS:   # the CSV rule: one time column whose times are read
        return not os.access(path, os.R_OK) or not table_columns(path) or (
            is_table(table_columns(path)) and times_readable(path, rate_stated))
    if suffix in (".csv", ".tsv"):
        return _is_table_csv(path, rate_stated)
    if suffix == ".txt":   # a LabChart text export (its rate in its Interval= line), not a list of records
        from biosig.readers.labchart import is_labchart_text
        return is_labchart_text(path)
    return False


def _as_record_path(path: pathlib.Path) -> pathlib.Path:
    """``100.dat``/``100.atr``/``100`` -> ``100.hea`` when that header exists."""
    if path.suffix.lower() in WFDB_COMPANION_EXTENSIONS or not os.path.exists(path):
        hea = find_header(path.with_suffix("") if path.suffix.lower() in WFDB_COMPANION_EXTENSIONS else path)
        if hea is not None and os.path.exists(hea):   # NAME.hea, or NAME.HEA (read through links)
            return hea
    return path


def _is_list_file(path: pathlib.Path) -> bool:
    if path.name == "RECORDS":
        return True
    if path.suffix.lower() not in LIST_EXTENSIONS:
        return False
    if _lists_nothing(path):   # an empty list is a list of no records ("no records found", as an empty folder)
        return True
    entries = _list_entries(path)
    # at least half of the listed records exist: the missing ones are reported by the reader, one by
    # one, and never turn the list into a "table" that hides the others (a column of bare sample
    # values names no existing file)
    found = sum(e.exists() or e.with_name(e.name + ".hea").exists() for e in entries)
    return bool(entries) and 2 * found >= len(entries)


def _lists_nothing(path: pathlib.Path) -> bool:
    """A ``.txt``/``.lst``/``.list`` file with no line but blank ones and ``#`` comments (0 bytes too): a list of
    records that names none. Read as a record, it was an "empty file" error row and exit 1 where an empty folder is
    "no records found" and exit 2. Over 64 KiB it is not looked into (no list of nothing is that long)."""
    try:
        if path.stat().st_size > 1 << 16:
            return False
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return all(not line.split("#", 1)[0].strip() for line in text.splitlines())


def _is_small_list(path: pathlib.Path) -> bool:
    """A readable list of records (``RECORDS``) small enough to look into (a 1 GB log is not read for that)."""
    try:
        return os.access(path, os.R_OK) and path.stat().st_size < 1 << 24 and _is_list_file(path)
    except OSError:
        return False


def _list_entries(path: pathlib.Path) -> list[pathlib.Path]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            p = pathlib.Path(line)
            out.append(p if p.is_absolute() else path.parent / p)
    return out


def _first_field(path: pathlib.Path) -> str | None:
    """The first field of the table's second line or, with one line, of its first (``A00001`` of
    ``A00001,N`` under a ``record,label`` header); None when unreadable or empty."""
    from biosig.readers.untimed import head_rows
    rows = [r for r in head_rows(path, 2) if r]
    return rows[-1][0].strip() if rows else None


def _expand_folder(folder: pathlib.Path, bare_tables: bool = False, own_out: frozenset = frozenset()) -> list[pathlib.Path]:
    """Records under ``folder``. Folders that cannot be listed are returned as entries themselves
    (so that :func:`biosig.read` reports "permission denied" for them instead of a silent skip);
    CSV files that are not records are returned too when the folder holds no record at all (the
    user pointed at them: :func:`biosig.read` says why each one is not a record). With
    ``bare_tables`` (a sampling rate was stated) CSV/TSV files of bare sample values are records too
    (:func:`biosig.readers.untimed.is_bare_table`; a labels table stays out)."""
    from biosig.readers.untimed import is_bare_table
    out: list[pathlib.Path] = []
    skipped_csv: list[pathlib.Path] = []
    media: list[pathlib.Path] = []
    unread: list[pathlib.Path] = []   # no format biosig reads (.docx, .jpg, a free .txt): counted, never silent

    def unreadable(err: OSError) -> None:
        log.warning("%s: cannot be listed (%s)", err.filename, err.strerror)
        out.append(pathlib.Path(err.filename))

    for root_p, files in walk_folder(folder, unreadable, own_out):
        segments = segment_headers(root_p)
        wfdb_stems = {pathlib.Path(n).stem for n in files if n.lower().endswith(".hea")}   # NAME.dat, NAME.atr: read
        for name in sorted(files):
            p = root_p / name
            if name.startswith(".") or _is_annotations_of_table(p):
                continue
            if _is_record_file(p, segments, bare_tables):
                out.append(p)
            elif p.suffix.lower() in (".csv", ".tsv"):
                (out if bare_tables and os.access(p, os.R_OK) and is_bare_table(p) else skipped_csv).append(p)
            elif p.suffix.lower() in PARQUET_EXTENSIONS:
                skipped_csv.append(p)
            elif p.suffix.lower() in UNREAD_MEDIA_EXTENSIONS:
                media.append(p)
            elif p.stem not in wfdb_stems and not _is_small_list(p):
                unread.append(p)
    if media:
        from biosig.record import names_text
        kinds = ", ".join(sorted({p.suffix.lower() for p in media}))
        log.warning("%s: %d sound file(s) skipped: biosig reads %s, not %s (convert them, e.g. "
                    "ffmpeg -i NAME%s NAME.wav): %s", folder, len(media), "/".join(AUDIO_EXTENSIONS), kinds,
                    media[0].suffix, names_text(p.relative_to(folder) for p in media))
    if unread:
        from biosig.record import names_text
        log.log(logging.INFO if out else logging.WARNING, "%s: %d file(s) not read: %s (not recordings in a format "
                "biosig reads: WFDB, EDF, audio, CSV/Parquet tables; name one alone to see why)", folder, len(unread),
                names_text((p.relative_to(folder) for p in unread), most=5))
    if not out and skipped_csv:
        return skipped_csv
    _tell_skipped(folder, skipped_csv, bare_tables, {p.stem for p in out})
    return out


def _tell_skipped(folder: pathlib.Path, skipped: list[pathlib.Path], bare_tables: bool, stems: set) -> None:
    """One warning for the tables of a folder that are not read (never a silent skip): tables of
    bare sample values (readable with a stated rate) apart from the others (metadata, or times
    biosig cannot read: naming one file alone says why). A labels table of the folder's records
    (its first field names one of them, as PhysioNet's REFERENCE.csv) is expected: logged at INFO."""
    from biosig.readers.untimed import is_bare_table
    from biosig.record import names_text
    labels = [p for p in skipped if _first_field(p) in stems]
    for p in labels:
        log.info("%s: a labels table of the records beside it, not a recording", p)
    skipped = [p for p in skipped if p not in labels]
    parquet = [p for p in skipped if p.suffix.lower() in PARQUET_EXTENSIONS]
    bare = [] if bare_tables else [p for p in skipped if p not in parquet and os.access(p, os.R_OK) and is_bare_table(p)]
    # numbers under "time": s or ms, not told (a Parquet file with one time column is skipped for that alone)
    unitless = [p for p in bare if is_table(table_columns(p))] + [p for p in parquet if is_table(table_columns(p))]
    bare = [p for p in bare if p not in unitless]
    other = [p for p in skipped if p not in bare and p not in unitless]
    if unitless:
        log.warning("%s: %d table(s) skipped whose time column names no unit and whose times do not tell seconds "
                    "from milliseconds (name it t_s or time_ms, or give the rate with --sample-rate-hz; name one "
                    "alone to see its steps): %s", folder, len(unitless),
                    names_text(p.relative_to(folder) for p in unitless))
    if bare:
        log.warning("%s: %d table(s) of bare sample values skipped (no time column; info, embed and score "
                    "read them at a rate you give with --sample-rate-hz; or add a t_s column): %s", folder, len(bare),
                    names_text(p.relative_to(folder) for p in bare))
    if other:
        log.warning("%s: %d CSV/TSV/Parquet file(s) skipped as not recordings (labels or metadata tables, or times "
                    "biosig cannot read; name one alone to see why): %s", folder, len(other),
                    names_text(p.relative_to(folder) for p in other))


def _link_rank(path: pathlib.Path) -> tuple[bool, bool]:
    """Lower for the spelling to keep: the file itself not a symlink, then no link on its way."""
    return os.path.islink(path), os.path.realpath(path) != os.path.abspath(path)


def discover(paths: Iterable[str | os.PathLike] | str | os.PathLike, bare_tables: bool = False, *,
             out_dir: str | os.PathLike | None = None) -> list[str]:
    """Record paths found in files, folders (recursively) and record lists, each once, in order.

    Parameters
    ----------
    paths : one path or an iterable of paths.
    bare_tables : also take the CSV/TSV tables of bare sample values in folders (``--sample-rate-hz``
        was given, so they can be read; :mod:`biosig.readers.untimed`).
    out_dir : the caller's own output folder (``score --out``): not searched inside the folders given,
        without the warning that output folders of earlier ``biosig score`` runs get.

    Returns
    -------
    list of str, each readable with :func:`biosig.read` (WFDB records as their ``.hea``).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    elif isinstance(paths, (bytes, int, float)) or paths is None or not hasattr(paths, "__iter__"):
        raise ReadError(repr(paths), "give a path or a list of paths (str or os.PathLike)")
    found: list[pathlib.Path] = []
    own_out = frozenset() if out_dir is None else frozenset({os.path.realpath(out_dir)})
    for raw in paths:
        if isinstance(raw, (str, os.PathLike)) and not str(os.fspath(raw)).strip():   # "$DATA", DATA unset
            raise ReadError("''", "an empty path (an unset shell variable?); give records, folders or '.' "
                                  "for the current folder")
        path = file_path(raw)
        try:
            if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
                found.append(path)  # read() reports "permission denied"
            elif path.is_dir():
                found.extend(_expand_folder(path, bare_tables, own_out))
            elif path.is_file() and os.access(path, os.R_OK) and _is_list_file(path):
                found.extend(pathlib.Path(p) for p in discover(_list_entries(path), bare_tables, out_dir=out_dir))
            else:
                found.append(_as_record_path(path))
        except PermissionError:  # a folder on the way cannot be searched: read() reports it
            found.append(path)
    kept: dict[str, pathlib.Path] = {}   # real path -> the spelling read, in order of appearance
    again: dict[str, None] = {}   # ordered, each once
    for p in found:
        key = os.path.realpath(p)
        if key not in kept:
            kept[key] = p
        elif _link_rank(p) < _link_rank(kept[key]):   # read 100.hea, not a link to it (.dat is beside it)
            again[str(kept[key])] = None
            kept[key] = p
        else:
            again[str(p)] = None
    out = [str(p) for p in kept.values()]
    if again:   # `spiro X.csv X.csv` showed one blow without a word
        from biosig.record import names_text
        log.warning("%d record(s) named more than once (or also inside a folder given, or a link to one); each "
                    "is read once, not as: %s", len(again), names_text(again))
    log.debug("discover: %d record(s)", len(out))
    return out
