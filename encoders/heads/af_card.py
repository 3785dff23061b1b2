"""The model card of a shipped AF head (:mod:`encoders.heads.train_af` writes it next to ``head.json``)."""
from __future__ import annotations

import numpy as np

from encoders.heads import train as T
from encoders.heads.af_recipe import BASELINE_FEATURE, C, CINC2017_AF_RECORDS, PREVALENCES, WINDOW_S


def sweep_table(sweep) -> list[str]:
    rates = sorted({r["hr_bpm"] for r in sweep})
    cell = {(r["rhythm"], r["hr_bpm"]): r for r in sweep}
    fmt = lambda r: "-" if r["median"] is None else f"{r['median']:.2f} ({r['above_half']:.0%})"  # noqa: E731
    return ["| rhythm | " + " | ".join(f"{h} /min" for h in rates) + " |", "|---|" + "---|" * len(rates),
            *[f"| {rh} | " + " | ".join(fmt(cell[rh, h]) for h in rates) + " |" for rh in ("sinus", "af")],
            *[f"| {rh}: windows withheld | " + " | ".join(f"{cell[rh, h]['withheld']:.0%}" for h in rates)
              + " |" for rh in ("sinus", "af")]]


def rate_limits(head, rates, sweep) -> list[str]:
    """The card's Limits lines that come from :func:`rate_subgroups` and :func:`rate_sweep`."""
    def band(lo, hi):
        return f"{lo:g}+ /min" if hi == np.inf else f"{lo:g}-{hi:g} /min"

    by_rate = "; ".join(f"{band(*r['hr_bpm'])}: {r['sens_at_95_spec']:.2f} ({r['n']} records)"
                        for r in rates if r["sens_at_95_spec"] is not None)
    lines = [f"- Heart rate is one of the features (`hr_bpm`, coefficient {head.coef[head.features.index('hr_bpm')]:+.2f} "
             "on its standardised value): a faster rhythm reads as more likely AF. Out of fold, sensitivity at "
             f"95 % specificity by the AF record's mean heart rate: {by_rate}."
             + (" AF with a controlled ventricular rate scores lower than fast AF." if head.modality == "ecg" else "")]
    sinus = [r for r in sweep if r["rhythm"] == "sinus"]
    slowest = min(sinus, key=lambda r: r["hr_bpm"]) if sinus else None
    if slowest and slowest["above_half"]:
        hr = slowest["hr_bpm"]
        lines.append(f"- Slow rhythms: a {WINDOW_S:g} s window at {hr} /min holds about {int(hr * WINDOW_S / 60) - 1} "
                     f"intervals, too few for stable statistics: {slowest['above_half']:.0%} of the synthetic sinus "
                     f"windows at {hr} /min are above 0.5 (table above); read the running mean.")
    withheld = {rh: float(np.mean([r["withheld"] for r in sweep if r["rhythm"] == rh])) for rh in ("af", "sinus")}
    if withheld["af"] > withheld["sinus"] + 0.02:
        lines.append(f"- Quality gating costs AF windows: {withheld['af']:.0%} of the synthetic AF windows are withheld "
                     f"against {withheld['sinus']:.0%} of the sinus ones (table above). Template "
                     "matching (`biosig.quality`) compares each beat with the window's average beat, and in AF a "
                     "weak beat after a short interval, overlapped by the next one, matches it poorly; the "
                     "remaining windows still carry the AF.")
    return lines


def kind_lines(table) -> list[str]:
    """The card's by-kind section (:func:`by_kind`), or nothing."""
    if table is None:
        return []
    cols = list(table)
    head = ["all records" if c == "all" else f"AF vs {c[3:]}" if c.startswith("vs ") else c for c in cols]
    cell = lambda d: f"{d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"   # noqa: E731
    from encoders.probe_subgroups import CINC2017_MIX, mix_text
    return ["## By kind of negative, and at the challenge's class mix", "",
            "The same out-of-fold record probabilities, scored on the AF records against each kind of negative "
            f"and on all records with the negatives re-weighted to the CinC 2017 training set ({mix_text(CINC2017_MIX, ' : ')}"
            "; this subset has 50 of each, `encoders.probe_subgroups`). AUROC; the difference has a paired "
            "95 % bootstrap CI.", "",
            "| | " + " | ".join(head) + " |", "|---" * (len(cols) + 1) + "|",
            "| records (AF vs the negatives) | " + " | ".join(f"{table[c]['n_positive']} vs {table[c]['n_negative']}"
                                                          for c in cols) + " |",
            "| **head** | " + " | ".join(f"**{table[c]['auroc']['head']:.3f}**" for c in cols) + " |",
            f"| baseline: mean `{BASELINE_FEATURE}` | " + " | ".join(f"{table[c]['auroc']['baseline']:.3f}" for c in cols)
            + " |",
            "| head - baseline | " + " | ".join(cell(table[c]["diff"]["head - baseline"]) for c in cols) + " |", ""]


def prevalence_lines(head, check: dict | None = None) -> list[str]:
    """The card's section on reading the probability at another prevalence (:meth:`Head.at_prevalence`)."""
    shown = (0.1, 0.3, 0.5, 0.7, 0.9)
    prior, m = head.training_prevalence, head.metrics
    return ["## At another prevalence", "",
            f"`{head.output}` is calibrated to the records it was fitted on: the {m['n_fit_records']} of "
            f"{m['n_records']} training records with a usable window (each counting once), {prior:.1%} of them AF. "
            "Among records with fewer AF the same measurements mean less: by Bayes' rule with the measures' "
            "likelihood ratio unchanged, a probability p read at prevalence q is "
            f"p k / (p k + 1 - p), k = [q / (1 - q)] / [{prior:.4g} / {1 - prior:.4g}] "
            "(`encoders.heads.train.prior_shift`; the ranking, hence the AUROC, does not change):", "",
            f"| {head.output} as fitted | " + " | ".join(f"{v:g}" for v in shown) + " |",
            "|---" * (len(shown) + 1) + "|",
            *[f"| at {q:.1%} ({what}) | " + " | ".join(f"{x:.2f}" for x in T.prior_shift(shown, prior, q)) + " |"
              for q, what in PREVALENCES], "",
            f"`serve --af-prevalence Q`, `score --af-prevalence Q` and `embed --af-prevalence Q` publish `{head.output}` "
            f"read at Q (a share, 0.087 for 8.7 %), under the head id `{head.head_id}@prevalence=Q`; without the "
            "option they publish it as fitted.", "", *mix_check_lines(head, check)]


def mix_check_lines(head, check: dict | None) -> list[str]:
    """The card's lines on :func:`mix_calibration` (none without it)."""
    from encoders.probe_subgroups import CINC2017_MIX, mix_text
    if check is None:
        return []
    return ["Checked on the out-of-fold record probabilities (CV seed 0) of the covered records, re-weighted to "
            f"the CinC 2017 training set's classes (AF {CINC2017_AF_RECORDS}, {mix_text(CINC2017_MIX)}; "
            f"`encoders.heads.train_af.mix_calibration`). There {check['observed']:.1%} of the covered records are AF:", "",
            f"| {head.output} | mean over records | Brier |", "|---|---|---|",
            *[f"| {name} | {mean:.3f} | {brier:.4f} |" for name, mean, brier in check["rows"]],
            f"| observed AF share | {check['observed']:.3f} | - |", "",
            "Read at the right prevalence the probability is much closer on average than as fitted, but not exact: "
            "Bayes' rule assumes the measures of AF and of non-AF records are distributed as in training, and at "
            "this mix the negatives are mostly normal rhythms (easier to tell from AF than the shared subset's "
            "other rhythms and noisy records), so the moved probability comes out somewhat low.", ""]


def card(head, m, base, rel, folds, names, y, oof, rates=(), sweep=(), kinds=None, check=None) -> str:
    ci = lambda t: f"[{t[0]:.3f}, {t[1]:.3f}]"  # noqa: E731
    lines = [
        f"# Head `{head.name}` v{head.version}: atrial fibrillation probability ({head.modality.upper()})", "",
        f"- **Output**: `{head.output}`, probability of AF for one {WINDOW_S:g} s window; the stream "
        "publishes it and its mean over the last N windows (`smoothed`), `score` writes it per window and "
        "its mean over usable windows per record (`af_prob` in records.parquet).",
        "- **Model**: L2-regularised logistic regression (C = %g, scikit-learn), standardised features, "
        "windows weighted so every record counts once." % C,
        f"- **Inputs**: window measures only (no embedding, `encoder_id: null`): {', '.join(head.features)} "
        f"(see `biosig/measures_hrv.py`{', `biosig/measures_atrial.py`' if 'p_wave_consistency' in head.features else ''}). "
        "Only windows whose quality passes the modality threshold are scored.",
        f"- **Training data**: {head.training}", "",
        "## Cross-validated performance (out of fold, per record)", "",
        f"{folds}-fold stratified CV by record (no record in both train and test). Records with no usable window "
        f"(coverage {m['coverage']:.1%}) get the training prevalence as their probability and are included.", "",
        "| model | AUROC (95 % bootstrap CI) | sensitivity at 95 % specificity (95 % CI) | Brier |",
        "|---|---|---|---|",
        f"| baseline: mean `{BASELINE_FEATURE}` | {base['auroc']:.3f} {ci(base['auroc_ci95'])} | "
        f"{base['sens_at_95_spec']:.3f} {ci(base['sens_at_95_spec_ci95'])} | - |",
        f"| **{head.name}** | **{m['auroc']:.3f}** {ci(m['auroc_ci95'])} | {m['sens_at_95_spec']:.3f} "
        f"{ci(m['sens_at_95_spec_ci95'])} | {m['brier']:.3f} (prevalence-only: {m['brier_prevalence_baseline']:.3f}) |",
        "", f"AUROC over CV seeds 0-2: {', '.join(f'{a:.3f}' for a in m.get('auroc_over_cv_seeds', []))}; "
        f"AUROC on covered records only: {m['auroc_covered']:.3f}.", "",
        "## Calibration (reliability, out of fold)", "", "![reliability](reliability.png)", "",
        f"Records without a usable window carry the prevalence {float(np.mean(y)):.2f} and sit in its bin.", "",
        "| predicted bin | records | mean predicted | observed AF |", "|---|---|---|---|",
        *[f"| {r['bin']} | {r['n']} | {r['mean_pred']:.2f} | {r['observed']:.2f} |" for r in rel], "",
        *prevalence_lines(head, check),
        *kind_lines(kinds),
        "## By heart rate, on SYNTHETIC records (no smoothing)", "",
        f"Median window `af_prob` and, in brackets, the share of usable {WINDOW_S:g} s windows above 0.5, on "
        "`biosig.synthetic` sinus and AF (RR CV 0.15) records, 2 x 60 s per cell "
        "(`encoders.heads.train_af.rate_sweep`). The stream publishes the mean of the last 5 windows too.", "",
        *sweep_table(sweep), "",
        "## Limits", "",
        ("- Rhythm is judged from beat-to-beat intervals and from whether a P wave of constant shape precedes "
         "the beats (`p_wave_consistency`, 250-60 ms before each R peak): frequent ectopy and flutter with "
         "variable block still raise the probability, low-amplitude or noisy P waves read as absent."
         if "p_wave_consistency" in head.features else
         "- Rhythm is judged from beat-to-beat intervals only: other irregular rhythms (frequent ectopy, "
         "flutter with variable block) raise the probability; regular AF (rare) lowers it."),
        "- Beat detection needs >= 4 beats in a usable window; noisy windows are not scored (missing with reason).",
        f"- No probability for a window shorter than {head.min_window_s:g} s, the shortest it was fitted on (a "
        f"recording shorter than {WINDOW_S:g} s is one window of its own length; a window with a gap, NaN or a flat "
        "line of 1 s or more, counts as long as its longest run without one): `af_prob` is empty there, the "
        "measures are still written." if head.min_window_s else "",
        *rate_limits(head, rates, sweep),
        "",
        "Data: Clifford et al., AF classification from a short single lead ECG recording: the PhysioNet/Computing "
        "in Cardiology Challenge 2017; Goldberger et al., PhysioBank, PhysioToolkit, and PhysioNet, Circulation 2000 "
        "(ODC-BY)." if head.modality == "ecg" else
        "Data: synthetic only (biosig.synthetic); the head's performance on real PPG is unknown. Synthetic AF "
        "and sinus PPG are easy to tell apart (the one-feature baseline separates them too): this head shows "
        "the PPG path end to end, it is not a validated AF detector.", "",
        f"Reproduce: `python -m encoders.heads.train_af {head.modality} "
        f"{'--data ../shared/data/cinc2017 ' if head.modality == 'ecg' else ''}--out encoders/heads/{head.name}`", ""]
    return "\n".join(lines)
