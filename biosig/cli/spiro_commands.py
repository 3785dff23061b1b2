"""``biosig spiro``: ATS/ERS 2019 indices of forced expirations, per blow and per session.

Top-level imports stay light (argparse, json, math): readers, NumPy and matplotlib are imported
inside the handler.
"""
from __future__ import annotations


from biosig import json_text
import math
import sys

#: Table columns: (key in the blow dict, header, format).
_COLUMNS = (("fvc_l", "FVC L", "{:.3f}"), ("fev1_l", "FEV1 L", "{:.3f}"), ("fev1_fvc", "FEV1/FVC", "{:.3f}"),
            ("pef_l_s", "PEF L/s", "{:.2f}"), ("fef25_75_l_s", "FEF25-75 L/s", "{:.2f}"),
            ("fet_s", "FET s", "{:.2f}"), ("bev_ml", "BEV mL", "{:.0f}"), ("t0_s", "t0 s", "{:.3f}"),
            ("acceptable_fev1", "FEV1 ok", "{}"), ("acceptable_fvc", "FVC ok", "{}"))


def not_acceptable_because(ind) -> list[str]:
    """Why a blow (:class:`~biosig.spirometry.SpirometryIndices`) fails ATS/ERS 2019 acceptability,
    one clinician-readable phrase per failed criterion (empty when acceptable): a hesitant start
    (BEV over its limit) and a flow pause in the first second fail FEV1 and FVC, a cough in the first
    second fails FEV1 only, no end of forced expiration and a flow-sensor zero drift
    (:func:`~biosig.spirometry_acceptability.zero_drift_ml_s`) fail FVC only."""
    from biosig.spirometry import FORCED_TPEF_S

    out = []
    if not ind.forced_ok:
        out.append(f"not a forced expiration (peak flow {ind.t_pef_s - ind.t0_s:.2f} s after time zero > "
                   f"{FORCED_TPEF_S:.2f} s: a tidal breath?)")
    if not ind.bev_ok:
        out.append(f"BEV {ind.bev_ml:.0f} mL > {ind.bev_limit_ml:.0f} mL (hesitant start)")
    if not ind.pause_ok:
        out.append(f"flow pause {ind.pause_s:.2f} s in the first second")
    if not ind.cough_ok:
        out.append(f"cough in the first second (flow dips {ind.cough_dip_l_s:.2f} L/s and rises again): FEV1 only")
    if not ind.eofe_ok:
        gained = "" if math.isnan(ind.plateau_ml) else f"+{ind.plateau_ml:.0f} mL in the last 1 s, "
        out.append(f"no end of expiration ({gained}FET {ind.fet_s:.1f} s < 15 s)")
    if not ind.drift_ok and ind.drift_ml_s < 0:   # a negative offset: a steady fall at the end, FVC too small
        out.append(f"the end of the trace reads a constant flow of {ind.drift_ml_s:.0f} mL/s (the volume falling, or "
                   "its rise cut short): flow-sensor zero drift? (FVC too small): FVC only")   # (either rule's reading)
    elif not ind.drift_ok:
        out.append(f"volume rising at a constant {ind.drift_ml_s:.0f} mL/s before the blow and still at its end: "
                   f"flow-sensor zero drift? (FVC about +{ind.drift_ml_s * (ind.t0_s + ind.fet_s):.0f} mL): FVC only")
    return out


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "spiro", help="spirometry indices (FVC, FEV1, PEF, ...) with ATS/ERS 2019 acceptability",
        description="Compute the ATS/ERS 2019 forced-expiration indices of each spirogram "
                    "(volume-time 't_s,volume_ml' or flow-time 't_s,flow_l_s' / 'flow [L/s]' / 'flow [L/min]' "
                    "CSV, or any record with a volume or flow channel): FVC, FEV1, FEV1/FVC, PEF (flow over "
                    "80 ms), FEF25-75, FET, back-extrapolated volume (BEV) and time zero, end of "
                    "forced expiration and acceptability (a hesitant start, a cough or pause in the first "
                    "second, no end of expiration, a flow-sensor zero drift; a flow labelled L/min whose "
                    "blow is too small for a human one is refused: L/s labelled L/min?, and one labelled L/s "
                    "whose blow divided by 60 is a human one: L/min labelled L/s?). Several files are "
                    "the blows of one session: the session's best FVC/FEV1 and the repeatability grade (A-F, U) "
                    "follow. Unreadable files are reported on stderr (and in --json's 'errors') and the "
                    "rest is still computed (exit code 1; 2 when none could be read).")
    p.add_argument("paths", nargs="+", metavar="FILE", help="spirogram files: a blow each, or several blows in a row or in volume columns")
    p.add_argument("--json", action="store_true",
                   help="print JSON ({'blows': [...], 'session': {...}, 'errors': [...]}: 'errors' holds each file or "
                        "blow that could not be measured: path, blow, error_type, message)")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="write a flow-volume and volume-time plot of all blows to this PNG file (an existing "
                        "one is replaced: a plot is remade from the blows)")
    from biosig.cli._common import positive_float
    p.add_argument("--sample-rate-hz", type=positive_float, default=None, metavar="HZ",
                   help="the sampling rate of CSV/TSV/TXT spirograms of bare volume (or flow) values, no time column "
                        "(UK Biobank's field 3066 blows: 100), or the unit of a time column without one; files with "
                        "their own times keep them")
    p.set_defaults(handler=spiro_command)


def _blows(path: str, read_options: dict | None = None) -> list[tuple[dict, object, float, str]]:
    """``[(row, volume_ml, fs_hz, error), ...]``: each blow of a file - each volume (or flow) column,
    and each of the blows recorded one after the other in it (:func:`~biosig.spirometry_end.split_blows`).
    A blow that cannot be measured has its :func:`_failure` row and its error; a file that cannot be read raises."""
    from biosig.errors import BiosigError
    from biosig.readers import read
    from biosig.spirometry import record_volumes_ml, spirometry_indices
    from biosig.spirometry_session import acceptable_fev1, acceptable_fvc
    from biosig.spirometry_acceptability import check_flow_time_volumes
    from biosig.spirometry_end import split_blows

    rec = read(path, **(read_options or {}))
    channels = record_volumes_ml(rec)
    # L/s as L/min or the reverse: spirometry_units.flow_unit_doubt, the rule offline scoring's windows apply too
    check_flow_time_volumes([v for _, v in channels], rec.fs_hz, rec.metadata.get("flow_unit"))
    out = []
    for channel, v in channels:
        segments = split_blows(v, rec.fs_hz)
        for k, (a, b) in enumerate(segments):
            label = path + (f" [{channel}]" if len(channels) > 1 else "") + (f" #{k + 1}" if len(segments) > 1 else "")
            try:
                ind = spirometry_indices(v[a:b], rec.fs_hz)
            except BiosigError as exc:
                out.append((_failure(path, label, exc), v[a:b], rec.fs_hz, f"{label}: {exc}"))
                continue
            row = {"path": path, "blow": label, "channel": channel, "start_s": a / rec.fs_hz,
                   "spirogram": rec.metadata.get("spirogram", "volume-time"), **ind.as_dict(),
                   "acceptable_fev1": acceptable_fev1(ind), "acceptable_fvc": acceptable_fvc(ind),
                   "not_acceptable_because": not_acceptable_because(ind)}
            row["t0_s"] += a / rec.fs_hz       # times from the file's first sample
            row["t_pef_s"] += a / rec.fs_hz
            out.append((row, v[a:b], rec.fs_hz, ""))
    return out


def _failure(path: str, label: str, exc: Exception) -> dict:
    """The ``errors`` entry of ``--json`` for a file or blow that could not be measured: as ``score``'s
    errors.parquet (record, error_type, message), so that a program reading the JSON tells a failed file from one
    never given (the blows' rows hold measured blows only)."""
    return {"path": path, "blow": label, "error_type": type(exc).__name__,
            "message": str(getattr(exc, "problem", None) or exc)}


def _clean(value):
    """JSON-ready: NaN becomes null, NumPy scalars plain Python."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table(blows: list[dict], session: dict | None) -> str:
    head = ["file"] + [h for _, h, _ in _COLUMNS] + ["not acceptable because"]
    rows = [[b["blow"]] + [fmt.format(b[k]) if not (isinstance(b[k], float) and math.isnan(b[k])) else "-"
                           for k, _, fmt in _COLUMNS] + ["; ".join(b["not_acceptable_because"])] for b in blows]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(v.ljust(w) if i in (0, len(head) - 1) else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
             .rstrip() for r in [head] + rows]
    if session:
        def num(key, scale=1.0, fmt="{:.3f}"):
            x = session[key]
            return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x * scale)
        lines += ["", f"session ({session['n_blows']} blows; acceptable: FEV1 {session['n_acceptable_fev1']}, "
                      f"FVC {session['n_acceptable_fvc']})",
                  f"  best FVC {num('fvc_ml', 1e-3)} L, best FEV1 {num('fev1_ml', 1e-3)} L, "
                  f"FEV1/FVC {num('fev1_fvc')}, PEF {num('pef_l_s', fmt='{:.2f}')} L/s",
                  f"  repeatability: FEV1 grade {session['grade_fev1']} (largest two differ by "
                  f"{num('fev1_repeat_ml', fmt='{:.0f}')} mL), FVC grade {session['grade_fvc']} "
                  f"({num('fvc_repeat_ml', fmt='{:.0f}')} mL)"]
    return "\n".join(lines)


def plot_blows(curves: list[tuple[str, object, float]], out: str) -> str:
    """Flow-volume (80 ms flow) and volume-time panels of the blows; returns the file written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from biosig.spirometry import flow_over_window, monotonic_volume

    fig, (ax_fv, ax_vt) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, v, fs in curves:
        vm = monotonic_volume(v)
        ok = np.isfinite(vm)
        t = np.flatnonzero(ok) / fs
        vol = vm[ok] - vm[ok][0]
        flow = flow_over_window(t, vol)
        label = name.rsplit("/", 1)[-1]   # a blow's label: file, [column], #k
        ax_fv.plot(vol / 1000.0, flow, label=label)
        ax_vt.plot(t, vol / 1000.0, label=label)
    ax_fv.set(xlabel="volume [L]", ylabel="flow [L/s]", title="flow-volume (flow over 80 ms)")
    ax_vt.set(xlabel="time [s]", ylabel="volume [L]", title="volume-time")
    for ax in (ax_fv, ax_vt):
        ax.grid(alpha=0.3)
    ax_vt.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def spiro_command(args) -> int:
    from biosig.errors import BiosigError
    from biosig.readers import discover
    from biosig.spirometry import SpirometryIndices
    from biosig.spirometry_session import session_summary

    if args.plot and not args.plot.lower().endswith(".png"):
        raise BiosigError(f"--plot {args.plot!r}: the plot is written as PNG; give a file name ending in .png")
    if args.plot:
        from biosig.outputs import check_output_file
        check_output_file(args.plot, "--plot", (".png",))
    opts = {} if args.sample_rate_hz is None else {"sample_rate_hz": float(args.sample_rate_hz)}
    paths = discover(args.paths, bare_tables=bool(opts))
    if not paths:
        raise BiosigError(f"no spirogram files found under {', '.join(args.paths)} (volume-time 't_s,volume_ml' "
                          "or flow-time 't_s,flow_l_s' CSV, or any record with a volume or flow channel)")
    blows, curves, failures = [], [], []
    for path in paths:
        try:
            found = _blows(path, opts)
        except BiosigError as exc:
            found = [(_failure(path, path, exc), None, 0.0, str(exc) if str(path) in str(exc) else f"{path}: {exc}")]
        for row, v, fs, error in found:
            if error:
                failures.append(row)
                print(f"biosig spiro: error: {error}", file=sys.stderr)
                continue
            blows.append(row)
            curves.append((row["blow"], v, fs))
    fields = SpirometryIndices.__dataclass_fields__
    session = session_summary([SpirometryIndices(**{k: b[k] for k in fields}) for b in blows]) \
        if len(blows) > 1 else None
    if args.json:   # failed files too (an empty "blows" where none could be read), in the order given
        doc = {"blows": [{k: _clean(v) for k, v in b.items()} for b in blows],
               "session": None if session is None else {k: _clean(v) for k, v in session.items()},
               "errors": failures}
        print(json_text.dumps(doc, indent=2))
    if not blows:
        return 2
    if not args.json:
        print(_table(blows, session))
    if args.plot:
        try:
            plot_blows(curves, args.plot)
        except OSError as exc:
            raise BiosigError(f"--plot {args.plot}: cannot write the file ({exc.strerror or exc})") from None
        print(f"wrote {args.plot}", file=sys.stderr)
    return 1 if failures else 0   # as embed and score (none read: 2, above)
