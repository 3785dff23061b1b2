"""The by-kind breakdown's bootstrap (encoders.probe_subgroups.subgroup_table) against a plain NumPy
bootstrap with scikit-learn's AUROC: the resamples without a positive or a negative are counted per
column (and said), the intervals rest on the others, and a column with more than half of them left
out is refused, as the probe's own bootstrap (encoders.probe_metrics.bootstrap_metrics) does."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from encoders.errors import EncoderError
from encoders.probe_subgroups import format_subgroup_rows, mix_weights, subgroup_table


def _twin(y, kinds, scores: dict, mix, n_boot, seed):
    """The breakdown's bootstrap written out plainly: columns in the table's order, one generator
    for all of them, n records drawn with replacement per resample; a resample lacking a class is
    skipped and counted. Returns {column: (left out, {name: [AUROC per kept resample]})}, stopping
    after the first column with more than half left out (where the table refuses)."""
    pos = np.asarray(y) == 1
    kinds = np.asarray(kinds)
    columns = {"all": (np.ones(len(pos), bool), np.ones(len(pos)))}
    for k in dict.fromkeys(kinds[~pos]):
        columns[f"vs {k}"] = (pos | (kinds == k), np.ones(len(pos)))
    if mix:
        columns["mix"] = (np.ones(len(pos), bool), mix_weights(pos, kinds, mix))
    rng = np.random.default_rng(seed)
    out = {}
    for col, (keep, w) in columns.items():
        idx = np.flatnonzero(keep)
        values, left_out = {name: [] for name in scores}, 0
        for _ in range(n_boot):
            i = idx[rng.integers(0, len(idx), len(idx))]
            if pos[i].all() or not pos[i].any():
                left_out += 1
                continue
            for name, s in scores.items():
                values[name].append(roc_auc_score(pos[i], s[i], sample_weight=w[i]))
        out[col] = (left_out, values)
        if left_out > n_boot / 2:
            break
    return out


def _probas(scores):
    return {name: (np.array([0, 1]), np.c_[1 - s, s]) for name, s in scores.items()}


def test_left_out_resamples_are_counted_per_column_and_said_like_a_plain_bootstrap():
    # 2 noisy records among 42 negatives: about (40/42)^42 = 13 % of the 'vs ~' resamples hold none
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(40, int), np.zeros(42, int)]
    kinds = np.r_[["A"] * 40, ["N"] * 40, ["~"] * 2]
    scores = {"a": rng.uniform(0, 1, len(y)) + 0.3 * y, "b": rng.uniform(0, 1, len(y))}
    mix = {"N": 5050, "~": 284}
    table = subgroup_table(_probas(scores), y, kinds, [("a", "b")], mix=mix, n_boot=200, seed=7)
    twin = _twin(y, kinds, scores, mix, 200, 7)
    assert list(table) == list(twin)
    for col, (left_out, values) in twin.items():
        assert table[col]["bootstrap"] == {"resamples": 200, "left out": left_out}
        lo, hi = np.percentile(np.asarray(values["a"]) - np.asarray(values["b"]), [2.5, 97.5])
        d = table[col]["diff"]["a - b"]
        assert (d["ci_low"], d["ci_high"]) == pytest.approx((lo, hi), abs=1e-9)
    assert twin["vs ~"][0] > 0 and twin["vs N"][0] == 0
    rows = format_subgroup_rows(table)
    said = [r for r in rows if r.startswith("bootstrap")]
    assert said == [f"bootstrap ({c}): {n} of 200 resamples held no record of some class and are left out; "
                    f"the 95% CIs rest on the other {200 - n}" for c, (n, _) in twin.items() if n]


def test_a_column_with_more_than_half_of_its_resamples_left_out_is_refused():
    # 'vs ~' holds 1 positive and 1 noisy record: half of its resamples lack one or the other
    y = np.array([1, 0, 0, 0, 0, 0, 0])
    kinds = np.array(["A", "N", "N", "N", "N", "N", "~"])
    scores = {"a": np.linspace(0.1, 0.9, len(y))}
    refused = kept = 0
    for seed in range(30):
        twin = _twin(y, kinds, scores, None, 20, seed)
        col, (left_out, _) = list(twin.items())[-1]
        if left_out > 10:
            refused += 1
            with pytest.raises(EncoderError, match=rf"^{left_out} of 20 bootstrap resamples of column '{col}' "
                                                   "hold no record of some class"):
                subgroup_table(_probas(scores), y, kinds, [], n_boot=20, seed=seed)
        else:
            kept += 1
            table = subgroup_table(_probas(scores), y, kinds, [], n_boot=20, seed=seed)
            assert {c: t["bootstrap"]["left out"] for c, t in table.items()} == {c: n for c, (n, _) in twin.items()}
    assert refused and kept
