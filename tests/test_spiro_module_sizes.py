"""House style: 150-400 lines a module; biosig/spirometry.py was 404 before the first second's gap
check moved to biosig/spirometry_checks.py (no behaviour change: the spiro tests cover it); at 400 the unit tables and
their checks moved to biosig/spirometry_units.py (tests/test_spiro_units73.py)."""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_spirometry_modules_stay_within_400_lines():
    modules = sorted((ROOT / "biosig").glob("spirometry*.py"))
    names = {m.name for m in modules}
    assert {"spirometry.py", "spirometry_units.py", "spirometry_acceptability.py", "spirometry_checks.py",
            "spirometry_end.py", "spirometry_session.py"} <= names, names
    long = {m.name: n for m in modules if (n := len(m.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"
