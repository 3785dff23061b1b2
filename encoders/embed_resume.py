"""``biosig embed`` that survives a Ctrl-C, a crash or a full disk: the rows of the recordings embedded
so far are kept in parts beside ``--out``, and rerunning the same command embeds only the rest.

``embed`` wrote its one Parquet file at the end, so a run stopped after 20 minutes of the 22 that the
8528 CinC 2017 records take on two cores (issue 14's rehearsal: 6-8 recordings/s) kept nothing. Now::

    OUT.parquet.parts/job.json          what makes the rows (:func:`job_fingerprint`)
    OUT.parquet.parts/.lock             flock held by the running embed (one writer per --out)
    OUT.parquet.parts/part-NNNNNN.parquet   the rows of consecutive recordings, their sources and the
                                        size and modification time of their files in the file's metadata

A part is written every :data:`FLUSH_S` seconds or :data:`FLUSH_RECORDS` recordings (whichever first),
through a temporary file and a rename (:func:`encoders.scoring.files.atomic_write_parquet`, shared with
``score``), with Ctrl-C held while it is written (:mod:`biosig.interrupts`), so a run killed at any moment
leaves whole parts. At the end ``--out`` is assembled from the parts in the order the recordings were
found, rechunked and written atomically, whatever parts the runs left: an interrupted and resumed run
writes the same file, byte for byte, as one that was never stopped; the parts folder is then removed.

"The same job" is :func:`job_fingerprint`: a rerun with another model, window, channel, backend, ... is
refused naming the difference (``--force`` starts over); its inputs may differ (rows of recordings that
are not among them are left out, as ``score`` does), and a recording whose files changed since it was
embedded is embedded again. Recordings that failed are tried again (they are not kept).
"""
from __future__ import annotations

import json
import logging
import pathlib
import shutil
import time

from biosig.interrupts import interrupts_deferred
from encoders.errors import EncoderError
from encoders.scoring.files import FolderLock

log = logging.getLogger(__name__)

PARTS_SUFFIX = ".parts"
JOB_FILE = "job.json"
LOCK_FILE = ".lock"
PART_META_KEY = "biosig_embed_part"
FLUSH_S = 10.0          # at most this much embedding is lost to a crash (a Ctrl-C loses none)
FLUSH_RECORDS = 200     # ... or this many recordings, on a fast machine


def parts_dir(out) -> pathlib.Path:
    """The parts folder of ``--out`` (``emb.parquet`` -> ``emb.parquet.parts``)."""
    out = pathlib.Path(out)
    return out.with_name(out.name + PARTS_SUFFIX)


def recorded_job(out) -> dict:
    """The fingerprint an interrupted run left beside ``out`` ({} when none)."""
    try:
        return json.loads((parts_dir(out) / JOB_FILE).read_text())
    except (OSError, ValueError):
        return {}


def job_fingerprint(provenance: dict, *, batch_size: int, device) -> dict:
    """What must not change between the runs that fill one ``--out``: the provenance of
    :func:`encoders.embeddings_file.embed_provenance` less the version and the backend as asked for
    (``auto`` resolves to ``backend_used``, which is kept), plus the batch size and device (a batch of
    another size or on another device may differ in the last bits)."""
    keep = {k: v for k, v in provenance.items() if k not in ("biosig_version", "backend", "window_s_given")}
    return json.loads(json.dumps({**keep, "batch_size": int(batch_size), "device": None if device is None else str(device)},
                                 sort_keys=True, default=str))


class EmbedParts(FolderLock):
    """The parts folder of one ``--out``: locked, checked against ``job`` and read, on creation.

    ``force``: parts of another job are removed (start over) instead of refused; parts of this same job
    are still resumed (rerunning ``embed --force ...`` after a Ctrl-C goes on where it stopped)."""

    def __init__(self, out, job: dict, *, force: bool = False):
        self.out = pathlib.Path(out)
        self.dir = parts_dir(out)
        made = not self.dir.exists()
        try:
            self.dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise EncoderError(f"--out {out}: cannot create {self.dir} ({exc.strerror or exc})") from None
        self._take_lock(self.dir / LOCK_FILE, EncoderError(
            f"another biosig embed run is writing {self.out}; wait for it to finish or use another --out"))
        if not force and (self.out.exists() or self.out.is_symlink()):
            # checked again under the lock: a run started while another one with the same --out loaded its model
            # found no file, then (the other done) replaced the file it wrote without --force (another window's
            # rows in place of the first run's)
            self.close()
            if made:
                shutil.rmtree(self.dir, ignore_errors=True)
            raise EncoderError(f"--out {self.out}: {self.out} was written by another biosig embed run meanwhile; "
                               "give --force to replace it, or another name")
        for tmp in self.dir.glob(".*.tmp"):   # a killed run's temporaries: never read
            tmp.unlink(missing_ok=True)
        try:
            self._check_job(job, force)
        except BaseException:   # refused: the lock goes with it (a caller in the same process may retry)
            self.close()
            raise
        self.latest: dict[str, tuple[int, dict]] = {}   # source -> (part number, stamp), the latest part wins
        for number, path in self._parts():
            for src, stamp in zip(*_part_index(path)):
                self.latest[src] = (number, stamp)
        self._next = max((n for n, _ in self._parts()), default=-1) + 1
        self.pending: list = []   # (source, stamp, rows) embedded since the last part
        self.last_flush = time.monotonic()

    def _parts(self) -> list[tuple[int, pathlib.Path]]:
        found = []
        for p in self.dir.glob("part-*.parquet"):
            number = p.name[len("part-"):-len(".parquet")]
            if number.isdigit():
                found.append((int(number), p))
        return sorted(found)

    def _check_job(self, job: dict, force: bool) -> None:
        path = self.dir / JOB_FILE
        old = None
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError):
                old = {}
        if old is None:
            self._check_ours(force)
        if old is None and not self._parts():
            pass
        elif old is None and not force:
            raise self._not_ours(f"{len(self._parts())} part file(s) but no {JOB_FILE}")
        elif old != job:
            parts = len(self._parts())
            if not force:
                diff = sorted(k for k in set(old or {}) | set(job) if (old or {}).get(k) != job.get(k))
                detail = "; ".join(f"{k} {(old or {}).get(k)!r} there, {job.get(k)!r} now" for k in diff[:4])
                held = len({s for _, p in self._parts() for s in _part_index(p)[0]})
                raise EncoderError(f"--out {self.out}: {self.dir} holds {held} recording(s) of an interrupted embed run "
                                   f"with other options ({detail or 'no job.json'}); rerun with those to resume it, "
                                   "or give --force to start over")
            for _, p in self._parts():
                p.unlink()
            log.warning("--force: the %d part(s) of an interrupted embed run with other options in %s removed; "
                        "starting over", parts, self.dir)
        from encoders.scoring.files import atomic_write_bytes
        atomic_write_bytes(path, json.dumps(job, indent=2, sort_keys=True).encode())

    def _check_ours(self, force: bool) -> None:
        """A parts folder without job.json holds nothing but what a run killed before writing it leaves (the lock, a
        temporary, parts with ``force``): any other file is another tool's, which the end of this run would have
        removed with the folder. Refused, ``force`` or not (:meth:`_not_ours`)."""
        ours = {LOCK_FILE, JOB_FILE}
        foreign = sorted(p.name for p in self.dir.iterdir()
                         if p.name not in ours and not (p.name.startswith(".") and p.name.endswith(".tmp"))
                         and not (p.name.startswith("part-") and p.name.endswith(".parquet")))
        if foreign:
            from biosig.record import names_text
            raise self._not_ours(f"{names_text(foreign)} and no {JOB_FILE}")

    def _not_ours(self, what: str) -> EncoderError:
        """The one line for a parts folder this run cannot resume (it lacks job.json): what it holds, what to do.
        It said "other options (model None there, ...)", as if an embed run with other options had left it."""
        return EncoderError(f"--out {self.out}: {self.dir} holds {what}: not the parts of a biosig embed run that "
                            f"can be resumed (another tool's folder, or its {JOB_FILE} removed); remove {self.dir}, "
                            "or choose another --out")

    # ------------------------------------------------------------------ resume
    def todo(self, sources: list[str], stamps: list[dict]) -> tuple[list[int], int]:
        """Positions of ``sources`` still to embed and how many of the done ones changed since."""
        todo, changed = [], 0
        for i, (src, stamp) in enumerate(zip(sources, stamps)):
            seen = self.latest.get(src)
            if seen is None or seen[1] != stamp:
                todo.append(i)
                changed += seen is not None
        return todo, changed

    # ------------------------------------------------------------------ writing
    def add(self, source: str, stamp: dict, rows) -> None:
        """One recording's rows; a part is written once enough have come (:data:`FLUSH_S`, :data:`FLUSH_RECORDS`)."""
        self.pending.append((source, stamp, rows))
        if len(self.pending) >= FLUSH_RECORDS or time.monotonic() - self.last_flush >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Write the pending recordings as one part (whole or not at all; Ctrl-C held meanwhile)."""
        if not self.pending:
            self.last_flush = time.monotonic()
            return
        import polars as pl

        from encoders.scoring.files import atomic_write_parquet
        with interrupts_deferred():
            number = self._next
            index = {"sources": [s for s, _, _ in self.pending], "stamps": [st for _, st, _ in self.pending]}
            atomic_write_parquet(pl.concat([rows for _, _, rows in self.pending]), self.dir / f"part-{number:06d}.parquet",
                                 metadata={PART_META_KEY: json.dumps(index)})
            for src, stamp, _ in self.pending:
                self.latest[src] = (number, stamp)
            self._next += 1
            self.pending = []
        self.last_flush = time.monotonic()

    def assemble(self, sources: list[str]):
        """The rows of ``sources`` (those kept in the parts, each from its latest part) in that order,
        as one chunk: the same frame whatever parts the runs wrote. None when none is kept."""
        import polars as pl

        from biosig.interrupts import polars_io
        self.flush()
        wanted = [s for s in sources if s in self.latest]
        if not wanted:
            return None
        by_part: dict[int, list[str]] = {}
        for s in wanted:
            by_part.setdefault(self.latest[s][0], []).append(s)
        rows: dict[str, object] = {}
        for number, srcs in by_part.items():
            df = polars_io(pl.read_parquet, self.dir / f"part-{number:06d}.parquet")
            groups = df.partition_by("source", as_dict=True, maintain_order=True)
            for s in srcs:
                rows[s] = groups[(s,)]
        left_out = len(set(self.latest) - set(sources))
        if left_out:
            log.warning("%d recording(s) embedded into %s by an earlier run are not among these inputs: left out",
                        left_out, self.dir)
        return pl.concat([rows[s] for s in wanted], rechunk=True)

    def remove(self) -> None:
        """The parts folder, once ``--out`` holds its rows."""
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _part_index(path: pathlib.Path) -> tuple[list[str], list[dict]]:
    """The sources and stamps a part holds ([] for a part without them: its rows are embedded again)."""
    import polars as pl
    try:
        raw = (pl.read_parquet_metadata(path) or {}).get(PART_META_KEY)
        index = json.loads(raw) if raw else {}
        return list(index.get("sources", [])), list(index.get("stamps", []))
    except Exception as exc:   # noqa: BLE001 - an unreadable part is work to redo, not a reason to stop
        log.warning("%s: unreadable (%s); its recordings are embedded again", path, exc)
        return [], []
