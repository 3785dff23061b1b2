"""The training windows of a pretraining run (:class:`encoders.pretrain.TrainConfig`): its
``--data`` recordings and the synthetic records it asks for, cut and preprocessed as the model
was configured (:func:`encoders.data.build_windows`)."""
from __future__ import annotations

from encoders.errors import EncoderError


def _check_data_exist(paths) -> None:
    """A --data path that names nothing (a typo, a folder not mounted) is refused: it was skipped with
    a warning like a damaged file inside a folder, and the run trained on the others (exit code 0)."""
    import os
    missing = [p for p in paths if not any(os.path.lexists(c) for c in (p, f"{p}.hea", f"{p}.HEA"))]
    if missing:
        raise EncoderError(f"--data {', '.join(map(str, missing))}: no such file, folder or WFDB record; give "
                           "recordings, record names or folders that exist")


def load_data(cfg, config, pipeline, progress=None, watch=None):
    """The training :class:`encoders.data.WindowSet` for ``cfg`` (a :class:`encoders.pretrain.TrainConfig`;
    ``progress``: a :class:`encoders.pretrain_progress.ProgressLines`, lines while reading;
    ``watch``: an :class:`encoders.pretrain_evaluation_sets.EvaluationContent` that sees the --data records)."""
    from encoders.data import (build_windows, file_records, synthetic_blow_records, synthetic_lung_records,
                               synthetic_pulse_records, synthetic_records, synthetic_rhythm_records)
    sources = []
    if cfg.channel is not None and not cfg.data:
        raise EncoderError(f"--channel {cfg.channel} picks a channel of the --data recordings; give --data PATH...")
    if cfg.data:
        _check_data_exist(cfg.data)
        found = file_records(cfg.data, cfg.modality, cfg.channel)
        sources.append(watch.watch(found) if watch is not None else found)
    if cfg.synthetic:
        sources.append(synthetic_records(cfg.modality, cfg.synthetic_records, cfg.synthetic_seconds, cfg.seed))
    if cfg.synthetic_rhythm_records:
        if cfg.modality not in ("ecg", "ppg") or cfg.synthetic_rhythm_records < 0:
            raise EncoderError(f"--synthetic-rhythm-records {cfg.synthetic_rhythm_records}: needs --modality ecg "
                               "or ppg and a count >= 0")
        if cfg.modality == "ppg":
            if cfg.synthetic_rhythm_atrial:
                raise EncoderError("--synthetic-rhythm-atrial needs --modality ecg (atrial activity is an ECG feature)")
            sources.append(synthetic_pulse_records(cfg.synthetic_rhythm_records, cfg.synthetic_seconds, cfg.seed,
                                                   arrhythmia=cfg.synthetic_pulse_arrhythmia))
        else:
            if cfg.synthetic_pulse_arrhythmia:
                raise EncoderError("--synthetic-pulse-arrhythmia needs --modality ppg (it adds pulse-wave records)")
            sources.append(synthetic_rhythm_records(cfg.synthetic_rhythm_records, cfg.synthetic_seconds, cfg.seed,
                                                    atrial=cfg.synthetic_rhythm_atrial))
    elif cfg.synthetic_rhythm_atrial:   # it was ignored without a word
        raise EncoderError("--synthetic-rhythm-atrial changes the --synthetic-rhythm-records of --modality ecg: "
                           "give --synthetic-rhythm-records N too")
    elif cfg.synthetic_pulse_arrhythmia:
        raise EncoderError("--synthetic-pulse-arrhythmia changes the --synthetic-rhythm-records of --modality ppg: "
                           "give --synthetic-rhythm-records N too")
    if cfg.synthetic_blow_records:
        if cfg.modality != "spiro" or cfg.synthetic_blow_records < 0:
            raise EncoderError(f"--synthetic-blow-records {cfg.synthetic_blow_records}: needs --modality spiro "
                               "and a count >= 0")
        sources.append(synthetic_blow_records(cfg.synthetic_blow_records, cfg.synthetic_seconds, cfg.seed))
    if cfg.synthetic_lung_records:
        if cfg.modality != "audio" or cfg.synthetic_lung_records < 0:
            raise EncoderError(f"--synthetic-lung-records {cfg.synthetic_lung_records}: needs --modality audio "
                               "and a count >= 0")
        sources.append(synthetic_lung_records(cfg.synthetic_lung_records, cfg.synthetic_seconds, cfg.seed))
    if not sources:
        raise EncoderError("no training data: give --data PATH... or --synthetic")
    records = (r for src in sources for r in src)
    if progress is not None:
        records = _then_stacking(progress.reading(records), progress)
    return without_flat_windows(build_windows(records, config, pipeline, cfg.window_s, cfg.hop_s))


def _then_stacking(records, progress):
    """``records`` unchanged; once the last is read, the stage that follows said (the windows of a corpus are
    stacked, copied to float32 and checked for signal: 1-3 s of mitdb with nothing on the screen)."""
    yield from records
    progress.stage("stacking the training windows")


#: a window channel whose peak-to-peak is at most max(FLAT_ABS, FLAT_REL * max |x|) holds no signal
FLAT_ABS, FLAT_REL = 1e-9, 1e-6


def without_flat_windows(data):
    """``data`` without the windows whose every channel is constant (after the pipeline: all zeros): a
    lead off, a camera PPG of a covered lens, a file of one repeated value. ``embed`` and ``score`` refuse
    such a recording; pretraining took its windows silently (a constant PPG file among three real ones was
    a quarter of every batch, reconstructed and contrasted as if it were signal). Said in a warning that
    names the records left without any window; none left at all is an error."""
    import logging

    import numpy as np

    from encoders.data import WindowSet
    x = data.x
    if len(data) == 0:
        return data
    top = np.abs(x).max(axis=-1)
    # constant up to the filters' rounding (a constant through bandpass + zscore: |x| ~ 1e-13)
    flat = (np.ptp(x, axis=-1) <= np.maximum(FLAT_ABS, FLAT_REL * top)).all(axis=tuple(range(1, x.ndim - 1)))
    if not flat.any():
        return data
    sources = np.asarray(data.sources, dtype=object)
    gone = sorted(set(sources[flat]) - set(sources[~flat]))
    if flat.all():
        raise EncoderError(f"no training window holds a signal: every one of the {len(data)} windows of "
                           f"{', '.join(gone[:3])}{' and others' if len(gone) > 3 else ''} is constant (a lead off, "
                           "a flat or missing channel); give recordings with signal")
    logging.getLogger("encoders.pretrain").warning(
        "left out %d of %d training window(s) without signal (every sample constant: a lead off, a covered "
        "sensor)%s", int(flat.sum()), len(data),
        (f"; no window left of {len(gone)} record(s): " + ", ".join(gone[:5]) + (" ..." if len(gone) > 5 else ""))
        if gone else "")
    keep = ~flat
    return WindowSet(x=x[keep], channel_idx=data.channel_idx[keep], sources=tuple(sources[keep].tolist()))
