"""Log-mel spectrogram step: offline with librosa, streaming with a NumPy twin and carried state.

Framing follows ``librosa.feature.melspectrogram``: with ``center=True`` (the default, as the
encoders' in-model log-mel does) the signal is padded with ``n_fft // 2`` zeros at both ends and
frame ``k`` is centred on sample ``k * hop``; with ``center=False`` frame ``k`` covers samples
``[k * hop, k * hop + n_fft)``. A stream pads only the start (it cannot know the end), emits each
frame as soon as its last sample arrives, and so gives the offline frames except the last
``n_fft // (2 * hop)`` ones of a finished recording. Power spectrum (``|STFT|^2``, Hann window), Slaney mel filter bank
(librosa's default), then natural log of ``power + log_eps``. Multichannel audio is averaged into
one channel first. A frame that touches a NaN sample is NaN in every mel bin.

Output record: samples float32 ``(n_mels, n_frames)``, ``fs_hz = fs / hop`` (frames per second),
channels ``mel00 .. mel63``.
"""
from __future__ import annotations

import numpy as np

from biosig.errors import PipelineError, SignalError
from biosig.record import Record

LOGMEL_PARAMS = {
    "n_mels": (int, 64),
    "n_fft": (int, 1024),
    "hop": (int, 512),
    "fmin_hz": (float, 50.0),
    "fmax_hz": (float, 8000.0),
    "log_eps": (float, 1e-6),
    "center": (bool, True),
}


def mel_filterbank(p: dict, fs_hz: float) -> np.ndarray:
    """Slaney mel filter bank, float64 (n_mels, n_fft // 2 + 1), as librosa builds it."""
    import librosa

    if not 0 <= p["fmin_hz"] < p["fmax_hz"] <= fs_hz / 2:
        raise PipelineError(f"logmel: need 0 <= fmin_hz ({p['fmin_hz']:g}) < fmax_hz ({p['fmax_hz']:g}) "
                            f"<= Nyquist ({fs_hz / 2:g} Hz); resample the audio first")
    if p["n_mels"] < 1 or p["n_fft"] < 2 or p["hop"] < 1:
        raise PipelineError(f"logmel: n_mels, n_fft, hop must be positive, got {p['n_mels']}, {p['n_fft']}, {p['hop']}")
    return librosa.filters.mel(sr=fs_hz, n_fft=p["n_fft"], n_mels=p["n_mels"], fmin=p["fmin_hz"],
                               fmax=p["fmax_hz"], dtype=np.float64)


def mel_channel_names(n_mels: int) -> tuple[str, ...]:
    width = max(2, len(str(n_mels - 1)))
    return tuple(f"mel{i:0{width}d}" for i in range(n_mels))


def _bad_frames(bad: np.ndarray, p: dict, n_frames: int) -> np.ndarray:
    """Boolean (n_frames,): frames with a NaN sample."""
    c = np.concatenate([[0], np.cumsum(bad)])
    start = np.arange(n_frames) * p["hop"]
    return (c[start + p["n_fft"]] - c[start]) > 0


def logmel_offline(rec: Record, p: dict) -> Record:
    """Log-mel of the channel mean with ``librosa.feature.melspectrogram`` (float32 (n_mels, F))."""
    import librosa

    mel_filterbank(p, rec.fs_hz)  # validates the parameters
    y = rec.samples.astype(np.float64).mean(axis=0)
    if p["center"]:
        half = np.zeros(p["n_fft"] // 2)
        y = np.concatenate([half, y, half])  # librosa's center=True, pad_mode="constant"
    n_frames = max(0, 1 + (len(y) - p["n_fft"]) // p["hop"])
    if n_frames == 0:
        mel = np.zeros((p["n_mels"], 0))
    else:
        bad = ~np.isfinite(y)
        S = librosa.feature.melspectrogram(  # padding done above, so center=False here
            y=np.where(bad, 0.0, y), sr=rec.fs_hz, n_fft=p["n_fft"], hop_length=p["hop"], center=False,
            power=2.0, n_mels=p["n_mels"], fmin=p["fmin_hz"], fmax=p["fmax_hz"], window="hann")
        mel = np.log(S + p["log_eps"])
        if bad.any():
            mel[:, _bad_frames(bad, p, mel.shape[1])] = np.nan
    return rec.replace(samples=mel.astype(np.float32), fs_hz=rec.fs_hz / p["hop"],
                       channels=mel_channel_names(p["n_mels"]), units=("log power",) * p["n_mels"],
                       modality=rec.modality, annotations=None, times_s=None)


class LogMelStream:
    """Streaming log-mel: chunks of audio (C, n) in, whole frames (n_mels, m) out."""

    def __init__(self, p: dict, fs_hz: float, n_channels: int):
        self.p = dict(p)
        self.fb = mel_filterbank(self.p, fs_hz)
        from scipy.signal import get_window

        self.window = get_window("hann", self.p["n_fft"], fftbins=True)
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(self.p["n_fft"] // 2 if self.p["center"] else 0)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise SignalError(f"chunk shaped {x.shape}, stream expects ({self.n_channels}, n)")
        buf = np.concatenate([self._buf, x.astype(np.float64).mean(axis=0)])
        n_fft, hop = self.p["n_fft"], self.p["hop"]
        n_frames = max(0, 1 + (len(buf) - n_fft) // hop)
        if n_frames == 0:
            self._buf = buf
            return np.zeros((self.p["n_mels"], 0), dtype=np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(buf, n_fft)[::hop][:n_frames]  # (F, n_fft)
        spec = np.abs(np.fft.rfft(frames * self.window, axis=1)) ** 2  # (F, n_fft//2+1)
        mel = np.log(spec @ self.fb.T + self.p["log_eps"]).T  # (n_mels, F)
        self._buf = buf[n_frames * hop:]
        return mel.astype(np.float32)
