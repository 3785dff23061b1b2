"""NumPy twin of :mod:`encoders.descriptors`: the same descriptors written per window and channel
with explicit loops, the test oracle of :func:`encoders.descriptors.compute` (and, for the atrial
ones, of :mod:`biosig.measures_atrial`). Not used in training or inference."""
from __future__ import annotations

import numpy as np

from encoders.descriptors import (EPS, LONG_PAUSE_REL, N_DESC, NFFT, PREMATURE_REL, fwave_band_mask, n_desc,
                                  regions)


def atrial_numpy(seg: np.ndarray, reg: dict, fs_hz: float) -> np.ndarray:
    """NumPy oracle of the atrial descriptors of one window and channel's beats (n, L)."""
    a = seg[:, reg["a"][0]:reg["a"][1]]
    tmpl = np.median(a, axis=0)
    tc = tmpl - tmpl.mean()
    corr = [np.sum((s - s.mean()) * tc) / max(np.linalg.norm(s - s.mean()) * np.linalg.norm(tc), EPS) for s in a]
    q = seg[:, reg["qrs"][0]:reg["qrs"][1]]
    rel = np.ptp(a, axis=1) / np.maximum(np.ptp(q, axis=1), EPS)
    res = a - tmpl
    res = (res - res.mean(1, keepdims=True)) * np.hanning(a.shape[1])
    pw = np.abs(np.fft.rfft(res, n=NFFT, axis=1)) ** 2
    fband = pw[:, fwave_band_mask(fs_hz)].sum() / max(pw[:, 1:].sum(), EPS)
    pk = np.array([np.argmax(np.abs(s - s.mean())) for s in a]) / fs_hz
    return np.array([np.mean(corr), np.mean(rel), fband, pk.std()])


def arrhythmia_numpy(tok: np.ndarray, valid: np.ndarray, before: int, fs_hz: float) -> np.ndarray:
    """NumPy oracle of the arrhythmia descriptors of one window and channel: tokens (K, L + 6)."""
    L = tok.shape[1] - 6
    beats = [k for k in range(len(tok)) if valid[k]]
    if not beats:
        return np.zeros(5)
    amp = {k: tok[k, before] - (tok[k, :before].min() if before > 0 else tok[k, before]) for k in beats}
    amp_med = np.median(list(amp.values()))
    with_prev = [k for k in beats if tok[k, L + 2] > 0.5]
    rr = np.array([tok[k, L] for k in with_prev])
    frac = deficit = noncomp = long = 0.0
    if len(rr):
        med = np.median(rr)
        pre = [j for j in range(len(rr)) if rr[j] < PREMATURE_REL * med]
        frac = len(pre) / len(rr)
        if pre:
            deficit = np.mean([1 - amp[with_prev[j]] / max(amp_med, EPS) for j in pre])
        nc = [1 - (rr[j] + rr[j + 1]) / (2 * max(med, EPS)) for j in pre if j + 1 < len(rr)]
        noncomp = np.mean(nc) if nc else 0.0
        long = np.mean(rr > LONG_PAUSE_REL * med)
    widths = []
    for k in beats:
        s = tok[k, :L]
        thr = 0.5 * (s[before] + (s[:before].min() if before > 0 else s[before]))
        n = 0
        i = before
        while i < L and s[i] >= thr:
            n, i = n + 1, i + 1
        i = before - 1
        while i >= 0 and s[i] >= thr:
            n, i = n + 1, i - 1
        widths.append(n / fs_hz)
    return np.array([frac, deficit, noncomp, long, np.mean(widths)])


def descriptors_numpy(tokens: np.ndarray, valid: np.ndarray, fs_hz: float, before: int, refractory: int,
                      descriptor_set: str = "v1") -> np.ndarray:
    """NumPy oracle of :func:`compute`, written per window and channel with explicit loops."""
    B, K, C, pd = tokens.shape
    L = pd - 6
    reg = regions(fs_hz, before, L)
    nd = n_desc(descriptor_set)
    if descriptor_set == "arrhythmia":   # the pulse set, then the five arrhythmia descriptors
        out = np.zeros((B, C, nd))
        for b in range(B):
            for c in range(C):
                o = descriptors_numpy(tokens[b:b + 1, :, c:c + 1], valid[b:b + 1, :, c:c + 1], fs_hz, before,
                                      refractory, "pulse")[0]
                out[b, c] = np.concatenate([o, arrhythmia_numpy(tokens[b, :, c], valid[b, :, c], before, fs_hz)])
        return out.mean(1)
    if descriptor_set == "pulse":   # the 7 rhythm descriptors of v1 per channel, then the pulse ones
        out = np.zeros((B, C, nd))
        for b in range(B):
            for c in range(C):
                o = descriptors_numpy(tokens[b:b + 1, :, c:c + 1], valid[b:b + 1, :, c:c + 1], fs_hz, before,
                                      refractory, "v1")[0]
                amp = np.array([np.ptp(tokens[b, k, c, :L]) for k in range(K) if valid[b, k, c]])
                cv = amp.std() / max(amp.mean(), EPS) if len(amp) else 0.0
                out[b, c] = np.concatenate([o[:7], [cv], o[10:12]])
        return out.mean(1)
    out = np.zeros((B, C, nd))
    for b in range(B):
        for c in range(C):
            beats = [k for k in range(K) if valid[b, k, c]]
            rr = np.array([tokens[b, k, c, L] for k in beats if tokens[b, k, c, L + 2] > 0.5])
            seg = np.array([tokens[b, k, c, :L] for k in beats]).reshape(len(beats), L)
            o = np.zeros(nd)
            o[0] = len(beats) / (K * refractory / fs_hz)
            if len(rr):
                o[1], o[2] = rr.mean(), rr.std()
            dd = np.diff(rr)
            if len(dd):
                o[3] = np.sqrt(np.mean(dd ** 2))
                o[4] = np.mean(np.abs(dd) > 0.05)
                o[5] = np.median(np.abs(dd)) / max(np.median(rr), EPS)
            if len(dd) >= 2:
                o[6] = np.mean(dd[1:] * dd[:-1] < 0)
            if len(beats):
                p = (seg[:, reg["p"][0]:reg["p"][1]] ** 2).mean(1)
                o[7], o[8] = p.mean(), p.std()
                sq = seg ** 2
                o[9] = np.mean(sq[:, reg["qrs"][0]:reg["qrs"][1]].sum(1) / np.maximum(sq.sum(1), EPS))
                tmpl = seg.mean(0)
                corr = [np.sum((s - s.mean()) * (tmpl - tmpl.mean()))
                        / max(np.linalg.norm(s - s.mean()) * np.linalg.norm(tmpl - tmpl.mean()), EPS) for s in seg]
                o[10], o[11] = np.mean(corr), np.std(corr)
                o[12] = (seg[:, reg["t"][0]:reg["t"][1]] ** 2).mean(1).mean()
                if nd > N_DESC:
                    o[N_DESC:] = atrial_numpy(seg, reg, fs_hz)
            out[b, c] = o
    return out.mean(1)
