"""SYNTHETIC spirometry probe tasks for ``benchmarks/eval_probe.py`` (``--tasks spiro spiro-pattern``).

No labelled spirograms are in ``../shared/data`` (one unlabelled UK Biobank example blow), so the
spiro-tiny encoder is measured on forced expirations from a generator written for this purpose and
independent of the one spiro-tiny was pretrained on (:func:`biosig.synthetic.simulate_spiro`, a
two-compartment lung-emptying model in the time domain). Here the blow is driven by its
**flow-volume curve**: a rise to peak expiratory flow (PEF) in ``t_rise`` seconds, then a
descending limb ``F(V) = PEF * ((FVC - V) / (FVC - V_rise)) ** k`` (from the flow and
volume where the rise ended: at ``t_rise`` or at 35 % of FVC) that is near-straight (k 1.1-1.6, normal),
scooped (k 2.2-3.5, obstructive) or straight to convex (k 0.7-1.1, restrictive), integrated at 1 kHz and sampled at
100 Hz; volume noise 2-6 mL and a slow drift of 0-15 mL.

Tasks (clearly not real data):

* ``spiro`` - **blow acceptability** (ATS/ERS 2019): 60 clean blows vs 60 blows with one artefact
  each, 15 per kind: a **cough in the first second** (flow falls to 0-30 % for 40-100 ms, then a
  40-100 ms burst), an **abrupt stop** (glottic closure / early termination at 1-4 s: the trace
  plateaus early), **variable effort** (flow 30-70 % lower for 0.2-0.6 s between 0.8 and 3 s) and a
  **slow start** (rise to PEF in 0.35-0.8 s instead of 0.05-0.15 s). Patterns are drawn uniformly
  in both classes. The indices' own checks see the slow start (back-extrapolated volume); the
  other three change the curve's shape more than its indices.
* ``spiro-pattern`` - clean blows, 40 normal / 40 obstructive / 40 restrictive; macro one-vs-rest
  AUROC. FEV1/FVC and FVC separate these by construction; the row says how much of that an
  embedding keeps.
"""
from __future__ import annotations

import numpy as np

PATTERNS = ("normal", "obstructive", "restrictive")
ARTEFACTS = ("cough", "abrupt-stop", "variable-effort", "slow-start")
FS_HZ = 100.0
SECONDS = 15.0
_SUB = 10           # integration steps per output sample (1 kHz)

# (FVC mL, PEF L/s, descending-limb exponent k) per pattern
_RANGES = {"normal": ((3000, 5500), (6.0, 10.0), (1.1, 1.6)),
           "obstructive": ((2200, 4500), (2.0, 5.0), (2.2, 3.5)),
           "restrictive": ((1400, 2800), (4.0, 7.0), (0.7, 1.1))}
_RISE_MAX_FRACTION = 0.35   # the rise ends at t_rise or once this fraction of FVC is out


def _flow_multiplier(kind: str | None, t: np.ndarray, rng) -> tuple[np.ndarray, float]:
    """Multiplicative flow profile (1 = no artefact) over time from the start of the blow, and the
    time of the artefact (s from the start; NaN for none or a slow start)."""
    m, at = np.ones_like(t), float("nan")
    if kind == "cough":
        tc, dip, burst = rng.uniform(0.15, 0.9), rng.uniform(0.04, 0.10), rng.uniform(0.04, 0.10)
        m[(t >= tc) & (t < tc + dip)], at = rng.uniform(0.0, 0.3), tc
        m[(t >= tc + dip) & (t < tc + dip + burst)] = 1.0 + rng.uniform(0.4, 0.8)
    elif kind == "abrupt-stop":
        ts, ramp = rng.uniform(1.0, 4.0), rng.uniform(0.02, 0.04)
        m, at = np.clip(1.0 - (t - ts) / ramp, 0.0, 1.0), ts
    elif kind == "variable-effort":
        tv, dur = rng.uniform(0.8, 3.0), rng.uniform(0.2, 0.6)
        m[(t >= tv) & (t < tv + dur)], at = 1.0 - rng.uniform(0.3, 0.7), tv
    return m, at


def synthetic_blow(pattern: str, artefact: str | None, rng) -> tuple[np.ndarray, dict]:
    """One SYNTHETIC forced expiration: volume (mL, float64, ``SECONDS`` at ``FS_HZ``) and its truth."""
    fvc, pef, k = (float(rng.uniform(*r)) for r in _RANGES[pattern])
    t_rise = float(rng.uniform(0.35, 0.8) if artefact == "slow-start" else rng.uniform(0.05, 0.15))
    start_s = float(rng.uniform(0.3, 1.0))
    dt = 1.0 / (FS_HZ * _SUB)
    n_out = int(SECONDS * FS_HZ)
    t_blow = np.arange(n_out * _SUB) * dt - start_s
    mult, artefact_t = _flow_multiplier(artefact, t_blow, rng)
    v, vol = 0.0, np.zeros(n_out * _SUB)
    v_rise = f_rise = None
    for i, tb in enumerate(t_blow):
        if tb >= 0.0:
            if v_rise is None and (tb >= t_rise or v >= _RISE_MAX_FRACTION * fvc):
                # the descending limb starts where the rise ended, at the flow reached (continuous)
                v_rise, f_rise = v, pef * np.sin(0.5 * np.pi * min(tb / t_rise, 1.0))
            if v_rise is None:
                f = pef * np.sin(0.5 * np.pi * tb / t_rise)
            else:
                f = f_rise * (max(fvc - v, 0.0) / (fvc - v_rise)) ** k
            v = min(v + 1000.0 * f * mult[i] * dt, fvc)
        vol[i] = v
    vol = vol[::_SUB]
    tt = np.arange(n_out) / FS_HZ
    vol = vol + rng.normal(0.0, rng.uniform(2.0, 6.0), n_out) + rng.uniform(0.0, 15.0) * tt / SECONDS
    truth = {"pattern": pattern, "artefact": artefact or "none", "fvc_ml": fvc, "pef_l_s": pef, "k": k,
             "t_rise_s": t_rise, "start_s": start_s, "artefact_t_s": artefact_t}
    return vol, truth


def _record(vol: np.ndarray, name: str, truth: dict):
    from biosig.record import Record
    return Record(samples=vol[None].astype(np.float32), fs_hz=FS_HZ, channels=("volume_ml",), units=("mL",),
                  modality="spiro", metadata={"truth": truth, "name": name})


def synthetic_spiro_quality(n_per_class: int = 60, seed: int = 7000):
    """SYNTHETIC blow-acceptability task: records and labels (1 = one artefact of :data:`ARTEFACTS`,
    cycled; 0 = clean). Record ``i`` is an artefact when ``i`` is odd; patterns are drawn per record."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for i in range(2 * n_per_class):
        bad = i % 2
        artefact = ARTEFACTS[(i // 2) % len(ARTEFACTS)] if bad else None
        pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]
        vol, truth = synthetic_blow(pattern, artefact, rng)
        records.append(_record(vol, f"synthetic-spiro-quality-{i}", truth))
        labels.append(bad)
    return records, np.asarray(labels)


def synthetic_spiro_pattern(n_per_class: int = 40, seed: int = 8000):
    """SYNTHETIC clean blows and labels 0..2 (:data:`PATTERNS`); record ``i`` has label ``i % 3``."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for i in range(len(PATTERNS) * n_per_class):
        label = i % len(PATTERNS)
        vol, truth = synthetic_blow(PATTERNS[label], None, rng)
        records.append(_record(vol, f"synthetic-spiro-pattern-{i}", truth))
        labels.append(label)
    return records, np.asarray(labels)


def pretraining_generator_quality(n_per_class: int = 40, seed: int = 900_000):
    """Model-selection task (``spiro-dev``), never the ``spiro`` task: clean vs artefact blows of the
    PRETRAINING generator (:func:`biosig.synthetic.simulate_spiro`, the time-warp artefacts) on seeds
    ``seed + i`` that no pretraining run uses (those are 40_000 + i); patterns cycled."""
    from biosig.synthetic import SPIRO_ARTEFACTS, SPIRO_PATTERNS, simulate_spiro
    records, labels = [], []
    for i in range(2 * n_per_class):
        bad = i % 2
        artefact = SPIRO_ARTEFACTS[(i // 2) % len(SPIRO_ARTEFACTS)] if bad else None
        rec = simulate_spiro(SECONDS, seed=seed + i, fs_hz=FS_HZ, pattern=SPIRO_PATTERNS[(i // 2) % 3],
                             artefact=artefact)
        records.append(rec)
        labels.append(bad)
    return records, np.asarray(labels)
