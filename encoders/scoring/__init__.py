"""Offline batch scoring of waveform archives (``biosig score``).

Every record of an archive (WFDB, EDF, WAV/FLAC/MP3, ...) is read, its channels matched to the
model's modality, preprocessed with the model's own out-of-graph pipeline, cut into windows,
embedded by an inference backend, and given a per-window quality and the modality's clinical
measures. Results land in Parquet tables (polars) in an output folder; runs are resumable.

Public API::

    from encoders.scoring import ScoreConfig, run_score
    summary = run_score(ScoreConfig(inputs=("../shared/data/wfdb",), model="ecg-tiny", out_dir="out"))
    summary.exit_code        # 0: every record scored, 1: some records are in errors.parquet

Output tables (see :mod:`encoders.scoring.outputs` for the crash-safe layout):

``windows.parquet``  one row per window: record, key, window, t0_s, t1_s, channels, quality,
                     valid_fraction (share of the window's samples that are not gaps),
                     embedding (list[float32], D), then the window measures of ``serve``'s
                     ``score/`` frames (:data:`encoders.scoring.schema.MEASURE_SCHEMA`):
                     measures_ok, missing, measure_quality, HRV / breath measures, af_prob.
``records.parquet``  one row per record: record, key, name, start_time (ISO 8601 as the file gives
                     it, null where unknown), duration_s, fs_hz, channels,
                     used_channels, n_windows, mean_quality, embedding (mean of its windows),
                     the modality's measures (:data:`encoders.scoring.scorer.MEASURES`; ECG/PPG:
                     af_prob = mean of the windows' af_prob, null when no window passed the
                     quality threshold), seconds.
``errors.parquet``   one row per failed record: record, key, stage (one of
                     :data:`encoders.scoring.scorer.STAGES`), error_type, message.
``run.json``         manifest: model id and hashes, pipeline, backend, versions, counts, and every
                     run (an interrupted one too): inputs, the folder it ran in (``cwd``), options as
                     given, what it scored. ``tables_current`` false (``counts`` null): a run is
                     running or stopped before it assembled its tables, and the tables of the run
                     before it are removed (:mod:`encoders.scoring.manifest`); rerun to assemble them.
``record`` columns:  each record's path as the last run named it (relative paths: relative to its
                     ``cwd``); a record reached another way (a linked folder) is the same record.
Column types: :mod:`encoders.scoring.schema`.

Engines: ``local`` (:mod:`encoders.scoring.local`, a spawn process pool, one model per worker) and
``ray`` (:mod:`encoders.scoring.ray_engine`, a pool of Ray actors, one CPU each).
"""
from encoders.scoring.errors import RecordFailure, ScoreError
from encoders.scoring.job import ENGINES, EXIT_OK, EXIT_RECORDS_FAILED, ScoreConfig, ScoreSummary, run_score
from encoders.scoring.model import BACKENDS, LoadedModel, ModelSpec, load_model
from encoders.scoring.scorer import MEASURES, STAGES, Scorer

__all__ = ["BACKENDS", "ENGINES", "EXIT_OK", "EXIT_RECORDS_FAILED", "LoadedModel", "MEASURES",
           "ModelSpec", "RecordFailure", "STAGES", "ScoreConfig", "ScoreError", "ScoreSummary",
           "Scorer", "load_model", "run_score"]
