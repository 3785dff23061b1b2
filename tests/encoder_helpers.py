"""Shared by the beat-token descriptor tests: a tiny model config and random beat tokens."""
import numpy as np

# a one-layer model: as a config override dict, and as ``biosig pretrain --set`` arguments
SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
TINY = [arg for k, v in SMALL.items() for arg in ("--set", f"{k}={v}")]


def random_beat_tokens(counts, L: int, C: int = 2, K: int = 40, seed: int = 0):
    """Random beat tokens (B, K, C, L + 6) with ``counts[b]`` valid slots per window (each channel)
    and junk in the pad slots; the interval feature (index L) is 0.4-1.2 s, the valid flag (L + 2)
    matches ``valid``. Returns (tokens float32, valid bool (B, K, C))."""
    rng = np.random.default_rng(seed)
    tok = (rng.standard_normal((len(counts), K, C, L + 6)) * 3).astype(np.float32)
    valid = np.zeros((len(counts), K, C), bool)
    for b, n in enumerate(counts):
        for c in range(C):
            valid[b, rng.choice(K, size=n, replace=False), c] = True
            tok[b, :, c, L + 2] = valid[b, :, c]
            tok[b, :, c, L] = rng.uniform(0.4, 1.2, K)
    return tok, valid


def check_beat_option_saved_and_resumed(tmp_path, field: str, value) -> None:
    """``biosig pretrain --set field=value`` on a tiny beat-token mae+descriptors ECG run saves the field
    in config.json, and a run stopped at step 2 and resumed to 4 ends with the same weights as one run
    to 4 (every random draw of the option is part of the step's seeded stream)."""
    import json

    import torch

    from biosig.cli import main
    base = ["pretrain", "--modality", "ecg", "--synthetic-rhythm-records", "4", "--synthetic-seconds", "30",
            "--batch-size", "8", "--hop-s", "10", "--no-progress", *TINY, "--objective", "mae+descriptors",
            "--set", 'tokenizer="beat"', "--set", 'pool="mean+std"', "--set", f"{field}={value}"]
    assert main([*base, "--steps", "4", "--ckpt-every", "2", "--out", str(tmp_path / "full")]) == 0
    assert json.loads((tmp_path / "full" / "config.json").read_text())[field] == value
    assert main([*base, "--steps", "2", "--ckpt-every", "2", "--out", str(tmp_path / "half")]) == 0
    assert main([*base, "--steps", "4", "--ckpt-every", "2", "--resume", "--out", str(tmp_path / "half")]) == 0
    a = torch.load(tmp_path / "full" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "half" / "weights.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = [json.loads(x)["desc"] for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(losses).all()
