"""``biosig info`` names a camera-PPG colour channel usable in clearly more windows than PPG.

Bug bash 66: on the shared Welltory recordings of subjects 14, 18 and 20, G passes the quality gate
in far more windows than the ``PPG`` lead (the red intensity, sign-inverted) the summary is of
(subject 14: 100 % against 12 %), and nothing told the user. ``info`` now prints a ``hint`` row
(``colour_hint`` in ``--json``) naming the colour, both shares and the option that feeds it:
``--channel G=ppg`` (``score`` and ``embed`` then weigh G too: tests/test_ppg_lead_choice.py). Only a camera-PPG CSV's G and B are weighed:
an ordinary table's channel named G is no colour of the finger.
"""
from __future__ import annotations

import json

import numpy as np

from biosig.cli import main
from biosig.measures import choose_channel
from biosig.readers import read
from conftest import shared_path

OPTION = "--channel G=ppg"


def _info(capsys, path, *extra) -> dict:
    assert main(["info", "--json", str(path), *extra]) == 0
    return json.loads(capsys.readouterr().out)[0]


def _pulse(t_ms, level=120.0):
    """A pulse at 72 bpm (a raised cosine) that the quality gate passes as it is: the Welltory files'
    G as recorded (subject 14: 8 of 8 windows)."""
    return level + 8 * np.cos(2 * np.pi * 1.2 * t_ms / 1000) ** 8


def _camera_csv(path, red, green, header="time,R,G,B"):
    """20 s at 30 Hz (two quality windows) with ``red`` and ``green`` from ``f(t_ms)``, blue 0."""
    t_ms = np.arange(600) * 1000 / 30
    rows = "".join(f"{t:.0f},{r:.3f},{g:.3f},0\n" for t, r, g in zip(t_ms, red(t_ms), green(t_ms)))
    path.write_text(header + "\n" + rows)
    return path


def test_clipped_red_names_green_in_json_and_table(tmp_path, capsys):
    path = _camera_csv(tmp_path / "PPG.csv", lambda t: np.full(t.shape, 255.0), _pulse)
    hint = _info(capsys, path)["colour_hint"]
    assert hint == {"channel": "G", "fraction_usable": 1.0, "lead": "PPG", "lead_fraction_usable": 0.0,
                    "option": OPTION, "commands": ["info", "score", "embed"], "pretrain_option": "--channel G"}
    assert main(["info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["quality"])
    assert lines[at + 1].split()[:4] == ["hint", "G", "usable", "100%,"] and OPTION in lines[at + 1]
    # the advised options: G is then the ppg lead info summarises (and no hint is left to give)
    info = _info(capsys, path, *OPTION.split())
    assert info["quality"]["ppg"]["fraction_usable"] == 1.0 and info["colour_hint"] is None
    assert _info(capsys, path, "--no-quality")["colour_hint"] is None


def test_no_hint_where_ppg_is_fine_or_the_table_is_no_camera_csv(tmp_path, capsys):
    # the red channel pulses as well as green (PPG is -R: the pulse falling in R): nothing to say
    both = _camera_csv(tmp_path / "both.csv", lambda t: 400.0 - _pulse(t, 200.0), _pulse)
    info = _info(capsys, both)
    assert info["quality"]["ppg"]["fraction_usable"] == 1.0 and info["colour_hint"] is None
    # the same flat-PPG-beside-a-pulse table, but an ordinary CSV (t_ms, ppg, G, B): G is no colour
    plain = _camera_csv(tmp_path / "plain.csv", lambda t: np.full(t.shape, 255.0), _pulse, header="time_ms,ppg,G,B")
    info = _info(capsys, plain)
    assert {c["name"]: c["modality"] for c in info["channels"]} == {"ppg": "ppg", "G": "other", "B": "other"}
    assert info["quality"]["ppg"]["fraction_usable"] == 0.0
    assert info["format"] != "camera-ppg-csv" and info["colour_hint"] is None


def test_welltory_subject_14_and_21(capsys):
    """14: G usable in 8 of 8 windows, PPG in 1; 21: PPG 4 of 7, G 7 of 7 (1.75 x: no hint)."""
    path = shared_path("pretrain", "ppg", "welltory", "subject_14", "PPG.csv")
    hint = _info(capsys, path)["colour_hint"]
    assert (hint["channel"], hint["lead"], hint["option"]) == ("G", "PPG", OPTION)
    assert (hint["fraction_usable"], hint["lead_fraction_usable"]) == (1.0, 0.125)
    # read with the advised options, G is the channel the measures (and score, embed) take
    rec = read(path, channel_modalities=dict(item.split("=") for item in OPTION.split()[1::2]))
    assert rec.channels[choose_channel(rec, "ppg")] == "G"
    info = _info(capsys, shared_path("pretrain", "ppg", "welltory", "subject_21", "PPG.csv"))
    assert info["quality"]["ppg"]["fraction_usable"] < 0.6 and info["colour_hint"] is None
