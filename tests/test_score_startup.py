"""``biosig score`` start-up: a checkpoint whose ONNX export is cached scores on onnxruntime
without importing torch, with the same outputs and the same job fingerprint as the torch-loaded path.

Each run is a fresh process (``sys.modules`` is the thing under test); the model is a real
ecg-tiny architecture with seeded random weights saved as a checkpoint directory.
"""
import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from conftest import shared_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# score, then report whether torch was imported (stdout's last line)
SCRIPT = ("import sys; from biosig.cli import main; code = main(sys.argv[1:]); "
          "print('TORCH', 'torch' in sys.modules); sys.exit(code)")


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return ecg_tiny_random_dir


def _score(record, model, out, cache, backend):
    # --threads pinned so that both runs do the same work (the auto choice itself is keyed by
    # machine, not thread count)
    env = dict(os.environ, BIOSIG_CACHE_DIR=str(cache), PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", SCRIPT, "score", str(record), "--model", str(model),
                          "--backend", backend, "--threads", "1", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip().splitlines()[-1] == "TORCH True"


def _tables(out):
    win = pl.read_parquet(out / "windows.parquet").sort("record", "window")
    rec = pl.read_parquet(out / "records.parquet").drop("seconds")
    return win, rec, json.loads((out / "run.json").read_text())["model"]


def _same(a, b):
    (wa, ra, ma), (wb, rb, mb) = _tables(a), _tables(b)
    assert wa.equals(wb) and ra.equals(rb)
    ma.pop("backend_why"), mb.pop("backend_why")  # "(remembered in ...)" on a later auto run
    assert ma == mb  # model id, weights hash, pipeline, backend: a resumed job would accept either


def test_cached_export_scores_without_torch(tmp_path, model_dir):
    record = sorted(shared_path("cinc2017").glob("*.hea"))[0]
    cache = tmp_path / "cache"
    assert _score(record, model_dir, tmp_path / "first", cache, "onnxruntime")  # exports: needs torch
    assert (cache / "onnx" / "index.json").is_file()
    assert not _score(record, model_dir, tmp_path / "second", cache, "onnxruntime")
    _same(tmp_path / "first", tmp_path / "second")
    # resuming the first folder on the torch-free path is accepted (same fingerprint) and adds nothing
    assert not _score(record, model_dir, tmp_path / "first", cache, "onnxruntime")
    assert pl.read_parquet(tmp_path / "first" / "records.parquet").height == 1


def test_auto_uses_the_cached_export_only_when_onnxruntime_was_chosen(tmp_path, model_dir):
    record = sorted(shared_path("cinc2017").glob("*.hea"))[0]
    cache = tmp_path / "cache"
    _score(record, model_dir, tmp_path / "first", cache, "auto")  # probes both, remembers the choice
    chosen = json.loads((tmp_path / "first" / "run.json").read_text())["model"]["backend"]
    used_torch = _score(record, model_dir, tmp_path / "second", cache, "auto")
    assert used_torch == (chosen == "torch")
    _same(tmp_path / "first", tmp_path / "second")
    # the other branch: the remembered choice says torch <-> onnxruntime (as on another machine)
    path = cache / "backend-choice.json"
    table = json.loads(path.read_text())
    flipped = "onnxruntime" if chosen == "torch" else "torch"
    for entry in table.values():
        entry["kind"] = flipped
    path.write_text(json.dumps(table))
    indexed = (cache / "onnx" / "index.json").is_file()   # only an onnxruntime load indexes the export
    used_torch = _score(record, model_dir, tmp_path / "third", cache, "auto")
    if flipped == "torch":
        assert used_torch
    else:  # torch was the first choice (timing decides): this run indexes the export, the next skips torch
        assert used_torch == (not indexed)
        assert not _score(record, model_dir, tmp_path / "fourth", cache, "auto")
    third = _tables(tmp_path / "third")[2]
    assert third["backend"] == flipped and third["model_sha256"] == _tables(tmp_path / "first")[2]["model_sha256"]
    ea, eb = (np.stack(pl.read_parquet(tmp_path / d / "windows.parquet")["embedding"].to_list())
              for d in ("first", "third"))
    np.testing.assert_allclose(ea, eb, atol=1e-5)  # torch vs onnxruntime agree to ~1e-6


def test_changed_weights_do_not_use_the_stale_export(tmp_path, model_dir):
    import shutil

    import torch

    from encoders.weights import state_hash
    record = sorted(shared_path("cinc2017").glob("*.hea"))[0]
    cache, model = tmp_path / "cache", tmp_path / "model"
    shutil.copytree(model_dir, model)
    assert _score(record, model, tmp_path / "a", cache, "onnxruntime")
    state = torch.load(model / "weights.pt", weights_only=True)
    name = sorted(state)[0]
    state[name] = state[name] + 0.5
    torch.save(state, model / "weights.pt")
    meta = json.loads((model / "meta.json").read_text())   # saved again: the id follows the weights
    meta["model_id"] = f"{meta['model_id'].rsplit('-', 1)[0]}-{state_hash(state)[:10]}"
    (model / "meta.json").write_text(json.dumps(meta))
    assert _score(record, model, tmp_path / "b", cache, "onnxruntime")  # index misses: torch path
    ea = np.stack(pl.read_parquet(tmp_path / "a" / "windows.parquet")["embedding"].to_list())
    eb = np.stack(pl.read_parquet(tmp_path / "b" / "windows.parquet")["embedding"].to_list())
    assert not np.allclose(ea, eb)
    assert not _score(record, model, tmp_path / "c", cache, "onnxruntime")  # now cached again
    _same(tmp_path / "b", tmp_path / "c")
