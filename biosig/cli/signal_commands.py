"""``biosig info`` and ``biosig simulate``.

Top-level imports stay light (argparse, json): readers, quality and synthetic generators are
imported inside the handlers so that ``biosig --version`` does not pay for them.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from biosig import json_text
from biosig.cli._common import add_modality_arguments
from biosig.cli.info_leads import (best_lead_quality, colour_hint, format_colour_hint, format_gaps, format_leads,
                                   missing_by_channel, modality_channels)

log = logging.getLogger(__name__)

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")


AUDIO_KINDS = ("cough", "breath", "scene", "auscultation")   # biosig.synthetic_sounds.AUDIO_KINDS (a test checks)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="summarise recordings: channels, rate, duration, gaps, annotations, quality",
        description="Summarise each recording (WFDB, EDF, audio, marker/spirometry CSV, CSV/Parquet "
                    "with one time column: t_s, time_ms, ...). Folders are searched recursively; a text "
                    "file may list records. Unreadable paths are reported on stderr and the rest still "
                    "printed (exit code 1; 2 when none could be read).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="record, file, folder or list of records")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--no-quality", action="store_true", help="skip the ECG/PPG signal-quality summary")
    add_modality_arguments(p)
    p.set_defaults(handler=info_command)

    s = subparsers.add_parser(
        "simulate", help="write a seeded synthetic recording (ecg, ppg, resp, audio, spiro, motion)",
        description="Generate a synthetic recording with biosig.synthetic.simulate and write it "
                    "with biosig.writers.write; the output format follows the extension of --out "
                    "(.csv, .parquet, .wav, .flac, .edf, .hea or none for WFDB).")
    s.add_argument("modality", metavar="MODALITY", help="ecg, ppg, resp, audio, spiro or motion")
    s.add_argument("--seconds", type=_positive_float, required=True, metavar="S", help="duration in seconds")
    s.add_argument("--out", required=True, metavar="FILE", help="output file (.csv/.parquet/.wav/.flac/.edf/.hea)")
    s.add_argument("--force", action="store_true", help="replace an existing file (default: refuse; a slip of "
                                                        "the shell history must not overwrite a recording)")
    s.add_argument("--seed", type=int, default=0, help="random seed (same seed, same output; default 0)")
    s.add_argument("--fs-hz", type=_positive_float, default=None, metavar="F",
                   help="sampling rate in Hz (default: the modality's own)")
    s.add_argument("--kind", choices=AUDIO_KINDS, default=None,
                   help="audio only: cough (default), breath, scene (coughs through a random room and recording "
                        "channel) or auscultation (lung sounds through a stethoscope: breath sounds, wheezes, "
                        "crackles, heart sounds)")
    s.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a generator parameter, repeatable (default: drawn from the seed), e.g. "
                        "heart_rate_bpm=40, rhythm=af, leads=2, noise_mv=0.02 (ecg); heart_rate_bpm, rhythm, "
                        "motion_amplitude (ppg); resp_rate_bpm=12, noise (resp); pattern=obstructive, "
                        "artefact=cough, fvc_ml (spiro); resp_rate_bpm, amplitude_mm (motion); n_events (audio). "
                        "An unknown NAME is refused with the list the modality takes")
    s.set_defaults(handler=simulate_command)


def _simulate_params(items: list[str]) -> dict:
    """``--param NAME=VALUE`` as keyword arguments of :func:`biosig.synthetic.simulate`: a VALUE that
    reads as an integer is one (``leads=2``), else as a number a float (``heart_rate_bpm=40.5``),
    ``none`` is None, anything else text (``rhythm=af``)."""
    from biosig.errors import BiosigError

    kw = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name.isidentifier() or not text:
            raise BiosigError(f"--param {item!r}: expected NAME=VALUE, e.g. heart_rate_bpm=40")
        if name in kw:
            raise BiosigError(f"--param {name} given twice")
        for parse in (int, float):
            try:
                kw[name] = parse(text)
                break
            except ValueError:
                continue
        else:
            kw[name] = None if text.lower() == "none" else text
    return kw


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


# ------------------------------------------------------------------ info
def quality_of(rec) -> tuple[dict | None, str]:
    """Per-modality quality summaries from :mod:`biosig.quality` for ECG/PPG channels.

    Returns ``(summaries or None, note)``; the note says why there is none.
    """
    present = [m for m in ("ecg", "ppg") if m in rec.channel_modalities or rec.modality == m]
    if not present:
        return None, f"not assessed for {rec.modality}"
    try:
        from biosig.quality_summary import quality_summary
    except ImportError as exc:
        return None, f"unavailable (biosig.quality cannot be imported: {exc})"
    out = {}
    for modality in present:
        try:
            part = modality_channels(rec, modality)
            summary = quality_summary(part) if part.n_channels == 1 else best_lead_quality(part, modality)
            out[modality] = {k: (v.item() if hasattr(v, "item") else v)  # numpy scalars -> JSON
                             for k, v in dict(summary).items()}
        except Exception as exc:  # a quality failure must not hide the rest of the summary
            log.warning("%s: %s quality failed: %s", rec.metadata.get("source", "?"), modality, exc)
            out[modality] = {"error": (str(exc).strip().splitlines() or ["no details"])[0]}
    return out, ""


def summarize(path: str, rec, *, quality: bool = True) -> dict:
    """The ``biosig info`` summary of one record as a JSON-ready dict."""
    gaps = rec.gaps()
    ann = rec.annotations
    rates = rec.metadata.get("channel_fs_hz") or [rec.fs_hz] * rec.n_channels
    info = {
        "path": path,
        "format": rec.metadata.get("format", ""),
        "modality": rec.modality,
        "channels": [{"name": c, "unit": u, "modality": m, "fs_hz": float(r)}
                     for c, u, m, r in zip(rec.channels, rec.units, rec.channel_modalities, rates)],
        "fs_hz": rec.fs_hz,
        "irregular": rec.times_irregular,
        "uniform_grid": uniform_grid(rec),
        "n_samples": rec.n_samples,
        "duration_s": rec.duration_s,
        "start_time": rec.start_time.isoformat() if rec.start_time else None,
        "first_time_s": rec.metadata.get("first_time_s"),
        "gaps": {"count": len(gaps), "total_s": float(sum(b - a for a, b in gaps)),
                 "by_channel_s": missing_by_channel(rec)},
        "flat_lines": flat_lines(rec),
        "annotations": None if ann is None else {
            "count": len(ann), "source": ann.source,
            "beats": int(sum(s in BEAT_SYMBOLS for s in ann.symbol))},
        "warnings": _warnings(rec),
    }
    if quality:
        info["quality"], info["quality_note"] = quality_of(rec)
        info["colour_hint"] = colour_hint(rec, info["quality"])   # a camera PPG's G or B, where better
    else:
        info["quality"], info["quality_note"], info["colour_hint"] = None, "skipped (--no-quality)", None
    return info


def uniform_grid(rec) -> dict | None:
    """What the reader put on a uniform grid (a camera-PPG CSV's irregular frame times,
    :mod:`biosig.readers.camera_ppg`): the file's frame count, median frame rate and intervals (ms:
    median, 5th and 95th percentile, longest) and the grid's rate; None for a record read as it was."""
    meta = rec.metadata
    if "grid_fs_hz" not in meta or "irregular_fs_hz" not in meta:
        return None
    return {"n_frames": meta.get("n_frames"), "median_fs_hz": meta["irregular_fs_hz"],
            "frame_interval_ms": meta.get("frame_interval_ms"), "grid_fs_hz": meta["grid_fs_hz"]}


def _fmt_grid(grid: dict) -> str:
    iv = grid.get("frame_interval_ms") or {}
    spread = (f"; 90 % of the intervals {iv['p5']:g}-{iv['p95']:g} ms, the longest {iv['max']:g} ms"
              if {"p5", "p95", "max"} <= set(iv) else "")
    return (f"{grid['n_frames']} frames at irregular times (median {grid['median_fs_hz']:g} Hz{spread}) "
            f"interpolated onto a uniform {grid['grid_fs_hz']:g} Hz grid")


def flat_lines(rec) -> dict:
    """Per ECG/PPG channel, its runs of identical samples lasting 1 s or more (a lead off, a sensor
    at a rail, a gap filled with a constant; :mod:`biosig.flatline`): ``{name: {"count", "total_s"}}``."""
    from biosig.flatline import FLAT_MODALITIES, flat_summary
    return {name: flat_summary(rec.samples[i], rec.fs_hz)
            for i, (name, modality) in enumerate(zip(rec.channels, rec.channel_modalities))
            if modality in FLAT_MODALITIES}


def _fmt_flat(flat: dict) -> str:
    found = [f"{name} {f['total_s']:.1f} s in {f['count']} run{'s' if f['count'] != 1 else ''}"
             for name, f in flat.items() if f["count"]]
    return "; ".join(found) + " (counted as gaps by quality and measures)" if found else "none"


def _warnings(rec) -> list[str]:
    """Integrity notes the reader recorded (checksum mismatches, repaired timestamps)."""
    out = []
    if rec.metadata.get("checksum_mismatch"):
        out.append("checksum mismatch in " + ", ".join(rec.metadata["checksum_mismatch"])
                   + " (signal file may be corrupt)")
    if rec.metadata.get("repaired_timestamps"):
        out.append(f"{rec.metadata['repaired_timestamps']} corrupt timestamp(s) repaired from the frame counter")
    return out


def _fmt_duration(seconds: float) -> str:
    m, s = divmod(seconds, 60.0)
    h, m = divmod(int(m), 60)
    return f"{seconds:.2f} s ({h}:{m:02d}:{s:04.1f})"


def _fmt_quality(info: dict) -> str:
    if not info["quality"]:
        return info["quality_note"] or "-"
    parts = []
    for modality, q in info["quality"].items():
        if "error" in q:
            parts.append(f"{modality}: failed ({q['error']})")
            continue
        if "mean_quality" in q:
            text = f"{modality} mean {q['mean_quality']:.2f} (min {q.get('min_quality', float('nan')):.2f}"
            if "fraction_usable" in q:
                text += f", usable {100 * q['fraction_usable']:.0f}%"
            if "n_assessed" in q and "n_windows" in q:   # a long record: an even spread of its windows
                text += (f" of {q['n_windows']} windows" if q["n_assessed"] == q["n_windows"] else
                         f" of {q['n_assessed']} windows assessed, spread over all {q['n_windows']}")
            parts.append(text + format_leads(q) + ")")
        else:
            nums = ", ".join(f"{k} {v:.2f}" for k, v in q.items() if isinstance(v, float))
            parts.append(f"{modality}: {nums or q}")
    return "; ".join(parts)


def _fmt_first_time(first_time_s) -> str:
    """A table's time column at its first row (times in biosig count from that row), or "-"."""
    if not first_time_s:
        return "-"
    return f"- (the table's time column reads {first_time_s:g} s at the first row; times here count from it)"


def format_table(info: dict) -> str:
    """A compact aligned block for one record."""
    ann = info["annotations"]
    rows = [
        ("format", info["format"]),
        ("modality", info["modality"]),
        ("fs_hz", f"{info['fs_hz']:g}" + (" (nominal; irregular times)" if info["irregular"] else "")
         + (" (a grid made by the reader, not the file's rate: see resampled)" if info.get("uniform_grid") else "")),
        *([("resampled", _fmt_grid(info["uniform_grid"]))] if info.get("uniform_grid") else []),
        ("samples", f"{info['n_samples']}"),
        ("duration", _fmt_duration(info["duration_s"])),
        ("start", info["start_time"] or _fmt_first_time(info.get("first_time_s"))),
        ("gaps", format_gaps(info["gaps"])),
        *([("flatline", _fmt_flat(info["flat_lines"]))] if info.get("flat_lines") else []),
        ("annotations", "-" if ann is None else f"{ann['count']} ({ann['source']}; {ann['beats']} beats)"),
        ("quality", _fmt_quality(info)),
        *([("hint", format_colour_hint(info["colour_hint"]))] if info.get("colour_hint") else []),
    ] + [("warning", w) for w in info.get("warnings", [])]
    width = max(len(k) for k, _ in rows + [("channels", "")])
    lines = [info["path"]] + [f"  {k:<{width}}  {v}" for k, v in rows]
    chans = [("name", "unit", "modality", "fs_hz")] + [
        (c["name"], c["unit"] or "-", c["modality"], f"{c['fs_hz']:g}") for c in info["channels"]]
    widths = [max(len(r[i]) for r in chans) for i in range(4)]
    for i, row in enumerate(chans):
        label = "channels" if i == 0 else ""
        lines.append(f"  {label:<{width}}  " + "  ".join(f"{v:<{w}}" for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def info_command(args) -> int:
    from biosig.cli._common import ProgressLog, read_options
    from biosig.errors import BiosigError
    from biosig.readers import discover, lib_paths, read

    opts = read_options(args)
    paths = discover(args.paths, bare_tables=args.sample_rate_hz is not None)
    if not paths:
        raise BiosigError(f"no records found under {', '.join(args.paths)} (looked for WFDB headers, EDF, "
                          "audio, marker/spirometry CSV and CSV/Parquet with one time column: t_s, time_ms, ...)")
    results, failed = [], 0
    progress = None
    plain = ProgressLog("info", len(paths))
    if len(paths) > 3 and sys.stderr.isatty():
        from tqdm import tqdm
        progress = tqdm(total=len(paths), unit="rec", leave=False)
    for path in paths:
        try:
            rec = read(path, **opts)
            results.append(summarize(path, rec, quality=not args.no_quality))
            plain.update(True)
        except BiosigError as exc:
            failed += 1
            plain.update(False)
            print(f"biosig info: error: {exc}", file=sys.stderr)
            results.append({"path": path, "error": str(getattr(exc, "problem", exc))})
        if progress is not None:
            progress.update(1)
    if progress is not None:
        progress.close()
    text = json_text.dumps(results, indent=2) if args.json else lib_paths.shown("\n\n".join(
        format_table(r) for r in results if "error" not in r))   # a name with non-UTF-8 bytes: printable
    try:
        if text:
            print(text, flush=True)
    except BrokenPipeError:  # `biosig info ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return (1 if len(results) > failed else 2) if failed else 0   # as embed and score


# ------------------------------------------------------------------ simulate
def _refuse_case_twins(out, companions: tuple[str, ...]) -> None:
    """Refuse (without --force) a WFDB output whose name, or a companion's, exists spelt in another
    case: ``--out REC`` beside an archive's ``REC.HEA``/``REC.DAT`` would write ``REC.hea``, which the
    readers then take for that record (even for ``info REC.HEA``); a case-insensitive file system
    (FAT, macOS, Windows) would overwrite it."""
    import pathlib

    from biosig.errors import BiosigError
    p = pathlib.Path(out)
    names = {p.name} | {p.with_suffix(c).name if p.suffix else p.name + c for c in companions}
    try:
        entries = sorted(os.listdir(p.parent))
    except OSError:   # a folder still to be made, or not listable: nothing there to clash with
        return
    lower = {n.lower() for n in names}
    twins = [str(p.parent / e) for e in entries if e.lower() in lower and e not in names]
    if twins:
        raise BiosigError(f"--out {out}: {', '.join(twins)} already exist{'s' if len(twins) == 1 else ''} (the same "
                          "name in another case: an upper-case WFDB record); give --force to write beside it, "
                          "or another name")


def simulate_command(args) -> int:
    from biosig.errors import BiosigError
    from biosig.modality import MODALITIES
    from biosig.writers import write
    accepted = [m for m in MODALITIES if m != "other"]
    if args.modality.lower() not in accepted:
        raise BiosigError(f"unknown modality {args.modality!r}; expected one of {', '.join(accepted)}")
    args.modality = args.modality.lower()   # ECG as ecg, as info --modality takes it
    try:
        from biosig.synthetic import SPIRO_MIN_SECONDS as spiro_min_s, simulate
    except ImportError as exc:
        raise BiosigError(f"synthetic generators are not available in this build "
                          f"(biosig.synthetic cannot be imported: {exc})") from None
    if not args.out.strip() or args.out.endswith(("/", os.sep)):   # "" was the folder "."; "sims/" wrote sims.hea
        raise BiosigError(f"--out {args.out!r}: {'a folder' if args.out.strip() else 'empty'}; give a file name, "
                          f"e.g. --out {args.out.strip()}rec.csv")
    if args.modality == "spiro" and args.seconds < spiro_min_s:   # a shorter blow held no first second
        raise BiosigError(f"--seconds {args.seconds:g}: a simulated blow starts 0.5 s in and spiro measures its first "
                          f"second; give --seconds {spiro_min_s:g} or more (a whole blow: 10)")
    from biosig.readers.audio import AUDIO_EXTENSIONS
    suffix = os.path.splitext(str(args.out))[1].lower()
    if suffix in AUDIO_EXTENSIONS and args.modality != "audio":   # it would read back as audio / other
        raise BiosigError(f"--out {args.out}: a {suffix} file reads back as sound, not as {args.modality}; "
                          "write .csv, .parquet, .edf or .hea")
    from biosig.outputs import check_output_file
    wfdb = suffix in ("", ".hea", ".dat")   # writes NAME.hea and NAME.dat
    check_output_file(args.out, "--out", replace=args.force, companions=(".hea", ".dat") if wfdb else ())
    if wfdb and not args.force:
        _refuse_case_twins(args.out, (".hea", ".dat"))
    kw = _simulate_params(args.param)
    if args.kind is not None:
        if args.modality != "audio":
            raise BiosigError(f"--kind {args.kind} is for audio, not {args.modality}")
        if "kind" in kw:
            raise BiosigError("--kind and --param kind=...: give one")
        kw["kind"] = args.kind
    synthetic_log = logging.getLogger("biosig.synthetic")   # a long ECG logs its progress at INFO
    synthetic_log.setLevel(min(synthetic_log.getEffectiveLevel(), logging.INFO))
    rec = simulate(args.modality, args.seconds, seed=args.seed, fs_hz=args.fs_hz, **kw)
    padded = (lambda r: "no whole number of EDF data records" not in r.getMessage())   # the read-back check says it:
    logging.getLogger("biosig.writers").addFilter(padded)   # that warning above its error was two lines
    try:
        out = write(rec, args.out)
    finally:
        logging.getLogger("biosig.writers").removeFilter(padded)
    if suffix == ".edf":
        _check_edf_read_back(rec, out)
    print(f"wrote {out}: {rec!r}")
    return 0


def _check_edf_read_back(rec, out) -> None:
    """Read the EDF just written back and refuse (removing it) one that does not hold ``rec``'s samples at its
    rate: EDF stores whole data records of a duration written to 10 us, so some lengths and rates come back padded
    (4.98 s at 33.3 Hz read back as 10 s) or at another rate (7.3 s at 128 Hz as 8 s: no record length of whole
    10 us units holds a whole number of samples that divides 934)."""
    import math

    from biosig.errors import BiosigError
    from biosig.readers import read
    back = read(out)
    same = (back.n_samples == rec.n_samples and back.n_channels == rec.n_channels
            and math.isclose(back.fs_hz, rec.fs_hz, rel_tol=1e-9))
    if same:
        return
    os.remove(out)
    raise BiosigError(f"--out {out}: EDF cannot hold {rec.n_samples} samples at {rec.fs_hz:g} Hz exactly (it reads "
                      f"back as {back.n_samples} samples at {back.fs_hz:.6g} Hz), so it was not kept; give another "
                      "--seconds (a whole number at a whole rate), or write .csv, .parquet or .hea")
