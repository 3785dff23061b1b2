"""``embed`` of a folder another model takes says why once, not once per recording: the README walk
(2026-12-06) ran ``biosig embed ../shared/data/cough/raw --model ecg-tiny`` and got 120 error lines,
the same but for the file name; now one line per kind of failure as it comes, and the counts with the
recordings at the end, as ``score`` sums up its errors.parquet."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from biosig.cli import main


def test_embed_says_a_repeated_failure_once_then_counts_it(tmp_path, capsys):
    folder = tmp_path / "sounds"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):   # mono sound files: no ECG channel for ecg-tiny
        sf.write(folder / f"{name}.wav", 0.1 * rng.standard_normal(4000), 8000)
    code = main(["embed", str(folder), "--model", "ecg-tiny", "--out", str(tmp_path / "emb.parquet")])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    said = [line for line in err if line.startswith("biosig embed: error: ") and ".wav: " in line]
    assert len(said) == 1, err                        # was 3: one per recording
    assert "the ecg encoder needs ecg channels" in said[0]
    assert "biosig embed: 3 recording(s) failed:" in err, err
    counted = [line for line in err if line.startswith("  3 x the ecg encoder needs ecg channels")]
    assert len(counted) == 1 and all(f"{n}.wav" in counted[0] for n in "abc"), err   # up to 10 named a kind
    assert err[-1] == "biosig embed: error: none of the 3 recording(s) could be embedded; nothing written"
    assert not (tmp_path / "emb.parquet").exists()
