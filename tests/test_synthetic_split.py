"""House style: 150-400 lines a module; biosig/synthetic.py was 409 before spirometry and breathing
motion moved to biosig/synthetic_mechanics.py and the argument checks to biosig/synthetic_checks.py.
No behaviour change: the names stay importable from biosig.synthetic and give the same samples
(checked bit for bit, every modality, kind, pattern and artefact, seeds 0, 1 and 7, before and after)."""
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_synthetic_modules_stay_within_400_lines():
    modules = sorted((ROOT / "biosig").glob("synthetic*.py"))
    assert any(m.name == "synthetic.py" for m in modules)
    long = {m.name: n for m in modules if (n := len(m.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"


def test_moved_generators_are_the_ones_simulate_runs():
    from biosig import synthetic, synthetic_mechanics

    for name in ("simulate_spiro", "simulate_motion", "spiro_volume_ml", "SPIRO_PATTERNS", "SPIRO_ARTEFACTS"):
        assert getattr(synthetic, name) is getattr(synthetic_mechanics, name)
    assert synthetic.GENERATORS["spiro"] is synthetic_mechanics.simulate_spiro
    rec = synthetic.simulate("spiro", 6, seed=2, artefact="cough")
    direct = synthetic_mechanics.simulate_spiro(6.0, 2, 100.0, artefact="cough")
    np.testing.assert_array_equal(rec.samples, direct.samples)
