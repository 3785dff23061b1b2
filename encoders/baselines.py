"""Handcrafted and random-weight baseline features for the linear probe (``biosig probe --baseline``).

Every extractor maps one biosig Record to a fixed-length float vector (NaN where undefined; the
probe imputes NaN with the column median, which uses no labels):

* ``hrv``  - ECG: neurokit2 R-peak detection, 19 time-domain + Poincare HRV features.
* ``ibi``  - ECG or PPG: inter-beat-interval statistics from biosig's own beat detector
  (:func:`biosig.quality.detect_beats`): rate, spread, successive differences, pNN50/pNN20,
  irregularity (sample-to-sample ratio spread) - 12 features.
* ``mfcc`` - audio: mean and standard deviation of 20 librosa MFCCs (40 features).
* ``spirometry`` - spirograms: the ATS/ERS 2019 indices of :func:`biosig.spirometry.spirometry_indices`
  (FVC, FEV1, FEV1/FVC, PEF, FEF25-75, time zero, back-extrapolated volume and its check, time of
  PEF, forced expiratory time, end plateau and the end-of-test check) - 12 features.
* ``random`` - the mean window embedding of the same architecture with random weights (seeded).

hrv and ibi are computed on the lead ``embed`` feeds a one-lead model (:func:`embedded_lead`), so a
baseline row and a model row of a multi-lead set read the same lead.

The engineer building ``biosig.measures`` (issue 12) may later replace hrv/ibi with those functions.
"""
from __future__ import annotations

import functools
import logging
import warnings

import numpy as np

# the top of a band every rate of a set holds, as a share of the lowest rate (a 4 kHz recorder's anti-alias
# filter and the resampler's roll off over the last ~10 % below its 2 kHz Nyquist): one rule for the MFCC
# row's --mfcc-fmax-hz and the model rows' --audio-fmax-hz
from biosig.audio_band import AUDIO_BAND_SHARE as MFCC_BAND_SHARE
from encoders.errors import EncoderError

log = logging.getLogger(__name__)

BASELINES = ("hrv", "ibi", "mfcc", "spirometry", "random")
HRV_COLUMNS = ("HRV_MeanNN", "HRV_SDNN", "HRV_RMSSD", "HRV_SDSD", "HRV_CVNN", "HRV_CVSD", "HRV_MedianNN",
               "HRV_MadNN", "HRV_MCVNN", "HRV_IQRNN", "HRV_pNN50", "HRV_pNN20", "HRV_MinNN", "HRV_MaxNN",
               "HRV_SD1", "HRV_SD2", "HRV_SD1SD2", "HRV_CSI", "HRV_CVI")
IBI_COLUMNS = ("mean_s", "sd_s", "median_s", "iqr_s", "min_s", "max_s", "rmssd_s", "cv", "pnn50", "pnn20",
               "ratio_sd", "n_beats_per_min")


def embedded_lead(rec, modality: str, what: str = "embedded_lead()"):
    """The one channel of ``rec`` that ``embed`` feeds a one-lead model of ``modality`` (``ecg-tiny``,
    ``ppg-tiny``; :func:`encoders.data.encoder_channels`: the leads with the best share of windows passing
    the quality gate, then the model's lead order), as a Record. The hrv and ibi rows compare with the
    model rows on that lead: they took the record's first ECG or PPG channel, a noisy lead I where the
    model was fed a clean lead II (and a clipped camera PPG where it was fed G)."""
    from biosig.record import require_record
    from encoders.config import get_config
    from encoders.data import encoder_channels
    return encoder_channels(require_record(rec, what), get_config(f"{modality}-tiny"))


def _embedded_lead_samples(rec, modality: str, what: str):
    r = embedded_lead(rec, modality, what)
    return np.nan_to_num(np.asarray(r.samples[0], dtype=np.float64)), float(r.fs_hz)


def hrv_features(rec) -> np.ndarray:
    """neurokit2 time-domain and Poincare HRV features of one ECG record (NaN where undefined)."""
    import neurokit2 as nk
    import pandas as pd
    sig, fs = _embedded_lead_samples(rec, "ecg", "hrv_features()")
    fs = int(round(fs))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clean = nk.ecg_clean(sig, sampling_rate=fs)
            _, info = nk.ecg_peaks(clean, sampling_rate=fs)
            peaks = info["ECG_R_Peaks"]
            feats = pd.concat([nk.hrv_time(peaks, sampling_rate=fs),
                               nk.hrv_nonlinear(peaks, sampling_rate=fs)[["HRV_SD1", "HRV_SD2", "HRV_SD1SD2",
                                                                          "HRV_CSI", "HRV_CVI"]]], axis=1)
        return np.array([float(feats[c].iloc[0]) if c in feats else np.nan for c in HRV_COLUMNS])
    except Exception as exc:  # too few beats for HRV: NaN features (imputed by the probe)
        log.info("HRV failed: %s", exc)
        return np.full(len(HRV_COLUMNS), np.nan)


def ibi_stats(beats_s: np.ndarray, duration_s: float) -> np.ndarray:
    """The :data:`IBI_COLUMNS` statistics of beat times in seconds (NaN with fewer than 3 beats)."""
    ibi = np.diff(np.asarray(beats_s, dtype=np.float64))
    if len(ibi) < 2:
        return np.full(len(IBI_COLUMNS), np.nan)
    d = np.diff(ibi)
    q75, q25 = np.percentile(ibi, [75, 25])
    ratio = ibi[1:] / ibi[:-1]
    return np.array([ibi.mean(), ibi.std(), np.median(ibi), q75 - q25, ibi.min(), ibi.max(),
                     np.sqrt(np.mean(d ** 2)), ibi.std() / ibi.mean(), np.mean(np.abs(d) > 0.05),
                     np.mean(np.abs(d) > 0.02), ratio.std(), 60.0 * (len(ibi) + 1) / max(duration_s, 1e-9)])


def ibi_features(rec, modality: str | None = None) -> np.ndarray:
    """Inter-beat-interval statistics of one ECG or PPG record (biosig's beat detector)."""
    from biosig.quality import detect_beats
    from biosig.record import require_record
    modality = modality or require_record(rec, "ibi_features()").modality
    if modality not in ("ecg", "ppg"):
        raise EncoderError(f"--baseline ibi needs ECG or PPG records, not {modality}")
    sig, fs = _embedded_lead_samples(rec, modality, "ibi_features()")
    beats, _ = detect_beats(sig, fs, modality)
    return ibi_stats(beats / fs, len(sig) / fs)


def mfcc_common_fmax_hz(rates_hz, fs_hz: float = 16000.0) -> float:
    """The MFCC filter bank's top (Hz) for a set recorded at ``rates_hz``: ``fs_hz / 2`` where every
    rate is at least ``fs_hz`` (nothing is upsampled), else :data:`MFCC_BAND_SHARE` x the lowest rate.

    Measured on 8 synthetic auscultation records of 6 s at 44.1 kHz and the same sounds through a
    4 kHz recorder (``resample_poly``): with the filter bank up to 8 kHz, 28 of the 40 features of the
    two copies differed by over half the spread of the 16 (median one spread): the 4 kHz copy's
    empty bands above 2 kHz, at librosa's -80 dB floor, enter every coefficient, so the features tell
    the rate apart. Up to 1800 Hz (0.45 x 4000) none does (median 0.00, largest 0.20 of the spread)."""
    from biosig.arguments import sampling_rate
    fs_hz = sampling_rate(fs_hz)
    rates = [sampling_rate(r) for r in rates_hz]
    if not rates:
        raise EncoderError("mfcc_common_fmax_hz(): give the rates of at least one recording")
    from biosig.audio_band import common_fmax_hz   # the model rows' --audio-fmax-hz common: the same rule
    return common_fmax_hz(rates, fs_hz)


@functools.lru_cache(maxsize=None)
def _warn_empty_band(rate_hz: float, fmax_hz: float) -> None:
    """Once per rate and band in a process (a probe's worker reads hundreds of records at one rate)."""
    log.warning("mfcc: a recording at %g Hz holds nothing above %g Hz and the MFCC filter bank reaches %g Hz: its "
                "empty top bands enter every coefficient, so a set recorded at several rates is told apart by its "
                "rates; to compare them like with like give fmax_hz at most %g x the set's lowest rate (%g Hz for "
                "this one; encoders.baselines.mfcc_common_fmax_hz)",
                rate_hz, rate_hz / 2, fmax_hz, MFCC_BAND_SHARE, MFCC_BAND_SHARE * rate_hz)


def mfcc_features(rec, n_mfcc: int = 20, fs_hz: float = 16000.0, fmax_hz: float | None = None) -> np.ndarray:
    """Mean and standard deviation over frames of ``n_mfcc`` MFCCs of the mono signal resampled to
    ``fs_hz``, librosa's 128 mel bands from 0 to ``fmax_hz`` (None: ``fs_hz / 2``, 8 kHz).

    A record below ``fs_hz`` holds nothing above its own Nyquist after resampling; where the filter
    bank reaches beyond :data:`MFCC_BAND_SHARE` x its rate the MFCCs carry the rate
    (:func:`mfcc_common_fmax_hz`, which gives the band for a set), and an audio record says so once
    per rate."""
    import librosa

    from biosig.arguments import sampling_rate
    from biosig.record import require_record
    from encoders.arguments import whole_number
    n_mfcc, fs_hz = whole_number(n_mfcc, "n_mfcc"), sampling_rate(fs_hz)
    top = fs_hz / 2 if fmax_hz is None else float(fmax_hz)
    if not 0 < top <= fs_hz / 2:
        raise EncoderError(f"mfcc_features(): fmax_hz={fmax_hz!r}; give 0 < fmax_hz <= fs_hz / 2 ({fs_hz / 2:g} Hz)")
    x = np.nan_to_num(np.asarray(require_record(rec, "mfcc_features()").samples, dtype=np.float64)).mean(0)
    if abs(rec.fs_hz - fs_hz) > 1e-6:
        x = librosa.resample(x, orig_sr=rec.fs_hz, target_sr=fs_hz)
    if rec.modality == "audio" and rec.fs_hz < fs_hz and top > MFCC_BAND_SHARE * rec.fs_hz + 1e-6:
        _warn_empty_band(float(rec.fs_hz), top)
    m = librosa.feature.mfcc(y=x.astype(np.float32), sr=int(fs_hz), n_mfcc=n_mfcc, fmax=top)
    return np.concatenate([m.mean(1), m.std(1)])


SPIRO_COLUMNS = ("fvc_ml", "fev1_ml", "fev1_fvc", "pef_l_s", "fef25_75_l_s", "t0_s", "bev_ml", "bev_ok", "t_pef_s",
                 "fet_s", "plateau_ml", "eofe_ok")


def spirometry_features(rec) -> np.ndarray:
    """The :data:`SPIRO_COLUMNS` indices of one spirogram record (NaN where the trace has no blow).
    A record without a volume or flow channel is an input error and raises (one line in the CLI)."""
    from biosig.errors import SignalError
    from biosig.record import require_record
    from biosig.spirometry import record_volume_ml, spirometry_indices
    volume_ml = record_volume_ml(require_record(rec, "spirometry_features()"))
    try:
        ind = spirometry_indices(volume_ml, float(rec.fs_hz)).as_dict()
    except SignalError as exc:
        log.info("spirometry indices failed: %s", exc)
        return np.full(len(SPIRO_COLUMNS), np.nan)
    return np.array([float(ind[c]) for c in SPIRO_COLUMNS])


#: What a baseline needs of a record, as :func:`misfit` checks it: a channel (or the record) of one
#: of these modalities (``ibi``: the record itself; ``random``: the ``--model``'s modality).
NEEDS = {"hrv": ("ecg",), "ibi": ("ecg", "ppg"), "spirometry": ("spiro",)}


def misfit(kind: str, rec, model_modality: str | None = None) -> str | None:
    """What ``rec`` lacks for the ``kind`` baseline (``"no ecg channel"``), None when it can be
    computed: hrv needs an ECG channel, ibi an ECG or PPG record, spirometry a spirogram channel,
    random (``model_modality``: that of its architecture) a channel of the model's modality, as
    :func:`encoders.data.select_channels` finds it. mfcc reads any signal. Checked on a record before
    the features of every record are computed (``biosig probe --baseline``)."""
    from biosig.record import require_record
    rec = require_record(rec, "misfit()")
    needs = (model_modality,) if kind == "random" else NEEDS.get(kind, ())
    if not needs:
        return None
    if rec.modality in needs or (kind != "ibi" and any(m in needs for m in rec.channel_modalities)):
        return None
    what = " or ".join(needs)
    return f"not an {what} recording" if kind == "ibi" else f"no {what} channel"


def random_encoder(model: str, seed: int = 0, window_s: float | None = None):
    """The architecture of ``model`` (name, checkpoint dir, or an exported ``.onnx`` / ``.plan``
    whose graph carries biosig's metadata) with random weights from ``seed``, its pipeline and
    training window (:func:`encoders.checkpoint.random_weights`); ``window_s`` overrides the
    embedding window (as ``embed --window-s``)."""
    import pathlib

    import encoders
    from biosig.arguments import positive_seconds
    from encoders.checkpoint import random_weights
    if window_s is not None:
        window_s = positive_seconds(window_s, "window_s")
    if pathlib.Path(str(model)).suffix.lower() in (".onnx", ".plan"):
        from encoders.inference import exported_architecture
        config, pipeline, train_window_s = exported_architecture(model)
        out = random_weights(config, pipeline, seed, train_window_s)
    else:
        out = encoders.load(model, pretrained=False, seed=seed)
    out.window_s_override = window_s
    return out


def embedding_mean(enc, rec, min_quality: float = 0.0, recorded=None) -> np.ndarray:
    """Record-level mean of the window embeddings of ``enc`` whose quality is at least
    ``min_quality`` (as ``probe --min-quality`` keeps them); NaN when no window is left.
    ``recorded``: the Record ``rec`` was made from (an audio band), for the quality."""
    emb, quality = window_embeddings(enc, rec, with_quality=min_quality > 0, recorded=recorded)
    if min_quality > 0:
        emb = emb[quality >= min_quality]
    if len(emb) == 0:
        return np.full(enc.config.dim, np.nan)
    return emb.astype(np.float64).mean(0)


def window_embeddings(enc, rec, batch_size: int = 64, with_quality: bool = False, recorded=None):
    """``(embeddings (W, D) float32, quality (W,) float32 or None)``: the ``embedding`` and
    ``quality`` columns of ``enc.embed(rec)`` (an :class:`encoders.embed.Encoder` or an
    :class:`encoders.inference.InferenceModel`), the same numbers, without the per-window measures
    and AF head that ``embed`` adds for ``score`` and ``serve`` and a probe row never reads. Those
    were 35 % of a random-weight row's time on 10 s PPG segments (cProfile, 200 records: 5.4 of
    15.3 s in window_measure_columns); benchmarks/bench_probe_scale.py times the probe's work."""
    from encoders.record_embed import embed_record, record_quality
    embedded = embed_record(enc, rec, batch_size, recorded, require_signal=False)
    return embedded.embeddings, (record_quality(enc, embedded) if with_quality else None)


def embedding_features(enc, records, progress=None, min_quality: float = 0.0) -> np.ndarray:
    """(n_records, D) record-mean embeddings of ``enc``; ``progress`` is called after each record.
    Each of ``records`` is a Record, or a pair ``(Record given to the model, Record as recorded)``
    (an audio band: :func:`encoders.probe_features.features`)."""
    rows = []
    for r in records:
        rec, recorded = r if isinstance(r, tuple) else (r, None)
        rows.append(embedding_mean(enc, rec, min_quality, recorded))
        if progress is not None:
            progress()
    return np.stack(rows)


def baseline_features(kind: str, records, model: str | None = None, seed: int = 0,
                      modality: str | None = None, progress=None, window_s: float | None = None,
                      min_quality: float = 0.0, mfcc_fmax_hz: float | None = None) -> np.ndarray:
    """(n_records, F) features of ``kind`` (one of :data:`BASELINES`) for ``records``.

    ``progress``: optional callable, called once after each record (long sets are not silent).
    ``window_s`` and ``min_quality`` apply to ``random`` only: the embedding window (None: the
    model's) and the windows kept, so that the random-weight row sees what the embeddings saw;
    the handcrafted features are computed on whole records. ``mfcc_fmax_hz``: the MFCC filter
    bank's top (None: 8 kHz; :func:`mfcc_common_fmax_hz` gives a set's)."""
    if kind not in BASELINES:
        raise EncoderError(f"unknown baseline {kind!r}; expected one of {', '.join(BASELINES)}")
    if records is None or isinstance(records, (str, bytes)) or not hasattr(records, "__iter__"):
        raise EncoderError(f"records={records!r}: give a list of biosig Records")
    if kind == "random":
        if model is None:
            raise EncoderError("--baseline random needs --model (the architecture to draw random weights for)")
        return embedding_features(random_encoder(model, seed, window_s), records, progress, min_quality)
    fn = {"hrv": hrv_features, "mfcc": lambda r: mfcc_features(r, fmax_hz=mfcc_fmax_hz),
          "spirometry": spirometry_features,
          "ibi": lambda r: ibi_features(r, modality)}[kind]
    rows = []
    for r in records:
        rows.append(fn(r))
        if progress is not None:
            progress()
    return np.stack(rows)


def undefined_rows(X: np.ndarray) -> tuple[np.ndarray, int]:
    """``(X, rows with an undefined feature)``: X float64 with every non-finite value as NaN, which
    the probe imputes with the training fold's median (:func:`encoders.probe._logistic`), never with a
    median that includes the test records."""
    X = np.asarray(X, dtype=np.float64)
    bad = ~np.isfinite(X)
    return np.where(bad, np.nan, X), int(bad.any(1).sum())
