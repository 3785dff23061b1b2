"""Spirometry probe tasks and the spirometry baseline (issue 14: every shipped model, spiro-tiny
included, is probed next to its baselines).

* ``benchmarks/spiro_tasks.py`` (the eval generator, flow-volume driven): seeded, balanced, and each
  artefact does what it says, read back from the rendered volume trace with the project's ATS/ERS
  indices and a plain flow computation.
* ``biosig.synthetic.simulate_spiro(artefact=...)`` (the pretraining generator, a warped clock): a
  clean blow is bit-identical to the one before the option existed; each artefact changes the trace
  where and how it says.
* ``encoders.baselines.spirometry_features``: the indices of :func:`biosig.spirometry.spirometry_indices`.
"""
import hashlib

import numpy as np
import pytest

from biosig.errors import BiosigError
from biosig.record import Record
from biosig.spirometry import spirometry_indices
from biosig.synthetic import SPIRO_ARTEFACTS, simulate_spiro

from conftest import load_benchmark


@pytest.fixture(scope="module")
def st():
    return load_benchmark("spiro_tasks")


def _flow(vol: np.ndarray, fs_hz: float = 100.0) -> np.ndarray:
    """Flow in L/s over 50 ms (a plain difference quotient, enough to see notches)."""
    k = int(0.05 * fs_hz)
    return (vol[k:] - vol[:-k]) * fs_hz / k / 1000.0


def test_eval_generator_is_seeded_balanced_and_clean_blows_follow_their_pattern(st):
    recs, y = st.synthetic_spiro_quality(n_per_class=8, seed=1)
    again, y2 = st.synthetic_spiro_quality(n_per_class=8, seed=1)
    assert np.array_equal(y, y2) and y.sum() == 8 and len(recs) == 16
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(recs, again))
    assert {r.samples.shape for r in recs} == {(1, 1500)} and {r.fs_hz for r in recs} == {100.0}
    assert {r.metadata["truth"]["artefact"] for r, lab in zip(recs, y) if lab} == set(st.ARTEFACTS)
    assert {r.metadata["truth"]["artefact"] for r, lab in zip(recs, y) if not lab} == {"none"}
    recs, y = st.synthetic_spiro_pattern(n_per_class=6, seed=2)
    assert np.array_equal(np.bincount(y), [6, 6, 6]) and np.array_equal(y[:6], [0, 1, 2, 0, 1, 2])
    ratio = np.array([spirometry_indices(r.samples[0].astype(float), 100.0).fev1_fvc for r in recs])
    fvc = np.array([spirometry_indices(r.samples[0].astype(float), 100.0).fvc_ml for r in recs])
    # obstructive: low FEV1/FVC; restrictive: high ratio and small FVC (the ATS/ERS picture)
    assert ratio[y == 1].max() < ratio[y == 0].min() and ratio[y == 1].max() < 0.72
    assert ratio[y == 2].min() > 0.8 and fvc[y == 2].max() < fvc[y == 0].min()


@pytest.mark.parametrize("pattern", ["normal", "obstructive"])
def test_eval_generator_artefacts_do_what_they_say(st, pattern):
    rng_seed = 11
    clean, _ = st.synthetic_blow(pattern, None, np.random.default_rng(rng_seed))
    blows = {a: st.synthetic_blow(pattern, a, np.random.default_rng(rng_seed)) for a in st.ARTEFACTS}
    out = {a: b[0] for a, b in blows.items()}
    ind = {a: spirometry_indices(v, 100.0) for a, v in {**out, "none": clean}.items()}
    # slow start: the back-extrapolated volume grows past the ATS/ERS limit or near it
    assert ind["slow-start"].bev_ml > 3 * ind["none"].bev_ml
    # abrupt stop: from 0.1 s after the stop the volume no longer grows; the clean blow's still does
    truth = blows["abrupt-stop"][1]
    i = int(round((truth["start_s"] + truth["artefact_t_s"] + 0.1) * 100))
    assert out["abrupt-stop"][-1] - out["abrupt-stop"][i] < 25.0 < clean[-1] - clean[i]
    assert ind["abrupt-stop"].fvc_ml < ind["none"].fvc_ml - 25.0
    # cough: in the first second of the blow the flow falls below 35 % of the clean blow's, then bursts above it
    truth = blows["cough"][1]
    assert 0.15 <= truth["artefact_t_s"] <= 0.9
    i = int(round((truth["start_s"] + truth["artefact_t_s"]) * 100))
    r = _flow(out["cough"])[i - 5:i + 25] / np.maximum(_flow(clean)[i - 5:i + 25], 1e-3)
    assert r.min() < 0.35 and r[int(np.argmin(r)):].max() > 1.2
    # variable effort: somewhere in 0.8-3.6 s the flow is at least 25 % below the clean blow's
    d = _flow(out["variable-effort"]) / np.maximum(_flow(clean), 1e-3)
    assert d[80:360].min() < 0.75


def test_pretraining_generator_clean_blows_are_unchanged_and_artefacts_act(st):
    # sha256 of simulate_spiro's samples for 3 patterns x seeds 0, 5, computed with the generator
    # BEFORE the artefact option existed (commit 17e12d5): spiro-tiny's pretraining data is unchanged
    h = hashlib.sha256()
    for p in ("normal", "obstructive", "restrictive"):
        for s in (0, 5):
            h.update(simulate_spiro(15.0, s, 100.0, pattern=p).samples.tobytes())
    assert h.hexdigest() == "635240aca5f0e3fdc6cb59d12c9170b012dc7c1650bdd839dc5b72359c2f2a7c"
    clean = simulate_spiro(15.0, 3, 100.0).samples[0].astype(float)
    v = {a: simulate_spiro(15.0, 3, 100.0, artefact=a).samples[0].astype(float) for a in SPIRO_ARTEFACTS}
    ind = {a: spirometry_indices(x, 100.0) for a, x in {**v, "none": clean}.items()}
    assert ind["slow-start"].bev_ml > 3 * ind["none"].bev_ml
    assert ind["early-stop"].fvc_ml < 0.97 * ind["none"].fvc_ml
    assert abs(ind["cough"].fvc_ml - ind["none"].fvc_ml) < 30       # a warped clock: same volume in the end
    fc, fk = _flow(clean), _flow(v["cough"])
    lo = int(np.argmin(fk[50:160] / np.maximum(fc[50:160], 1e-3))) + 50  # blow starts at 0.5 s
    assert fk[lo] < 0.5 * fc[lo] and fk[lo:lo + 30].max() > fc[lo:lo + 30].max()
    assert (_flow(v["effort"]) / np.maximum(fc, 1e-3))[50:420].min() < 0.75
    with pytest.raises(BiosigError, match="artefact"):
        simulate_spiro(15.0, 0, 100.0, artefact="sneeze")


def test_blow_records_cycle_patterns_and_artefacts_without_labels():
    from encoders.data import synthetic_blow_records
    recs = list(synthetic_blow_records(8, 15.0, seed=0))
    assert [n for n, _ in recs] == [f"synthetic:spiro-blow:{40_000 + i}" for i in range(8)]
    truth = [r.metadata["truth"] for _, r in recs]
    assert [t["pattern"] for t in truth] == ["normal", "obstructive", "restrictive"] * 2 + ["normal", "obstructive"]
    assert [t["artefact"] for t in truth] == [None, "cough", None, "effort", None, "early-stop", None, "slow-start"]


def test_pretrain_rejects_blow_records_for_other_modalities(tmp_path):
    from encoders.errors import EncoderError
    from encoders.pretrain import TrainConfig, pretrain
    with pytest.raises(EncoderError, match="needs --modality spiro"):
        pretrain(TrainConfig(modality="ecg", out_dir=str(tmp_path / "x"), synthetic_blow_records=4, steps=1))


def test_spirometry_baseline_features_are_the_indices(st):
    from encoders.baselines import SPIRO_COLUMNS, baseline_features
    recs, _ = st.synthetic_spiro_quality(n_per_class=2, seed=3)
    litres = Record(samples=recs[0].samples / 1000.0, fs_hz=100.0, channels=("volume",), units=("L",),
                    modality="spiro")
    flat = Record(samples=np.zeros((1, 1500), np.float32), fs_hz=100.0, channels=("volume_ml",), units=("mL",),
                  modality="spiro")
    X = baseline_features("spirometry", recs + [litres, flat])
    assert X.shape == (6, len(SPIRO_COLUMNS))
    for row, r in zip(X[:4], recs):
        d = spirometry_indices(r.samples[0].astype(np.float64), 100.0).as_dict()
        assert np.allclose(row, [float(d[c]) for c in SPIRO_COLUMNS], equal_nan=True)
    # litres are converted to mL (float32 litres round a little: the end of expiration may move a sample)
    assert np.allclose(X[4], X[0], rtol=1e-3, equal_nan=True)
    assert np.isnan(X[5]).all()                                     # no blow: NaN (imputed by the probe)
    ecg = Record(samples=np.zeros((1, 1500), np.float32), fs_hz=100.0, channels=("ECG",), units=("mV",))
    with pytest.raises(BiosigError, match="no spirogram channel"):     # not a spirogram: an error, not NaN
        baseline_features("spirometry", [ecg])
