"""What made an embeddings file (encoders/embeddings_file.py): ``biosig embed`` records it, and
``biosig probe`` uses it so that its baselines see the recordings as the embeddings did (the same
model, window grid and read options). Real files, the real CLI, a shipped architecture."""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from encoders.embeddings_file import EMBED_META_KEY, read_provenance


def _ecg_set(folder, n=8):
    """``n`` synthetic ECG CSVs whose one channel has a name that says nothing ('ch1'): half at
    55-69 bpm, half at 95-116 bpm; labels.csv beside them."""
    from biosig.synthetic import simulate
    folder.mkdir()
    rows = ["record,label"]
    for i in range(n):
        fast = i % 2
        rec = simulate("ecg", 22, seed=i, fs_hz=250.0, heart_rate_bpm=(95 + 3 * i) if fast else (55 + 2 * i))
        t = np.arange(rec.n_samples) / rec.fs_hz
        (folder / f"r{i}.csv").write_text("t_s,ch1\n" + "".join(f"{a:.4f},{b:.5f}\n" for a, b in zip(t, rec.samples[0])))
        rows.append(f"r{i},{'fast' if fast else 'slow'}")
    labels = folder.parent / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return labels


def test_embed_records_what_made_the_file_and_probe_baselines_follow_it(tmp_path, capsys):
    labels = _ecg_set(tmp_path / "ecg")
    emb = tmp_path / "emb.parquet"
    assert main(["embed", str(tmp_path / "ecg"), "--model", "ecg-tiny", "--random-weights", "--window-s", "5",
                 "--channel", "ch1=ecg", "--out", str(emb)]) == 0
    prov = read_provenance(emb)
    assert prov["model"] == "ecg-tiny" and prov["model_id"].startswith("ecg-tiny") and prov["random_weights"] is True
    assert prov["window_s"] == prov["window_s_given"] == 5.0 and prov["hop_s"] > 0
    assert prov["read_options"] == {"channel_modalities": {"ch1": "ecg"}} and prov["backend"] == prov["backend_used"] == "torch"
    import encoders
    assert prov["pipeline_hash"] == encoders.load("ecg-tiny").pipeline.hash
    capsys.readouterr()
    # neither --model nor --channel: both come from the file. The embeddings ARE random weights
    # seed 0 on 5 s windows, so the random-weight row must reproduce them; before, the row needed
    # --model, used 10 s windows, and --baseline ibi could not read 'ch1' as an ECG at all.
    assert main(["probe", "--embeddings", str(emb), "--labels", str(labels), "--label-column", "label",
                 "--folds", "2", "--baseline", "random", "--baseline", "ibi", "--bootstrap", "50", "--json",
                 "--random-seed", "0", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) == {"embeddings", "random seed 0", "random seed 1", "ibi"}   # one row per seed
    assert res["random seed 0"]["auroc"]["value"] == pytest.approx(res["embeddings"]["auroc"]["value"], abs=1e-12)
    assert res["random seed 0"]["diff"]["auroc"]["value"] == pytest.approx(0.0, abs=1e-12)
    assert res["ibi"]["auroc"]["value"] > 0.9                      # heart rate separates the classes
    from biosig.readers import read
    from encoders.baselines import baseline_features
    df = pl.read_parquet(emb)
    recs = [read(tmp_path / "ecg" / f"r{i}.csv", channel_modalities={"ch1": "ecg"}) for i in range(8)]
    ours = np.stack([np.mean(df.filter(pl.col("source").str.ends_with(f"r{i}.csv"))["embedding"].to_list(), axis=0)
                     for i in range(8)])
    np.testing.assert_allclose(baseline_features("random", recs, model="ecg-tiny", window_s=5.0), ours, atol=1e-5)
    ten = baseline_features("random", recs, model="ecg-tiny")     # the model's own 10 s window: not the same
    assert np.abs(ten - ours).max() > 1e-3
    seed1 = baseline_features("random", recs, model="ecg-tiny", window_s=5.0, seed=1)
    assert np.abs(seed1 - ours).max() > 1e-3                        # another seed, other weights
    # the text report names the model that made the embeddings
    assert main(["probe", "--embeddings", str(emb), "--labels", str(labels), "--label-column", "label",
                 "--folds", "2", "--baseline", "ibi", "--bootstrap", "20"]) == 0
    assert f"ours = {emb} ({prov['model_id']}, random weights, window 5 s)" in capsys.readouterr().out


def test_random_row_keeps_the_windows_probe_keeps():
    """``--min-quality`` drops low-quality windows from the embeddings; the random-weight row
    averages the same windows (quality is the pipeline's, the same for both)."""
    from biosig.synthetic import simulate
    from encoders.baselines import embedding_mean, random_encoder
    rec = simulate("ecg", 60, seed=3, fs_hz=250.0)
    x = rec.samples.copy()
    x[0, 5000:9000] = np.random.default_rng(0).standard_normal(4000) * 3.0   # 16 s of noise
    rec = rec.replace(samples=x)
    enc = random_encoder("ecg-tiny", 0)
    df = enc.embed(rec)
    q = np.asarray(df["quality"].to_list())
    assert q.min() < q.max()                                        # the noise shows in the quality
    cut = float(np.median(q))
    want = np.asarray(df.filter(pl.col("quality") >= cut)["embedding"].to_list(), np.float64).mean(0)
    np.testing.assert_allclose(embedding_mean(enc, rec, min_quality=cut), want, rtol=1e-6, atol=1e-7)
    assert np.isnan(embedding_mean(enc, rec, min_quality=float(q.max()) + 1e-3)).all()


def test_files_without_provenance(tmp_path, capsys, caplog):
    """Files written before provenance existed (or by other tools): the old behaviour, one line
    saying what is missing; unreadable provenance is ignored with a warning."""
    labels = tmp_path / "labels.csv"
    labels.write_text("record,label\n" + "".join(f"r{i},{i % 2}\n" for i in range(8)))
    emb = tmp_path / "plain.parquet"
    frame = pl.DataFrame({"source": [f"r{i}.csv" for i in range(8)],
                          "embedding": [[float(i % 2), float(i)] for i in range(8)]})
    frame.write_parquet(emb)
    assert read_provenance(emb) == {}
    assert main(["probe", "--embeddings", str(emb), "--labels", str(labels), "--label-column", "label",
                 "--folds", "2", "--baseline", "random"]) == 2
    err = capsys.readouterr().err
    assert "--baseline random needs --model" in err and "does not say which model" in err
    moved = tmp_path / "moved.parquet"                # made on another machine: its model dir is not here
    for i in range(8):
        (tmp_path / f"r{i}.csv").write_text("t_s,II\n" + "".join(f"{k / 250:.4f},{np.sin(k / 9):.4f}\n"
                                                                  for k in range(2500)))
    moved_frame = frame.with_columns(pl.Series("source", [str(tmp_path / f"r{i}.csv") for i in range(8)]))
    moved_frame.write_parquet(moved, metadata={EMBED_META_KEY: json.dumps({"model": str(tmp_path / "gone"),
                                                                           "model_id": "ecg-tiny-0123456789"})})
    assert main(["probe", "--embeddings", str(moved), "--labels", str(labels), "--label-column", "label",
                 "--folds", "2", "--baseline", "random"]) == 2
    err = capsys.readouterr().err
    assert "gone" in err and "give --model" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.parquet"
    frame.write_parquet(bad, metadata={EMBED_META_KEY: "{not json"})
    with caplog.at_level("WARNING"):
        assert read_provenance(bad) == {}
    assert "not JSON" in caplog.text


def test_random_weights_for_an_exported_model(tmp_path):
    """Embeddings made by an exported graph record its path; the random-weight row is then the
    architecture and full pipeline in the graph's metadata: the same as the shipped model's."""
    from biosig.synthetic import simulate
    from encoders.baselines import embedding_mean, random_encoder
    from encoders.export import export_onnx
    import encoders
    onnx = tmp_path / "ppg.onnx"
    export_onnx(encoders.load("ppg-tiny"), onnx)
    rec = simulate("ppg", 30, seed=1, fs_hz=100.0)
    a, b = random_encoder(str(onnx), 2), random_encoder("ppg-tiny", 2)
    assert a.config == b.config and a.pipeline.hash == b.pipeline.hash
    np.testing.assert_array_equal(embedding_mean(a, rec), embedding_mean(b, rec))
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match="does not exist"):
        random_encoder(str(tmp_path / "missing.onnx"))


def test_random_weights_keep_the_checkpoints_pipeline(tmp_path):
    """``load(dir, pretrained=False)`` (``embed --random-weights``) uses the checkpoint's own
    pipeline, as ``probe --baseline random`` does; it used the modality's default one, so a
    checkpoint with another pipeline (here: the polarity step) got a baseline fed another input."""
    import shutil

    import encoders
    from biosig.pipeline import Pipeline
    from biosig.synthetic import simulate
    from encoders.baselines import embedding_mean, random_encoder
    d = tmp_path / "ecg-polarity"
    shutil.copytree(encoders.checkpoint.resolve("ecg-tiny"), d)
    pipe = json.loads((d / "pipeline.json").read_text())
    pipe["pipeline"]["steps"].insert(3, {"name": "polarity", "params": {}})
    pipe["hash"] = Pipeline.from_json(json.dumps(pipe["pipeline"])).hash
    (d / "pipeline.json").write_text(json.dumps(pipe))
    a, b = encoders.load(str(d), pretrained=False), random_encoder(str(d), 0)
    assert a.pipeline.hash == b.pipeline.hash == pipe["hash"] != encoders.load("ecg-tiny").pipeline.hash
    rec = simulate("ecg", 20, seed=5, fs_hz=250.0)
    rec = rec.replace(samples=-rec.samples)
    np.testing.assert_allclose(embedding_mean(a, rec), embedding_mean(b, rec), atol=1e-6)


def test_random_weights_keep_the_training_window(tmp_path):
    """A checkpoint pretrained with ``--window-s 5`` embeds 5 s windows, and so must its random-
    weight baseline, whichever way it is made (``embed --random-weights``, ``probe --baseline
    random`` on the checkpoint or on its exported graph). Both used the config's 10 s window: the
    baseline was then fed other windows than the model it is compared with."""
    from biosig.synthetic import simulate
    import encoders
    from encoders.baselines import embedding_mean, random_encoder
    from encoders.export import export_onnx
    ckpt = tmp_path / "ppg5"
    tiny = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
            "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
    assert main(["pretrain", "--modality", "ppg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds",
                 "20", "--window-s", "5", "--steps", "1", "--batch-size", "4", "--no-progress", *tiny,
                 "--out", str(ckpt)]) == 0
    trained = encoders.load(str(ckpt))
    assert trained.config.window_s == 10.0 and trained.window_s == 5.0    # the config's default is not it
    by_load, by_probe = encoders.load(str(ckpt), pretrained=False, seed=3), random_encoder(str(ckpt), 3)
    assert by_load.window_s == by_probe.window_s == 5.0
    onnx = tmp_path / "ppg5.onnx"
    export_onnx(trained, onnx)
    exported = random_encoder(str(onnx), 3)
    assert exported.window_s == 5.0 and random_encoder(str(onnx), 3, window_s=7.0).window_s == 7.0
    rec = simulate("ppg", 30, seed=2, fs_hz=100.0)
    ref = embedding_mean(by_load, rec)
    np.testing.assert_array_equal(embedding_mean(by_probe, rec), ref)
    np.testing.assert_allclose(embedding_mean(exported, rec), ref, atol=1e-6)
    assert np.abs(embedding_mean(random_encoder(str(ckpt), 4), rec) - ref).max() > 1e-3   # the seed matters
    folder = tmp_path / "rec"
    folder.mkdir()
    t = np.arange(rec.n_samples) / rec.fs_hz
    (folder / "a.csv").write_text("t_s,ppg\n" + "".join(f"{a:.3f},{b:.5f}\n" for a, b in zip(t, rec.samples[0])))
    emb = tmp_path / "emb.parquet"
    assert main(["embed", str(folder), "--model", str(ckpt), "--random-weights", "--out", str(emb)]) == 0
    df = pl.read_parquet(emb)
    assert read_provenance(emb)["window_s"] == 5.0 and set((df["t1_s"] - df["t0_s"]).round(6)) == {5.0}


def test_random_weights_of_a_name_that_is_no_model():
    """An unknown name is refused with the shipped models and architectures listed; a registered
    architecture without a checkpoint (ecg-base) still gives random weights."""
    import encoders
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match="architectures without weights"):
        encoders.load("ecg-huge", pretrained=False)
    assert encoders.load("ecg-base", pretrained=False).config.name == "ecg-base"


def test_embed_stores_absolute_sources_so_probe_finds_the_recordings_from_anywhere(tmp_path, monkeypatch):
    """`embed c20 ...` stored `c20/A00020.hea`: `probe --baseline` run from another folder said the
    recordings were missing although nothing moved."""
    (tmp_path / "recs").mkdir()
    assert main(["simulate", "ecg", "--seconds", "12", "--out", str(tmp_path / "recs" / "a.csv")]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["embed", "recs", "--model", "ecg-tiny", "--out", "e.parquet"]) == 0
    assert set(pl.read_parquet(tmp_path / "e.parquet")["source"]) == {str(tmp_path / "recs" / "a.csv")}


def test_provenance_says_the_precision_of_an_int8_graph(tmp_path):
    """fp32, fp16 and int8 graphs carry the checkpoint's model_id: only the precision field tells
    their embeddings apart."""
    import encoders
    from encoders.export import export_onnx
    rec = tmp_path / "p.csv"
    assert main(["simulate", "ppg", "--seconds", "30", "--out", str(rec)]) == 0
    onnx = tmp_path / "q.onnx"
    export_onnx(encoders.load("ppg-tiny"), onnx, precision="int8")
    for model, want in ((str(onnx), "int8"), ("ppg-tiny", "fp32")):
        out = tmp_path / f"{want}.parquet"
        assert main(["embed", str(rec), "--model", model, "--out", str(out)]) == 0
        assert read_provenance(out)["precision"] == want
