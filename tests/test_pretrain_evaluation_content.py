"""``biosig pretrain`` finds evaluation records by their samples (copies converted by biosig.writers:
CinC 2017 as EDF, CSV and WFDB, a cough as WAV and FLAC) and synthetic records on the held-out seeds of
eval_probe's synthetic tasks; the fingerprints are cached under BIOSIG_CACHE_DIR. Real tiny runs."""
import inspect
import json
import pathlib
import time

import numpy as np
import pytest

from biosig.cli import main
from biosig.readers import read
from biosig.writers import write
from encoders import pretrain_evaluation_sets as ev

from conftest import ROOT, load_benchmark, shared_path
from pretrain_helpers import one_thread  # noqa: F401 (autouse)

pytestmark = pytest.mark.usefixtures("export_cache")   # the fingerprint cache in a temp BIOSIG_CACHE_DIR

TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
RUN = ["--steps", "1", "--batch-size", "4", "--no-progress", *TINY]


def _overlap(out):
    return json.loads((out / "meta.json").read_text())["evaluation_overlap"]


def test_converted_cinc_records_are_found_by_their_samples(tmp_path, caplog):
    """A CinC 2017 record written again as EDF, CSV and WFDB (other bytes: the SHA-256 table misses
    them) beside a clean record: each copy is warned about and listed; the clean one is not."""
    rec = read(shared_path("cinc2017", "A00028.hea"))
    data = tmp_path / "corpus"
    data.mkdir()
    copies = [write(rec, data / f"mine.{ext}") for ext in ("edf", "csv", "hea")]
    other = write(read(shared_path("cinc2017", "A00020.hea")).replace(samples=np.zeros((1, 9000), np.float32)
                                                                     + np.sin(np.arange(9000) / 7.0)[None]),
                  data / "sine.edf")   # a 300 Hz record of a CinC length with other samples: not listed
    with caplog.at_level("WARNING"):
        assert main(["pretrain", "--modality", "ecg", "--data", *map(str, copies), str(other), *RUN,
                     "--out", str(tmp_path / "o")]) == 0
    assert "3 record(s) of the CinC 2017 AF evaluation set" in caplog.text
    assert "out of --data" in caplog.text and "another --seed" not in caplog.text
    assert _overlap(tmp_path / "o") == {"cinc2017": [str(c) for c in copies]}


def test_a_re_encoded_cough_is_found_by_its_samples(tmp_path, caplog):
    mp3 = sorted(shared_path("cough", "raw").glob("*.mp3"))[3]
    rec = read(mp3)
    wav, flac = write(rec, tmp_path / "a.wav"), write(rec, tmp_path / "b.flac")
    mono = write(rec.replace(samples=rec.samples.mean(axis=0, keepdims=True), channels=("mono",),
                                 units=rec.units[:1]), tmp_path / "m.wav")
    with caplog.at_level("WARNING"):
        assert main(["pretrain", "--modality", "audio", "--data", str(wav), str(flac), str(mono), *RUN,
                     "--out", str(tmp_path / "o")]) == 0
    assert "3 record(s) of the COVID-19 cough evaluation set" in caplog.text
    assert _overlap(tmp_path / "o") == {"cough": [str(wav), str(flac), str(mono)]}


def test_fingerprints_are_cached_and_tell_every_evaluation_record_apart(tmp_path):
    """Computed once, then read from the cache (rebuilt when it is damaged); two different evaluation
    records of one rate and length are far apart (> 10 times the match tolerance)."""
    folder = shared_path("cinc2017").parent
    cache = tmp_path / "fp.npz"
    first = ev.evaluation_content(folder, cache)
    assert cache.is_file() and len(first.sets) >= 320
    stamp = cache.stat().st_mtime_ns
    again = ev.evaluation_content(folder, cache)
    assert cache.stat().st_mtime_ns == stamp and np.array_equal(again.prints, first.prints)
    assert again.names == first.names and again.sets == first.sets
    cache.write_bytes(b"not an npz")
    assert np.array_equal(ev.evaluation_content(folder, cache).prints, first.prints)
    closest = min(np.abs(first.prints[i] - first.prints[j]).max()
                  for i in range(len(first.sets)) for j in range(i + 1, len(first.sets))
                  if first.names[i] != first.names[j] and first.n[i] == first.n[j]
                  and first.fs_hz[i] == first.fs_hz[j])
    assert closest > 10 * ev.MATCH_TOLERANCE
    assert ev.evaluation_content(tmp_path / "nothing", tmp_path / "c2.npz") is None   # no sets: no check


def test_content_check_on_the_pretraining_corpus_finds_nothing(tmp_path):
    """The shared pretraining corpus (MIT-BIH 360 Hz, camera PPG ~30 Hz) holds no evaluation record."""
    corpus = shared_path("pretrain")
    content = ev.evaluation_content(shared_path("cinc2017").parent, tmp_path / "fp.npz")
    from encoders.data import file_records
    for modality in ("ecg", "ppg"):
        for _ in content.watch(file_records([str(corpus / modality)], modality)):
            pass
    assert content.found == {}


def test_held_out_synthetic_seeds_are_said_and_listed(tmp_path, caplog):
    """spiro-dev's seeds (900000 up) through --synthetic-blow-records (seed + 40000 + i) and through
    --synthetic (seed + i): listed under evaluation_overlap; seed 0 lists none."""
    base = ["pretrain", "--modality", "spiro", "--synthetic-seconds", "15", *RUN]
    with caplog.at_level("WARNING"):
        assert main([*base, "--synthetic-blow-records", "2", "--seed", "859999", "--out", str(tmp_path / "b")]) == 0
    assert "1 record(s) of the held-out seeds of the spiro-dev task" in caplog.text
    assert "another --seed" in caplog.text and "out of --data" not in caplog.text
    assert _overlap(tmp_path / "b") == {"spiro-dev": ["synthetic:spiro-blow:900000"]}
    assert main([*base, "--synthetic", "--synthetic-records", "2", "--seed", "900079",
                 "--out", str(tmp_path / "s")]) == 0
    assert _overlap(tmp_path / "s") == {"spiro-dev": ["synthetic:spiro:900079"]}
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert main([*base, "--synthetic-blow-records", "2", "--out", str(tmp_path / "c")]) == 0
    assert "evaluation" not in caplog.text and _overlap(tmp_path / "c") == {}


def test_lung_seeds_through_the_cli_are_listed(tmp_path):
    out = tmp_path / "a"
    assert main(["pretrain", "--modality", "audio", "--synthetic-lung-records", "2", "--synthetic-seconds", "2",
                 "--seed", "550000", *RUN, "--out", str(out)]) == 0
    assert _overlap(out) == {"audio-lung-syn": ["synthetic:audio-lung:600000", "synthetic:audio-lung:600001"]}


def test_the_held_out_seed_table_matches_the_benchmark_generators():
    """spiro-dev's blows are simulate_spiro on the table's seeds (first and last); audio-lung-syn starts
    at eval_probe's --lung-seed default and its records carry seeds in the table's range."""
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spiro = load_benchmark("spiro_tasks")
    from biosig.synthetic import SPIRO_ARTEFACTS, SPIRO_PATTERNS, simulate_spiro
    recs, _ = spiro.pretraining_generator_quality()
    seeds = ev.SYNTHETIC_SEEDS["spiro-dev"][1]
    assert len(recs) == len(seeds)
    for i in (0, len(seeds) - 1):
        art = SPIRO_ARTEFACTS[(i // 2) % len(SPIRO_ARTEFACTS)] if i % 2 else None
        own = simulate_spiro(spiro.SECONDS, seed=seeds[i], fs_hz=spiro.FS_HZ, pattern=SPIRO_PATTERNS[(i // 2) % 3],
                             artefact=art)
        assert np.array_equal(own.samples, recs[i].samples)
    synth = load_benchmark("probe_synthetic")
    lung = ev.SYNTHETIC_SEEDS["audio-lung-syn"][1]
    assert inspect.signature(synth.synthetic_lung_sounds).parameters["seed"].default == lung.start
    assert "default=600_000" in (ROOT / "benchmarks" / "eval_probe.py").read_text()
    few, _ = synth.synthetic_lung_sounds(n_per_class=2, seconds=1.0)
    assert all(r.metadata["seed"] in lung for r in few)
