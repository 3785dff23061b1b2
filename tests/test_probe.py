"""Linear probe: metrics vs an independent sklearn computation, chance level, CLI."""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from encoders.errors import EncoderError
from encoders.probe import cv_folds, probe, record_features


def _data(n=120, d=8, sep=2.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.standard_normal((n, d))
    X[:, 0] += sep * y
    return X, y


def test_probe_matches_sklearn_out_of_fold():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = _data()
    folds = cv_folds(y, 5, 0)
    res = probe(X, y, folds=folds, n_boot=100)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, class_weight="balanced", random_state=0))
    p = cross_val_predict(clf, X, y, cv=folds, method="predict_proba")
    assert res["auroc"]["value"] == pytest.approx(roc_auc_score(y, p[:, 1]))
    assert res["balanced_accuracy"]["value"] == pytest.approx(balanced_accuracy_score(y, p.argmax(1)))
    assert res["macro_f1"]["value"] == pytest.approx(f1_score(y, p.argmax(1), average="macro"))
    assert res["auroc"]["value"] > 0.85
    for m in ("auroc", "balanced_accuracy", "macro_f1"):
        assert res[m]["ci_low"] <= res[m]["value"] <= res[m]["ci_high"]


def test_probe_at_chance_on_noise():
    X, _ = _data(sep=0.0)
    y = np.random.default_rng(1).permutation(np.arange(120) % 2)
    res = probe(X, y, n_boot=100)
    assert res["auroc"]["ci_low"] < 0.5 < res["auroc"]["ci_high"] or abs(res["auroc"]["value"] - 0.5) < 0.15


def test_multiclass_and_errors():
    rng = np.random.default_rng(0)
    y = np.repeat(["N", "A", "O"], 30)
    X = rng.standard_normal((90, 4)) + (y[:, None] == "A") * 3.0
    res = probe(X, y, n_boot=50)
    assert res["classes"] == ["A", "N", "O"] and res["auroc"]["value"] > 0.6
    with pytest.raises(EncoderError, match="single class"):
        probe(X, np.zeros(90), n_boot=10)
    with pytest.raises(EncoderError, match="fewer than"):
        probe(X[:12], np.array([0] * 10 + [1] * 2), n_boot=10)
    with pytest.raises(EncoderError, match="NaN"):
        probe(np.full((90, 4), np.nan), y, n_boot=10)


def _emb_file(tmp_path, X, keys, per_record=3):
    rows = {"source": [], "channels": [], "t0_s": [], "t1_s": [], "quality": [], "embedding": []}
    rng = np.random.default_rng(0)
    for k, x in zip(keys, X):
        noise = rng.standard_normal((per_record, len(x))) * 0.1
        noise -= noise.mean(0)  # the window mean is exactly x
        for i in range(per_record):
            rows["source"].append(f"/data/{k}.hea")
            rows["channels"].append("ECG")
            rows["t0_s"].append(5.0 * i)
            rows["t1_s"].append(5.0 * i + 10)
            rows["quality"].append(1.0)
            rows["embedding"].append((x + noise[i]).astype(np.float32).tolist())
    df = pl.DataFrame(rows, schema_overrides={"embedding": pl.List(pl.Float32)})
    path = tmp_path / "emb.parquet"
    df.write_parquet(path)
    return path, df


def test_record_features_are_window_means(tmp_path):
    X, _ = _data(n=10)
    keys = [f"R{i:03d}" for i in range(10)]
    _, df = _emb_file(tmp_path, X, keys)
    got_keys, got = record_features(df)
    assert got_keys == keys
    np.testing.assert_allclose(got, X, atol=1e-5)


def test_cli_probe(tmp_path, capsys):
    X, y = _data()
    keys = [f"R{i:03d}" for i in range(len(y))]
    path, _ = _emb_file(tmp_path, X, keys)
    labels = tmp_path / "labels.csv"
    pl.DataFrame({"record": keys, "label": np.where(y == 1, "A", "N")}).write_csv(labels)
    assert main(["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "label",
                 "--positive", "A", "--bootstrap", "100", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 120 and res["classes"] == ["0", "1"] and res["auroc"]["value"] > 0.85
    assert main(["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "label",
                 "--bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "auroc" in out and "95% CI" in out
    assert main(["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "rhythm"]) == 2
    err = capsys.readouterr().err
    assert "rhythm" in err and "record, label" in err
    assert main(["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "label",
                 "--positive", "X"]) == 2
    assert "--positive" in capsys.readouterr().err
