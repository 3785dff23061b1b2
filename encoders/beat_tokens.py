"""Beat-/pulse-synchronous tokens for ECG and PPG, computed inside the model graph.

Design decision (issue 14): peak detection runs **inside** the exported graph, so the model keeps
its one input ``x (B, C, T)`` and ``embed``, ``score``, ``serve``, the ONNX/TensorRT export and the
streaming runtime work unchanged. The detector is a tensor port of
:func:`biosig.quality.detect_beats` (the project's own beat detector): ECG - QRS energy (5-15 Hz
band-pass FIR, squared slope, 120 ms moving average), peaks at least ``refractory_s`` apart above
30 % of a typical beat's energy, refined to the largest absolute deflection within 60 ms; PPG -
systolic peaks of the z-scored (already band-passed) pulse wave (``pulse_detector="relu"``, every
checkpoint before 2026-12-01), or peaks of its rise above the lowest value of the preceding 0.3 s
(``"upstroke"``: a small pulse after a large one, as in pulsus alternans, is not lost under 30 % of
the large pulses' height above the window mean; benchmarks/bench_beat_detection.py measures both on
real pulse waves). The ECG port has two settings (``ecg_detector``):
``"threshold"`` (every checkpoint before 2026-12-02) is the detector the first checkpoints were
trained with: one threshold, 30 % of a typical beat. ``"searchback"`` adds what ``detect_beats``
gained since (:mod:`biosig.ecg_beats`): the typical beat is at least 10 % of the largest beats'
energy, the threshold at least 15 % of the median of the candidates above the first one (a second
pass), and in every interval over 1.66 median intervals the strongest candidate at least 0.36 s
from both beats is a beat if above half the threshold (a search back). Measured on the 47 MIT-BIH
records (10 s windows after the model's pipeline, against the beats NeuroKit2 and XQRS agree on;
windows with the heart rate off by more than 2 /min): first lead 273 -> 215, second lead 638 ->
591 of 7235; sensitivity 0.989 -> 0.993 and 0.941 -> 0.947, positive predictivity unchanged
(0.999, 0.954). Every filter is a finite
convolution over the window, so it only needs the samples of the window itself: run on a stream
with a delay of half the filter length (< 0.2 s) it is causal. ``tests/test_beat_tokens.py``
checks it against ``detect_beats`` on real records.

Tokens. The window is cut into blocks of ``refractory_s``; each block's energy maximum is a
candidate, and a candidate is a beat when it is also the maximum within +-``refractory_s`` and
above the threshold. So a window of T samples always gives ``K = T // r`` token slots (dynamic in
T, ONNX-friendly) and a boolean ``valid`` (B, K, C) that marks the detected beats: a variable
number of beats per window is padding + mask. Each beat token carries

* its morphology: the z-scored samples from ``beat_before_s`` before to ``beat_after_s`` after the
  peak (zero outside the window);
* its rhythm: the interval to the previous and to the next detected beat in seconds, flags for
  whether they exist, and both intervals relative to the window's mean interval minus 1.

Pad slots are replaced by a learned pad embedding in the model and left out of the pooled
embedding and of the losses.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoders.config import ECG_DETECTORS, PULSE_DETECTORS

UPSTROKE_S = 0.3   # pulse_detector="upstroke": the foot is the minimum over this long before each sample
N_RHYTHM = 6   # rr_prev_s, rr_next_s, has_prev, has_next, rr_prev / mean - 1, rr_next / mean - 1
_EPS = 1e-5
_NEG = -1e9
# ecg_detector="searchback": the rule constants of biosig.ecg_beats (same names, same values; a test
# checks they agree)
SLOWEST_RR_S, MIN_TYPICAL_REL, BEAT_REL, SECOND_PASS_REL = 2.5, 0.1, 0.3, 0.15
SEARCHBACK_RR, SEARCHBACK_REL, SEARCHBACK_MARGIN_S = 1.66, 0.5, 0.36


def _masked_median(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """v, m (M, K) -> (M, 1): the median of v where m (numpy's: the mean of the two middle values of
    an even count); 0 where m is empty."""
    K = v.shape[-1]
    srt = torch.sort(torch.where(m, v, torch.full_like(v, _NEG)), dim=-1, descending=True).values
    n = m.sum(-1, keepdim=True)
    lo = ((n - 1).clamp_min(0) // 2).clamp_max(K - 1)
    hi = (n // 2).clamp_max(K - 1)
    med = 0.5 * (torch.gather(srt, 1, lo) + torch.gather(srt, 1, hi))
    return torch.where(n > 0, med, torch.zeros_like(med))


def _neighbours(t: torch.Tensor, valid: torch.Tensor):
    """Time of the previous and next valid slot of every slot ((M, K) each; -1e9 / 1e9 where none)."""
    K = t.shape[1]
    ar = torch.arange(K, device=t.device)
    before = (ar[None, :] < ar[:, None])[None] & valid[:, None, :]              # [m, j, i]: i < j, i valid
    after = (ar[None, :] > ar[:, None])[None] & valid[:, None, :]
    prev = torch.where(before, t[:, None, :], torch.full_like(t[:, None, :], _NEG)).amax(-1)
    nxt = torch.where(after, t[:, None, :], torch.full_like(t[:, None, :], -_NEG)).amin(-1)
    return prev, nxt


def _fir_bandpass(fs_hz: float, lo_hz: float, hi_hz: float, duration_s: float = 0.2) -> np.ndarray:
    """Odd-length Hamming-windowed sinc band-pass FIR (unit gain at the band centre)."""
    n = int(duration_s * fs_hz) // 2 * 2 + 1
    t = np.arange(n) - n // 2
    h = (2 * hi_hz / fs_hz) * np.sinc(2 * hi_hz / fs_hz * t) - (2 * lo_hz / fs_hz) * np.sinc(2 * lo_hz / fs_hz * t)
    h *= np.hamming(n)
    fc = 0.5 * (lo_hz + hi_hz)
    gain = abs(np.sum(h * np.exp(-2j * np.pi * fc / fs_hz * t)))
    return (h / max(gain, 1e-12)).astype(np.float32)


class BeatTokens(nn.Module):
    """x (B, C, T) -> (tokens (B, K, C, L + 6), valid (B, K, C) bool), K = T // refractory samples."""

    def __init__(self, modality: str, fs_hz: float, before_s: float, after_s: float,
                 refractory_s: float, pulse_detector: str = "relu", ecg_detector: str = "threshold"):
        super().__init__()
        if pulse_detector not in PULSE_DETECTORS:
            raise ValueError(f"pulse_detector {pulse_detector!r}; expected one of {', '.join(PULSE_DETECTORS)}")
        if ecg_detector not in ECG_DETECTORS:
            raise ValueError(f"ecg_detector {ecg_detector!r}; expected one of {', '.join(ECG_DETECTORS)}")
        self.modality, self.fs_hz = modality, float(fs_hz)
        self.pulse_detector, self.ecg_detector = pulse_detector, ecg_detector
        self.foot = max(1, int(round(UPSTROKE_S * fs_hz)))
        self.r = max(2, int(round(refractory_s * fs_hz)))
        self.before, self.after = int(round(before_s * fs_hz)), int(round(after_s * fs_hz))
        self.seg_len = self.before + self.after
        self.patch_dim = self.seg_len + N_RHYTHM
        self.patch_size = self.r          # samples per token slot (used for minimum lengths)
        self.refine = max(1, int(round(0.06 * fs_hz)))
        self.register_buffer("fir", torch.from_numpy(_fir_bandpass(fs_hz, 5.0, 15.0))[None, None],
                             persistent=False)
        self.smooth = max(1, int(0.12 * fs_hz)) // 2 * 2 + 1

    # ------------------------------------------------------------------ detection
    def energy(self, z: torch.Tensor) -> torch.Tensor:
        """z (M, 1, T) z-scored -> detection signal (M, 1, T)."""
        if self.modality != "ecg":
            if self.pulse_detector == "upstroke":   # rise above the lowest value of the preceding 0.3 s
                w = self.foot
                return z + F.max_pool1d(F.pad(-z, (w, 0), value=-1e4), w + 1, stride=1)
            return F.relu(z)
        k = self.fir.shape[-1]
        band = F.conv1d(F.pad(z, (k // 2, k // 2), mode="replicate"), self.fir)   # (M, 1, T)
        slope = F.pad(band[..., 1:] - band[..., :-1], (1, 0)).pow(2)
        s = self.smooth
        return F.avg_pool1d(F.pad(slope, (s // 2, s // 2)), s, stride=1)          # (M, 1, T)

    def detect(self, z: torch.Tensor):
        """z (M, 1, T) -> peak sample index (M, K) long and valid (M, K) bool."""
        r = self.r
        T = z.shape[-1]
        K = T // r
        e = self.energy(z)[..., : K * r]                                          # (M, 1, K r)
        cand, idx = F.max_pool1d(e, r, stride=r, return_indices=True)            # (M, 1, K)
        local = F.max_pool1d(F.pad(e, (r, r), value=-1.0), 2 * r + 1, stride=1)  # (M, 1, K r)
        is_max = torch.gather(local, 2, idx) <= cand
        v = cand * is_max.to(cand.dtype)
        # a typical beat: the median of the larger half of the local maxima (as detect_beats), so
        # one big artefact does not hide the other beats; rank n_max // 4 of the descending sort
        srt = torch.sort(v, dim=-1, descending=True).values                      # (M, 1, K)
        rank = (is_max.sum(-1, keepdim=True) // 4).clamp_max(K - 1)              # (M, 1, 1)
        typical = torch.gather(srt, 2, rank)
        idx = idx[:, 0]
        if self.modality == "ecg" and self.ecg_detector == "searchback":
            valid = self._searchback(cand[:, 0], is_max[:, 0] & (cand[:, 0] > _EPS), srt[:, 0],
                                     typical[:, 0], idx)
        else:
            valid = (is_max & (cand >= BEAT_REL * typical) & (cand > _EPS))[:, 0]
        if self.modality == "ecg":   # refine to the largest absolute deflection within 60 ms
            off = torch.arange(-self.refine, self.refine + 1, device=z.device)
            grid = (idx[..., None] + off).clamp(0, T - 1)                         # (M, K, 2q+1)
            vals = torch.gather(z[:, 0].abs()[:, None, :].expand(-1, idx.shape[1], -1), 2, grid)
            idx = torch.gather(grid, 2, vals.argmax(-1, keepdim=True))[..., 0]
        return idx, valid

    def _searchback(self, cand, is_max, srt, typical, idx):
        """(M, K) candidate energies, candidates, their descending sort, (M, 1) typical beat and
        (M, K) energy-peak positions -> (M, K) beats: biosig.ecg_beats' floor, second pass and
        search back (ecg_detector="searchback")."""
        K = cand.shape[1]
        # the typical beat is at least MIN_TYPICAL_REL of the median of the n_min largest candidates,
        # n_min = the beats of a 24 /min rhythm in this window (K as a tensor: dynamic in T on export)
        k_slots = torch.ones_like(cand).sum(-1, keepdim=True)
        n_min = torch.floor(k_slots * (self.r / self.fs_hz) / SLOWEST_RR_S).clamp(1, K).to(torch.long)
        top = 0.5 * (torch.gather(srt, 1, (n_min - 1) // 2) + torch.gather(srt, 1, n_min // 2))
        typical = torch.maximum(typical, MIN_TYPICAL_REL * top)
        thr = BEAT_REL * typical
        thr = torch.maximum(thr, SECOND_PASS_REL * _masked_median(cand, is_max & (cand >= thr)))  # second pass
        valid = is_max & (cand >= thr) & (thr > 0)
        # search back: in an interval over SEARCHBACK_RR median intervals, its strongest candidate at
        # least SEARCHBACK_MARGIN_S from both beats (first on ties) is a beat if over SEARCHBACK_REL thr
        t = idx.to(cand.dtype)
        prev, nxt = _neighbours(t, valid)
        has_next = valid & (nxt < -_NEG / 2)
        med = _masked_median(nxt - t, has_next)
        margin = SEARCHBACK_MARGIN_S * self.fs_hz
        zone = (is_max & ~valid & (prev > _NEG / 2) & (nxt < -_NEG / 2) & (nxt - prev > SEARCHBACK_RR * med)
                & (t > prev + margin) & (t < nxt - margin) & (valid.sum(-1, keepdim=True) >= 3))
        same = (prev[:, :, None] == prev[:, None, :]) & zone[:, None, :]         # [m, i, j]: j in i's interval
        ar = torch.arange(K, device=cand.device)
        ci, cj = cand[:, :, None], cand[:, None, :]
        beaten = same & ((cj > ci) | ((cj == ci) & (ar[None, :] < ar[:, None])[None]))
        return valid | (zone & ~beaten.any(-1) & (cand >= SEARCHBACK_REL * thr))

    # ------------------------------------------------------------------ features
    def rhythm(self, idx: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(M, K) peak indices and validity -> (M, K, 6) interval features (0 on pad slots)."""
        t = idx.to(torch.float32) / self.fs_hz                                    # (M, K) s
        vf = valid.to(torch.float32)
        prev, nxt = _neighbours(t, valid)                                          # (M, K)
        has_prev = (prev > _NEG / 2).to(torch.float32) * vf
        has_next = (nxt < -_NEG / 2).to(torch.float32) * vf
        rr_prev = (t - prev) * has_prev
        rr_next = (nxt - t) * has_next
        mean_rr = rr_prev.sum(-1, keepdim=True) / has_prev.sum(-1, keepdim=True).clamp_min(1.0)
        rel_prev = (rr_prev / mean_rr.clamp_min(_EPS) - 1) * has_prev
        rel_next = (rr_next / mean_rr.clamp_min(_EPS) - 1) * has_next
        return torch.stack([rr_prev, rr_next, has_prev, has_next, rel_prev, rel_next], -1)

    def segments(self, z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """z (M, 1, T), idx (M, K) -> (M, K, L) samples around each peak, 0 outside the window."""
        T = z.shape[-1]
        off = torch.arange(-self.before, self.after, device=z.device)
        pos = idx[..., None] + off                                                 # (M, K, L)
        inside = ((pos >= 0) & (pos < T)).to(z.dtype)
        src = z[:, 0][:, None, :].expand(-1, idx.shape[1], -1)
        return torch.gather(src, 2, pos.clamp(0, T - 1)) * inside

    def forward(self, x: torch.Tensor):
        B, C, T = x.shape
        mean = x.mean(dim=-1, keepdim=True)
        z = (x - mean) / ((x - mean).pow(2).mean(dim=-1, keepdim=True).sqrt() + _EPS)
        z = z.reshape(B * C, 1, T)
        idx, valid = self.detect(z)                                               # (BC, K)
        feats = torch.cat([self.segments(z, idx), self.rhythm(idx, valid)], -1)   # (BC, K, L+6)
        feats = feats * valid[..., None].to(feats.dtype)
        K = idx.shape[1]
        tokens = feats.reshape(B, C, K, -1).transpose(1, 2)                        # (B, K, C, pd)
        return tokens, valid.reshape(B, C, K).transpose(1, 2)                      # (B, K, C)

    def beats(self, x: torch.Tensor):
        """Detected peak sample indices per (window, channel): list of lists of int arrays."""
        B, C, T = x.shape
        mean = x.mean(dim=-1, keepdim=True)
        z = ((x - mean) / ((x - mean).pow(2).mean(dim=-1, keepdim=True).sqrt() + _EPS)).reshape(B * C, 1, T)
        idx, valid = self.detect(z)
        out = [idx[i][valid[i]].cpu().numpy() for i in range(B * C)]
        return [out[b * C:(b + 1) * C] for b in range(B)]

