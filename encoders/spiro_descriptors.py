"""Knowledge-guided pretext targets for spirograms: the shape of one forced expiration.

The spirogram counterpart of encoders/descriptors.py and encoders/audio_descriptors.py (issue 14):
with the objectives ``*+descriptors`` and ``modality="spiro"``, a training-only LINEAR head on the
pooled embedding regresses standardised descriptors of the window. They follow what ATS/ERS 2019
asks of a blow - a fast start, no cough or change of effort in the first second, no early stop -
and the timed volumes clinicians read. No label is used; the targets are computed without
gradient from the window's volume channel; the head is not exported.

With ``v`` channel 0 of the window minus its first sample and ``vn = v / max(v)`` (FVC units, as
the tokenizer sees it), the flow is taken in 50 ms bins, ``fb[k] = (vn[5k + 5] - vn[5k]) / 0.05 s``
(at 100 Hz; ``BIN_S`` seconds in general): averaging over a bin keeps the sample noise out of the
notch descriptors. PEF bin ``p = argmax fb``; onset bin ``o`` = the first bin with
``fb > 0.1 max fb``; ``s0 = o * bin`` its first sample.

====  ===========  ===========================================================================
 0    pef          max fb (FVC / s)                                                    [log]
 1    t_rise_s     (p - o) * BIN_S: onset to peak flow                                 [log]
 2    fev05        vn[s0 + 0.5 s]  (index clamped to the window)
 3    fev1         vn[s0 + 1 s]
 4    fev3         vn[s0 + 3 s]
 5    t95_s        first sample with vn >= 0.95, minus s0, in s                        [log]
 6    rise_1s      sum of the flow's rises relu(fb[k] - fb[k-1]) over p < k <= p + 1 s,
                   over pef: zero on a smooth descending limb, the depth of a notch that
                   recovers (a cough, a change of effort) otherwise                    [log]
 7    rise_late    the same over p + 1 s < k <= p + 4 s                                [log]
 8    end_flow     mean fb over the window's last second, floored at 0                 [log]
====  ===========  ===========================================================================

``tests/test_spiro_descriptors.py`` checks every value against :func:`descriptors_numpy`
(plain NumPy loops).
"""
from __future__ import annotations

import numpy as np
import torch

NAMES = ("pef", "t_rise_s", "fev05", "fev1", "fev3", "t95_s", "rise_1s", "rise_late", "end_flow")
N_DESC = len(NAMES)
LOG_FLOORS = {0: 0.01, 1: 0.02, 5: 0.05, 6: 0.01, 7: 0.01, 8: 0.002}
BIN_S = 0.05
_EPS = 1e-9


@torch.no_grad()
def compute(x: torch.Tensor, fs_hz: float) -> torch.Tensor:
    """Window (B, C, T) with volume in channel 0 -> descriptors (B, N_DESC) float32."""
    v = x[:, 0].double()
    v = v - v[:, :1]
    vn = v / v.amax(-1, keepdim=True).clamp_min(_EPS)                        # (B, T)
    B, T = vn.shape
    w = max(1, int(round(BIN_S * fs_hz)))
    nb = (T - 1) // w
    edges = vn[:, : nb * w + 1 : w]                                          # (B, nb + 1)
    fb = (edges[:, 1:] - edges[:, :-1]) / (w / fs_hz)                        # (B, nb)
    pef, p = fb.max(-1)
    o = (fb > 0.1 * pef[:, None]).to(torch.int64).argmax(-1)                 # first bin above 10 %
    s0 = o * w
    ar = torch.arange(B, device=x.device)

    def at(seconds: float) -> torch.Tensor:
        return vn[ar, (s0 + int(round(seconds * fs_hz))).clamp_max(T - 1)]

    reached = vn >= 0.95
    i95 = reached.to(torch.int64).argmax(-1)
    t95 = (i95 - s0).clamp_min(0).double() / fs_hz
    rises = torch.relu(fb[:, 1:] - fb[:, :-1])                               # rise into bin k = 1 .. nb-1
    k = torch.arange(1, nb, device=x.device)[None]                           # (1, nb - 1)
    per_s = int(round(1.0 / BIN_S))
    early = ((k > p[:, None]) & (k <= p[:, None] + per_s)).double()
    late = ((k > p[:, None] + per_s) & (k <= p[:, None] + 4 * per_s)).double()
    rise_1s = (rises * early).sum(-1) / pef.clamp_min(_EPS)
    rise_late = (rises * late).sum(-1) / pef.clamp_min(_EPS)
    end_flow = fb[:, -per_s:].mean(-1).clamp_min(0.0)
    out = torch.stack([pef, (p - o).clamp_min(0).double() * (w / fs_hz), at(0.5), at(1.0), at(3.0), t95,
                       rise_1s, rise_late, end_flow], -1)
    return out.float()


def descriptors_numpy(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """The oracle of :func:`compute` for one window (C, T): explicit loops, no torch."""
    v = np.asarray(x[0], dtype=np.float64)
    v = v - v[0]
    vn = v / max(float(v.max()), _EPS)
    T = len(vn)
    w = max(1, int(round(BIN_S * fs_hz)))
    nb = (T - 1) // w
    fb = np.array([(vn[(j + 1) * w] - vn[j * w]) / (w / fs_hz) for j in range(nb)])
    pef = float(fb.max())
    p = int(np.argmax(fb))
    o = next(j for j in range(nb) if fb[j] > 0.1 * pef)
    s0 = o * w
    fev = [vn[min(s0 + int(round(sec * fs_hz)), T - 1)] for sec in (0.5, 1.0, 3.0)]
    i95 = next((i for i in range(T) if vn[i] >= 0.95), 0)
    per_s = int(round(1.0 / BIN_S))
    rise_1s = sum(max(fb[j] - fb[j - 1], 0.0) for j in range(1, nb) if p < j <= p + per_s) / max(pef, _EPS)
    rise_late = sum(max(fb[j] - fb[j - 1], 0.0) for j in range(1, nb)
                    if p + per_s < j <= p + 4 * per_s) / max(pef, _EPS)
    end_flow = max(float(np.mean(fb[-per_s:])), 0.0)
    return np.array([pef, max(p - o, 0) * w / fs_hz, *fev, max(i95 - s0, 0) / fs_hz, rise_1s, rise_late, end_flow])
