"""``biosig probe --baseline``: handcrafted and random-weight features of the recordings behind the
embeddings, probed on the same records and folds with paired bootstrap CIs (split from
:mod:`biosig.cli.probe_commands`). A baseline that cannot be computed on these recordings (HRV of
a cough, spirometry of an ECG) is one line naming the baseline, the recordings' modality and the
baselines that fit them, said before any feature is computed."""
from __future__ import annotations

import logging

from biosig import json_text
from biosig.audio_band import band_text
from biosig.cli.probe_report import (by_label, class_names, classes_text, cv_kind, print_bootstrap, print_by_label,
                                     print_rest, with_class_names)

log = logging.getLogger(__name__)

#: The recordings each handcrafted baseline is made for (hrv: R-R intervals; ibi: pulse or beat
#: intervals; mfcc: sound; spirometry: ATS/ERS indices of a blow).
BASELINE_MODALITIES = {"hrv": ("ecg",), "ibi": ("ppg", "ecg"), "mfcc": ("audio",), "spirometry": ("spiro",)}


def probe_with_baselines(args, emb, keys, kept, X, y, groups, values) -> int:
    """Baseline features on the records behind the embeddings, same folds, paired CIs."""
    from biosig.cli._common import ProgressLog, free_cores
    from biosig.errors import BiosigError, ReadError
    from biosig.readers import record_exists
    from encoders.baselines import undefined_rows
    from encoders.embeddings_file import read_provenance
    from encoders.errors import EncoderError
    from encoders.probe_features import MAX_DEFAULT_JOBS, FeatureSpec, RecordFile, all_features
    from encoders.probe import compare, compare_combined, cv_folds, format_C, format_rows
    from encoders.probe_labels import record_key
    folds = cv_folds(y, args.folds, args.seed, groups, class_names(args.positive))   # said before any feature
    prov = read_provenance(args.embeddings)   # what made the embeddings: model, window, read options
    model = args.model or prov.get("model")
    if "random" in args.baseline and model is None:
        raise BiosigError(f"--baseline random needs --model NAME|DIR (the architecture): {args.embeddings} does "
                          "not say which model made it (written before biosig embed recorded that)")
    window_s = _embeddings_window_s(prov, emb) if "random" in args.baseline else None
    read_options = prov.get("read_options") or {}
    src = {}
    for s in emb["source"].to_list():
        src.setdefault(record_key(s), s)
    records = [RecordFile(src[keys[i]], read_options) for i in kept]   # read where used, one at a time
    try:
        first = records[0].load() if records else None
    except BiosigError as exc:
        raise BiosigError(f"--baseline needs the recordings behind the embeddings: {exc}") from None
    except TypeError as exc:   # read options of a newer biosig than this one
        raise BiosigError(f"{args.embeddings}: read options {read_options} are not understood here ({exc})") from None
    missing = [r.path for r in records if not record_exists(r.path)]
    if missing:   # said before minutes of features, not after
        raise BiosigError(f"--baseline needs the recordings behind the embeddings: {len(missing)} of {len(records)} "
                          f"are not there, e.g. {missing[0]} (run probe where biosig embed ran, or with the "
                          "same relative paths)")
    modality = first.modality if first is not None else None
    try:   # a baseline these recordings cannot give is said before any feature (and any warning)
        if first is not None:
            _check_fits(args, first, records[0].path, model, prov, window_s)
    except EncoderError as exc:   # the architecture of --baseline random is not here
        if args.model is None:
            raise BiosigError(f"{exc} (the model {args.embeddings} was made with; give --model NAME|DIR)") from None
        raise
    if "random" in args.baseline and args.model and prov.get("model") and \
            args.model not in (prov["model"], prov.get("model_id")):
        log.warning("--model %s: the embeddings were made by %s (%s); the random-weight row is %s's architecture "
                    "on their %s s windows", args.model, prov["model"], prov.get("model_id", "?"), args.model,
                    f"{window_s:g}" if window_s else "?")
    band = _audio_band_hz(args, prov, records, model, window_s, read_options)
    ours = "embeddings"
    feats = {ours: X[kept]}
    specs = {}
    rows = {}   # each handcrafted kind's row: "mfcc 0-1800 Hz" with --mfcc-fmax-hz
    for kind in dict.fromkeys(args.baseline):
        if kind == "random":
            named = "" if band is None else f" {band_text(band)}"   # "random seed 0 0-1800 Hz"
            specs.update({f"random seed {seed}{named}": FeatureSpec("random", model, seed, window_s=window_s,
                                                                     min_quality=args.min_quality, fmax_hz=band)
                          for seed in dict.fromkeys(args.random_seed)})
        else:
            if modality and modality not in BASELINE_MODALITIES[kind]:   # computable, but not what it is for
                log.warning("--baseline %s is a baseline for %s recordings; these are %s (the usual one: %s)", kind,
                            " / ".join(BASELINE_MODALITIES[kind]), modality,
                            ", ".join(k for k, m in BASELINE_MODALITIES.items() if modality in m) or "random")
            fmax_hz = None
            if kind == "mfcc":   # its own --mfcc-fmax-hz, else the band of the other rows
                fmax_hz = band if args.mfcc_fmax_hz is None else _mfcc_fmax_hz(args, records, read_options)
            rows[kind] = kind if fmax_hz is None else f"{kind} 0-{fmax_hz:g} Hz"
            specs[rows[kind]] = FeatureSpec(kind, model, modality=modality, fmax_hz=fmax_hz)
    # default: the free cores, at most 8 (each worker holds torch and a model: ~0.3-0.5 GB) and one per
    # 25 records (a worker takes seconds to start; a small set is done sooner in this process)
    jobs = args.jobs or max(1, min(free_cores(), MAX_DEFAULT_JOBS, len(records) // 25))
    try:
        raw = all_features(specs, records, jobs, lambda what, n: ProgressLog(f"probe --baseline {what}", n, bar=True))
    except BiosigError as exc:
        if isinstance(exc, ReadError):
            raise BiosigError(f"--baseline needs the recordings behind the embeddings: {exc}") from None
        if "random" in args.baseline and args.model is None and isinstance(exc, EncoderError):
            raise BiosigError(f"{exc} (the model {args.embeddings} was made with; give --model NAME|DIR)") from None
        raise
    import numpy as np

    from biosig.record import names_text
    for name, F in raw.items():
        F, n_bad = undefined_rows(F)
        if n_bad:   # named (the count alone left a user to find them by hand): a record too short for HRV, say
            bad = [keys[kept[i]] for i in np.flatnonzero(np.isnan(F).any(axis=1))]
            log.warning("--baseline %s: %d record(s) had undefined features (imputed with the training folds' "
                        "median): %s", name, n_bad, names_text(bad, most=5))
        feats[name] = F
    probas = {}   # the out-of-fold predictions of every row, for --by-label
    res = compare(feats, y, folds, reference=ours, n_boot=args.bootstrap, seed=args.seed, C=args.C, groups=groups,
                  probas_out=probas, class_names=class_names(args.positive))
    combined = {}
    pairs = [(ours, name) for name in feats if name != ours]   # --by-label: ours - each row, each fusion - its kind
    if args.combined:   # handcrafted + embeddings (reference) vs the handcrafted features alone
        for kind in dict.fromkeys(rows[k] for k in args.baseline if k != "random"):
            names = {"concatenated": f"{kind} + embeddings", "late fusion": f"{kind} + embeddings (late fusion)"}
            controls = {f"{kind} + {name} (late fusion)": feats[name]   # the random-weight rows, fused the same way
                        for name in feats if name.startswith("random seed ")}
            added = compare_combined(kind, feats[kind], feats[ours], names, y, folds, controls, n_boot=args.bootstrap,
                                     seed=args.seed, C=args.C, groups=groups, probas_out=probas,
                                     class_names=class_names(args.positive))
            combined.update({names[how]: r for how, r in added.items()})
            pairs += [(names["late fusion"], kind), (names["concatenated"], kind)]
    table = None
    if args.by_label:
        rows = list(feats) + list(combined)
        table = by_label(args, {name: probas[name] for name in rows}, pairs, y, values, groups)
    if args.json:
        extra = {"by label": table} if table is not None else {}
        named = {k: with_class_names(r, args.positive) for k, r in res.items()}
        named.update({f"combined: {k}": {name: with_class_names(r, args.positive) for name, r in v.items()}
                      for k, v in combined.items()})
        print(json_text.dumps({**named, **extra}))
        return 0
    kind = cv_kind(groups)
    made_by = (f" ({prov['model_id']}{', random weights' if prov.get('random_weights') else ''}"
               + (f", window {prov['window_s']:g} s" if prov.get("window_s") else "")
               + (f", {band_text(prov['audio_fmax_hz'])}" if prov.get("audio_fmax_hz") else "") + ")") \
        if prov.get("model_id") else ""
    print(f"{len(y)} records, {classes_text(y, args.positive)}, {len(folds)}-fold {kind} CV; "
          f"ours = {args.embeddings}{made_by}")
    print_rest(values, args.positive)
    for row in format_rows(res, ours):
        print(row)
    for both, r in combined.items():
        print(f"# {both} vs {both.split(' + ')[0]} alone (ours = {both})")
        for row in format_rows(r, both):
            print(row)
    print("C per fold: " + "; ".join(f"{name} {format_C(r['C'])}" for name, r in res.items()))
    print_bootstrap(res[ours])   # the same resamples for every row
    print_by_label(table, args)
    return 0


def _mfcc_fmax_hz(args, records, read_options: dict) -> float | None:
    """``--mfcc-fmax-hz``: as given, None (8 kHz), or for ``common`` the band every recording's rate
    holds, the rates read from the files' headers (:func:`biosig.audio_band.set_fmax_hz`, the rule of
    :func:`encoders.baselines.mfcc_common_fmax_hz`; the MFCCs are of the sound at 16 kHz)."""
    from biosig.audio_band import set_fmax_hz
    return set_fmax_hz(args.mfcc_fmax_hz, [r.path for r in records], read_options, 16000.0, flag="--mfcc-fmax-hz")


def _audio_band_hz(args, prov: dict, records, model, window_s, read_options: dict) -> float | None:
    """The band of the random-weight rows (and of the mfcc row without --mfcc-fmax-hz): ``--audio-fmax-hz``
    (``common``: from the recordings' headers, :func:`biosig.audio_band.set_fmax_hz`), else the band embed
    recorded for the embeddings; a band other than the embeddings' is said (the rows then differ by more
    than the weights)."""
    from biosig.audio_band import band_text, check_audio_model, set_fmax_hz
    made_on = prov.get("audio_fmax_hz")
    fs_hz = 16000.0   # the mfcc row's rate (encoders.baselines.mfcc_features)
    if "random" in args.baseline and (args.audio_fmax_hz is not None or made_on is not None):
        from encoders.probe_features import FeatureSpec, _encoder
        arch = _encoder(FeatureSpec("random", model, min(args.random_seed), window_s=window_s))   # kept for its row
        check_audio_model(args.audio_fmax_hz or made_on, arch.config.modality, model)
        fs_hz = float(arch.config.input_fs_hz)
    if args.audio_fmax_hz is None:
        if made_on is not None and {"random", "mfcc"} & set(args.baseline):
            log.info("the embeddings were made on %s (embed --audio-fmax-hz): the baseline rows too",
                     band_text(made_on))
        return None if made_on is None else float(made_on)
    band = set_fmax_hz(args.audio_fmax_hz, [r.path for r in records], read_options, fs_hz)
    if "random" in args.baseline and (made_on is None or abs(float(made_on) - band) > 1e-6):
        log.warning("--audio-fmax-hz: the random-weight rows on %s, the embeddings on %s: the rows differ by more "
                    "than the weights; embed with --audio-fmax-hz %g to compare them like with like", band_text(band),
                    "the whole band" if made_on is None else band_text(made_on), band)
    return band


def _embeddings_window_s(prov: dict, emb) -> float | None:
    """The window the embeddings were made on, for the random-weight rows: embed's --window-s, else
    the grid it recorded (the training window of ITS model, which another --model need not share),
    else, in a file without provenance, the length of its windows (t1_s - t0_s), not the --model's
    training window: a row on other windows than the embeddings' compares more than the weights."""
    given = prov.get("window_s_given") or prov.get("window_s")
    if given:
        return float(given)
    if not {"t0_s", "t1_s"} <= set(emb.columns) or len(emb) == 0:
        return None
    lengths = (emb["t1_s"] - emb["t0_s"]).round(6)
    window_s = float(lengths.mode().max())
    log.info("%g s windows in the embeddings (a file without biosig embed's provenance): the random-weight rows "
             "use them", window_s)
    return window_s if window_s > 0 else None


def _check_fits(args, first, path: str, model, prov: dict, window_s) -> None:
    """A :class:`BiosigError` for the first --baseline that cannot be computed on the recording
    ``first`` (read from ``path``; the first of the probe's): which baseline, the recordings'
    modality, what they lack and the baselines that fit them (:func:`encoders.baselines.misfit`)."""
    from biosig.errors import BiosigError
    from encoders.baselines import misfit, random_encoder
    modality = first.modality
    fit = [k for k, m in BASELINE_MODALITIES.items() if modality in m]
    instead = f"{', '.join(fit)} or random" if fit else "random"
    for kind in dict.fromkeys(args.baseline):
        if kind == "random":
            arch = random_encoder(model, 0, window_s).config.modality
            why = misfit(kind, first, arch)
            if why:
                own = (f", or leave --model out (the embeddings were made by {prov['model']})"
                       if args.model and prov.get("model") and prov["model"] != args.model else "")
                article = "an" if arch[0] in "aeiou" else "a"   # "an audio architecture"
                raise BiosigError(f"--baseline random: --model {model} is {article} {arch} architecture and these are "
                                  f"{modality} recordings ({path}: {why}); give an architecture for {modality} "
                                  f"recordings (e.g. --model {modality}-tiny){own}")
        elif misfit(kind, first):
            raise BiosigError(f"--baseline {kind} is for {' / '.join(BASELINE_MODALITIES[kind])} recordings and these "
                              f"are {modality} ({path}: {misfit(kind, first)}); for {modality} recordings use "
                              f"--baseline {instead}")
