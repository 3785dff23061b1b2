"""``--af-prevalence``: the AF heads' probability read at another prevalence, in the head
(Bayes' rule, against :func:`encoders.heads.train.prior_shift`, itself tested against the exact
posterior of a known model in test_heads.py), in ``embed`` and ``score`` (Parquet, resume) and in
``serve`` (score frames over real sockets)."""
import dataclasses
import json

import numpy as np
import pytest

from encoders.errors import EncoderError
from encoders.heads import Head, load_head
from encoders.heads.train import fit_population, prior_shift
from test_cli_errors import run_main as _run


@pytest.fixture(scope="module")
def af_ecg(tmp_path_factory):
    """40 s of synthetic AF ECG as WFDB: windows with usable beats, so af_prob has values."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    d = tmp_path_factory.mktemp("af")
    write(simulate("ecg", 40.0, seed=4, rhythm="af"), d / "af")
    return d / "af"


def _random_measures(head: Head, n: int, seed: int = 0) -> np.ndarray:
    """Raw feature rows spread around the head's training distribution."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, len(head.features))) * 1.5
    x = z * np.asarray(head.scale) + np.asarray(head.mean)
    for j, t in enumerate(head.transforms):
        if t == "log":
            x[:, j] = np.exp(x[:, j]) - head.eps
    return x


@pytest.mark.parametrize("name", ["ecg-af", "ppg-af"])
def test_a_head_read_at_another_prevalence_is_bayes_rule_on_its_fitted_probability(name):
    head = load_head(name)
    p0 = head.training_prevalence
    X = _random_measures(head, 200)
    fitted = head.predict_matrix(X)
    assert 0.05 < np.median(fitted) < 0.95 or np.ptp(fitted) > 0.5
    for q in (0.02, 738 / 8528, 0.5, 0.9):
        moved = head.at_prevalence(q)
        np.testing.assert_allclose(moved.predict_matrix(X), prior_shift(fitted, p0, q), rtol=1e-12, atol=1e-15)
        assert moved.head_id == f"{head.head_id}@prevalence={q:g}"
        assert np.array_equal(np.argsort(moved.predict_matrix(X), kind="stable"), np.argsort(fitted, kind="stable"))
        # moving again starts from the fitted head, and None gives it back
        np.testing.assert_allclose(moved.at_prevalence(0.3).predict_matrix(X), prior_shift(fitted, p0, 0.3), rtol=1e-12)
        assert moved.at_prevalence(None) == head and moved.as_fitted() == head
        # a file written from a moved head says so and reads back the same
        again = Head.from_json(moved.to_json())
        assert again == moved and json.loads(moved.to_json())["read_at_prevalence"] == q
    # at its own prevalence nothing moves (up to the last bit of the intercept)
    np.testing.assert_allclose(head.at_prevalence(p0).predict_matrix(X), fitted, rtol=1e-12)
    assert load_head(name, 0.1) == head.at_prevalence(0.1) and load_head(name) == head


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan"), "eight"])
def test_a_prevalence_outside_0_1_is_refused(bad):
    with pytest.raises(EncoderError, match="prevalence"):
        load_head("ecg-af").at_prevalence(bad)


def test_the_training_prevalence_is_the_share_of_positives_among_the_fitted_records():
    # records 0 (positive, 2 usable windows), 1 (negative, 1), 2 (positive, 4); records 3 and 4
    # (negatives) have no usable window: the fit sees 2 positives of 3 records, not 2 of 5
    y = np.array([1, 0, 1, 0, 0])
    g = np.array([0, 0, 1, 2, 2, 2, 2])
    w = np.array([0.5, 0.5, 1.0, 0.25, 0.25, 0.25, 0.25])
    assert fit_population(y, g, w) == {"n_fit_records": 3, "fit_prevalence": pytest.approx(2 / 3)}
    head = load_head("ecg-af")
    assert head.metrics["fit_prevalence"] == pytest.approx(head.training_prevalence)
    assert head.metrics["n_fit_records"] <= head.metrics["n_records"]
    older = dataclasses.replace(head, metrics={k: v for k, v in head.metrics.items() if k != "fit_prevalence"})
    assert older.training_prevalence == head.metrics["n_positive"] / head.metrics["n_records"]
    with pytest.raises(EncoderError, match="does not say the prevalence"):
        dataclasses.replace(head, metrics={}).at_prevalence(0.1)


def test_embed_and_score_write_af_prob_read_at_the_given_prevalence(capsys, af_ecg, tmp_path):
    import polars as pl

    from encoders.embeddings_file import read_provenance
    head, q = load_head("ecg-af"), 0.05
    for extra, name in (((), "fitted"), (("--af-prevalence", q), "moved")):
        code, _, err = _run(capsys, "embed", af_ecg, "--model", "ecg-tiny", "--out", tmp_path / f"{name}.parquet", *extra)
        assert code == 0, err
        code, _, err = _run(capsys, "score", af_ecg, "--model", "ecg-tiny", "--backend", "torch",
                            "--out", tmp_path / name, *extra)
        assert code == 0, err
    emb = {n: pl.read_parquet(tmp_path / f"{n}.parquet")["af_prob"].to_numpy() for n in ("fitted", "moved")}
    win = {n: pl.read_parquet(tmp_path / n / "windows.parquet").sort("window")["af_prob"].to_numpy()
           for n in ("fitted", "moved")}
    for d in (emb, win):
        ok = np.isfinite(d["fitted"])
        assert ok.sum() >= 3 and np.array_equal(ok, np.isfinite(d["moved"]))
        np.testing.assert_allclose(d["moved"][ok], prior_shift(d["fitted"][ok], head.training_prevalence, q), rtol=1e-9)
        assert d["moved"][ok].mean() < d["fitted"][ok].mean()
    rec = pl.read_parquet(tmp_path / "moved" / "records.parquet")
    assert rec["af_prob"][0] == pytest.approx(float(np.nanmean(win["moved"])))
    assert read_provenance(tmp_path / "moved.parquet")["af_prevalence"] == q
    assert "af_prevalence" not in read_provenance(tmp_path / "fitted.parquet")
    manifest = json.loads((tmp_path / "moved" / "run.json").read_text())
    assert f"ecg-af-v{head.version}@prevalence={q:g}" in json.dumps(manifest)
    # a folder scored at one prevalence is not filled at another
    code, _, err = _run(capsys, "score", af_ecg, "--model", "ecg-tiny", "--backend", "torch",
                        "--out", tmp_path / "moved", "--af-prevalence", 0.2)
    assert code == 2 and "Traceback" not in err and "prevalence=0.05" in err, err


@pytest.mark.parametrize("command", ["embed", "score", "serve"])
@pytest.mark.parametrize("value", ["0", "1", "8.7", "nan", "x"])
def test_a_bad_af_prevalence_is_a_one_line_usage_error(capsys, af_ecg, tmp_path, command, value):
    args = {"embed": ("embed", af_ecg, "--model", "ecg-tiny", "--out", tmp_path / "e.parquet"),
            "score": ("score", af_ecg, "--model", "ecg-tiny", "--out", tmp_path / "s"),
            "serve": ("serve", "--seconds", "1")}[command]
    code, _, err = _run(capsys, *args, "--af-prevalence", value)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "argument --af-prevalence" in err and "strictly between 0 and 1" in err or "a share" in err, err
    assert not (tmp_path / "e.parquet").exists() and not (tmp_path / "s").exists()


def test_serve_publishes_af_prob_read_at_the_configured_prevalence():
    """Real sockets: the runtime with ``af_prevalence`` publishes, for every usable window, the
    fitted head's probability of the window's published measures moved to that prevalence."""
    from biosig.synthetic import simulate
    from streams.config import RuntimeConfig
    from streams.errors import StreamError
    from test_streams_helpers import config, replay_scores, running
    for bad in (0.0, 1.0, -1.0):
        with pytest.raises(StreamError, match="af_prevalence"):
            RuntimeConfig(af_prevalence=bad)
    head, q = load_head("ecg-af"), 0.02
    rec = simulate("ecg", 30.0, seed=4, rhythm="af")
    with running(config(windows={"ecg": (10.0, 5.0)}, af_prevalence=q)) as rt:
        frames = replay_scores(rt, rec, "ecg", 5, source="bed07", chunk=50, timeout_s=40)
    assert len(frames) == 5
    usable = [h for h in frames if h["ok"]]
    assert len(usable) >= 3
    for h in usable:
        af = h["heads"]["af_prob"]
        assert af["head_id"] == f"{head.head_id}@prevalence={q:g}"
        assert af["prevalence"] == q and af["fitted_prevalence"] == head.training_prevalence
        fitted = head.predict(h["measures"])
        assert af["value"] == pytest.approx(float(prior_shift(fitted, head.training_prevalence, q)), rel=1e-9)
    assert np.mean([h["heads"]["af_prob"]["value"] for h in usable]) < 0.5
    from streams.scores import summary_text
    line = summary_text(usable[0])
    assert f"af_prob {usable[0]['heads']['af_prob']['value']:.2f}" in line and line.endswith(
        f"at prevalence 0.02  quality {usable[0]['quality']:.2f}")


def test_score_frames_say_the_prevalence_their_af_prob_is_calibrated_to():
    """As fitted, each head output says its head's fit prevalence (ecg-af: the 145 covered records,
    33.8 % AF) twice, and the listen line says it is the fitted one; read at another, ``prevalence``
    is that one and ``fitted_prevalence`` is unchanged. A head whose file does not record its fit
    prevalence (an older or hand-made head) publishes null and its line says nothing about it."""
    import dataclasses

    from biosig.synthetic import simulate
    from streams.scores import ScoreHost, summary_text
    ecg = simulate("ecg", 12, seed=4, rhythm="sinus")
    win, fs = ecg.samples[:1, :int(10 * ecg.fs_hz)], ecg.fs_hz
    p0 = load_head("ecg-af").training_prevalence
    assert p0 == pytest.approx(49 / 145)
    for q, want in ((None, p0), (0.05, 0.05)):
        h = ScoreHost(prevalence=q).header("b/ecg", 1, "ecg", win, fs, 0, 10)
        af = h["heads"]["af_prob"]
        assert h["ok"] and af["prevalence"] == want and af["fitted_prevalence"] == p0
        tail = f"at prevalence {want:.3g}" + (" (as fitted)" if q is None else "") + f"  quality {h['quality']:.2f}"
        assert summary_text(h).endswith(tail), summary_text(h)
    host = ScoreHost()
    bare = dataclasses.replace(load_head("ecg-af"), metrics={})   # says neither fit_prevalence nor counts
    host._heads["ecg"] = [bare]
    h = host.header("b/ecg", 1, "ecg", win, fs, 0, 10)
    af = h["heads"]["af_prob"]
    assert af["prevalence"] is None and af["fitted_prevalence"] is None and af["value"] is not None
    assert "prevalence" not in summary_text(h)


def test_af_prevalence_with_a_model_without_an_af_head_says_it_has_no_effect(capsys, tmp_path, caplog):
    import logging

    from biosig.synthetic import simulate
    from biosig.writers import write
    wav = write(simulate("audio", 3.0, seed=1), tmp_path / "a.wav")
    for command, out in (("embed", tmp_path / "a.parquet"), ("score", tmp_path / "s")):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            code, _, err = _run(capsys, command, wav, "--model", "audio-tiny", "--out", out, "--af-prevalence", 0.1)
        assert code == 0, err
        assert [r.getMessage() for r in caplog.records if "--af-prevalence" in r.getMessage()] == \
            ["--af-prevalence has no effect: audio recordings get no AF probability"], command


def test_the_cards_mix_check_weighs_records_as_copies_of_the_challenges_classes():
    """mix_calibration against its meaning: every record repeated as many times as the CinC 2017
    training set has records of its class per record here (AF 738 / 2, N 5050 / 2, O 2456 / 2,
    ~ 284), then plain means; the record without a usable window (nan) is left out."""
    from encoders.heads.train_af import mix_calibration
    head = load_head("ecg-af")
    kinds = np.array(["A", "A", "N", "N", "O", "~", "O"])
    y = kinds == "A"
    oof = np.array([0.8, 0.3, 0.1, 0.4, 0.6, 0.2, np.nan])
    copies = np.array([369, 369, 2525, 2525, 1228, 284, 1228])
    keep = np.isfinite(oof)
    p, t = np.repeat(oof[keep], copies[keep]), np.repeat(y[keep], copies[keep]).astype(float)
    got = mix_calibration(y, oof, kinds, head)
    assert got["observed"] == pytest.approx(t.mean())
    (n0, mean0, brier0), (n1, mean1, brier1) = got["rows"]
    assert n0 == "as fitted" and n1 == f"read at {t.mean():.1%}"
    assert mean0 == pytest.approx(p.mean()) and brier0 == pytest.approx(np.mean((p - t) ** 2))
    moved = prior_shift(p, head.training_prevalence, t.mean())
    assert mean1 == pytest.approx(moved.mean()) and brier1 == pytest.approx(np.mean((moved - t) ** 2))
