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
