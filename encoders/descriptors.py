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

The descriptor set ``"atrial"`` (config ``descriptor_set``, issue 14 fourth round; the default
``"v1"`` is the 13 above, as ecg-tiny-27bf31bd26 was trained; the shipped ecg-tiny-c440d2a286 was
fine-tuned from it with this set) adds four descriptors of
the atrial segment A = 250-60 ms before the peak (where the P wave of a conducted sinus beat is,
and where AF shows fibrillatory f-waves instead), each from the beats of the window:

====  ===================  ==================================================================
13    p_consistency        mean over beats of the Pearson correlation of the beat's A segment
                           with the window's median A template (per-sample median over beats):
                           high with a P wave before every beat, low in AF
14    p_amp_rel            mean over beats of peak-to-peak(A) / peak-to-peak(QRS region)
15    fwave_band_frac      average-beat subtraction (QRST cancellation): the residual A - template
                           of every beat, de-meaned and Hann-windowed, zero-padded to 256
                           samples; its power in 4-9 Hz over its power above 0 Hz, pooled over
                           beats (sum over beats of band power / sum of total power)
16    p_peak_std_s         standard deviation over beats of the time of the largest
                           |A - mean(A)| (P-R interval stability: small with a P wave)
====  ===================  ==================================================================

The descriptor set ``"pulse"`` (issue 14, PPG: ppg-tiny) keeps the 7 rhythm descriptors above
(0-6, the same definitions on pulse peaks) and replaces the ECG P/QRS/T morphology by three pulse
descriptors that are well defined for a pulse wave (segments z-scored over the window, so
amplitudes are comparable within it):

====  ===================  ==================================================================
 7    pulse_amp_cv         coefficient of variation over beats of the pulse amplitude (peak-to-
                           peak of the beat segment, ddof 0): amplitude alternates with the
                           filling time in irregular rhythms and with breathing in sinus rhythm
 8    template_corr_mean   as 10 above (beat-to-template correlation, pulse shape stability)
 9    template_corr_std    as 11 above
====  ===================  ==================================================================

The descriptor set ``"arrhythmia"`` (issue 14, PPG arrhythmias: premature atrial and ventricular
beats, pulse deficits, ventricular tachycardia) is ``"pulse"`` plus five descriptors; a premature
beat is one whose preceding interval RR_j is below 0.8 median RR, a beat's amplitude is its upstroke
(the segment at the peak minus the foot, the minimum of the segment before the peak; unlike the
peak-to-peak of ``pulse_amp_cv`` it ignores the previous pulse's tail in an early beat's segment),
and A_med is the median amplitude over the window's beats:

====  =======================  ==============================================================
10    premature_frac           fraction of the RR_j that are premature
11    premature_amp_deficit    mean over premature beats of 1 - amplitude / A_med (a premature
                               ventricular beat ejects little: large; atrial: moderate)
12    pause_noncompensation    mean over premature RR_j followed by RR_{j+1} of
                               1 - (RR_j + RR_{j+1}) / (2 median RR): 0 for a full compensatory
                               pause (ventricular), > 0 when the sinus node is reset (atrial)
13    long_pause_frac          fraction of RR_j above 1.6 median RR (non-perfused beats, pauses)
14    pulse_width_s            mean over beats of the time around the peak during which the
                               segment stays above half-way between the foot (the minimum before
                               the peak) and the peak (broad pulses in ventricular rhythms)
====  =======================  ==============================================================

A descriptor that is undefined (too few beats or intervals) is 0. Windows with several channels
average each descriptor over the channels. ``tests/test_encoders_descriptors.py`` checks every value
against the NumPy twin :func:`encoders.descriptors_twin.descriptors_numpy` on synthetic tokens with known RR series.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

NAMES = ("beat_rate_hz", "mean_rr_s", "std_rr_s", "rmssd_s", "pnn50", "irregularity", "turning_points",
         "p_energy_mean", "p_energy_std", "qrs_energy_frac", "template_corr_mean", "template_corr_std",
         "t_energy_mean")
N_DESC = len(NAMES)
ATRIAL_NAMES = ("p_consistency", "p_amp_rel", "fwave_band_frac", "p_peak_std_s")
PULSE_NAMES = NAMES[:7] + ("pulse_amp_cv", "template_corr_mean", "template_corr_std")
ARRHYTHMIA_NAMES = ("premature_frac", "premature_amp_deficit", "pause_noncompensation", "long_pause_frac",
                    "pulse_width_s")
DESCRIPTOR_SETS = {"v1": NAMES, "atrial": NAMES + ATRIAL_NAMES, "pulse": PULSE_NAMES,
                   "arrhythmia": PULSE_NAMES + ARRHYTHMIA_NAMES}
PREMATURE_REL, LONG_PAUSE_REL = 0.8, 1.6   # premature / long interval: below / above this times median RR
FWAVE_BAND_HZ = (4.0, 9.0)
NFFT = 256
CLIP = 5.0      # standardised targets are clipped to +-CLIP (a missed beat must not dominate a batch)
# scale descriptors that differ by factors between rhythms (sinus vs AF) and are heavy-tailed (an
# ectopic or missed beat) are regressed on a log scale: log(value + floor), floors in their units
LOG_FLOORS = {2: 0.005, 3: 0.005, 5: 0.005, 8: 0.01, 11: 0.005}
SET_LOG_FLOORS = {"v1": LOG_FLOORS, "atrial": {**LOG_FLOORS, 14: 0.02, 16: 0.005},
                  "pulse": {2: 0.005, 3: 0.005, 5: 0.005, 7: 0.01, 9: 0.005}}
SET_LOG_FLOORS["arrhythmia"] = SET_LOG_FLOORS["pulse"]   # its five extra descriptors are not log-scaled
EPS = 1e-6


def regions(fs_hz: float, before: int, seg_len: int) -> dict:
    """Sample ranges [a, b) within a beat segment (the peak at index ``before``)."""
    def at(t_s):
        return int(np.clip(before + round(t_s * fs_hz), 0, seg_len))
    return {"p": (at(-0.20), at(-0.06)), "qrs": (at(-0.05), at(0.05) + 1), "t": (at(0.15), at(0.40)),
            "a": (at(-0.25), at(-0.06))}


def n_desc(descriptor_set: str) -> int:
    """Number of descriptors of ``descriptor_set`` (:data:`DESCRIPTOR_SETS`)."""
    return len(DESCRIPTOR_SETS[descriptor_set])


def fwave_band_mask(fs_hz: float) -> np.ndarray:
    """(NFFT // 2 + 1,) bool: the rfft bins of :data:`FWAVE_BAND_HZ`."""
    f = np.fft.rfftfreq(NFFT, 1.0 / fs_hz)
    return (f >= FWAVE_BAND_HZ[0]) & (f <= FWAVE_BAND_HZ[1])


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


def _atrial(seg, vf, n_beats, reg, fs_hz):
    """The four atrial descriptors (M, 4) of segments (M, K, L) with beat weights vf (M, K)."""
    a = seg[..., reg["a"][0]:reg["a"][1]]                                     # (M, K, La)
    m = (vf > 0)[:, None, :].expand(-1, a.shape[-1], -1)                      # (M, La, K)
    tmpl = _masked_median(a.transpose(1, 2), m)                               # (M, La)
    ac = a - a.mean(-1, keepdim=True)
    tc = (tmpl - tmpl.mean(-1, keepdim=True))[:, None, :]
    corr = (ac * tc).sum(-1) / (ac.pow(2).sum(-1).sqrt() * tc.pow(2).sum(-1).sqrt()).clamp_min(EPS)
    p_cons = (corr * vf).sum(-1) / n_beats.clamp_min(1)
    q = seg[..., reg["qrs"][0]:reg["qrs"][1]]
    rel = (a.amax(-1) - a.amin(-1)) / (q.amax(-1) - q.amin(-1)).clamp_min(EPS)
    p_amp = (rel * vf).sum(-1) / n_beats.clamp_min(1)
    res = a - tmpl[:, None, :]
    res = (res - res.mean(-1, keepdim=True)) * torch.hann_window(a.shape[-1], periodic=False, dtype=a.dtype)
    pw = torch.fft.rfft(res, n=NFFT).abs().pow(2)                             # (M, K, NFFT/2+1)
    band = torch.from_numpy(fwave_band_mask(fs_hz)).to(pw.device)
    num = (pw[..., band].sum(-1) * vf).sum(-1)
    den = (pw[..., 1:].sum(-1) * vf).sum(-1)
    fband = num / den.clamp_min(EPS)
    pk = ac.abs().argmax(-1).to(seg.dtype) / fs_hz                            # (M, K) s
    _, pk_std = _mstd(pk, vf, n_beats)
    return torch.stack([p_cons, p_amp, fband, pk_std], -1)


def _arrhythmia(seg, v, with_prev, rr, rm, med_rr, before, fs_hz):
    """The five arrhythmia descriptors (M, 5) of segments (M, K, L) with valid beats v (M, K), the
    beats that have a previous one ``with_prev`` (M, K) and their compacted intervals rr / rm (M, K)."""
    foot = seg[..., :before].amin(-1) if before > 0 else seg[..., before]
    amp = seg[..., before] - foot                                             # (M, K) upstroke
    amp_med = _masked_median(amp, v)
    amp_c, _ = _compact(amp, with_prev)                                       # the amplitude of RR_j's beat
    m_rr = rm.float().sum(-1)
    pre = rm & (rr < PREMATURE_REL * med_rr[:, None])
    n_pre = pre.float().sum(-1)
    frac = n_pre / m_rr.clamp_min(1)
    deficit = ((1 - amp_c / amp_med.clamp_min(EPS)[:, None]) * pre).sum(-1) / n_pre.clamp_min(1)
    pair = pre[..., :-1] & rm[..., 1:]
    nc = 1 - (rr[..., :-1] + rr[..., 1:]) / (2 * med_rr.clamp_min(EPS))[:, None]
    noncomp = (nc * pair).sum(-1) / pair.float().sum(-1).clamp_min(1)
    long = (rm & (rr > LONG_PAUSE_REL * med_rr[:, None])).float().sum(-1) / m_rr.clamp_min(1)
    thr = 0.5 * (seg[..., before] + foot)                                     # (M, K)
    above = seg >= thr[..., None]
    right = torch.cumprod(above[..., before:].to(seg.dtype), -1).sum(-1)
    left = torch.cumprod(above[..., :before].flip(-1).to(seg.dtype), -1).sum(-1)
    width = (right + left) / fs_hz
    vf = v.float()
    width_mean = (width * vf).sum(-1) / vf.sum(-1).clamp_min(1)
    return torch.stack([frac, deficit, noncomp, long, width_mean], -1)


@torch.no_grad()
def compute(tokens: torch.Tensor, valid: torch.Tensor, fs_hz: float, before: int, refractory: int,
            descriptor_set: str = "v1") -> torch.Tensor:
    """Beat tokens (B, K, C, L + 6) and valid (B, K, C) -> descriptors (B, n_desc(descriptor_set))
    float32."""
    tokens = tokens.float()
    B, K, C, pd = tokens.shape
    L = pd - 6
    tok = tokens.permute(0, 2, 1, 3).reshape(B * C, K, pd)                    # (M, K, pd)
    v = valid.permute(0, 2, 1).reshape(B * C, K)                              # (M, K)
    vf = v.float()
    n_beats = vf.sum(-1)
    with_prev = v & (tok[..., L + 2] > 0.5)
    rr, rm = _compact(tok[..., L], with_prev)                                 # RR_1..RR_m first
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
    irr = torch.where(n_d > 0, _masked_median(d.abs(), dm) / med_rr.clamp_min(EPS), torch.zeros_like(med_rr))
    tp = (d[..., 1:] * d[..., :-1] < 0) & dm[..., 1:] & dm[..., :-1]
    n_tp = (dm[..., 1:] & dm[..., :-1]).float().sum(-1)
    turning = tp.float().sum(-1) / n_tp.clamp_min(1)
    # morphology
    seg = tok[..., :L]                                                        # (M, K, L)
    reg = regions(fs_hz, before, L)
    sq = seg.pow(2)
    p_e = sq[..., reg["p"][0]:reg["p"][1]].mean(-1)                           # (M, K)
    p_mean, p_std = _mstd(p_e, vf, n_beats)
    qrs = sq[..., reg["qrs"][0]:reg["qrs"][1]].sum(-1) / sq.sum(-1).clamp_min(EPS)
    qrs_mean = (qrs * vf).sum(-1) / n_beats.clamp_min(1)
    t_e = sq[..., reg["t"][0]:reg["t"][1]].mean(-1)
    t_mean = (t_e * vf).sum(-1) / n_beats.clamp_min(1)
    tmpl = (seg * vf[..., None]).sum(1) / n_beats.clamp_min(1)[:, None]      # (M, L)
    a = seg - seg.mean(-1, keepdim=True)
    b = (tmpl - tmpl.mean(-1, keepdim=True))[:, None, :]
    corr = (a * b).sum(-1) / (a.pow(2).sum(-1).sqrt() * b.pow(2).sum(-1).sqrt()).clamp_min(EPS)
    c_mean, c_std = _mstd(corr, vf, n_beats)
    window_s = K * refractory / fs_hz
    out = torch.stack([n_beats / window_s, mean_rr, std_rr, rmssd, pnn50, irr, turning,
                       p_mean, p_std, qrs_mean, c_mean, c_std, t_mean], -1)  # (M, N_DESC)
    if descriptor_set == "atrial":
        out = torch.cat([out, _atrial(seg, vf, n_beats, reg, fs_hz)], -1)
    elif descriptor_set in ("pulse", "arrhythmia"):
        amp_mean, amp_std = _mstd(seg.amax(-1) - seg.amin(-1), vf, n_beats)
        out = torch.cat([out[:, :7], (amp_std / amp_mean.clamp_min(EPS))[:, None], out[:, 10:12]], -1)
        if descriptor_set == "arrhythmia":
            out = torch.cat([out, _arrhythmia(seg, v, with_prev, rr, rm, med_rr, before, fs_hz)], -1)
    elif descriptor_set != "v1":
        raise ValueError(f"unknown descriptor set {descriptor_set!r}; expected one of {', '.join(DESCRIPTOR_SETS)}")
    return out.reshape(B, C, out.shape[-1]).mean(1)


def transform(d: torch.Tensor, log_floors: dict | None = None) -> torch.Tensor:
    """Descriptors (B, N_DESC) -> regression targets before standardisation: the scale descriptors
    of :data:`LOG_FLOORS` (or ``log_floors``) as log(value + floor), the others unchanged."""
    out = d.clone()
    for i, floor in (LOG_FLOORS if log_floors is None else log_floors).items():
        out[:, i] = torch.log(d[:, i].clamp_min(0) + floor)
    return out


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
