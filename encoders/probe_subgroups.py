"""A probe's out-of-fold predictions read per kind of negative, and re-weighted to another class mix.

An AUROC of "AF vs the rest" averages how well the positives are told from EACH kind of negative
(CinC 2017: normal rhythm, other rhythms, noisy records) in the proportions of the set at hand.
The shared CinC 2017 subset holds 50 records of each class; the challenge's training set holds
N 5050, O 2456 and ~ 284 against 738 AF. A feature set that wins mostly against noisy records wins
far less on a set of that mix, so a result on the balanced subset can overstate what a held-out
set will show. :func:`subgroup_table` makes this visible without refitting anything: the same
out-of-fold predictions are scored on the positives against each kind of negative, and on the
whole set with every negative weighted so that the kinds have the proportions of ``mix``
(:func:`mix_weights`), each with paired bootstrap CIs for chosen differences.
"""
from __future__ import annotations

import numpy as np

from encoders.errors import EncoderError
from encoders.probe import interval
from encoders.probe_metrics import Resampler, weighted_auroc

# the negatives of the 8528-record CinC 2017 training set (AF: 738), as its REFERENCE.csv is widely
# cited; the first release (N 5154, O 2557, ~ 46) and the revised labels differ by a few percent, and
# noisy records are a small share in every version (0.5-3.3 % of the records)
CINC2017_MIX = {"N": 5050, "O": 2456, "~": 284}


def mix_text(mix: dict, sep: str = ", ") -> str:
    """``N 5050, O 2456, ~ 284``: a class mix as the tables and messages print it."""
    return sep.join(f"{k} {v:g}" for k, v in mix.items())


def _binary(probas: dict, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    classes = next(iter(probas.values()))[0]
    if len(classes) != 2:
        raise EncoderError(f"a breakdown by kind of negative needs two classes, got {len(classes)}")
    return y == classes[1]


def mix_weights(is_positive: np.ndarray, subgroups, mix: dict) -> np.ndarray:
    """One weight per record: 1 for a positive; ``mix[c] / (negatives of kind c here)`` for a negative
    of kind ``c``, so that the kinds of negative weigh as in ``mix``. A kind of ``mix`` absent here
    simply weighs nothing; a negative whose kind is not in ``mix`` is an error (never guessed)."""
    pos = np.asarray(is_positive, dtype=bool)
    sub = np.asarray([str(s) for s in subgroups])
    if len(sub) != len(pos):
        raise EncoderError(f"{len(sub)} subgroups for {len(pos)} records")
    w = np.ones(len(pos))
    unknown = sorted(str(k) for k in set(sub[~pos]) - set(mix))
    if unknown:
        raise EncoderError(f"negatives of kind {', '.join(map(repr, unknown))} have no share in the mix "
                           f"({mix_text(mix)})")
    for c, share in mix.items():
        m = ~pos & (sub == c)
        if m.any():
            w[m] = float(share) / m.sum()
    return w


def subgroup_table(probas: dict, y, subgroups, pairs, mix: dict | None = None, mix_name: str = "mix",
                   n_boot: int = 1000, seed: int = 0, groups=None) -> dict:
    """AUROC per column for every ``{name: (classes, out-of-fold proba)}`` of a two-class probe, and
    ``a - b`` with a 95 % paired bootstrap CI for every ``(a, b)`` of ``pairs``.

    Columns: ``"all"`` (the set as it is), ``"vs <kind>"`` for each kind of negative (the positives
    and the negatives of that kind only; kinds in order of first appearance, or of ``mix``), and,
    with ``mix``, ``mix_name``: the whole set re-weighted by :func:`mix_weights`. Returns
    ``{column: {"n_positive", "n_negative", "auroc": {name: value}, "diff": {"a - b": {"value",
    "ci_low", "ci_high"}}, "bootstrap": {"resamples", "left out"}}}``; no probe is refitted. The
    bootstrap resamples the records of each column (``seed``; the same resamples for every name, so
    the differences are paired), or with ``groups`` (one id per record, e.g. the patient) the groups
    of the column's records, whole (:class:`encoders.probe_metrics.Resampler`); in the re-weighted
    column a resampled record keeps the weight it has in the whole set. A resample without a
    positive or without a negative has no AUROC: it is left out and counted (``"left out"``); a
    column with more than half of its resamples left out is an :class:`EncoderError`, as in
    :func:`encoders.probe_metrics.bootstrap_metrics`.
    """
    pos = _binary(probas, y)
    sub = np.asarray([str(s) for s in subgroups])
    if len(sub) != len(pos):
        raise EncoderError(f"{len(sub)} subgroups for {len(pos)} records")
    kinds = list(dict.fromkeys(sub[~pos]))
    if mix:
        kinds = [k for k in mix if k in kinds] + [k for k in kinds if k not in mix]
    columns = {"all": (np.ones(len(pos), bool), None)}
    for k in kinds:
        columns[f"vs {k}"] = (pos | (sub == k), None)
    if mix:
        columns[mix_name] = (np.ones(len(pos), bool), mix_weights(pos, sub, mix))
    rng = np.random.default_rng(seed)
    out = {}
    for col, (keep, w) in columns.items():
        idx = np.flatnonzero(keep)
        p_col, w_col = pos[idx], (np.ones(len(idx)) if w is None else w[idx])
        scores = {name: p[idx, 1] for name, (_, p) in probas.items()}
        point = {name: weighted_auroc(p_col, sc, w_col) for name, sc in scores.items()}
        boots = {name: [] for name in scores}
        resampler = Resampler(len(idx), None if groups is None else np.asarray(groups)[idx])
        missed = np.zeros(2, dtype=np.int64)   # resamples without a negative, without a positive
        for _ in range(n_boot):
            i = resampler.draw(rng)
            lacking = np.array([p_col[i].all(), not p_col[i].any()])
            if lacking.any():
                missed += lacking
                continue
            for name, sc in scores.items():
                boots[name].append(weighted_auroc(p_col[i], sc[i], w_col[i]))
        left_out = int(n_boot - len(next(iter(boots.values()))))
        if left_out > n_boot / 2:
            _refuse(col, left_out, n_boot, missed, p_col, groups is not None)
        diff = {}
        for a, b in pairs:
            lo, hi = interval(np.asarray(boots[a]) - np.asarray(boots[b]))
            diff[f"{a} - {b}"] = {"value": point[a] - point[b], "ci_low": lo, "ci_high": hi}
        out[col] = {"n_positive": int(p_col.sum()), "n_negative": int((~p_col).sum()), "auroc": point,
                    "diff": diff, "bootstrap": {"resamples": int(n_boot), "left out": left_out}}
    return out


def _refuse(col: str, left_out: int, n_boot: int, missed: np.ndarray, p_col: np.ndarray, grouped: bool):
    """The error of a column whose resamples mostly lack a class (as :func:`encoders.probe_metrics.
    bootstrap_metrics` refuses the whole set's): its intervals would describe the few left."""
    what = ("negatives", int((~p_col).sum())) if missed[0] >= missed[1] else ("positives", int(p_col.sum()))
    raise EncoderError(f"{left_out} of {n_boot} bootstrap resamples of column '{col}' hold no record of some class "
                       f"(its {what[1]} {what[0]} are missing from {int(missed.max())}): confidence intervals from "
                       "the few left would not describe the data set; give more records of the rare classes"
                       + (" (or more groups)" if grouped else ""))


def format_subgroup_rows(table: dict, width: int = 36) -> list[str]:
    """The table as text rows: AUROC per feature set and column, then the differences with CIs."""
    cols = list(table)
    head = [f"{c} ({table[c]['n_positive']} vs {table[c]['n_negative']})" if c == "all"
            else c if not c.startswith("vs ") else f"{c} ({table[c]['n_negative']})" for c in cols]
    rows = [f"{'features':{width}s} | " + " | ".join(f"{h:23s}" for h in head)]
    for name in table[cols[0]]["auroc"]:
        rows.append(f"{name:{width}s} | " + " | ".join(f"{table[c]['auroc'][name]:<23.3f}" for c in cols))
    for pair in table[cols[0]]["diff"]:
        cells = []
        for c in cols:
            d = table[c]["diff"][pair]
            cells.append(f"{d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
        rows.append(f"{pair:{width}s} | " + " | ".join(f"{x:23s}" for x in cells))
    for c in cols:   # as the probe's own line says it (biosig.cli.probe_report.print_bootstrap)
        boot = table[c].get("bootstrap") or {}
        if boot.get("left out"):
            n, out = boot["resamples"], boot["left out"]
            rows.append(f"bootstrap ({c}): {out} of {n} resamples held no record of some class and are left out; "
                        f"the 95% CIs rest on the other {n - out}")
    return rows
