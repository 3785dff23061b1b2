"""What every inference backend offers (:class:`Backend`): checked (B, C, T) windows in, (B, D)
float32 embeddings out. The engines are in :mod:`encoders.backends` and
:mod:`encoders.backend_tensorrt`."""
from __future__ import annotations

import abc

import numpy as np

from encoders.errors import EncoderError


class Backend(abc.ABC):
    """One inference engine for one model.

    Attributes
    ----------
    name : str
        ``"torch"``, ``"onnxruntime"`` or ``"tensorrt"``.
    providers : tuple of str
        Execution providers / devices actually in use, best first (e.g. ``("CPUExecutionProvider",)``,
        ``("cuda:0",)``).
    why : str
        Why this backend was chosen (``auto``) or that it was asked for.
    in_channels : int or None
        Channels the model expects (None: any number, e.g. ECG lead subsets).
    model_id : str or None
        The encoder's id (name + weights hash) where known, for output frames and logs.
    """

    name: str = ""
    providers: tuple = ()
    why: str = ""
    in_channels: int | None = None
    model_id: str | None = None
    timings: dict | None = None  # auto on CPU: probe seconds per candidate

    def run(self, x, channel_idx=None) -> np.ndarray:
        """Embed windows.

        Parameters
        ----------
        x : array_like, float, shape (B, C, T)
            Raw windows at the model's input rate; must be finite.
        channel_idx : array_like of int, shape (C,) or (B, C), optional
            Positions of the C channels in the model's channel vocabulary
            (``Encoder.channel_index(names)``), for all windows or per window; default
            ``arange(C)``. Ignored by models without a channel vocabulary (audio, spirogram).

        Returns
        -------
        np.ndarray, float32, shape (B, D)
        """
        x = self._check(x)
        B, C = x.shape[:2]
        if channel_idx is None:
            channel_idx = np.arange(C, dtype=np.int64)
        channel_idx = np.asarray(channel_idx)
        if channel_idx.shape not in ((C,), (B, C)) or not np.issubdtype(channel_idx.dtype, np.integer):
            raise EncoderError(f"channel_idx must be integers shaped ({C},) or ({B}, {C}), "
                               f"got {channel_idx.dtype} {channel_idx.shape}")
        channel_idx = np.array(np.broadcast_to(channel_idx, (B, C)), dtype=np.int64)  # writable copy
        return np.ascontiguousarray(self._run(x, channel_idx), dtype=np.float32)

    def _check(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3:
            raise EncoderError(f"{self.name} backend expects windows shaped (B, C, T), got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise EncoderError(f"{self.name} backend expects float windows, got dtype {x.dtype}")
        if self.in_channels and x.shape[1] != self.in_channels:
            raise EncoderError(f"{self.name} backend: model expects {self.in_channels} channel(s), got {x.shape[1]}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(x).all():
            raise EncoderError(f"{self.name} backend: windows contain NaN or inf; mask or fill gaps first")
        return x

    @abc.abstractmethod
    def _run(self, x: np.ndarray, channel_idx: np.ndarray) -> np.ndarray: ...

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} providers={self.providers!r}>"
