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
LOG_FLOORS = {24: 0.05}   # the RMS modulation is heavy-tailed (one cough in silence): log(value + 0.05)
ROLLOFF = 0.85


def _mstd(v: torch.Tensor):
    return v.mean(-1), v.std(-1, unbiased=False)


@torch.no_grad()
def compute(frontend, x: torch.Tensor) -> torch.Tensor:
    """Waveform (B, C, T) (channel 0 is used, as by the front end) -> descriptors (B, N_DESC)."""
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
    return out.float()


def descriptors_numpy(x: np.ndarray, fs_hz: float, n_fft: int, hop_length: int, n_mels: int,
                      fmin_hz: float, fmax_hz: float) -> np.ndarray:
    """Independent oracle of :func:`compute`: librosa's mel spectrogram and per-window loops."""
    import librosa
    out = np.zeros((len(x), N_DESC))
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
        out[b] = o
    return out
