"""Knowledge-guided pretext targets for audio: spectral and envelope descriptors of a window.

The audio counterpart of encoders/descriptors.py (issue 14): with the objectives
``*+descriptors`` and ``modality="audio"``, a training-only LINEAR head on the pooled embedding
regresses standardised descriptors of the window, computed in torch from what the model already
sees - the mel power spectrogram of its own front end (``LogMelPatches.power_mel``, before the
log and the per-window z-score) and the raw 16 kHz waveform. No label is used; the targets are
computed without gradient. The head is not used by ``embed_forward``: it is not exported.

With P[m, f] the mel power of bin m (0 .. M-1) in frame f (F frames), L = log(P + 1e-6), the M
bins split into ``N_BANDS`` equal contiguous bands (M divisible by N_BANDS):

=========  =====================  ============================================================
 0 .. 7    band_mean_<i>          mean over frames of the band's mean log-mel
 8 .. 15   band_std_<i>           std over frames (ddof 0) of the band's mean log-mel
 16, 17    centroid_mean / _std   spectral centroid sum_m (m / (M-1)) P / sum_m P, per frame;
                                  mean and std over frames (0 .. 1, mel-bin scale)
 18, 19    flatness_mean / _std   exp(mean_m log(P + 1e-10)) / mean_m (P + 1e-10) per frame
 20, 21    rolloff_mean / _std    #{m : cumsum_m P < 0.85 sum P} / (M - 1) per frame
 22, 23    log_rms_mean / _std    frame RMS of the waveform in non-overlapping frames of
                                  ``hop_length`` samples (the frames that fit), log(rms + 1e-5)
 24        rms_modulation         std / mean of the linear frame RMS (mean floored at 1e-8)
 25, 26    zcr_mean / _std        per frame: fraction of adjacent sample pairs of the frame
                                  whose signs differ (x[t] >= 0 vs x[t+1] >= 0)
=========  =====================  ============================================================

With ``descriptor_set="lung"`` (config ``descriptor_set``; issue 14, lung sounds) four more
describe what marks adventitious lung sounds (CORSA: wheezes are continuous tonal sounds lasting
100 ms or more, crackles short explosive transients). With S = L averaged over 3 consecutive frames
(96 ms at hop 512 / 16 kHz), the prominence of bin m in frame f is
S[m, f] - (S[m-2, f] + S[m+2, f]) / 2 (bins 2 .. M-3). With e[i] the mean square of the waveform
in short frames of ``IMPULSE_FRAME`` (64) samples (4 ms; the frames that fit), the contrast of
frame i is c[i] = e[i] / (median of e[i-5 .. i+5], the ends repeated): a crackle is one or two
frames far above its neighbourhood, a heart sound or a breath is not.

=========  =====================  ============================================================
 27        tonal_prominence_mean  mean over frames of the largest prominence of the frame
 28        tonal_prominence_max   its largest value over frames
 29        impulse_contrast_q99   log of the 0.99 quantile (linear interpolation) of c
 30        impulsive_fraction     fraction of frames with c > ``IMPULSE_CONTRAST`` (6)
=========  =====================  ============================================================

``tests/test_encoders_audio_descriptors.py`` checks every value against :func:`descriptors_numpy`
(librosa's mel spectrogram plus explicit NumPy loops, librosa's spectral flatness).
"""
from __future__ import annotations

import numpy as np
import torch

N_BANDS = 8
NAMES = (tuple(f"band_mean_{i}" for i in range(N_BANDS)) + tuple(f"band_std_{i}" for i in range(N_BANDS))
         + ("centroid_mean", "centroid_std", "flatness_mean", "flatness_std", "rolloff_mean", "rolloff_std",
            "log_rms_mean", "log_rms_std", "rms_modulation", "zcr_mean", "zcr_std"))
N_DESC = len(NAMES)
LUNG_NAMES = ("tonal_prominence_mean", "tonal_prominence_max", "impulse_contrast_q99", "impulsive_fraction")
SETS = {"v1": NAMES, "lung": NAMES + LUNG_NAMES}   # config descriptor_set -> descriptor names
LOG_FLOORS = {24: 0.05}   # the RMS modulation is heavy-tailed (one cough in silence): log(value + 0.05)
ROLLOFF = 0.85
IMPULSE_FRAME, IMPULSE_HALF, IMPULSE_CONTRAST = 64, 5, 6.0


def n_desc(descriptor_set: str = "v1") -> int:
    """Number of audio descriptors of ``descriptor_set`` (``v1``: 27; ``lung``: 31)."""
    if descriptor_set not in SETS:
        raise ValueError(f"audio descriptors have the sets {', '.join(SETS)}, not {descriptor_set!r}")
    return len(SETS[descriptor_set])


def _mstd(v: torch.Tensor):
    return v.mean(-1), v.std(-1, unbiased=False)


def _lung(L: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The 4 lung descriptors from the log-mel L (B, M, F) and the waveform x (B, T), float64."""
    B, M, Fr = L.shape
    k = min(3, Fr)
    S = torch.nn.functional.avg_pool1d(L.reshape(B * M, 1, Fr), k, 1).reshape(B, M, -1)
    prom = (S[:, 2:M - 2] - 0.5 * (S[:, :M - 4] + S[:, 4:])).amax(1)          # (B, F - k + 1)
    n = x.shape[-1] // IMPULSE_FRAME
    e = x[:, : n * IMPULSE_FRAME].reshape(B, n, IMPULSE_FRAME).pow(2).mean(-1)  # (B, n)
    h = IMPULSE_HALF
    ep = torch.nn.functional.pad(e[:, None], (h, h), mode="replicate")[:, 0]
    med = ep.unfold(-1, 2 * h + 1, 1).median(-1).values
    c = e / med.clamp_min(1e-20)
    q = torch.quantile(c, 0.99, dim=-1)
    return torch.stack([prom.mean(-1), prom.amax(-1), torch.log(q.clamp_min(1e-12)),
                        (c > IMPULSE_CONTRAST).to(L.dtype).mean(-1)], -1)


@torch.no_grad()
def compute(frontend, x: torch.Tensor, descriptor_set: str = "v1") -> torch.Tensor:
    """Waveform (B, C, T) (channel 0 is used, as by the front end) -> descriptors
    (B, n_desc(descriptor_set))."""
    nd = n_desc(descriptor_set)
    x = x[:, :1].float()
    P = frontend.power_mel(x).double()                                         # (B, M, F)
    B, M, Fr = P.shape
    L = torch.log(P + 1e-6)
    bands = L.reshape(B, N_BANDS, M // N_BANDS, Fr).mean(2)                    # (B, nb, F)
    bm, bs = bands.mean(-1), bands.std(-1, unbiased=False)
    tot = P.sum(1)                                                             # (B, F)
    pos = torch.arange(M, dtype=P.dtype, device=P.device) / (M - 1)
    cen = (P * pos[:, None]).sum(1) / tot.clamp_min(1e-12)
    Pe = P + 1e-10
    flat = torch.exp(torch.log(Pe).mean(1)) / Pe.mean(1)
    roll = (torch.cumsum(P, 1) < ROLLOFF * tot[:, None]).sum(1).to(P.dtype) / (M - 1)
    hop = frontend.hop_length
    n = x.shape[-1] // hop
    fr = x[:, 0, : n * hop].double().reshape(B, n, hop)                        # (B, n, hop)
    rms = fr.pow(2).mean(-1).sqrt()
    lr = torch.log(rms + 1e-5)
    mod = rms.std(-1, unbiased=False) / rms.mean(-1).clamp_min(1e-8)
    s = fr >= 0
    zcr = (s[..., 1:] != s[..., :-1]).to(P.dtype).mean(-1)
    out = torch.cat([bm, bs, torch.stack([*_mstd(cen), *_mstd(flat), *_mstd(roll), *_mstd(lr), mod, *_mstd(zcr)], -1)], -1)
    if nd > N_DESC:
        out = torch.cat([out, _lung(L, x[:, 0].double())], -1)
    return out.float()


def _lung_numpy(L: np.ndarray, y: np.ndarray) -> list:
    """Oracle of :func:`_lung` for one window: explicit loops over frames and bins."""
    M, Fr = L.shape
    k = min(3, Fr)
    S = np.array([[L[m, f:f + k].mean() for f in range(Fr - k + 1)] for m in range(M)])
    prom = np.array([max(S[m, f] - (S[m - 2, f] + S[m + 2, f]) / 2 for m in range(2, M - 2))
                     for f in range(S.shape[1])])
    n, h = len(y) // IMPULSE_FRAME, IMPULSE_HALF
    e = np.array([np.mean(y[i * IMPULSE_FRAME:(i + 1) * IMPULSE_FRAME] ** 2) for i in range(n)])
    c = np.array([e[i] / max(np.median([e[min(max(j, 0), n - 1)] for j in range(i - h, i + h + 1)]), 1e-20)
                  for i in range(n)])
    return [prom.mean(), prom.max(), np.log(max(np.quantile(c, 0.99), 1e-12)), np.mean(c > IMPULSE_CONTRAST)]


def descriptors_numpy(x: np.ndarray, fs_hz: float, n_fft: int, hop_length: int, n_mels: int,
                      fmin_hz: float, fmax_hz: float, descriptor_set: str = "v1") -> np.ndarray:
    """Independent oracle of :func:`compute`: librosa's mel spectrogram and per-window loops."""
    import librosa
    out = np.zeros((len(x), n_desc(descriptor_set)))
    for b in range(len(x)):
        y = np.asarray(x[b, 0], dtype=np.float64)
        P = librosa.feature.melspectrogram(y=y, sr=fs_hz, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                           fmin=fmin_hz, fmax=fmax_hz, center=True, pad_mode="constant", power=2.0)
        M, Fr = P.shape
        L = np.log(P + 1e-6)
        o = []
        bands = np.array([L[i * M // N_BANDS:(i + 1) * M // N_BANDS].mean(0) for i in range(N_BANDS)])
        o += list(bands.mean(1)) + list(bands.std(1))
        cen = np.array([np.dot(np.arange(M) / (M - 1), P[:, f]) / max(P[:, f].sum(), 1e-12) for f in range(Fr)])
        flat = librosa.feature.spectral_flatness(S=np.sqrt(P + 1e-10), amin=1e-30, power=2.0)[0]
        roll = np.array([np.sum(np.cumsum(P[:, f]) < ROLLOFF * P[:, f].sum()) / (M - 1) for f in range(Fr)])
        n = len(y) // hop_length
        rms = np.array([np.sqrt(np.mean(y[i * hop_length:(i + 1) * hop_length] ** 2)) for i in range(n)])
        zcr = np.array([np.mean(np.diff((y[i * hop_length:(i + 1) * hop_length] >= 0).astype(int)) != 0)
                        for i in range(n)])
        lr = np.log(rms + 1e-5)
        o += [cen.mean(), cen.std(), flat.mean(), flat.std(), roll.mean(), roll.std(), lr.mean(), lr.std(),
              rms.std() / max(rms.mean(), 1e-8), zcr.mean(), zcr.std()]
        if descriptor_set == "lung":
            o += _lung_numpy(L, y)
        out[b] = o
    return out
