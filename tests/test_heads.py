"""Task heads: file format, the NumPy evaluator against scikit-learn, metrics helpers, shipped heads."""
import json
import re

import numpy as np
import pytest

from biosig.measures_window import measure_keys
from encoders.errors import EncoderError
from encoders.heads import HEADS_BY_MODALITY, Head, list_heads, load_head
from encoders.heads import train as T
from conftest import shared_path


def test_evaluator_equals_sklearn_and_round_trips_json():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(0)
    X = np.abs(rng.normal(size=(300, 3))) + 0.01
    y = (np.log(X[:, 0]) + 0.5 * X[:, 2] + 0.3 * rng.normal(size=300)) > 0
    w = rng.uniform(0.5, 1.5, 300)
    head = T.fit(X, y, w, ("a", "b", "c"), ("log", "identity", "identity"), C=0.5, name="t", version=3,
                 modality="ecg", output="p")
    Z = np.column_stack([np.log(X[:, 0] + 1e-3), X[:, 1], X[:, 2]])
    Z = (Z - Z.mean(0)) / Z.std(0)
    ref = LogisticRegression(C=0.5, max_iter=1000).fit(Z, y, sample_weight=w).predict_proba(Z)[:, 1]
    np.testing.assert_allclose(head.predict_matrix(X), ref, atol=1e-6)
    again = Head.from_json(head.to_json())
    assert again == head and again.head_id == "t-v3"
    assert head.predict({"a": X[0, 0], "b": X[0, 1], "c": X[0, 2]}) == pytest.approx(ref[0], abs=1e-6)
    assert head.predict({"a": 1.0, "b": None, "c": 2.0}) is None          # a missing feature: no value
    assert np.isnan(head.predict_matrix(np.array([[1.0, np.nan, 1.0]]))[0])


def test_bad_head_files_are_clear_errors(tmp_path):
    with pytest.raises(EncoderError, match="unknown head 'nope'"):
        load_head("nope")
    bad = tmp_path / "head.json"
    bad.write_text(json.dumps({"format": 1, "kind": "logistic", "features": ["a"], "transforms": ["sqrt"],
                               "mean": [0], "scale": [1], "coef": [1]}))
    with pytest.raises(EncoderError, match="not a valid head file"):
        load_head(str(tmp_path))


def test_metric_helpers_against_sklearn():
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.3
    p = np.round(rng.random(200) + 0.5 * y, 1)                         # ties included
    assert T.auroc(y, p) == pytest.approx(roc_auc_score(y, p))
    y2 = np.array([0] * 20 + [1] * 4, bool)
    p2 = np.concatenate([np.arange(20) / 20, [0.99, 0.97, 0.5, 0.2]])
    # 95 % specificity: threshold = the 19th of 20 negatives (0.95); two positives above it
    assert T.sens_at_spec(y2, p2) == 0.5
    lo, hi = T.bootstrap_ci(y, p, T.auroc, n=200)
    assert lo < T.auroc(y, p) < hi


@pytest.mark.parametrize("name", ["ecg-af", "ppg-af"])
def test_shipped_heads_are_complete_and_measure_only(name):
    assert name in list_heads() and HEADS_BY_MODALITY[name.split("-")[0]] == name
    head = load_head(name)
    assert head.encoder_id is None and head.version >= 1 and head.output == "af_prob"
    assert set(head.features) <= set(measure_keys(head.modality)) and head.training
    card = (head_dir := load_head.__globals__["HEADS_DIR"] / name) / "MODEL_CARD.md"
    text = card.read_text()
    assert f"{head.metrics['auroc']:.3f}" in text and "Brier" in text
    assert (head_dir / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if name == "ecg-af":
        assert "cinc2017" in head.training and head.metrics["n_records"] == 200
    else:
        assert "SYNTHETIC" in head.training and "not a validated" in text


@pytest.mark.parametrize("name", ["ecg-af", "ppg-af"])
def test_shipped_head_is_what_its_training_command_makes_today(name, tmp_path):
    """The heads read beat-interval measures: a change to a beat detector changes their inputs, and
    a head fitted before it scores features the code no longer produces (v1 of both heads did,
    after the PPG pulse-period and ECG bradycardia fixes). Refit: ``python -m encoders.heads.train_af``
    with the command in the card."""
    from encoders.heads import train_af
    task = name.split("-")[0]
    data = shared_path("cinc2017") if task == "ecg" else None
    train_af.run(task, tmp_path, data)
    new, old = load_head(str(tmp_path)), load_head(name)
    assert (new.name, new.version, new.features, new.transforms, new.training, new.min_window_s) == \
        (old.name, old.version, old.features, old.transforms, old.training, old.min_window_s)
    for k in ("mean", "scale", "coef"):
        np.testing.assert_allclose(getattr(new, k), getattr(old, k), rtol=1e-6, atol=1e-9, err_msg=k)
    assert new.intercept == pytest.approx(old.intercept, rel=1e-6, abs=1e-9)
    assert new.metrics["auroc"] == pytest.approx(old.metrics["auroc"], abs=1e-9)
    shipped = load_head.__globals__["HEADS_DIR"] / name / "MODEL_CARD.md"
    assert_same_card((tmp_path / "MODEL_CARD.md").read_text(), shipped.read_text())


SWEEP_SECTION = "## By heart rate, on SYNTHETIC records"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def assert_same_card(new: str, old: str) -> None:
    """The card text exactly, except in the synthetic heart-rate table, where a cell may move by one
    window: a median by <= 0.02, a share by <= 10 percentage points (synthetic ECG is integrated
    numerically, and one window's beat count can differ with the machine's rounding). The fitted
    numbers (CinC 2017 or the synthetic PPG training set) are compared exactly."""
    a, b = new.splitlines(), old.splitlines()
    assert len(a) == len(b), "the card has other lines than the shipped one"
    section = ""
    for x, y in zip(a, b):
        section = x if x.startswith("## ") else section
        if x == y:
            continue
        assert section.startswith(SWEEP_SECTION) and x.startswith("|"), f"card line differs:\n{x}\n{y}"
        assert NUMBER.sub("#", x) == NUMBER.sub("#", y), f"card line differs:\n{x}\n{y}"
        for u, v in zip(NUMBER.findall(x), NUMBER.findall(y)):
            tol = 0.02 if "." in u else 10.0   # a median, or a share in per cent
            assert abs(float(u) - float(v)) <= tol + 1e-9, f"card cell {u} vs {v}:\n{x}\n{y}"


def test_no_probability_for_a_window_shorter_than_the_head_was_fitted_on():
    """`min_window_s` travels in the file; below it predict gives nothing, at or above it the
    probability; a file without it (or measures without `window_s`) is not limited."""
    head = load_head("ecg-af")
    assert head.min_window_s == 9.36   # CinC 2017 subset: its shortest record, one 9.36 s window
    assert load_head("ppg-af").min_window_s == 10.0
    m = dict(zip(head.features, np.exp(np.asarray(head.mean)) - head.eps))
    p = head.predict(m)
    assert p is not None and head.predict({**m, "window_s": 10.0}) == p == head.predict({**m, "window_s": 9.36})
    assert head.predict({**m, "window_s": 9.3}) is None and head.predict({**m, "window_s": 3.0}) is None
    assert Head.from_json(head.to_json()) == head
    import dataclasses
    unlimited = dataclasses.replace(head, min_window_s=None)
    assert unlimited.predict({**m, "window_s": 3.0}) == p and "min_window_s" not in json.loads(unlimited.to_json())


@pytest.mark.parametrize("command", ["embed", "score"])
def test_a_strip_shorter_than_the_heads_windows_gets_measures_but_no_af_prob(command, tmp_path, capsys):
    """A 6 s ECG is one 6 s window: heart rate and intervals are written, af_prob stays empty; a
    12 s one gets af_prob in its first window."""
    import polars as pl

    from biosig.synthetic import simulate
    from biosig.writers import write
    from test_cli_errors import run_main
    for seconds in (6.0, 12.0):
        write(simulate("ecg", seconds, seed=4, rhythm="af"), tmp_path / f"r{seconds:g}")
        out = tmp_path / f"{command}{seconds:g}"
        extra = ("--backend", "torch") if command == "score" else ()
        code, _, err = run_main(capsys, command, tmp_path / f"r{seconds:g}", "--model", "ecg-tiny",
                                "--out", out.with_suffix(".parquet") if command == "embed" else out, *extra)
        assert code == 0, err
        df = pl.read_parquet(out.with_suffix(".parquet") if command == "embed" else out / "windows.parquet")
        first = df.sort("t0_s").row(0, named=True)
        assert first["measures_ok"] and first["hr_bpm"] is not None
        assert (first["af_prob"] is None) == (seconds < 9.36), (seconds, first["af_prob"])


def test_card_comparison_allows_one_window_in_the_synthetic_table_only():
    card = "# Head\n## Cross-validation\n| AUROC | 0.930 |\n" + SWEEP_SECTION + "\n| sinus | 0.05 (0%) | 0.08 (5%) |\n"
    assert_same_card(card.replace("0.05 (0%)", "0.04 (5%)"), card)
    for changed in (card.replace("0.930", "0.931"), card.replace("0.05 (0%)", "0.09 (0%)"),
                    card.replace("(5%)", "(20%)"), card.replace("| sinus", "| af")):
        with pytest.raises(AssertionError):
            assert_same_card(changed, card)


def test_ecg_head_separates_simulated_af_from_sinus_and_survives_noise():
    from biosig.measures_window import window_measures
    from biosig.synthetic import simulate
    head = load_head("ecg-af")
    p = {}
    for rhythm in ("sinus", "af"):
        rec = simulate("ecg", 20, seed=3, rhythm=rhythm, heart_rate_bpm=90.0)
        m = window_measures(rec.samples[:, :int(10 * rec.fs_hz)], rec.fs_hz, "ecg")
        assert m["ok"]
        p[rhythm] = head.predict(m)
    assert p["af"] > 0.5 > 0.2 > p["sinus"], p
    noisy = window_measures(np.random.default_rng(0).normal(size=(1, 3000)), 300.0, "ecg")
    assert head.predict(noisy) is None or 0.0 <= head.predict(noisy) <= 1.0


def test_prior_shift_matches_the_posterior_of_a_known_model_at_each_prevalence():
    """Two Gaussian classes (AF ~ N(1.5, 1), not AF ~ N(0, 1)): the exact posterior at prevalence q
    is known; moving the posterior at 25 % to q with prior_shift must give the posterior at q."""
    from scipy.stats import norm
    from encoders.heads.train import prior_shift
    x = np.linspace(-4, 6, 201)
    lik_af, lik_no = norm.pdf(x, 1.5, 1.0), norm.pdf(x, 0.0, 1.0)
    posterior = lambda q: q * lik_af / (q * lik_af + (1 - q) * lik_no)   # noqa: E731
    for q in (0.5, 0.087, 0.02, 0.9):
        np.testing.assert_allclose(prior_shift(posterior(0.25), 0.25, q), posterior(q), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(prior_shift([0.1, 0.5], 0.3, 0.3), [0.1, 0.5])
    assert prior_shift(0.5, 0.25, 738 / 8528) == pytest.approx(0.2213, abs=1e-4)   # the card's example
    with pytest.raises(ValueError, match="prevalence"):
        prior_shift(0.5, 0.0, 0.1)


def test_by_kind_scores_the_heads_out_of_fold_probabilities_per_cinc_class():
    """train_af.by_kind: the 'all' column is the AUROC of the same scores; each kind keeps the AF
    records and that kind's negatives only."""
    from sklearn.metrics import roc_auc_score
    from encoders.heads import af_card, train_af
    rng = np.random.default_rng(0)
    kinds = ["A"] * 20 + ["N"] * 20 + ["O"] * 20 + ["~"] * 20
    y = np.array([k == "A" for k in kinds], int)
    oof = np.clip(rng.normal(0.3 + 0.4 * y, 0.15), 0, 1)
    oof[[5, 45]] = np.nan                                 # no usable window: the prevalence, as run() fills it
    p = np.where(np.isfinite(oof), oof, y.mean())
    base = rng.normal(y * 0.5, 1.0)
    t = train_af.by_kind(y, p, base, kinds, n_boot=50)
    assert list(t) == ["all", "vs N", "vs O", "vs ~", "CinC 2017 mix"]
    assert t["all"]["auroc"]["head"] == pytest.approx(roc_auc_score(y, p))
    m = np.array([k in ("A", "O") for k in kinds])
    assert t["vs O"]["auroc"]["head"] == pytest.approx(roc_auc_score(y[m], p[m]))
    assert t["all"]["auroc"]["baseline"] == pytest.approx(roc_auc_score(y, base))
    lines = af_card.kind_lines(t)
    assert lines[0].startswith("## By kind of negative") and "| AF vs ~ |" in lines[4] and af_card.kind_lines(None) == []
