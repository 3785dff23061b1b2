"""Spirogram units in their own module (biosig/spirometry_units.py): biosig/spirometry.py was at its 400-line limit and
``check_per_minute_flow`` carried a ``check=False`` flag only for the reader. Now a reader converts a channel with
``convert_volume_ml`` (unchecked) and everything that measures a blow with ``to_volume_ml`` (checked); every name is
still importable from where it was.

Oracles: SciPy's cumulative trapezoid for the integrated flow, the unit factors written out by hand, and the module's
source (no import of biosig.spirometry: the split must not make a cycle)."""
import ast
import inspect
import pathlib

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid

from biosig import spirometry, spirometry_acceptability, spirometry_units
from biosig.errors import SignalError
from biosig.readers import read
from biosig.synthetic import spiro_volume_ml

ROOT = pathlib.Path(__file__).resolve().parents[1]
FS = 100.0


def _flow_l_s(seconds=12.0):
    t = np.arange(int(seconds * FS)) / FS
    return np.gradient(spiro_volume_ml(t - 0.5, 4500.0, 0.9, 0.5, 1.2), t) / 1000.0


def test_every_name_is_importable_where_it_was_and_is_the_same_object():
    for name in ("to_volume_ml", "volume_from_flow", "VOLUME_UNITS", "FLOW_UNITS", "LITRE_SPAN", "ML_SPAN",
                 "LITRE_BLOW_SNR", "check_per_minute_flow", "check_plausible"):   # (both imported here at 26a60f1)
        assert getattr(spirometry, name) is getattr(spirometry_units, name), name
    for name in ("check_per_minute_flow", "check_flow_time_volumes", "check_plausible", "FVC_MAX_ML", "FVC_MIN_ML",
                 "PEF_MAX_L_S", "PEF_MIN_L_S"):
        assert getattr(spirometry_acceptability, name) is getattr(spirometry_units, name), name
    assert spirometry.VOLUME_UNITS == {"ml": 1.0, "l": 1000.0, "litre": 1000.0, "liter": 1000.0}
    assert spirometry.FLOW_UNITS == {"l/s": 1.0, "ml/s": 1e-3, "l/min": 1.0 / 60.0}


def test_no_check_flag_is_left():
    for fn in (spirometry_units.to_volume_ml, spirometry_units.convert_volume_ml,
               spirometry_units.check_per_minute_flow):
        assert "check" not in inspect.signature(fn).parameters, fn.__name__


def test_the_units_module_imports_nothing_of_the_spirometry_modules():
    tree = ast.parse((ROOT / "biosig" / "spirometry_units.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith("biosig.spirometry")}, imported


@pytest.mark.parametrize("unit, factor", [("L/s", 1.0), ("mL/s", 1e-3), ("L/min", 1.0 / 60.0)])
def test_a_flow_is_integrated_by_its_unit(unit, factor):
    flow = _flow_l_s()
    values = flow / factor
    want = np.concatenate([[0.0], cumulative_trapezoid(values * factor, dx=1.0 / FS)]) * 1000.0
    np.testing.assert_allclose(spirometry_units.convert_volume_ml(values, unit, FS, "flow"), want, rtol=1e-12,
                               atol=1e-9)
    np.testing.assert_allclose(spirometry.to_volume_ml(values, unit, FS, "flow"), want, rtol=1e-12, atol=1e-9)


def test_a_flow_in_L_per_s_labelled_L_per_min_is_converted_unchecked_and_refused_checked():
    flow = _flow_l_s()   # L/s values, labelled L/min: FVC 75 mL, PEF 0.15 L/s, a human blow times 60
    v = spirometry_units.convert_volume_ml(flow, "L/min", FS, "flow")
    np.testing.assert_allclose(v, np.concatenate([[0.0], cumulative_trapezoid(flow / 60.0, dx=1.0 / FS)]) * 1000.0)
    with pytest.raises(SignalError, match="labelled as L/min"):
        spirometry.to_volume_ml(flow, "L/min", FS, "flow")
    with pytest.raises(SignalError, match="labelled as L/min"):
        spirometry_acceptability.check_flow_time_volumes([v], FS, "L/min")
    spirometry_acceptability.check_flow_time_volumes([v], FS, "mL")   # a small volume in mL may be what it says


def test_the_reader_converts_a_small_l_min_flow_without_refusing_it(tmp_path):
    flow = _flow_l_s()
    path = tmp_path / "flow.csv"
    np.savetxt(path, np.c_[np.arange(len(flow)) / FS, flow], delimiter=",", header="t_s,flow [L/min]", comments="",
               fmt="%.6f")
    rec = read(str(path))
    assert rec.channels == ("volume",) and rec.units == ("mL",) and rec.metadata["flow_unit"] == "L/min"
    want = np.concatenate([[0.0], cumulative_trapezoid(np.round(flow, 6) / 60.0, dx=1.0 / FS)]) * 1000.0
    np.testing.assert_allclose(rec.samples[0], want, rtol=1e-5, atol=1e-3)
