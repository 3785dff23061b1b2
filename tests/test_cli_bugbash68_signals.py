"""Bug bash of ``biosig simulate``, ``spiro``, ``replay`` and ``keys`` with user mistakes (session 68): each is
one line naming what is wrong and what to give instead, exit code 2, no traceback, nothing written. Before:
``simulate ecg --param af_cv=0.5`` (sinus) and ``--param rhythm=af --param heart_rate_std_bpm=5`` wrote a
record that ignored the value; ``--out sims/`` wrote sims.hea and sims.dat beside the folder meant; ``--out ''``
said "--out .: is a folder"; ``simulate spiro --seconds 0.1`` wrote 10 samples of noise and no blow. ``spiro`` read
a unitless ECG column ``II`` as a volume (six "blows" refused) and a ``RESP`` one as an acceptable 0.6 L blow;
a blow recorded downward was three errors (two of them "fewer than 1 s" of its noise). ``keys generate FILE``
said "cannot create key directory FILE: File exists"."""
from __future__ import annotations

import numpy as np
import pytest

from test_cli_errors import one_line_error, run_main as run


# ---------------------------------------------------------------------------------- simulate
@pytest.mark.parametrize("params, says", [
    (["ecg", "--param", "af_cv=0.5"], "af_cv=0.5 applies to rhythm=af only"),
    (["ppg", "--param", "af_cv=0.3"], "af_cv=0.3 applies to rhythm=af only"),
    (["ecg", "--param", "rhythm=af", "--param", "heart_rate_std_bpm=5"],
     "heart_rate_std_bpm=5 applies to sinus rhythm only"),
])
def test_a_parameter_of_the_other_rhythm_is_refused_not_ignored(tmp_path, capsys, params, says):
    out = tmp_path / "r.csv"
    code, _, err = run(capsys, "simulate", params[0], "--seconds", "2", "--out", out, *params[1:])
    assert says in one_line_error(code, err)
    assert not out.exists()


def test_the_parameters_of_each_rhythm_still_work():
    from biosig.synthetic import simulate
    af = simulate("ecg", 4.0, seed=3, rhythm="af", af_cv=0.3)
    assert af.metadata["truth"]["af_cv"] == 0.3
    default_af = simulate("ppg", 4.0, seed=3, rhythm="af")
    assert default_af.metadata["truth"]["af_cv"] == 0.2          # the default spread, as before
    a = simulate("ecg", 2.0, seed=3, heart_rate_std_bpm=1.0).samples
    b = simulate("ecg", 2.0, seed=3).samples                        # 1 bpm: the default, bit for bit
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("out, says", [
    ("sims/", "--out 'sims/': a folder; give a file name, e.g. --out sims/rec.csv"),
    ("", "--out '': empty; give a file name"),
])
def test_an_out_that_names_a_folder_or_nothing_is_refused(tmp_path, capsys, monkeypatch, out, says):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "simulate", "resp", "--seconds", "2", "--out", out)
    assert says in one_line_error(code, err)
    assert not list(tmp_path.iterdir())   # neither sims.hea/.dat beside the folder nor anything else


def test_a_spirogram_too_short_to_hold_a_blow_is_refused(tmp_path, capsys):
    out = tmp_path / "b.csv"
    code, _, err = run(capsys, "simulate", "spiro", "--seconds", "0.1", "--out", out)
    assert "give --seconds 1.5 or more" in one_line_error(code, err)
    assert not out.exists()
    code, _, err = run(capsys, "simulate", "spiro", "--seconds", "1.5", "--out", out)
    assert code == 0, err
    code, text, err = run(capsys, "spiro", out)   # the shortest one holds a blow spiro measures
    assert code == 0 and "FET" in text, err


# ---------------------------------------------------------------------------------- spiro
@pytest.mark.parametrize("column, values", [
    ("II", lambda t: np.sin(2 * np.pi * 1.2 * t) ** 20 - 0.1),                 # an ECG's beats, no unit
    ("RESP", lambda t: 0.6 * np.sin(2 * np.pi * 0.25 * t)),                    # a breathing trace, no unit
])
def test_a_unitless_channel_named_for_another_modality_is_not_read_as_a_volume(tmp_path, capsys, column, values):
    t = np.arange(0, 8, 0.02)
    path = tmp_path / "x.csv"
    np.savetxt(path, np.c_[t, values(t)], delimiter=",", header=f"t_s,{column}", comments="", fmt="%.6f")
    code, out, err = run(capsys, "spiro", path)
    line = one_line_error(code, err)
    assert "no spirogram channel" in line and f"{column} [no unit]" in line
    assert out == ""


def test_a_blow_recorded_downward_is_one_error_naming_the_fix(tmp_path, capsys):
    import polars as pl
    from conftest import SHARED_DATA

    src = SHARED_DATA / "spirometry" / "ukb_field3066_demo_blow.csv"
    if not src.exists():
        pytest.skip(f"{src} is absent (shared data)")
    blow = pl.read_csv(src)
    path = tmp_path / "down.csv"
    blow.with_columns(-pl.col("volume_ml")).write_csv(path)
    code, _, err = run(capsys, "spiro", path)
    line = one_line_error(code, err)
    assert "looks recorded downward" in line and "negate the volume" in line


def test_split_blows_still_cuts_blows_in_a_row():
    """The downward rule leaves a trace of several blows (each rise followed by as large a fall) as it was."""
    from biosig.spirometry_end import split_blows
    from biosig.synthetic import simulate

    one = simulate("spiro", 8.0, seed=1).samples[0].astype(np.float64)
    down = np.linspace(one[-1], one[0], 200)             # breathing back in to the start
    trace = np.concatenate([one, down, one, down, one])
    assert len(split_blows(trace, 100.0)) == 3
    assert split_blows(-one, 100.0) == [(0, len(one))]


# ---------------------------------------------------------------------------------- keys
def test_keys_generate_into_a_file_says_it_is_a_file(tmp_path, capsys):
    f = tmp_path / "keys.txt"
    f.write_text("notes\n")
    code, _, err = run(capsys, "keys", "generate", f)
    assert f"{f} is a file, not a folder; give a new folder for the keys" in one_line_error(code, err)
    assert f.read_text() == "notes\n"


def test_keys_generate_into_a_folder_whose_allowed_is_a_file(tmp_path, capsys):
    d = tmp_path / "k"
    d.mkdir()
    (d / "allowed").write_text("x\n")
    code, _, err = run(capsys, "keys", "generate", d)
    assert f"{d / 'allowed'} is a file, not a folder" in one_line_error(code, err)
    assert sorted(p.name for p in d.iterdir()) == ["allowed"]


def test_keys_generate_twice_refuses_and_says_what_to_give(tmp_path, capsys):
    d = tmp_path / "k"
    assert run(capsys, "keys", "generate", d)[0] == 0
    before = (d / "server.key_secret").read_bytes()
    code, _, err = run(capsys, "keys", "generate", d, "--clients", "2")
    line = one_line_error(code, err)
    assert "refusing to overwrite keys" in line and "give a new folder" in line
    assert (d / "server.key_secret").read_bytes() == before and not (d / "client2.key").exists()
