"""Knowledge-guided pretext targets: rhythm and morphology descriptors of a window (issue 14).

PaPaGei (Pillai et al. 2024) trains a PPG embedding to predict physiological descriptors computed
from the unlabelled signal itself. The ECG analogue here: the objectives ``*+descriptors``
(encoders/objectives.py) add a training-only LINEAR head on the pooled embedding that regresses
standardised descriptors of the window, so that a linear probe can read them from the embedding.
They are computed from the beat tokens the model already has (encoders/beat_tokens.py: per token
the z-scored segment around the peak and the interval features), pad slots excluded; no label is
used. Targets are detached (no gradient flows into the tokenizer, which has no parameters anyway).

For one window and channel with n detected beats (time order) and RR_1 .. RR_m (m = n - 1, the
``rr_prev`` feature of every beat that has a previous beat), dRR_j = RR_{j+1} - RR_j:

====  ===================  ==================================================================
 0    beat_rate_hz         n / window length (K slots of ``refractory`` samples)
 1    mean_rr_s            mean RR
 2    std_rr_s             standard deviation of RR (ddof 0)
 3    rmssd_s              sqrt(mean dRR^2)
 4    pnn50                fraction of |dRR| > 50 ms
 5    irregularity         median |dRR| / median RR (np.median: mean of the two middle values)
 6    turning_points       fraction of interior RR_j (1 < j < m) that are local extremes
 7    p_energy_mean        mean over beats of the mean square of the segment 200-60 ms before
                           the peak (the P-wave region)
 8    p_energy_std         its standard deviation over beats
 9    qrs_energy_frac      mean over beats of the segment energy within +-50 ms of the peak over
                           the energy of the whole segment (narrow vs wide QRS)
10    template_corr_mean   mean over beats of the Pearson correlation of the beat's segment with
                           the window's mean beat (beat-to-beat morphology stability)
11    template_corr_std    its standard deviation over beats
12    t_energy_mean        mean over beats of the mean square 150-400 ms after the peak (T wave)
====  ===================  ==================================================================

A descriptor that is undefined (too few beats or intervals) is 0. Windows with several channels
average each descriptor over the channels. ``tests/test_descriptors.py`` checks every value
against the NumPy oracle :func:`descriptors_numpy` on synthetic tokens with known RR series.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

NAMES = ("beat_rate_hz", "mean_rr_s", "std_rr_s", "rmssd_s", "pnn50", "irregularity", "turning_points",
         "p_energy_mean", "p_energy_std", "qrs_energy_frac", "template_corr_mean", "template_corr_std",
         "t_energy_mean")
N_DESC = len(NAMES)
CLIP = 5.0      # standardised targets are clipped to +-CLIP (a missed beat must not dominate a batch)
# scale descriptors that differ by factors between rhythms (sinus vs AF) and are heavy-tailed (an
# ectopic or missed beat) are regressed on a log scale: log(value + floor), floors in their units
LOG_FLOORS = {2: 0.005, 3: 0.005, 5: 0.005, 8: 0.01, 11: 0.005}
_EPS = 1e-6


def regions(fs_hz: float, before: int, seg_len: int) -> dict:
    """Sample ranges [a, b) within a beat segment (the peak at index ``before``)."""
    def at(t_s):
        return int(np.clip(before + round(t_s * fs_hz), 0, seg_len))
    return {"p": (at(-0.20), at(-0.06)), "qrs": (at(-0.05), at(0.05) + 1), "t": (at(0.15), at(0.40))}


def _masked_median(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Median over the last axis of the entries where m (bool) is True (0 where none)."""
    n = m.sum(-1)
    s = torch.sort(torch.where(m, v, torch.full_like(v, float("inf"))), dim=-1).values
    lo = ((n - 1).clamp_min(0) // 2)[..., None]
    hi = (n // 2).clamp_max(v.shape[-1] - 1)[..., None]
    med = 0.5 * (torch.gather(s, -1, lo) + torch.gather(s, -1, hi))[..., 0]
    return torch.where(n > 0, med, torch.zeros_like(med))


def _compact(v: torch.Tensor, m: torch.Tensor):
    """Move the entries with m True to the front, in order: (values, mask)."""
    order = torch.argsort((~m).to(torch.int8), dim=-1, stable=True)
    return torch.gather(v, -1, order), torch.gather(m, -1, order)


def _mstd(v, m, n):
    mean = (v * m).sum(-1) / n.clamp_min(1)
    var = ((v - mean[..., None]).pow(2) * m).sum(-1) / n.clamp_min(1)
    return mean, var.clamp_min(0).sqrt()


@torch.no_grad()
def compute(tokens: torch.Tensor, valid: torch.Tensor, fs_hz: float, before: int, refractory: int) -> torch.Tensor:
    """Beat tokens (B, K, C, L + 6) and valid (B, K, C) -> descriptors (B, N_DESC) float32."""
    tokens = tokens.float()
    B, K, C, pd = tokens.shape
    L = pd - 6
    tok = tokens.permute(0, 2, 1, 3).reshape(B * C, K, pd)                    # (M, K, pd)
    v = valid.permute(0, 2, 1).reshape(B * C, K)                              # (M, K)
    vf = v.float()
    n_beats = vf.sum(-1)
    rr, rm = _compact(tok[..., L], v & (tok[..., L + 2] > 0.5))               # RR_1..RR_m first
    m_rr = rm.sum(-1).float()
    rmf = rm.float()
    mean_rr, std_rr = _mstd(rr, rmf, m_rr)
    d = rr[..., 1:] - rr[..., :-1]
    dm = rm[..., 1:] & rm[..., :-1]
    dmf = dm.float()
    n_d = dmf.sum(-1)
    rmssd = ((d.pow(2) * dmf).sum(-1) / n_d.clamp_min(1)).sqrt()
    pnn50 = ((d.abs() > 0.05).float() * dmf).sum(-1) / n_d.clamp_min(1)
    med_rr = _masked_median(rr, rm)
    irr = torch.where(n_d > 0, _masked_median(d.abs(), dm) / med_rr.clamp_min(_EPS), torch.zeros_like(med_rr))
    tp = (d[..., 1:] * d[..., :-1] < 0) & dm[..., 1:] & dm[..., :-1]
    n_tp = (dm[..., 1:] & dm[..., :-1]).float().sum(-1)
    turning = tp.float().sum(-1) / n_tp.clamp_min(1)
    # morphology
    seg = tok[..., :L]                                                        # (M, K, L)
    reg = regions(fs_hz, before, L)
    sq = seg.pow(2)
    p_e = sq[..., reg["p"][0]:reg["p"][1]].mean(-1)                           # (M, K)
    p_mean, p_std = _mstd(p_e, vf, n_beats)
    qrs = sq[..., reg["qrs"][0]:reg["qrs"][1]].sum(-1) / sq.sum(-1).clamp_min(_EPS)
    qrs_mean = (qrs * vf).sum(-1) / n_beats.clamp_min(1)
    t_e = sq[..., reg["t"][0]:reg["t"][1]].mean(-1)
    t_mean = (t_e * vf).sum(-1) / n_beats.clamp_min(1)
    tmpl = (seg * vf[..., None]).sum(1) / n_beats.clamp_min(1)[:, None]      # (M, L)
    a = seg - seg.mean(-1, keepdim=True)
    b = (tmpl - tmpl.mean(-1, keepdim=True))[:, None, :]
    corr = (a * b).sum(-1) / (a.pow(2).sum(-1).sqrt() * b.pow(2).sum(-1).sqrt()).clamp_min(_EPS)
    c_mean, c_std = _mstd(corr, vf, n_beats)
    window_s = K * refractory / fs_hz
    out = torch.stack([n_beats / window_s, mean_rr, std_rr, rmssd, pnn50, irr, turning,
                       p_mean, p_std, qrs_mean, c_mean, c_std, t_mean], -1)  # (M, N_DESC)
    return out.reshape(B, C, N_DESC).mean(1)


def transform(d: torch.Tensor, log_floors: dict | None = None) -> torch.Tensor:
    """Descriptors (B, N_DESC) -> regression targets before standardisation: the scale descriptors
    of :data:`LOG_FLOORS` (or ``log_floors``) as log(value + floor), the others unchanged."""
    out = d.clone()
    for i, floor in (LOG_FLOORS if log_floors is None else log_floors).items():
        out[:, i] = torch.log(d[:, i].clamp_min(0) + floor)
    return out


def descriptors_numpy(tokens: np.ndarray, valid: np.ndarray, fs_hz: float, before: int, refractory: int) -> np.ndarray:
    """NumPy oracle of :func:`compute`, written per window and channel with explicit loops."""
    B, K, C, pd = tokens.shape
    L = pd - 6
    reg = regions(fs_hz, before, L)
    out = np.zeros((B, C, N_DESC))
    for b in range(B):
        for c in range(C):
            beats = [k for k in range(K) if valid[b, k, c]]
            rr = np.array([tokens[b, k, c, L] for k in beats if tokens[b, k, c, L + 2] > 0.5])
            seg = np.array([tokens[b, k, c, :L] for k in beats]).reshape(len(beats), L)
            o = np.zeros(N_DESC)
            o[0] = len(beats) / (K * refractory / fs_hz)
            if len(rr):
                o[1], o[2] = rr.mean(), rr.std()
            dd = np.diff(rr)
            if len(dd):
                o[3] = np.sqrt(np.mean(dd ** 2))
                o[4] = np.mean(np.abs(dd) > 0.05)
                o[5] = np.median(np.abs(dd)) / max(np.median(rr), _EPS)
            if len(dd) >= 2:
                o[6] = np.mean(dd[1:] * dd[:-1] < 0)
            if len(beats):
                p = (seg[:, reg["p"][0]:reg["p"][1]] ** 2).mean(1)
                o[7], o[8] = p.mean(), p.std()
                sq = seg ** 2
                o[9] = np.mean(sq[:, reg["qrs"][0]:reg["qrs"][1]].sum(1) / np.maximum(sq.sum(1), _EPS))
                tmpl = seg.mean(0)
                corr = [np.sum((s - s.mean()) * (tmpl - tmpl.mean()))
                        / max(np.linalg.norm(s - s.mean()) * np.linalg.norm(tmpl - tmpl.mean()), _EPS) for s in seg]
                o[10], o[11] = np.mean(corr), np.std(corr)
                o[12] = (seg[:, reg["t"][0]:reg["t"][1]] ** 2).mean(1).mean()
            out[b, c] = o
    return out.mean(1)


class DescriptorHead(nn.Module):
    """Training-only linear head (embedding -> N_DESC) plus the running statistics that
    standardise the targets: the exact mean and variance of every window seen so far in training
    (Chan et al. parallel update), persistent buffers so that they are saved in the checkpoint and
    a resumed run continues exactly. Not used by ``embed_forward``: not exported.
    ``n_desc`` / ``log_floors``: the ECG descriptors of this module by default; the audio ones
    (encoders/audio_descriptors.py) for ``modality="audio"``."""

    def __init__(self, dim: int, n_desc: int = N_DESC, log_floors: dict | None = None):
        super().__init__()
        self.log_floors = LOG_FLOORS if log_floors is None else dict(log_floors)
        self.linear = nn.Linear(dim, n_desc)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(n_desc, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(n_desc, dtype=torch.float64))

    @torch.no_grad()
    def standardise(self, d: torch.Tensor, update: bool) -> torch.Tensor:
        """d (B, N_DESC) descriptors -> standardised (after :func:`transform`), clipped targets; with
        ``update`` the statistics first take in this batch."""
        d64 = transform(d.double(), self.log_floors)
        if update:
            nb = float(d64.shape[0])
            mb = d64.mean(0)
            m2b = (d64 - mb).pow(2).sum(0)
            n = self.count + nb
            delta = mb - self.mean
            self.mean += delta * nb / n
            self.m2 += m2b + delta.pow(2) * self.count * nb / n
            self.count += nb
        std = (self.m2 / self.count.clamp_min(1.0)).sqrt()
        z = (d64 - self.mean) / std.clamp_min(1e-6)
        return z.clamp(-CLIP, CLIP).to(d.dtype)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.linear(emb)
