"""The probe's feature work at the owners' scale (benchmarks/bench_probe_scale.py times it): a
random-weight row takes the embeddings without the per-window measures ``embed`` adds (the same
numbers as ``Encoder.embed``), and a probe worker reads each record once for every feature set.
Real files, the real tiny PPG architecture, in this process (no pool: test_probe_features spawns one)."""
from __future__ import annotations

import numpy as np
import pytest

from biosig.record import Record
from biosig.synthetic_pulse import simulate_pulse_record
from biosig.writers import write


@pytest.fixture(scope="module")
def ppg_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ppg")
    paths = []
    for i, kind in enumerate(("sinus", "af", "pvc")):   # 10 s segments at 100 Hz, as the owners' PPG sets
        x = simulate_pulse_record(kind, 10.0, np.random.default_rng([7, i]), 100.0)
        p = d / f"seg{i}.csv"
        write(Record(samples=x[None].astype(np.float32), fs_hz=100.0, channels=("PPG",), units=("a.u.",),
                     modality="ppg"), p)
        paths.append(str(p))
    return paths


def test_window_embeddings_are_the_embed_columns(ppg_files):
    import torch

    from biosig.readers import read
    from encoders.baselines import embedding_mean, random_encoder, window_embeddings
    torch.set_num_threads(1)
    enc = random_encoder("ppg-tiny", 0)
    rec = read(ppg_files[1])
    df = enc.embed(rec)
    emb, quality = window_embeddings(enc, rec, with_quality=True)
    assert emb.dtype == np.float32 and emb.shape == (len(df), enc.config.dim)
    np.testing.assert_array_equal(emb, np.asarray(df["embedding"].to_list(), dtype=np.float32))
    np.testing.assert_array_equal(quality, df["quality"].to_numpy())
    assert window_embeddings(enc, rec)[1] is None   # quality only where --min-quality asks for it
    cut = float(np.median(quality))
    kept = df.filter(df["quality"] >= cut)
    np.testing.assert_array_equal(embedding_mean(enc, rec, min_quality=cut),
                                  np.asarray(kept["embedding"].to_list(), dtype=np.float64).mean(0))


def test_a_worker_chunk_gives_every_set_in_one_pass(ppg_files):
    from encoders.probe_features import FeatureSpec, RecordFile, _chunk_features, features
    specs = {"ibi": FeatureSpec("ibi", modality="ppg"), "random seed 1": FeatureSpec("random", "ppg-tiny", seed=1)}
    files = [RecordFile(p) for p in ppg_files]
    out = _chunk_features(specs, files)
    assert list(out) == list(specs)
    for name, spec in specs.items():
        np.testing.assert_array_equal(out[name], features(spec, files))
        assert out[name].shape[0] == len(files)
