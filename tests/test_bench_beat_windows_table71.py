"""benchmarks/bench_beat_windows.py's table of rule overrides (flag, module, constant, help): every row names a
constant biosig has, becomes an option with help, is described in the script's docstring, and sets the constant
for a run only (the old value is back after it). No benchmark is run."""
import importlib
import math
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_beat_windows as bench  # noqa: E402


def test_every_row_names_a_numeric_constant_of_biosig_and_an_option_with_help():
    flags = [flag for flag, *_ in bench.OVERRIDES]
    assert len(flags) == len(set(flags)) == 11
    assert set(bench.SWITCHES) <= set(flags)
    parser = bench.build_parser()
    actions = {s: a for a in parser._actions for s in a.option_strings}
    for flag, module, const, help_text in bench.OVERRIDES:
        assert isinstance(getattr(importlib.import_module(module), const), float), (module, const)
        assert flag in actions and actions[flag].help == help_text and help_text.strip(), flag
        assert actions[flag].default in (None, False), flag
        assert flag in bench.__doc__, f"{flag} is not in the script's docstring"
    assert {"--records", "--seeds", "--workers"} <= set(actions)


def test_values_are_the_flags_given_and_biosig_s_own_otherwise():
    import biosig.ecg_beats as eb
    import biosig.ecg_doubt as ed
    values = bench.rule_values(bench.build_parser().parse_args(["--doubt", "inf", "--t-run", "0.7",
                                                                "--no-search-back"]))
    assert values[("biosig.ecg_beats", "DOUBT_REL")] == math.inf
    assert values[("biosig.ecg_doubt", "T_RUN_SHARE")] == 0.7
    assert values[("biosig.ecg_beats", "SEARCHBACK_RR")] == math.inf
    assert values[("biosig.ecg_beats", "DOUBT_SHORT_REL")] == eb.DOUBT_SHORT_REL
    assert values[("biosig.ecg_doubt", "FIBRILLATION_BETWEEN_REL")] == ed.FIBRILLATION_BETWEEN_REL
    defaults = bench.rule_values(bench.build_parser().parse_args([]))
    assert defaults[("biosig.ecg_beats", "SEARCHBACK_RR")] == eb.SEARCHBACK_RR < math.inf
    assert len(defaults) == len(bench.OVERRIDES)


def test_overridden_sets_the_constants_and_puts_them_back_after_an_error():
    import biosig.ecg_beats as eb
    import biosig.ecg_doubt as ed
    before = (eb.DOUBT_REL, ed.HIDDEN_QRS_REL)
    with pytest.raises(RuntimeError):
        with bench.overridden({("biosig.ecg_beats", "DOUBT_REL"): 9.5, ("biosig.ecg_doubt", "HIDDEN_QRS_REL"): 0.0}):
            assert (eb.DOUBT_REL, ed.HIDDEN_QRS_REL) == (9.5, 0.0)
            raise RuntimeError
    assert (eb.DOUBT_REL, ed.HIDDEN_QRS_REL) == before
