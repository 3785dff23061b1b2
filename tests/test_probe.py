"""Linear probe: metrics vs an independent sklearn computation, chance level, CLI."""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from encoders.errors import EncoderError
from encoders.probe import cv_folds, probe
from encoders.probe_labels import record_features


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
    n_a = int((y == 1).sum())
    assert out.startswith(f"120 records, classes A ({n_a}), N ({120 - n_a}), 5-fold stratified CV")
    assert main(["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "label",
                 "--positive", "A", "--bootstrap", "20"]) == 0
    assert capsys.readouterr().out.startswith(f"120 records, A ({n_a}) vs rest ({120 - n_a}), ")
    assert main(["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "rhythm"]) == 2
    err = capsys.readouterr().err
    assert "rhythm" in err and "record, label" in err
    assert main(["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "label",
                 "--positive", "X"]) == 2
    assert "--positive" in capsys.readouterr().err


def test_cli_probe_labels_without_a_header_line(tmp_path, capsys):
    """PhysioNet's REFERENCE.csv has no header: --no-header names the columns 1, 2, ...; without it,
    the error says so. Same records and labels -> the same result as the file with a header."""
    X, y = _data()
    keys = [f"R{i:03d}" for i in range(len(y))]
    path, _ = _emb_file(tmp_path, X, keys)
    with_header, bare = tmp_path / "labels.csv", tmp_path / "REFERENCE.csv"
    pl.DataFrame({"record": keys, "label": np.where(y == 1, "A", "N")}).write_csv(with_header)
    bare.write_text("".join(f"{k},{'A' if v else 'N'}\n" for k, v in zip(keys, y)))
    common = ["probe", "--embeddings", str(path), "--positive", "A", "--bootstrap", "50", "--json"]
    assert main(common + ["--labels", str(with_header), "--label-column", "label"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main(common + ["--labels", str(bare), "--no-header", "--label-column", "2"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["n"] == ref["n"] == 120 and got["auroc"] == ref["auroc"]
    assert main(common + ["--labels", str(bare), "--label-column", "label"]) == 2
    err = capsys.readouterr().err
    assert "no column 'label'" in err and "--no-header" in err and "Traceback" not in err
    assert main(common + ["--labels", str(bare), "--no-header", "--label-column", "3"]) == 2
    assert "columns: 1, 2" in capsys.readouterr().err


def test_cli_probe_says_what_it_leaves_out_and_refuses_ambiguous_records(tmp_path, capsys, caplog):
    """Records without a label and labels without a record are named (a misspelt key must not
    shrink the data unnoticed); two labels for one record, or two files with one record key (they
    would be averaged into one record), are errors, not a silent choice."""
    X, y = _data(n=40)
    keys = [f"R{i:03d}" for i in range(40)]
    path, df = _emb_file(tmp_path, X, keys)
    labels = tmp_path / "labels.csv"
    pl.DataFrame({"record": keys[3:] + ["R999"], "label": [*map(str, y[3:]), "1"]}).write_csv(labels)
    common = ["probe", "--embeddings", str(path), "--label-column", "label", "--bootstrap", "20", "--json"]
    assert main(common + ["--labels", str(labels)]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 37
    said = caplog.text
    assert "3 of 40 embedded record(s) have no label" in said and "R000, R001, R002" in said
    assert "1 labelled record(s)" in said and "R999" in said
    caplog.clear()
    twice = tmp_path / "twice.csv"
    pl.DataFrame({"record": keys + ["R005", "R006"], "label": [*map(str, y), str(y[5]), str(1 - y[6])]}).write_csv(twice)
    assert main(common + ["--labels", str(twice)]) == 2
    err = capsys.readouterr().err
    assert "'R006' has two 'label' values" in err and "Traceback" not in err and "R005" not in err
    clash = df.with_columns(pl.when(pl.col("source") == "/data/R001.hea").then(pl.lit("/other/R001.edf"))
                            .otherwise(pl.col("source")).alias("source"))
    # R001's three windows now come from another file; a fourth, from the first, makes the clash
    clash = pl.concat([clash, df.filter(pl.col("source") == "/data/R001.hea").head(1)])
    clash.write_parquet(tmp_path / "clash.parquet")
    assert main(["probe", "--embeddings", str(tmp_path / "clash.parquet"), "--labels", str(twice.with_name("labels.csv")),
                 "--label-column", "label", "--bootstrap", "20"]) == 2
    err = capsys.readouterr().err
    assert "'/other/R001.edf' and '/data/R001.hea' share the record key 'R001'" in err


def test_cli_probe_by_label_scores_each_kind_of_negative_and_a_target_mix(tmp_path, capsys):
    """A separable from N, hardly from O: --by-label shows it; --mix re-weights to the target shares,
    whose AUROC is the share-weighted mean of the per-kind AUROCs (each positive-negative pair weighs
    the share of its negative's kind)."""
    rng = np.random.default_rng(3)
    n = 40
    X = np.r_[rng.normal(1.0, 1.0, (n, 4)), rng.normal(-2.0, 1.0, (n, 4)), rng.normal(0.7, 1.0, (n, 4))]
    labels_of = np.r_[["A"] * n, ["N"] * n, ["O"] * n]
    keys = [f"R{i:03d}" for i in range(3 * n)]
    path, _ = _emb_file(tmp_path, X, keys)
    labels = tmp_path / "labels.csv"
    pl.DataFrame({"record": keys, "label": labels_of}).write_csv(labels)
    common = ["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "label",
              "--bootstrap", "100"]
    assert main(common + ["--positive", "A", "--by-label", "--mix", "N=1,O=3", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    by = res["by label"]
    assert list(by) == ["all", "vs N", "vs O", "re-weighted (--mix)"]
    auc = {c: by[c]["auroc"]["embeddings"] for c in by}
    assert auc["all"] == pytest.approx(res["auroc"]["value"], abs=1e-12)
    assert auc["vs N"] > 0.97 and auc["vs O"] < 0.8
    assert auc["all"] == pytest.approx((auc["vs N"] + auc["vs O"]) / 2)
    assert auc["re-weighted (--mix)"] == pytest.approx((auc["vs N"] + 3 * auc["vs O"]) / 4)
    assert (by["vs O"]["n_positive"], by["vs O"]["n_negative"]) == (n, n)
    assert main(common + ["--positive", "A", "--by-label"]) == 0
    out = capsys.readouterr().out
    assert "# by label: the same out-of-fold predictions, A against each other label" in out
    assert "vs N (40)" in out and "re-weighted" not in out
    for bad, why in ((["--by-label"], "need --positive"), (["--positive", "A", "--mix", "N=1,O=1"], "add --by-label"),
                     (["--positive", "A", "--by-label", "--mix", "N=1"], "'O' have no share")):
        assert main(common + bad) == 2
        err = capsys.readouterr().err
        assert why in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(common + ["--positive", "A", "--by-label", "--mix", "N=-1"])
    assert "expected LABEL=SHARE" in capsys.readouterr().err


# ---------------------------------------------------------------- baselines and paired comparison
def test_compare_paired_difference():
    from encoders.probe import compare, format_rows
    X, y = _data(sep=2.0)
    noise = np.random.default_rng(5).standard_normal(X.shape)
    folds = cv_folds(y, 5, 0)
    res = compare({"ours": X, "same": X.copy(), "noise": noise}, y, folds, reference="ours", n_boot=200)
    d_same, d_noise = res["same"]["diff"]["auroc"], res["noise"]["diff"]["auroc"]
    assert d_same["value"] == 0 and d_same["ci_low"] == 0 and d_same["ci_high"] == 0
    assert d_noise["ci_low"] > 0.2          # ours is far better than noise, on the same records
    assert res["ours"]["auroc"]["value"] == pytest.approx(probe(X, y, folds=folds, n_boot=10)["auroc"]["value"])
    rows = format_rows(res, "ours")
    assert len(rows) == 3 and "diff" in rows[0] and rows[2].startswith("noise")
    # the columns line up under their headings (the value columns were 2 characters narrower)
    assert len({tuple(i for i, ch in enumerate(r) if ch == "|") for r in rows}) == 1, rows
    long = format_rows({**res, "a name longer than the forty-four characters of the column": res["noise"]}, "ours")
    assert len({tuple(i for i, ch in enumerate(r) if ch == "|") for r in long}) == 1, long


def _per_block_oracle(blocks, y, folds):
    """Out-of-fold probabilities of one scaler + logistic regression per block, fitted by hand."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    out = []
    for X in blocks:
        p = np.zeros((len(y), len(np.unique(y))))
        for train, test in folds:
            sc = StandardScaler().fit(X[train])
            clf = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced", random_state=0)
            p[test] = clf.fit(sc.transform(X[train]), y[train]).predict_proba(sc.transform(X[test]))
        out.append(p)
    return out


def test_late_fusion_is_the_mean_log_odds_of_one_probe_per_block():
    from scipy.special import expit, logit, softmax
    from sklearn.metrics import roc_auc_score
    from encoders.probe import LateFusion, compare, late_fusion_proba
    X, y = _data(n=120, d=8, sep=1.0)
    rng = np.random.default_rng(3)
    E = rng.standard_normal((120, 30)) + 0.8 * y[:, None] * (np.arange(30) < 2)   # a second, wider block
    folds = cv_folds(y, 5, 0)
    ph, pe = _per_block_oracle((X, E), y, folds)
    want = expit((logit(ph[:, 1]) + logit(pe[:, 1])) / 2)
    classes, got = late_fusion_proba((X, E), y, folds)
    assert list(classes) == [0, 1] and np.allclose(got[:, 1], want, atol=1e-9) and np.allclose(got.sum(1), 1)
    res = compare({"fused": LateFusion((X, E)), "X": X}, y, folds, reference="fused", n_boot=100)
    assert res["fused"]["auroc"]["value"] == pytest.approx(roc_auc_score(y, want), abs=1e-12)
    assert res["fused"]["auroc"]["value"] != pytest.approx(roc_auc_score(y, ph[:, 1]), abs=1e-6)
    assert "diff" in res["X"] and res["fused"]["C"] == [[1.0] * len(folds)] * 2   # per block, per fold
    from encoders.probe import format_C
    assert format_C(res["fused"]["C"]) == "1 1 1 1 1 / 1 1 1 1 1" and format_C([0.3, 1.0]) == "0.3 1"
    # three classes: the normalised geometric mean of the blocks' probabilities
    y3 = np.arange(90) % 3
    A = rng.standard_normal((90, 4)) + (y3[:, None] == 1) * 1.5
    B = rng.standard_normal((90, 6)) + (y3[:, None] == 2) * 1.5
    f3 = cv_folds(y3, 3, 0)
    pa, pb = _per_block_oracle((A, B), y3, f3)
    _, got3 = late_fusion_proba((A, B), y3, f3)
    assert np.allclose(got3, softmax((np.log(pa) + np.log(pb)) / 2, axis=1), atol=1e-9)


def test_late_fusion_errors():
    from encoders.probe import LateFusion, compare
    X, y = _data()
    with pytest.raises(EncoderError, match="at least two"):
        LateFusion((X,))
    with pytest.raises(EncoderError, match="do not match"):
        compare({"f": LateFusion((X, X[:50]))}, y, cv_folds(y, 5, 0), reference="f", n_boot=10)
    with pytest.raises(EncoderError, match="every feature is NaN"):
        compare({"f": LateFusion((X, np.full_like(X, np.nan)))}, y, cv_folds(y, 5, 0), reference="f", n_boot=10)
    with pytest.raises(EncoderError, match="infinite"):
        compare({"f": np.where(X > 2, np.inf, X)}, y, cv_folds(y, 5, 0), reference="f", n_boot=10)


def test_undefined_features_take_the_training_folds_median():
    """A handcrafted feature undefined for some records (NaN) is imputed inside each fold with the
    training records' median (NumPy oracle), never with one that includes the test records."""
    from encoders.probe import _logistic, fit_out_of_fold
    X, y = _data()
    X = X.copy()
    X[::7, 1] = np.nan
    folds = cv_folds(y, 5, 0)
    probas, _ = fit_out_of_fold({"f": X}, y, folds)
    classes, proba = probas["f"]
    for train, test in folds:
        med = np.nanmedian(X[train], axis=0)
        filled = np.where(np.isnan(X), med[None, :], X)
        ref = _logistic(1.0, 0).fit(filled[train], y[train]).predict_proba(filled[test])
        np.testing.assert_allclose(proba[test], ref, atol=1e-9)
        everyone = np.where(np.isnan(X), np.nanmedian(X, axis=0)[None, :], X)   # the old, leaking fill
        assert not np.allclose(med, np.nanmedian(X, axis=0)) or np.allclose(filled, everyone)


def test_grouped_folds_keep_groups_apart():
    y = np.arange(60) % 2
    groups = np.repeat(np.arange(20), 3)
    folds = cv_folds(y, 5, 0, groups)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(60))
    with pytest.raises(EncoderError, match="groups"):
        cv_folds(y, 5, 0, np.arange(60) % 3)


def test_ibi_stats_against_a_plain_computation():
    from encoders.baselines import IBI_COLUMNS, ibi_stats
    beats = np.cumsum([0.8, 0.82, 0.78, 1.1, 0.6, 0.8])
    got = dict(zip(IBI_COLUMNS, ibi_stats(beats, 6.0)))
    ibi = np.diff(beats)
    assert got["mean_s"] == pytest.approx(ibi.mean()) and got["sd_s"] == pytest.approx(ibi.std())
    assert got["rmssd_s"] == pytest.approx(np.sqrt(np.mean(np.diff(ibi) ** 2)))
    assert got["pnn50"] == pytest.approx(np.mean(np.abs(np.diff(ibi)) > 0.05))
    assert np.isnan(ibi_stats(beats[:2], 2.0)).all()


def test_probe_cli_with_baselines_and_groups(tmp_path, capsys, caplog):
    """Real files: 16 synthetic ECGs (8 at 55-70 bpm, 8 at 95-120 bpm) in 8 two-record groups;
    biosig embed with random weights, then probe --baseline ibi --baseline random --group-column."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    rows = ["record,label,patient,coin"]
    coin = "ababbaabbbaaabab"                  # 8 + 8, unrelated to the rate: a probe that is not perfect
    for i in range(16):
        fast = i % 2
        hr = (95 + 3 * i) if fast else (55 + 2 * i)
        write(simulate("ecg", 22, seed=i, fs_hz=250.0, heart_rate_bpm=min(hr, 120)), tmp_path / f"r{i:02d}.csv")
        rows.append(f"r{i:02d},{'fast' if fast else 'slow'},p{i // 2},{coin[i]}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    emb = tmp_path / "emb.parquet"
    assert main(["embed", str(tmp_path), "--model", "ecg-tiny", "--random-weights", "--window-s", "5",
                 "--out", str(emb)]) == 0
    assert pl.read_parquet(emb)["t1_s"][0] - pl.read_parquet(emb)["t0_s"][0] == pytest.approx(5.0)
    capsys.readouterr()
    assert main(["probe", "--embeddings", str(emb), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "label", "--group-column", "patient", "--folds", "4",
                 "--baseline", "ibi", "--baseline", "random", "--model", "ecg-tiny", "--random-seed", "1",
                 "--bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "grouped" in out and "ibi" in out and "random seed 1" in out and "diff" in out
    ibi_row = next(line for line in out.splitlines() if line.startswith("ibi"))
    assert float(ibi_row.split("|")[1].split()[0]) > 0.9       # heart rate separates the classes
    # without --model: the architecture and the 5 s window biosig embed recorded in the file; the
    # embeddings are random weights seed 0, which the row then reproduces (tests/test_embeddings_provenance.py)
    assert main(["probe", "--embeddings", str(emb), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "label", "--baseline", "random", "--bootstrap", "20"]) == 0
    random_row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("random seed 0"))
    assert random_row.split("|")[3].split()[0] == "+0.000"
    # a sound baseline on ECG recordings is computed, with a warning naming the usual one
    assert main(["probe", "--embeddings", str(emb), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "label", "--folds", "4", "--baseline", "mfcc", "--bootstrap", "20"]) == 0
    capsys.readouterr()
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "--baseline mfcc is a baseline for audio recordings; these are ecg (the usual one: hrv, ibi)" in said, said
    # --combined: IBI + embeddings vs IBI alone, against scikit-learn on the same folds
    assert main(["probe", "--embeddings", str(emb), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "coin", "--folds", "4", "--baseline", "ibi",
                 "--combined", "--bootstrap", "50", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    both = res["combined: ibi + embeddings"]
    assert set(both) == {"ibi + embeddings", "ibi"} and "diff" in both["ibi"]
    from encoders.baselines import baseline_features
    from biosig.readers import read
    from sklearn.metrics import roc_auc_score
    names = [f"r{i:02d}" for i in range(16)]
    df = pl.read_parquet(emb)
    E = np.stack([np.mean(df.filter(pl.col("source").str.contains(n))["embedding"].to_list(), axis=0) for n in names])
    F = baseline_features("ibi", [read(tmp_path / f"{n}.csv") for n in names], modality="ecg")
    Xb, y = np.hstack([F, E]), np.array([c == "b" for c in coin], int)
    auc = roc_auc_score(y, _per_block_oracle((Xb,), y, cv_folds(y, 4, 0))[0][:, 1])   # one block: the concatenation
    assert 0.05 < auc < 0.95 and both["ibi + embeddings"]["auroc"]["value"] == pytest.approx(auc, abs=1e-9)
    assert both["ibi"]["auroc"]["value"] != pytest.approx(auc, abs=1e-6)   # the embeddings were added
    from scipy.special import expit, logit
    pf, pe = _per_block_oracle((F, E), y, cv_folds(y, 4, 0))
    fused = res["combined: ibi + embeddings (late fusion)"]
    assert set(fused) == {"ibi + embeddings (late fusion)", "ibi"} and "diff" in fused["ibi"]
    assert fused["ibi + embeddings (late fusion)"]["auroc"]["value"] == pytest.approx(
        roc_auc_score(y, expit((logit(pf[:, 1]) + logit(pe[:, 1])) / 2)), abs=1e-9)
    # with --baseline random too: the random-weight row fused with IBI, the control. These embeddings
    # are random weights seed 0, so their control reproduces the fused row exactly
    assert main(["probe", "--embeddings", str(emb), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "coin", "--folds", "4", "--baseline", "ibi", "--baseline", "random",
                 "--combined", "--bootstrap", "50", "--json", "--positive", "b", "--by-label"]) == 0
    res = json.loads(capsys.readouterr().out)
    fused = res["combined: ibi + embeddings (late fusion)"]
    by = res["by label"]   # one kind of negative (a): its column is the whole set, from the same predictions
    assert list(by) == ["all", "vs a"] and by["vs a"]["auroc"] == by["all"]["auroc"]
    assert by["all"]["auroc"]["ibi + embeddings (late fusion)"] == pytest.approx(
        fused["ibi + embeddings (late fusion)"]["auroc"]["value"], abs=1e-12)
    assert set(by["all"]["diff"]) == {"embeddings - ibi", "embeddings - random seed 0", "ibi + embeddings (late fusion) - ibi",
                                      "ibi + embeddings - ibi"}
    control = fused["ibi + random seed 0 (late fusion)"]
    assert control["auroc"]["value"] == pytest.approx(fused["ibi + embeddings (late fusion)"]["auroc"]["value"], abs=1e-9)
    assert control["diff"]["auroc"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert main(["probe", "--embeddings", str(emb), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "label", "--combined"]) == 2
    assert "--combined needs a handcrafted --baseline" in capsys.readouterr().err


# ---------------------------------------------------------------- nested choice of the strength C
def _inner_logloss_choice(X, y, inner):
    """Oracle for choose_C: mean held-out log-loss per C over the inner folds, by hand."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import StandardScaler
    from encoders.probe import C_GRID
    means = []
    for C in C_GRID:
        losses = []
        for train, test in inner:
            sc = StandardScaler().fit(X[train])
            clf = LogisticRegression(C=C, max_iter=5000, class_weight="balanced", random_state=0)
            clf.fit(sc.transform(X[train]), y[train])
            losses.append(log_loss(y[test], clf.predict_proba(sc.transform(X[test])), labels=[0, 1]))
        means.append(np.mean(losses))
    best = min(means)
    return next(C for C, m in zip(C_GRID, means) if np.isclose(m, best, rtol=0, atol=1e-12))


def test_choose_C_matches_a_hand_computed_inner_cv():
    from encoders.probe import C_GRID, choose_C
    X, y = _data(n=80, d=6, sep=1.5, seed=3)
    assert choose_C(X, y) == _inner_logloss_choice(X, y, cv_folds(y, 5, 0))
    noise = np.random.default_rng(1).standard_normal((80, 40))
    assert choose_C(noise, y) == C_GRID[0]                      # nothing to learn: strongest penalty
    assert choose_C(X[:, :2] * [1, 0] + np.c_[3.0 * y, np.zeros(80)], y) > 0.1   # clean signal: weak penalty


def test_choose_C_keeps_groups_apart_in_the_inner_folds():
    """Three copies of each record and labels that are random per record: ungrouped inner folds
    reward memorising the copies (large C), grouped ones see no signal (smallest C)."""
    from encoders.probe import C_GRID, choose_C
    rng = np.random.default_rng(7)
    base, lab = rng.standard_normal((40, 30)), np.arange(40) % 2
    X = np.repeat(base, 3, axis=0) + 1e-3 * rng.standard_normal((120, 30))
    y, groups = np.repeat(lab, 3), np.repeat(np.arange(40), 3)
    assert choose_C(X, y, groups) == C_GRID[0]
    assert choose_C(X, y) > C_GRID[0]


def test_auto_C_is_chosen_per_training_fold():
    from encoders.probe import choose_C, compare, out_of_fold_proba
    X, y = _data(n=90, d=10, sep=1.0, seed=4)
    folds = cv_folds(y, 5, 0)
    res = probe(X, y, folds=folds, n_boot=20, C="auto")
    assert res["C"] == [choose_C(X[tr], y[tr]) for tr, _ in folds]
    manual = np.zeros(len(y))
    for (tr, te), c in zip(folds, res["C"]):
        manual[te] = out_of_fold_proba(X, y, [(tr, te)], C=c)[1][te, 1]
    from sklearn.metrics import roc_auc_score
    assert res["auroc"]["value"] == pytest.approx(roc_auc_score(y, manual))
    both = compare({"a": X, "b": X[:, :3]}, y, folds, reference="a", n_boot=20, C="auto")
    assert both["a"]["C"] == res["C"] and len(both["b"]["C"]) == 5
    assert probe(X, y, folds=folds, n_boot=5)["C"] == [1.0] * 5


def test_cli_probe_C(tmp_path, capsys):
    X, y = _data()
    keys = [f"R{i:03d}" for i in range(len(y))]
    path, _ = _emb_file(tmp_path, X, keys)
    labels = tmp_path / "labels.csv"
    pl.DataFrame({"record": keys, "label": y}).write_csv(labels)
    args = ["probe", "--embeddings", str(path), "--labels", str(labels), "--label-column", "label", "--bootstrap", "20"]
    assert main(args + ["--C", "auto"]) == 0
    out = capsys.readouterr().out
    assert "C per fold" in out and "auroc" in out
    assert main(args) == 0 and "C per fold 1 1 1 1 1" in capsys.readouterr().out
    for bad in ("-1", "strong"):
        with pytest.raises(SystemExit) as exc:
            main(args + ["--C", bad])
        assert exc.value.code == 2
        assert "--C" in capsys.readouterr().err
