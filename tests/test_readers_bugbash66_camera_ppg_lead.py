"""``biosig info`` on a camera-PPG CSV summarises the quality of the channel it lists as ppg.

Bug bash 66: the reader lists ``PPG`` (the red intensity, sign-inverted) as ppg and ``G``, ``B`` (the
colours as recorded) as other, and ``measures``, ``score`` and ``embed`` take ``PPG``; but the quality
summary ran over all three (``Record.pick("ppg")`` keeps the channels guessed ``other`` of a ppg
record) and named ``G`` in 9 of the 21 Welltory recordings ("lead G, best of 3"), a channel the table
beside it calls other and nothing else uses. A user who wants G read as a pulse says so with
``--channel G=ppg``, and the summary then chooses between PPG and G.
"""
from __future__ import annotations

import json

import numpy as np

from biosig.cli import main
from biosig.measures import choose_channel
from biosig.readers import read
from conftest import shared_path


def _info(capsys, path, *extra) -> dict:
    assert main(["info", "--json", str(path), *extra]) == 0
    return json.loads(capsys.readouterr().out)[0]


def _summarised(info: dict) -> str:
    """The channel the ppg quality summary is of (a one-lead summary names none: the only ppg one)."""
    ppg = [c["name"] for c in info["channels"] if c["modality"] == "ppg"]
    q = info["quality"]["ppg"]
    assert "lead" in q or len(ppg) == 1, q
    return q.get("lead", ppg[0])


def _clipped_red_csv(tmp_path):
    """20 s at 30 Hz: the red channel clipped at 255 in every frame, a clean pulse in green (a
    raised cosine at 72 bpm, falling at each systole as a camera's intensity does)."""
    t_ms = np.arange(600) * 1000 / 30
    green = 120 - 8 * np.cos(2 * np.pi * 1.2 * t_ms / 1000) ** 8
    path = tmp_path / "PPG.csv"
    path.write_text("time,R,G,B\n" + "".join(f"{t:.0f},255,{g:.3f},0\n" for t, g in zip(t_ms, green)))
    return path


def test_a_synthetic_clipped_red_is_summarised_as_listed(tmp_path, capsys):
    path = _clipped_red_csv(tmp_path)
    info = _info(capsys, path)
    assert {c["name"]: c["modality"] for c in info["channels"]} == {"PPG": "ppg", "G": "other", "B": "other"}
    assert _summarised(info) == "PPG"   # was G
    assert info["channels"][choose_channel(read(path), "ppg")]["name"] == "PPG"   # what the measures take
    # said to be a pulse, G competes with PPG and wins: the table then lists it as ppg too
    info = _info(capsys, path, "--channel", "G=ppg")
    assert {c["name"]: c["modality"] for c in info["channels"]}["G"] == "ppg"
    assert _summarised(info) == "G" and info["quality"]["ppg"]["n_leads"] == 2


def test_welltory_subject_08(capsys):
    """A real recording whose summary named G (usable 88 %) beside PPG (75 %) and B (75 %)."""
    path = shared_path("pretrain", "ppg", "welltory", "subject_08", "PPG.csv")
    info = _info(capsys, path)
    lead = _summarised(info)
    assert lead == "PPG" and {c["name"]: c["modality"] for c in info["channels"]}[lead] == "ppg"
    assert info["channels"][choose_channel(read(path), "ppg")]["name"] == lead
