"""What ``biosig probe`` prints: the header's class counts and CV kind, the label values counted as
negatives, the bootstrap resamples left out, and the --by-label breakdown (split from
:mod:`biosig.cli.probe_commands`, shared with :mod:`biosig.cli.probe_baselines`)."""
from __future__ import annotations


def cv_kind(groups) -> str:
    """The folds' kind as the header line says it (with the number of groups when grouped)."""
    return f"stratified grouped ({len(set(groups))} groups)" if groups is not None else "stratified"


def by_label(args, probas: dict, pairs: list, y, values: list, groups=None) -> dict:
    """:func:`encoders.probe_subgroups.subgroup_table` of the rows' out-of-fold predictions ``probas``
    (those of the tables above) over the label values of the negatives, re-weighted to --mix."""
    from biosig.errors import BiosigError
    from encoders.errors import EncoderError
    from encoders.probe_subgroups import subgroup_table
    try:
        return subgroup_table(probas, y, values, pairs, args.mix, "re-weighted (--mix)", n_boot=args.bootstrap,
                              seed=args.seed, groups=groups)
    except EncoderError as exc:
        raise BiosigError(f"{'--mix' if args.mix else '--by-label'}: {exc}") from None


def print_by_label(table, args) -> None:
    if table is None or args.json:
        return
    from encoders.probe_subgroups import format_subgroup_rows, mix_text
    mix = ", and all records with the negatives re-weighted to " + mix_text(args.mix) if args.mix else ""
    print(f"# by label: the same out-of-fold predictions, {args.positive} against each other label (n){mix}; "
          "then differences [95% paired bootstrap CI]")
    for row in format_subgroup_rows(table):
        print(row)


def classes_text(y, positive) -> str:
    """The classes with their record counts: ``A (50) vs rest (150)`` for ``--positive A``."""
    import numpy as np
    values, counts = np.unique(np.asarray(y), return_counts=True)
    if positive is not None:
        n = dict(zip(values.tolist(), counts.tolist()))
        return f"{positive} ({n.get(1, 0)}) vs rest ({n.get(0, 0)})"
    return "classes " + ", ".join(f"{v} ({c})" for v, c in zip(values.tolist(), counts.tolist()))


def print_rest(values, positive) -> None:
    """Under --positive, the label values counted as the negatives (``rest: N 50, O 50, ~ 50``): a
    misspelt positive (``AF`` among ``A``) or a stray value is a negative, and is seen here."""
    if positive is None:
        return
    from collections import Counter
    rest = Counter(v for v in values if v != str(positive))
    print("rest: " + ", ".join(f"{v} {n}" for v, n in sorted(rest.items())))


def class_names(positive) -> dict | None:
    """{class: name} of the 0 / 1 classes of ``--positive`` (for messages), None without it."""
    return None if positive is None else {1: str(positive), 0: f"non-{positive}"}


def with_class_names(row: dict, positive) -> dict:
    """A result row with ``positive`` (the --positive label) and ``class names`` (those of its
    ``classes``, 0 / 1 under --positive: ``["rest", "A"]``) added."""
    if positive is None:
        return row
    names = {"0": "rest", "1": str(positive)}
    return {**row, "positive": str(positive), "class names": [names.get(c, c) for c in row["classes"]]}


def print_bootstrap(row: dict) -> None:
    """Say how many bootstrap resamples were left out of the intervals (they lacked a class), when any:
    the intervals rest on the others (:func:`encoders.probe_metrics.bootstrap_metrics`)."""
    boot = row.get("bootstrap") or {}
    if boot.get("left out"):
        n, out = boot["resamples"], boot["left out"]
        print(f"bootstrap: {out} of {n} resamples held no record of some class and are left out; "
              f"the 95% CIs rest on the other {n - out}")
