"""Bug bash 71 of ``biosig spiro`` and ``biosig embed`` as a demanding user, through the CLI in this process.

- ``embed`` of a recording with no signal at all (every sample NaN, or one value throughout: a lead off, a
  zero-filled export) wrote a full set of rows of quality 0 and exit code 0, where ``score`` refuses it; now one line
  per such input and nothing written when none is left (:func:`encoders.record_embed._check_something_recorded`).
- Two ``embed`` runs with one ``--out``: the second checked the output before its model loaded; once the first had
  written it and let go of the parts lock, the second replaced it without ``--force`` (another window's rows in place
  of the first run's). The output is checked again under the lock (:class:`encoders.embed_resume.EmbedParts`).
- A 10 h recording embedded for 53 s with nothing said (progress was per recording): a line every
  ``BIOSIG_PROGRESS_S`` while one recording runs (``biosig.cli.embed_commands._Heartbeat``).
- ``spiro`` of a volume-time CSV whose ``t_s`` column is in ms (read at 0.1 Hz) gave a 3-hour "tidal breath" and exit
  code 0; seconds named ``time_ms`` (100 kHz) said "1228 valid samples, need at least 1 s" without why. Both are one
  line naming the rate and the time column (:func:`biosig.spirometry_checks._check_sampling`).
- ``spiro`` of a column of bare volumes (UK Biobank's field 3066 blows: 100 Hz, no times) said to give
  ``--sample-rate-hz``, an option spiro refused ("unrecognized arguments"); spiro now takes it.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
import polars as pl
import pytest

from encoders.errors import EncoderError
from test_cli_errors import one_line_error, run_main

BLOW = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "spirometry" / "ukb_field3066_demo_blow.csv"


def _ecg_table(path, values, fs_hz=250.0):
    pl.DataFrame({"t_s": np.arange(len(values)) / fs_hz, "ECG": np.asarray(values, np.float32)}).write_csv(path)
    return path


def test_embed_refuses_a_recording_without_signal_as_score_does(capsys, tmp_path):
    empty = _ecg_table(tmp_path / "all_nan.csv", np.full(5000, np.nan))
    flat = _ecg_table(tmp_path / "flat.csv", np.zeros(5000))
    out = tmp_path / "e.parquet"
    code, _, err = run_main(capsys, "embed", empty, flat, "--model", "ecg-tiny", "--out", out)
    assert code == 2 and "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert any(ln.startswith(f"biosig embed: error: {empty}: no signal to embed: every sample of ECG is missing")
               for ln in lines), err
    assert any(ln.startswith(f"biosig embed: error: {flat}: no signal to embed: ECG is constant") for ln in lines), err
    assert "none of the 2 recording(s) could be embedded; nothing written" in err
    assert not out.exists() and not pathlib.Path(f"{out}.parts").exists()


def test_a_second_embed_run_does_not_replace_the_output_the_first_wrote_meanwhile(tmp_path):
    """Where the race ends: the output exists once the parts lock is taken (the CLI's own check passed before)."""
    from encoders.embed_resume import EmbedParts, parts_dir
    out = tmp_path / "e.parquet"
    pl.DataFrame({"source": ["a"], "t0_s": [0.0]}).write_parquet(out)   # the first run's rows
    before = out.read_bytes()
    with pytest.raises(EncoderError, match="written by another biosig embed run meanwhile; give --force"):
        EmbedParts(out, {"window_s": 5.0})
    assert out.read_bytes() == before and not parts_dir(out).exists()   # no parts folder left behind either
    with EmbedParts(out, {"window_s": 5.0}, force=True) as parts:       # --force: replacing is what was asked
        assert parts.dir.is_dir()
    parts.remove()


def test_embed_says_it_is_still_working_on_one_long_recording(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BIOSIG_PROGRESS_S", "0.05")
    t = np.arange(int(90 * 250)) / 250.0   # 90 s of spikes at 75 bpm (simulate took 1.5 s of the test's 3)
    beats = np.exp(-0.5 * (((t + 0.4) % 0.8 - 0.4) / 0.012) ** 2)
    path = _ecg_table(tmp_path / "long.csv", beats + np.random.default_rng(3).normal(0.0, 0.02, len(t)))
    code, out, err = run_main(capsys, "embed", path, "--model", "ecg-tiny", "--out", tmp_path / "e.parquet")
    assert code == 0, err
    beats = [ln for ln in err.splitlines() if ln.startswith("embed: recording 1/1 (")]
    assert beats and f"({path}, 90 s) still running" in beats[0], err
    assert "windows from 1 recording" in out


@pytest.fixture
def blow():
    if not BLOW.exists():
        pytest.skip(f"{BLOW} is absent (../shared/data)")
    t, v = np.loadtxt(BLOW, delimiter=",", skiprows=1).T
    return t, v


@pytest.mark.parametrize("header,scale,said", [("t_s,volume_ml", 1000.0, "sampled at 0.1 Hz, below the 10 Hz"),
                                               ("time_ms,volume_ml", 1.0, "1228 valid samples at 100000 Hz (0.0123 s)")])
def test_spiro_names_the_rate_a_time_column_in_another_unit_gave(capsys, tmp_path, blow, header, scale, said):
    t, v = blow
    path = tmp_path / "blow.csv"
    np.savetxt(path, np.column_stack([t * scale, v]), delimiter=",", header=header, comments="", fmt="%.6g")
    code, out, err = run_main(capsys, "spiro", path)
    line = one_line_error(code, err)
    assert said in line and "is the time column in the unit its name says" in line, line
    assert out == ""
    code, out, err = run_main(capsys, "spiro", BLOW, "--json")       # the same blow in seconds: measured
    assert code == 0 and json.loads(out)["blows"][0]["fvc_l"] == pytest.approx(5.836, abs=1e-3)


def test_spiro_takes_the_sample_rate_its_error_names_for_bare_volumes(capsys, tmp_path, blow):
    _, v = blow
    path = tmp_path / "field3066.csv"
    path.write_text("volume_ml\n" + "".join(f"{x:g}\n" for x in v))
    code, out, err = run_main(capsys, "spiro", path)
    assert "--sample-rate-hz HZ" in one_line_error(code, err)
    code, out, err = run_main(capsys, "spiro", path, "--sample-rate-hz", "100", "--json")
    assert code == 0 and "Traceback" not in err, err
    got = json.loads(out)["blows"][0]
    assert got["fvc_l"] == pytest.approx(5.836, abs=1e-3) and got["fev1_l"] == pytest.approx(4.677, abs=1e-3)
    assert got["acceptable_fev1"] and got["acceptable_fvc"]


def test_a_probe_keeps_a_flat_record_of_a_labelled_set_as_windows_of_quality_zero():
    """The embed refusal is for ``embed``/``.embed()``; a probe's features of a set with one flat record (lead off)
    still come out (one row per record) instead of ending the whole probe."""
    from biosig.record import Record
    from encoders.baselines import embedding_features, random_encoder
    enc = random_encoder("ecg-tiny", seed=0)
    t = np.arange(2500) / 250.0
    beat = np.sin(2 * np.pi * 1.2 * t).astype(np.float32)
    recs = [Record(samples=beat[None], fs_hz=250.0, channels=["ECG"]),
            Record(samples=np.zeros((1, 2500), np.float32), fs_hz=250.0, channels=["ECG"])]
    feats = embedding_features(enc, recs)
    assert feats.shape == (2, enc.config.dim) and np.isfinite(feats).all()
    with pytest.raises(EncoderError, match="no signal to embed"):
        enc.embed(recs[1])
