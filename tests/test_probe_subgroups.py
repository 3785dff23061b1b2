"""The by-kind breakdown of a probe (encoders.probe_subgroups): the fast weighted AUROC against
scikit-learn's, the mix weights, and a constructed case whose per-kind and re-weighted AUROCs are
known in advance."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from encoders.errors import EncoderError
from encoders.probe_metrics import weighted_auroc as binary_auroc
from encoders.probe_subgroups import CINC2017_MIX, format_subgroup_rows, mix_weights, subgroup_table


@pytest.mark.parametrize("seed", range(20))
def test_binary_auroc_matches_scikit_learn_with_ties_and_weights(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 400))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    score = np.round(rng.normal(y * rng.uniform(0, 2), 1.0), int(rng.integers(0, 3)))   # many ties at 0 decimals
    w = rng.uniform(0.01, 5.0, n)
    assert binary_auroc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert binary_auroc(y, score, w) == pytest.approx(roc_auc_score(y, score, sample_weight=w), abs=1e-12)


def test_binary_auroc_without_both_classes_is_nan():
    assert np.isnan(binary_auroc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert np.isnan(binary_auroc([0, 0], [0.1, 0.2], [1.0, 2.0]))


def test_mix_weights_give_each_kind_its_share_and_refuse_an_unknown_kind():
    pos = np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)
    kinds = ["A", "A", "N", "N", "N", "O", "~", "~"]
    w = mix_weights(pos, kinds, CINC2017_MIX)
    assert np.all(w[pos] == 1.0)
    for k, share in CINC2017_MIX.items():
        assert w[np.array(kinds) == k].sum() == pytest.approx(share)
    w2 = mix_weights(pos[:6], kinds[:6], CINC2017_MIX)   # no noisy record here: it simply weighs nothing
    assert w2[2:5].sum() == pytest.approx(5050) and w2[5] == pytest.approx(2456)
    with pytest.raises(EncoderError, match="'X' have no share"):
        mix_weights(pos, kinds[:-1] + ["X"], CINC2017_MIX)
    with pytest.raises(EncoderError, match="7 subgroups for 8 records"):
        mix_weights(pos, kinds[:-1], CINC2017_MIX)


def _case(n=60, seed=0):
    """Positives score high; negatives of kind 'easy' score low (perfectly separated), negatives of
    kind 'hard' are drawn like the positives (AUROC about 0.5 against them)."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n, int), np.zeros(2 * n, int)]
    kinds = np.r_[["pos"] * n, ["easy"] * n, ["hard"] * n]
    good = np.r_[rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.4, n), rng.uniform(0.5, 1.0, n)]
    noise = rng.uniform(0, 1, 3 * n)
    as_proba = lambda s: (np.array([0, 1]), np.c_[1 - s, s])   # noqa: E731
    return y, kinds, {"good": as_proba(good), "noise": as_proba(noise)}


def test_subgroup_table_scores_each_kind_and_the_mix_from_the_same_predictions():
    y, kinds, probas = _case()
    table = subgroup_table(probas, y, kinds, [("good", "noise")], mix={"easy": 1, "hard": 99},
                           mix_name="mostly hard", n_boot=200, seed=0)
    assert list(table) == ["all", "vs easy", "vs hard", "mostly hard"]
    good = {c: t["auroc"]["good"] for c, t in table.items()}
    assert good["vs easy"] == 1.0
    assert good["vs hard"] == pytest.approx(roc_auc_score(np.r_[y[:60], y[120:]], np.r_[probas["good"][1][:60, 1],
                                                                                     probas["good"][1][120:, 1]]))
    assert 0.35 < good["vs hard"] < 0.65
    assert good["all"] == pytest.approx(roc_auc_score(y, probas["good"][1][:, 1]))
    assert good["all"] == pytest.approx((good["vs easy"] + good["vs hard"]) / 2)   # equal counts: the mean
    assert good["mostly hard"] == pytest.approx(0.01 * good["vs easy"] + 0.99 * good["vs hard"])
    assert (table["vs hard"]["n_positive"], table["vs hard"]["n_negative"]) == (60, 60)
    d = table["vs easy"]["diff"]["good - noise"]
    assert d["value"] == pytest.approx(1.0 - table["vs easy"]["auroc"]["noise"]) and d["ci_low"] > 0.2
    d = table["vs hard"]["diff"]["good - noise"]
    assert d["ci_low"] < d["value"] < d["ci_high"]
    rows = format_subgroup_rows(table)
    assert rows[0].split("|")[1].strip() == "all (60 vs 120)" and "vs hard (60)" in rows[0]
    assert rows[-1].startswith("good - noise")


def test_the_sets_own_mix_changes_nothing_and_a_multiclass_probe_is_refused():
    y, kinds, probas = _case(seed=1)
    table = subgroup_table(probas, y, kinds, [], mix={"easy": 5, "hard": 5}, n_boot=10)
    assert table["mix"]["auroc"] == pytest.approx(table["all"]["auroc"])
    three = {"a": (np.array([0, 1, 2]), np.full((len(y), 3), 1 / 3))}
    with pytest.raises(EncoderError, match="two classes"):
        subgroup_table(three, y, kinds, [])
